"""Eyelids at full resolution: the driver's eye opening drawn on the photo's own eyes."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reenact.geometry import coordinate_grid
from reenact.postprocess.eye_motion import (
    GAZE_DEADZONE,
    GAZE_GAIN,
    MAX_GAZE,
    MESH_SHUT_READS,
    MESH_STEEP_FROM,
    SHUT_READS,
    STEEP_FROM,
    eye_ratios,
    gaze_shifts,
    lid_openings,
    mesh_eye_ratios,
)
from reenact.postprocess.eyelids import (
    CLOSE_AT,
    EYE_LIDS,
    GAZE_REACH,
    EyelidWarp,
    photo_irises,
    takeover,
)
from reenact.preprocess.expressions import eye_aspect_ratios
from reenact.postprocess.full_res import FullResCompositor
from reenact.preprocess.anchors import TEMPLATE
from reenact.preprocess.crop import CropBox, crop_image

SIDE = 400  # the synthetic face's crop, pixels


def face_landmarks(scale=SIDE / 2, offset=(200.0, 180.0)):
    """(68, 2) a plausible face in pixels: the anchors' median face, eyes about 60 px long."""
    return TEMPLATE * scale + np.asarray(offset)


def with_eyes_opened(landmarks, factor):
    """The same face with each lid gap scaled by `factor` about the lids' middle line."""
    points = landmarks.copy()
    for upper, lower in EYE_LIDS:
        for a, b in zip(upper[1:3], lower[1:3]):
            middle = (points[a] + points[b]) / 2
            points[a] = middle + factor * (points[a] - middle)
            points[b] = middle + factor * (points[b] - middle)
    return points


