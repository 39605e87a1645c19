"""Eyelids at full resolution: the driver's eye opening drawn on the photo's own eyes."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reenact.geometry import coordinate_grid
from reenact.postprocess.eyelids import EYE_LIDS, EyelidWarp, eye_ratios
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
    assert cols.min() >= eyes[:, 0].min() - 1 and cols.max() <= eyes[:, 0].max() + 1
    # no fold-over (the photo is read in order down every column), and the only jump is where
    # the shut lids meet: the eye between them is skipped, nothing more
    steps = closed_y[1:] - closed_y[:-1]
    gap = max(np.linalg.norm(face[a] - face[b]) for upper, lower in EYE_LIDS
              for a, b in zip(upper[1:3], lower[1:3]))
    assert float(steps.min()) > 0 and float(steps.max()) < gap + 2
    assert float((closed_y[:, 1:] - closed_y[:, :-1]).abs().max()) < gap + 2
    half_x, half_y = lids(warp, x, y, np.array([0.5, 0.5]))  # half shut: no seam yet, smooth
    assert float((half_y[1:] - half_y[:-1]).max()) < 2.5
    assert float((half_y[:, 1:] - half_y[:, :-1]).abs().max()) < 1.5


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


def test_animate_asks_for_the_drivers_change_of_opening():
    from reenact.pipelines.animate import AnimateOptions, DrivingTrack, PreparedSource, \
        eye_reference

    def driver_eye_ratios(track, source, options, from_best):
        reference = eye_reference(track, source, options, from_best)
        return None if reference is None else eye_ratios(track.landmarks, reference)

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