def eye_photo(landmarks, height=420, width=400):
    """Light skin with dark almond eyes between the lid landmarks (what a closing lid hides)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (205, 160, 140))
    draw = ImageDraw.Draw(image)
    for upper, lower in EYE_LIDS:
        outline = [tuple(landmarks[i]) for i in upper] + [tuple(landmarks[i]) for i in lower[::-1]]
        draw.polygon(outline, fill=(30, 20, 20))
    return np.asarray(image)


def test_eye_aspect_ratios_measure_each_eye():
    face = face_landmarks()
    open_ = eye_aspect_ratios(face)
    assert open_.shape == (2,) and np.all((open_ > 0.2) & (open_ < 0.5))
    half = with_eyes_opened(face, 0.5)
    np.testing.assert_allclose(eye_aspect_ratios(half), open_ * 0.5, rtol=1e-9)
    batch = eye_aspect_ratios(np.stack([face, half]))
    assert batch.shape == (2, 2)
    with pytest.raises(ValueError, match=r"landmarks: expected \(\.\.\., 68, 2\)"):
        eye_aspect_ratios(np.zeros((67, 2)))


def test_eye_ratios_relative_to_the_reference_frame():
    face = face_landmarks()
    frames = [face, None, with_eyes_opened(face, 0.0), face, face, face, face]
    ratios = eye_ratios(frames, face)
    assert ratios.shape == (7, 2)
    assert ratios[2].max() < 0.5  # the blink survives the smoothing
    np.testing.assert_allclose(ratios[5:], 1, atol=1e-6)
    np.testing.assert_allclose(eye_ratios(frames, None), 1)  # nothing to measure against
    shut = eye_ratios([face], with_eyes_opened(face, 0.0))
    np.testing.assert_allclose(shut, 1)  # a shut reference eye: no opening to scale
    wide = eye_ratios([with_eyes_opened(face, 3.0)] * 3, face)
    assert np.all(wide <= 1.5)  # capped: the eye's white can only stretch so far


def test_a_shut_eye_as_dlib_reads_it_is_drawn_shut():
    """dlib's points keep 0.3-0.55 of an eye's opening at the bottom of a blink: drawn as 0; an eye
    near its reference opening or wider is drawn as dlib reads it."""
    ratios = np.array([0.0, SHUT_READS, 0.6, STEEP_FROM, 0.9, 1.0, 1.3])
    drawn = lid_openings(ratios)
    np.testing.assert_allclose(drawn[:2], 0)
    assert 0 < drawn[2] < 0.5 and np.all(np.diff(drawn[1:]) > 0)
    np.testing.assert_allclose(drawn[3:], ratios[3:])
    face = face_landmarks()
    blink = eye_ratios([face] * 3 + [with_eyes_opened(face, SHUT_READS)] * 3 + [face] * 3, face)
    assert blink[4].max() < 0.05  # the middle of a three-frame blink: the lids meet
    # a two-frame blink too: the smoothing does not fill in its bottom (it was drawn 0.36 open)
    short = eye_ratios([face] * 4 + [with_eyes_opened(face, 0.5)] * 2 + [face] * 4, face)
    np.testing.assert_allclose(short[4:6], lid_openings(np.array(0.5)), atol=1e-6)
    assert short[4:6].max() < 0.15
    assert np.all(short[:3] > 0.95) and np.all(short[7:] > 0.95)  # and the eyes open around it
    # dlib's jitter on a squint is still smoothed: only a deep dip is kept
    squint = [with_eyes_opened(face, 0.62 + 0.04 * (-1) ** i) for i in range(12)]
    raw = lid_openings(np.array([0.62 + 0.04 * (-1) ** i for i in range(12)]))
    drawn = eye_ratios(squint, face)[2:-2, 0]
    assert np.ptp(drawn) < 0.5 * np.ptp(raw)


def positions(shape):
    y, x = torch.meshgrid(torch.arange(shape[0]) + 0.5, torch.arange(shape[1]) + 0.5, indexing="ij")
    return x.float(), y.float()


def sample(image, x, y):
    height, width = image.shape[:2]
    pixels = torch.from_numpy(image.transpose(2, 0, 1).copy()).float()[None]
    where = torch.stack([x * 2 / width - 1, y * 2 / height - 1], dim=-1)[None]
    out = F.grid_sample(pixels, where, mode="bilinear", padding_mode="border", align_corners=False)
    return out[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()


def lids(warp, x, y, gains):
    """The photo positions of `EyelidWarp.apply` alone (not where it draws)."""
    return warp.apply(x, y, gains)[:2]


def dark_pixels(image):
    return int((image.mean(axis=2) < 100).sum())


def test_gain_one_is_the_identity_and_far_pixels_never_move():
    face = face_landmarks()
    warp = EyelidWarp(face)
    x, y = positions((420, 400))
    same_x, same_y = lids(warp, x, y, np.array([1.0, 1.0]))
    assert torch.equal(same_x, x) and torch.equal(same_y, y)
    closed_x, closed_y = lids(warp, x, y, np.array([0.0, 0.0]))
    moved = (closed_x - x).abs() + (closed_y - y).abs() > 1e-4
    rows, cols = torch.nonzero(moved, as_tuple=True)
    eyes = face[36:48]
    assert rows.min() > eyes[:, 1].min() - 60 and rows.max() < eyes[:, 1].max() + 40
    # (a pixel or two past the corners, where a tilted eye's band reaches)
    assert cols.min() >= eyes[:, 0].min() - 2 and cols.max() <= eyes[:, 0].max() + 2
    # no fold-over (the photo is read in order down every column), and the only jump is where
    # the shut lids meet: the eye between them is skipped, nothing more
    steps = closed_y[1:] - closed_y[:-1]
    gap = max(np.linalg.norm(face[a] - face[b]) for upper, lower in EYE_LIDS
              for a, b in zip(upper[1:3], lower[1:3]))
    gap *= 1.3  # the lids' cubics bulge apart between the landmark pairs
    assert float(steps.min()) > 0 and float(steps.max()) < gap + 2
    assert float((closed_y[:, 1:] - closed_y[:, :-1]).abs().max()) < gap + 2
    half_x, half_y = lids(warp, x, y, np.array([0.5, 0.5]))  # half shut: no fold-over either
    assert float((half_y[1:] - half_y[:-1]).min()) > 0


def test_lid_margins_are_smooth_curves_through_the_landmarks():
    """Each lid's margin is the cubic through its four landmark points: a closing lid is drawn as
    an arc, where the polyline through them bent the lash line at the two middle points."""
    from reenact.postprocess.eyelids import _lid, _piecewise_linear

    face = face_landmarks(scale=1.5 * SIDE, offset=(200.0, 280.0))
    for eye in EyelidWarp(face)._eyes:
        for values, fit in ((eye.upper, eye.upper_fit), (eye.lower, eye.lower_fit)):
            assert fit is not None
            torch.testing.assert_close(_lid(eye.knots, eye.knots, values, fit), values,
                                       atol=1e-3, rtol=0)
            for knot in eye.knots[1:3]:
                u = torch.tensor([knot - 1.0, knot - 0.5, knot + 0.5, knot + 1.0])
                curve, line = _lid(u, eye.knots, values, fit), _piecewise_linear(u, eye.knots, values)
                bend = lambda v: abs(float((v[3] - v[2]) - (v[1] - v[0])) / 0.5)  # noqa: E731
                assert bend(curve) < 0.05 < bend(line)


def test_closing_lids_cover_the_eye_without_squeezing_it():
    """Half shut, the eye between the lids is the photo's own, where it was (the lids slide over
    it); each lid's margin is drawn from the photo's margin, the part of the eye it covers
    skipped. (Squeezed into the lids instead, a half-shut iris and pupil flattened into a slit.)"""
    face = face_landmarks(scale=1.5 * SIDE, offset=(200.0, 280.0))  # eyes ~30 px open
    warp = EyelidWarp(face)
    x, y = positions((420, 400))
    _, half_y = lids(warp, x, y, np.array([0.5, 0.5]))
    for upper, lower in EYE_LIDS:
        column = int(face[[upper[1], upper[2]], 0].mean())  # the eye's middle
        # the margins there: the cubics through each lid's four points (this eye is near level)
        top, bottom = (float(np.polyval(np.polyfit(face[list(lid), 0], face[list(lid), 1], 3),
                                        column + 0.5)) for lid in (upper, lower))
        gap = bottom - top
        new_top = top + CLOSE_AT * gap * 0.5  # U' = M - CLOSE_AT k G with k = 0.5
        new_bottom = bottom - (1 - CLOSE_AT) * gap * 0.5
        read = half_y[:, column]
        centres = y[:, column]
        between = (centres > new_top + 2) & (centres < new_bottom - 2)
        assert between.sum() >= 3
        torch.testing.assert_close(read[between], centres[between], atol=0.3, rtol=0)
        # the upper margin is drawn where the lid now is; the rows it covers are skipped (but
        # for the pixel of the ramp between the margin and the eye)
        above = int(new_top) - 1
        assert abs(float(read[above]) - top) < 2.5
        assert int(((read > top + 3) & (read < new_top - 2)).sum()) <= 1


def test_closing_hides_the_eye_and_opening_wider_shows_more():
    face = face_landmarks()
    photo = eye_photo(face)
    warp = EyelidWarp(face)
    x, y = positions(photo.shape[:2])
    opened = dark_pixels(photo)
    closed = dark_pixels(sample(photo, *lids(warp, x, y, np.array([0.0, 0.0]))))
    half = dark_pixels(sample(photo, *lids(warp, x, y, np.array([0.5, 0.5]))))
    wider = dark_pixels(sample(photo, *lids(warp, x, y, np.array([1.4, 1.4]))))
    wink = dark_pixels(sample(photo, *lids(warp, x, y, np.array([0.0, 1.0]))))
    assert closed < 0.2 * opened  # what is left is the lash line where the lids meet
    assert 0.35 * opened < half < 0.65 * opened
    assert wider > 1.25 * opened
    assert 0.4 * opened < wink < 0.6 * opened  # one eye shut, the other as it was
    # the shut lids meet nearer the lower lid: the upper lid does most of a blink
    closed_rows = np.nonzero((sample(photo, *lids(warp, x, y, np.array([0.1, 0.1]))).mean(axis=2)
                              < 100).any(axis=1))[0]
    upper = face[[37, 38, 43, 44], 1].mean()
    lower = face[[40, 41, 46, 47], 1].mean()
    assert closed_rows.mean() > upper + 0.5 * (lower - upper)


def test_profile_eye_is_left_alone():
    face = face_landmarks()
    folded = face.copy()
    folded[[37, 41], 0] = folded[39, 0] + 5  # lid points beyond the inner corner: a folded eye
    warp = EyelidWarp(folded)
    x, y = positions((420, 400))
    new_x, new_y = lids(warp, x, y, np.array([0.0, 1.0]))
    assert torch.equal(new_x, x) and torch.equal(new_y, y)


def test_compositor_draws_the_lids_and_checks_the_ratios():
    face = face_landmarks()
    photo = eye_photo(face)
    box, size, cells = CropBox(200.0, 210.0, 320.0), 64, 16  # centre x, y and side
    crop = crop_image(photo, box, size)
    compositor = FullResCompositor(photo, box, crop, align_corners=True, landmarks=face)
    identity = coordinate_grid(cells, cells).numpy()  # zero motion
    weight = np.ones((size, size), dtype=np.float32)
    still = compositor.composite(crop, identity, weight)
    np.testing.assert_array_equal(compositor.composite(crop, identity, weight, np.ones(2)), still)
    closed = compositor.composite(crop, identity, weight, np.zeros(2))
    assert dark_pixels(closed) < 0.15 * dark_pixels(still)
    changed_rows = np.nonzero((closed != still).any(axis=(1, 2)))[0]
    assert changed_rows.min() > face[36:48, 1].min() - 60
    assert changed_rows.max() < face[36:48, 1].max() + 40
    with pytest.raises(ValueError, match="eye_ratios: expected 2 finite numbers"):
        compositor.composite(crop, identity, weight, np.array([0.5, np.nan]))


def driver_eye_ratios(track, source, options, from_best):
    from reenact.pipelines.eye_reference import driver_eyes

    drawn = driver_eyes(track, source, options, from_best)
    return None if drawn is None else drawn[1]


def test_animate_asks_for_the_drivers_change_of_opening():
    from reenact.pipelines.animate_options import AnimateOptions
    from reenact.pipelines.driving_track import DrivingTrack, PreparedSource

    face = face_landmarks()
    narrow = with_eyes_opened(face, 0.5)  # the photo's eyes: half as open as the driver's
    source = PreparedSource(image=np.zeros((8, 8, 3), np.uint8), box=CropBox(4, 4, 8),
                            crop=np.zeros((8, 8, 3), np.uint8), landmarks=narrow)
    frames = [face, face, face, with_eyes_opened(face, 0.0), face, face, face, face]
    track = DrivingTrack(boxes=[CropBox(4, 4, 8)] * 8, best_index=5, landmarks=frames)
    relative = driver_eye_ratios(track, source, AnimateOptions(), from_best=False)
    np.testing.assert_allclose(relative[[0, 7]], 1, atol=1e-6)  # as open as the photo's own
    assert relative[3].max() < 0.5
    # absolute motion: the driver's opening itself, over the photo's (capped)
    absolute = driver_eye_ratios(track, source, AnimateOptions(relative=False), from_best=False)
    np.testing.assert_allclose(absolute[[0, 7]], 1.5)
    no_face = PreparedSource(source.image, source.box, source.crop, landmarks=None)
    assert driver_eye_ratios(track, no_face, AnimateOptions(), from_best=False) is None


def test_lids_drawn_here_keep_the_generators_pixels_out_of_the_eyes():
    face = face_landmarks()
    photo = eye_photo(face)
    warp = EyelidWarp(face)
    x, y = positions(photo.shape[:2])
    region = warp.apply(x, y, np.ones(2))[2]
    centre = face[[37, 38, 40, 41]].mean(axis=0).astype(int)
    assert float(region[centre[1], centre[0]]) == 1.0
    assert float(region[:100].max()) == 0.0 and float(region[250:].max()) == 0.0

    box, size, cells = CropBox(200.0, 210.0, 320.0), 64, 16
    crop = crop_image(photo, box, size)
    compositor = FullResCompositor(photo, box, crop, align_corners=True, landmarks=face)
    moving = coordinate_grid(cells, cells).numpy() + 0.02  # motion, so the generator may paint
    white = np.full((size, size, 3), 255, np.uint8)  # a generator that invents a blank face
    invent = np.zeros((size, size), np.float32)
    without = compositor.composite(white, moving, invent)
    with_lids = compositor.composite(white, moving, invent, np.ones(2))
    assert dark_pixels(without) == 0  # the generator's blank replaced the eyes...
    assert dark_pixels(with_lids) > 0.8 * dark_pixels(photo)  # ...but not where lids are drawn


def test_the_model_is_given_steady_lids():
    from reenact.pipelines.animate import steady_lids

    face = face_landmarks()
    blink = with_eyes_opened(face, 0.1)
    steadied = steady_lids([face, blink, None], face)
    assert steadied[2] is None
    np.testing.assert_allclose(eye_aspect_ratios(steadied[1]), eye_aspect_ratios(face), rtol=1e-9)
    np.testing.assert_allclose(steadied[1][:36], blink[:36])  # only the lids move
    np.testing.assert_allclose(steadied[1][48:], blink[48:])
    shut = with_eyes_opened(face, 0.0)  # a shut reference eye: the frame keeps its own lids
    np.testing.assert_allclose(steady_lids([blink], shut)[0], blink, atol=1e-9)


def test_steady_lids_keep_the_reference_lids_shape_and_move_with_the_corners():
    import torch

    from reenact.pipelines.animate import steady_lids
    from reenact.preprocess.anchors import DEFAULT_ANCHORS, anchor_keypoints

    reference = with_eyes_opened(face_landmarks(), 0.4)  # the driving video starts on a squint
    # later: the face turned 10 degrees and 10% larger, the eyes wide open, the lids raised
    angle = np.deg2rad(10)
    turn = 1.1 * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = reference.mean(axis=0)
    later = with_eyes_opened((reference - centre) @ turn.T + centre, 2.0)
    later[[37, 38, 43, 44]] -= turn @ (0.0, 6.0)
    steadied = steady_lids([later], reference)[0]
    np.testing.assert_allclose(eye_aspect_ratios(steadied), eye_aspect_ratios(reference), rtol=1e-9)
    np.testing.assert_allclose(steadied[:36], later[:36])  # only the lids between the corners
    np.testing.assert_allclose(steadied[[36, 39, 42, 45]], later[[36, 39, 42, 45]])
    # each lid's anchor changes by the face's turn and zoom alone, not by the lids' own change
    kp = anchor_keypoints(torch.from_numpy(np.stack([reference, steadied, later]) / SIDE))
    change = kp.jacobian @ torch.linalg.inv(kp.jacobian[:1])
    lids = [DEFAULT_ANCHORS.index(name) for name in DEFAULT_ANCHORS if "lid" in name]
    torch.testing.assert_close(change[1, lids], torch.from_numpy(turn).expand(4, 2, 2),
                               atol=1e-6, rtol=0)
    assert (change[2, lids] - torch.from_numpy(turn)).abs().max() > 0.2  # as the driver gave them


def iris_photo(landmarks, position=0.0, height=420, width=400):
    """White almond eyes with a dark iris disc `position` half lengths along each eye."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (205, 160, 140))
    draw = ImageDraw.Draw(image)
    for upper, lower in EYE_LIDS:
        outline = [tuple(landmarks[i]) for i in upper] + [tuple(landmarks[i]) for i in lower[::-1]]
        draw.polygon(outline, fill=(235, 235, 230))
        first, last = landmarks[upper[0]], landmarks[upper[-1]]
        centre = (first + last) / 2 + position * (last - first) / 2
        radius = 0.08 * np.linalg.norm(last - first)  # inside the opening, not over the lids
        draw.ellipse([tuple(centre - radius), tuple(centre + radius)], fill=(50, 35, 30))
    return np.asarray(image)


def iris_centres(image, landmarks):
    """Per eye, the dark pixels' mean position along the eye, in half lengths from its middle."""
    centres = []
    rows, cols = np.nonzero(image.mean(axis=2) < 100)
    for upper, _ in EYE_LIDS:
        first, last = landmarks[upper[0]], landmarks[upper[-1]]
        half = np.linalg.norm(last - first) / 2
        along = (last - first) / (2 * half)
        inside = (cols >= first[0]) & (cols <= last[0])
        u = (np.stack([cols[inside], rows[inside]], axis=1) + 0.5 - (first + last) / 2) @ along
        centres.append(u.mean() / half)
    return np.array(centres)


def test_gaze_shifts_follow_the_drivers_change_of_iris_position():
    reference = np.array([0.1, -0.1])
    frames = [reference, None, reference + 0.4, np.array([np.nan, -0.1 + 0.4])] + [reference + 0.4] * 6 \
        + [np.array([np.nan, np.nan])] * 2 + [reference + 0.4] * 4 + [reference + 2.0] * 6
    shifts = gaze_shifts(frames, reference)
    assert shifts.shape == (len(frames),)
    assert abs(shifts[0]) < 0.1  # the smoothing reaches a little into the start
    moved = (0.4 - GAZE_DEADZONE) * GAZE_GAIN
    np.testing.assert_allclose(shifts[6:9], moved, atol=1e-3)
    np.testing.assert_allclose(shifts[10:12], moved, atol=0.05)  # held through a blink
    np.testing.assert_allclose(shifts[-2:], MAX_GAZE)  # no further than an eye allows
    np.testing.assert_array_equal(gaze_shifts(frames, None), 0)
    wander = [reference + 0.04 * np.sin(i) for i in range(20)]  # still eyes, a noisy reading
    np.testing.assert_array_equal(gaze_shifts(wander, reference), 0)
    # a closing lid shifts the dark centre: those frames hold the gaze from before
    blink = [reference] * 6 + [reference + 0.5] * 4 + [reference] * 6
    openings = np.ones((16, 2))
    openings[6:10] = 0.3
    np.testing.assert_array_equal(gaze_shifts(blink, reference, openings), 0)
    assert gaze_shifts(blink, reference).max() > 0.2
    np.testing.assert_array_equal(gaze_shifts(frames, np.array([np.nan, np.nan])), 0)
    assert gaze_shifts([], reference).shape == (0,)


def test_photo_irises_trust_the_reading_nearer_the_middle_when_they_disagree():
    np.testing.assert_allclose(photo_irises(np.array([0.1, 0.2])), [0.1, 0.2])
    np.testing.assert_allclose(photo_irises(np.array([-0.12, 0.45])), [-0.12, -0.12])
    np.testing.assert_allclose(photo_irises(np.array([np.nan, 0.2])), [0.2, 0.2])
    np.testing.assert_allclose(photo_irises(np.array([np.nan, np.nan])), 0)
    np.testing.assert_allclose(photo_irises(np.array([0.6, 0.7])), 0.3)


def test_gaze_moves_the_iris_along_the_eye_and_leaves_the_rest():
    face = face_landmarks()
    photo = iris_photo(face)
    warp = EyelidWarp(face, np.zeros(2))
    x, y = positions(photo.shape[:2])
    still_x, still_y, _ = warp.apply(x, y, np.ones(2), gaze=0.0)
    assert torch.equal(still_x, x) and torch.equal(still_y, y)
    for gaze in (-0.4, 0.3):
        moved_x, moved_y, _ = warp.apply(x, y, np.ones(2), gaze=gaze)
        np.testing.assert_allclose(iris_centres(sample(photo, moved_x, moved_y), face), gaze,
                                   atol=0.06)
        changed = (moved_x - x).abs() + (moved_y - y).abs() > 1e-4
        rows, cols = torch.nonzero(changed, as_tuple=True)
        eyes = face[36:48]
        assert cols.min() >= eyes[:, 0].min() - 1 and cols.max() <= eyes[:, 0].max() + 1
        assert rows.min() > eyes[:, 1].min() - 25 and rows.max() < eyes[:, 1].max() + 25
        # nothing folds: the map's Jacobian determinant stays positive
        dxdx, dydx = moved_x[:-1, 1:] - moved_x[:-1, :-1], moved_y[:-1, 1:] - moved_y[:-1, :-1]
        dxdy, dydy = moved_x[1:, :-1] - moved_x[:-1, :-1], moved_y[1:, :-1] - moved_y[:-1, :-1]
        assert float((dxdx * dydy - dxdy * dydx).min()) > 0.2
    far = warp.apply(x, y, np.ones(2), gaze=5.0)[0]  # asked too far: stops inside the eye
    assert iris_centres(sample(photo, far, y), face).max() < GAZE_REACH + 0.06


def test_compositor_moves_the_irises_with_the_lids():
    face = face_landmarks()
    photo = iris_photo(face, 0.1)
    box, size, cells = CropBox(200.0, 210.0, 320.0), 64, 16
    crop = crop_image(photo, box, size)
    compositor = FullResCompositor(photo, box, crop, align_corners=True, landmarks=face)
    identity = coordinate_grid(cells, cells).numpy()
    weight = np.ones((size, size), dtype=np.float32)
    still = compositor.composite(crop, identity, weight, np.ones(2))
    np.testing.assert_allclose(iris_centres(still, face), 0.1, atol=0.05)
    looking = compositor.composite(crop, identity, weight, np.ones(2), gaze=-0.35)
    np.testing.assert_allclose(iris_centres(looking, face), 0.1 - 0.35, atol=0.07)
    # without eye ratios the eyes are the model's: no gaze either
    np.testing.assert_array_equal(compositor.composite(crop, identity, weight, gaze=-0.35),
                                  compositor.composite(crop, identity, weight))


def test_animate_reads_the_drivers_gaze_only_for_eyes_landmarks():
    from reenact.pipelines.animate_options import AnimateOptions
    from reenact.pipelines.driving_track import PreparedSource, track_driving
    from reenact.preprocess.face import Face

    face = face_landmarks()

    class Analyzer:
        def detect(self, image):
            low, high = face.min(axis=0), face.max(axis=0)
            return [Face((*low, *high), 1.0, face)]

    positions_ = [0.0] * 2 + [0.4] * 6 + [-0.3] * 6
    frames = [iris_photo(face, position) for position in positions_]
    source = PreparedSource(image=frames[0], box=CropBox(200, 210, 320),
                            crop=np.zeros((64, 64, 3), np.uint8), landmarks=face)
    track = track_driving(frames, 25.0, source.landmarks, AnimateOptions(detect_every=1),
                          Analyzer())
    read = np.array(track.irises)
    np.testing.assert_allclose(read[:, 0], read[:, 1], atol=0.05)
    assert read[2, 0] - read[0, 0] > 0.3 and read[-1, 0] - read[0, 0] < -0.2
    shifts = gaze_shifts(track.irises, track.irises[0])
    assert shifts[5] > 0.25 and shifts[-1] < -0.15
    lids_only = track_driving(frames, 25.0, source.landmarks, AnimateOptions(eyes="lids"),
                              Analyzer())
    assert lids_only.irises is None


def test_a_driver_caught_blinking_at_the_reference_frame_is_measured_from_its_eyes_at_rest():
    """The README's driving sample starts in a blink (0.74 of its median opening): measured from
    that frame, every open eye after it read as eyes opened wide and the portrait stared."""
    from reenact.pipelines.animate_options import AnimateOptions
    from reenact.pipelines.driving_track import DrivingTrack, PreparedSource
    from reenact.pipelines.eye_reference import RESTING_SHARE, resting_irises, resting_openings

    face = face_landmarks()
    source = PreparedSource(image=np.zeros((8, 8, 3), np.uint8), box=CropBox(4, 4, 8),
                            crop=np.zeros((8, 8, 3), np.uint8), landmarks=face)
    blinking = [with_eyes_opened(face, 0.7)] * 2 + [face] * 10 + [with_eyes_opened(face, 0.3)] * 3
    track = DrivingTrack(boxes=[CropBox(4, 4, 8)] * 15, landmarks=blinking)
    ratios = driver_eye_ratios(track, source, AnimateOptions(), from_best=False)
    np.testing.assert_allclose(ratios[6:10], 1, atol=1e-6)  # open as the photo's, not 1.5x
    assert ratios[0].max() < 0.75 and ratios[-1].max() < 0.1  # the blinks themselves still show
    # measured from the blink, the open eyes would read 1 / 0.7 (the old behaviour)
    np.testing.assert_allclose(eye_ratios(blinking, blinking[0])[6:10], 1 / 0.7, rtol=1e-6)

    # eyes as open as their rest, or wider, at the reference frame keep it: an expression
    for start in (RESTING_SHARE + 0.05, 1.4):
        frames = [with_eyes_opened(face, start)] * 2 + [face] * 10
        opening, caught = resting_openings(frames, frames[0])
        assert not caught
        np.testing.assert_allclose(opening, eye_aspect_ratios(frames[0]))
    opening, caught = resting_openings(blinking, blinking[0])
    assert caught and np.allclose(opening, eye_aspect_ratios(face))
    # no faces at all: the reference's own opening
    assert not resting_openings([None, None], face)[1]

    # the irises: read where the eyes are open, their median; the reference frame's otherwise
    irises = [np.array([0.5, 0.5])] * 2 + [np.array([0.1, -0.1])] * 7 + [np.array([0.3, 0.2])] * 3
    irises += [None] * 3
    np.testing.assert_allclose(resting_irises(irises, 0, ratios, caught=True), [0.1, -0.1])
    np.testing.assert_allclose(resting_irises(irises, 0, ratios, caught=False), [0.5, 0.5])
    assert np.isnan(resting_irises(irises, 14, ratios, caught=False)).all()
    shut = np.zeros_like(ratios)
    assert np.isnan(resting_irises(irises, 0, shut, caught=True)).all()
    # absolute motion measures against the photo: nothing is replaced
    absolute = driver_eye_ratios(track, source, AnimateOptions(relative=False), from_best=False)
    np.testing.assert_allclose(absolute[6:10], 1, atol=1e-6)
    assert np.all(absolute[0] < 0.75)


def test_an_eye_asked_to_close_past_a_squashing_model_is_drawn_whole():
    """A model that squashes one eye of a turned head to 0.6 of its opening leaves the lids
    mostly to itself (a blink painted over a squashed eye) while the driver's eye is open; asked
    to close past it, the eye is drawn whole, as the other, so a blink closes both eyes."""
    implied = np.array([1.1, 0.6])
    open_strength = takeover(implied)
    assert open_strength[0] == 1.0 and 0 < open_strength[1] < 0.6
    np.testing.assert_array_equal(takeover(implied, np.array([1.0, 0.9])), open_strength)
    np.testing.assert_array_equal(takeover(implied, np.array([0.05, 0.2])), [1.0, 1.0])
    halfway = takeover(implied, np.array([1.0, 0.6 * (1 - 0.5 * 0.25)]))[1]
    assert open_strength[1] < halfway < 1.0  # handed over smoothly as the eye closes


def test_facemesh_openings_draw_a_blink_dlib_does_not_see():
    """Pass 1b's FaceMesh lid openings, where the track has them, set how open the lids are drawn:
    a blink that dlib's points read as an open eye (dev tpsmm_driving: FaceMesh 0.35 of the open
    eye, dlib 0.88) is drawn shut; frames FaceMesh could not read stay as the photo's eye."""
    from reenact.pipelines.animate_options import AnimateOptions
    from reenact.pipelines.driving_track import DrivingTrack, PreparedSource

    face = face_landmarks()
    source = PreparedSource(image=np.zeros((8, 8, 3), np.uint8), box=CropBox(4, 4, 8),
                            crop=np.zeros((8, 8, 3), np.uint8), landmarks=face)
    openings = np.full((10, 2), 0.3)
    openings[4:6] = 0.3 * MESH_SHUT_READS  # the blink's bottom, as FaceMesh reads it
    openings[8] = np.nan  # no reading
    track = DrivingTrack(boxes=[CropBox(4, 4, 8)] * 10, landmarks=[face] * 10)  # dlib: eyes open
    dlib_only = driver_eye_ratios(track, source, AnimateOptions(), from_best=False)
    np.testing.assert_allclose(dlib_only, 1, atol=1e-6)
    read = DrivingTrack(boxes=track.boxes, landmarks=track.landmarks, eye_openings=openings)
    drawn = driver_eye_ratios(read, source, AnimateOptions(), from_best=False)
    assert drawn[4:6].max() < 0.05  # shut
    np.testing.assert_allclose(drawn[[0, 9]], 1, atol=1e-3)
    np.testing.assert_allclose(drawn[8], 1, atol=1e-3)
    # no reading where motion starts: dlib's points, as before
    unread = openings.copy()
    unread[0] = np.nan
    missing = DrivingTrack(boxes=track.boxes, landmarks=track.landmarks, eye_openings=unread)
    np.testing.assert_allclose(driver_eye_ratios(missing, source, AnimateOptions(),
                                                 from_best=False), dlib_only)


def test_facemesh_openings_map_a_squint_as_read_and_check_their_shapes():
    squint = mesh_eye_ratios(np.full((6, 2), 0.24), np.array([0.3, 0.3]))
    np.testing.assert_allclose(squint, 0.8, atol=1e-9)  # above MESH_STEEP_FROM: as read
    assert MESH_STEEP_FROM <= 0.8
    half = mesh_eye_ratios(np.full((6, 2), 0.15), np.array([0.3, 0.3]))
    assert 0.3 < half[0, 0] < 0.5
    np.testing.assert_allclose(mesh_eye_ratios(np.full((3, 2), 0.2), np.array([0.01, 0.3]))[:, 0],
                               1)  # a shut reference eye: nothing to scale
    with pytest.raises(ValueError, match="openings, base: expected"):
        mesh_eye_ratios(np.zeros((3, 3)), np.zeros(2))


def test_a_reference_caught_blinking_is_measured_from_facemeshs_eyes_at_rest():
    from reenact.pipelines.eye_reference import resting_values

    readings = np.full((20, 2), 0.3)
    readings[3] = np.nan
    opening, caught = resting_values(readings, np.array([0.1, 0.12]))
    assert caught
    np.testing.assert_allclose(opening, 0.3)
    opening, caught = resting_values(readings, np.array([0.28, 0.3]))
    assert not caught
    np.testing.assert_allclose(opening, [0.28, 0.3])
