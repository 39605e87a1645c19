"""dub's mouth drawn from an open-mouth reference frame: identity, closure, opening, pose, mask."""

from __future__ import annotations

import numpy as np
import pytest
from face_images import MOUTH, drawn_face

from reenact.pipelines.articulation import close_lips, open_mouth
from reenact.point_geometry import apply_affine
from reenact.postprocess.mouth_mask import (
    JAW_LANDMARKS,
    MOUTH_LANDMARKS,
    above_jaw,
    polygon_coverage,
)
from reenact.postprocess import mouth_warp
from reenact.postprocess.mouth_warp import (
    SLIT_GAPS,
    SLIT_LIGHT,
    Inside,
    MouthWarp,
    inner_lip_outline,
    inside_light,
    lip_curve_points,
)

SIZE = 160


def dark(image: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels of the drawn mouth's inside."""
    return (np.abs(image.astype(int) - MOUTH).sum(axis=-1) < 60)


@pytest.fixture(scope="module")
def reference():
    return drawn_face(SIZE, mouth_open=0.4)


def render(warp: MouthWarp, frame: np.ndarray, target: np.ndarray, frame_landmarks: np.ndarray):
    return warp.render(frame, target, frame_landmarks=frame_landmarks, grow=4.0, feather=2.0)


def test_the_reference_onto_itself_is_the_reference(reference):
    image, landmarks = reference
    out = render(MouthWarp(image, landmarks), image, landmarks, landmarks)
    assert np.abs(out.astype(int) - image).max() <= 1


def test_closed_lips_hide_the_inside_and_keep_the_lips(reference):
    image, landmarks = reference
    warp = MouthWarp(image, landmarks)
    assert dark(image).sum() > 100
    closed = render(warp, image, close_lips(landmarks), landmarks)
    middle = slice(int(landmarks[61, 0]), int(landmarks[63, 0]) + 1)
    # the lips meet: at most a hairline where they touch (the lips' edges are curves through
    # the landmarks, and a pixel on the line samples the reference's lip at its inner edge)
    assert dark(closed)[:, middle].sum(axis=0).max() <= 1
    assert dark(closed).sum() <= 0.05 * dark(image).sum()  # a few pixels at the corners
    lips = (np.abs(closed.astype(int) - (170, 80, 85)).sum(axis=-1) < 60)
    assert lips.sum() > 0.8 * (np.abs(image.astype(int) - (170, 80, 85)).sum(axis=-1) < 60).sum()
    half = render(warp, image, open_mouth(close_lips(landmarks), 0.2), landmarks)
    assert 0.3 * dark(image).sum() < dark(half).sum() < 0.8 * dark(image).sum()


def test_the_mouth_follows_the_frame_pose_and_nothing_else_changes(reference):
    image, landmarks = reference
    frame, _ = drawn_face(SIZE, mouth_open=0.0, interior=False, seed=1)
    angle = np.deg2rad(6)
    pose = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0]])
    pose[:, 2] = (6.0, 4.0) + (np.eye(2) - pose[:, :2]) @ (SIZE / 2, SIZE / 2)  # about the centre
    moved = apply_affine(pose, landmarks)
    out = render(MouthWarp(image, landmarks), frame, moved, moved)
    inside = np.argwhere(dark(out))[:, ::-1] + 0.5  # (x, y) pixel centres
    expected = np.argwhere(dark(image))[:, ::-1] + 0.5
    np.testing.assert_allclose(inside.mean(axis=0), apply_affine(pose, expected.mean(axis=0)),
                               atol=0.6)
    changed = np.abs(out.astype(int) - frame).max(axis=-1) > 0
    brows = moved[17:27, 1].min()
    assert not changed[: int(brows)].any()  # above the brows nothing is touched
    assert changed[int(moved[57, 1]), int(moved[57, 0])]


def test_nothing_is_drawn_from_beyond_the_references_edge(reference):
    # the reference's face sits 40 px lower than the frame's, its chin near the bottom edge: the
    # frame's lowest rows map below the reference's picture, where there is nothing to take
    image, landmarks = reference
    shift = 40
    lowered = np.zeros_like(image)
    lowered[shift:] = image[:-shift]
    frame, _ = drawn_face(SIZE, mouth_open=0.0, interior=False, seed=1)
    out = render(MouthWarp(lowered, landmarks + (0, shift)), frame, landmarks, landmarks)
    beyond = SIZE - shift  # frame rows from here on map to source rows past the edge
    assert np.array_equal(out[beyond:], frame[beyond:])  # the frame's own pixels, no streaks
    changed = np.abs(out.astype(int) - frame).max(axis=-1) > 0
    assert changed[: beyond - 2].any()  # the mouth above is still drawn
    assert dark(out).sum() > 0.8 * dark(image).sum()


def test_bad_points_are_named(reference):
    image, landmarks = reference
    with pytest.raises(ValueError, match="landmarks"):
        MouthWarp(image, landmarks[:60])
    warp = MouthWarp(image, landmarks)
    with pytest.raises(ValueError, match="target"):
        render(warp, image, np.full((68, 2), np.nan), landmarks)


def test_the_drawn_mouth_takes_the_frame_lighting(reference):
    image, landmarks = reference
    ramp = np.linspace(0.7, 1.1, SIZE)[None, :, None]  # darker on the left, as if lit from the right
    frame = np.clip(image * ramp, 0, 255).astype(np.uint8)
    out = render(MouthWarp(image, landmarks), frame, landmarks, landmarks)
    changed = np.abs(out.astype(int) - frame).max(axis=-1) > 0
    lower = changed.copy()
    lower[: int(landmarks[33, 1])] = False  # below the nose: the drawn region
    unlit = np.abs(image.astype(int) - frame)[lower].mean()
    assert unlit > 10  # the reference's own light differs from the frame's by this much
    assert np.abs(out.astype(int) - frame)[lower].mean() < 0.25 * unlit


def test_the_lighting_match_skips_what_is_not_the_same_skin(reference):
    """Where the drawing holds something else than the frame (hair beside a turned face's mouth
    corner), the difference is not light: the skin around it is not brightened to make it up."""
    image, landmarks = reference
    corner = landmarks[48].round().astype(int)
    patched = image.copy()
    patched[corner[1] - 6:corner[1] + 6, corner[0] - 12:corner[0] - 2] = 40  # dark hair
    out = render(MouthWarp(patched, landmarks), image, landmarks, landmarks)
    near = np.zeros(image.shape[:2], bool)
    near[corner[1] - 16:corner[1] + 16, corner[0] - 16:corner[0] + 10] = True  # around it
    near[corner[1] - 8:corner[1] + 8, corner[0] - 14:corner[0]] = False
    brighter = out.astype(int)[near].mean(axis=-1) - image.astype(int)[near].mean(axis=-1)
    assert (out != image).any() and brighter.max() <= 3  # the gain made up the patch: +40


def test_lips_drawn_alone_stay_inside_the_frames_jaw_line(reference):
    """The lips drawn alone (a turned head, a mouth opened little: `MOUTH_LANDMARKS`) whose margin
    reaches past the frame's face edge: beyond the frame's jaw line the frame keeps its bytes.
    The margin there drew the reference's cheek edge or hair over the frame's, a torn contour
    beside a turned head's mouth corner."""
    from scipy.ndimage import distance_transform_edt

    image, landmarks = reference
    inside = above_jaw([landmarks], JAW_LANDMARKS, 0, 0, SIZE, SIZE, 0.0) > 0
    frame = image.copy()
    frame[~inside] = 255 - frame[~inside]  # beyond the face the frame shows something else
    target = landmarks.copy()
    target[48:68] += (10.0, 8.0)  # lips toward the jaw line at the image-right, below the chin
    out = MouthWarp(image, landmarks).render(frame, target, frame_landmarks=landmarks, grow=12.0,
                                             feather=2.0, region=MOUTH_LANDMARKS)
    assert (out != frame).any()
    beyond = distance_transform_edt(~inside) > 4  # 4 px past the frame's jaw line and on
    np.testing.assert_array_equal(out[beyond], frame[beyond])


@pytest.mark.parametrize("sides", ["both", "inside"])
def test_a_drawing_narrower_than_the_frame_leaves_the_frames_outline(reference, sides):
    """A drawn lower face whose jaw line lies inside the frame's (placed by a similarity on a
    rendered head, or a painted face's outline beyond dlib's jaw): with sides="inside" the frame
    keeps its bytes from the nearer jaw line out at the sides, so only its own outline shows;
    with "both" the drawing reaches past it there and the two outlines cross-fade (a pale band
    beside the jaw, dev cartoon_boy x lp_d0)."""
    image, landmarks = reference
    frame = image.copy()
    target = landmarks.copy()
    middle = landmarks[27:31, 0].mean()
    target[:17, 0] = middle + 0.85 * (landmarks[:17, 0] - middle)  # the drawing's jaw further in
    out = MouthWarp(image, landmarks).render(frame, target, frame_landmarks=landmarks, grow=6.0,
                                             feather=2.0, sides=sides)
    side = np.zeros(frame.shape[:2], bool)  # beside the drawing's jaw, image right, 13 to 11
    for row in range(int(np.ceil(landmarks[13, 1])), int(landmarks[11, 1])):
        edge = np.interp(row, landmarks[[13, 12, 11], 1], target[[13, 12, 11], 0])
        side[row, int(np.ceil(edge)):int(edge) + 10] = True
    assert side.sum() > 30
    changed = np.abs(out.astype(int) - frame).max(axis=-1)[side]
    if sides == "inside":
        assert changed.max() == 0
    else:
        assert changed.max() > 8 and (changed > 0).mean() > 0.25
    assert (out != frame).any()  # the mouth is drawn either way
    with pytest.raises(ValueError, match="sides"):
        MouthWarp(image, landmarks).render(frame, target, frame_landmarks=landmarks, grow=6.0,
                                           feather=2.0, sides="outside")


def test_lip_curves_pass_through_the_landmarks_and_move_with_the_face(reference):
    _, landmarks = reference
    outline = inner_lip_outline(landmarks)
    assert len(outline) == 24  # 8 landmarks, 2 curve points between each neighbouring pair
    np.testing.assert_allclose(outline[::3], landmarks[[60, 61, 62, 63, 64, 65, 66, 67]])
    pose = np.array([[0.9, -0.2, 7.0], [0.2, 0.9, -3.0]])  # a blend of landmarks is affine
    np.testing.assert_allclose(lip_curve_points(apply_affine(pose, landmarks)),
                               apply_affine(pose, lip_curve_points(landmarks)), atol=1e-9)
    flat = landmarks.copy()
    flat[48:68, 1] = 100.0  # lips on a line: their curves stay on it
    np.testing.assert_allclose(lip_curve_points(flat)[:, 1], 100.0)


def test_the_drawing_stops_at_the_chins(reference):
    """The hull's margin beyond the jaw line drew the reference's neck over the frame's: a dropped
    chin carried a collar along, and the cross-fade of the two was a smear under the chin."""
    image, landmarks = reference
    frame, _ = drawn_face(SIZE, mouth_open=0.0, interior=False, seed=1)
    below = np.zeros(frame.shape[:2], bool)
    chins = np.maximum(landmarks[8, 1], open_mouth(landmarks, 0.3)[8, 1])
    below[int(chins) + 7:] = True
    frame[below] = (20, 20, 20)  # a dark collar under the frame's chin
    target = open_mouth(landmarks, 0.3)  # the drawn chin drops
    out = MouthWarp(image, landmarks).render(frame, target, frame_landmarks=landmarks, grow=6.0,
                                             feather=2.0)
    assert np.array_equal(out[below], frame[below])  # the collar keeps its bytes
    chin = np.round(target[8]).astype(int)
    assert (out[chin[1] - 3, chin[0]] != frame[chin[1] - 3, chin[0]]).any()  # the chin is drawn
    # above the jaw line the margin is kept: the cheeks beside the nose are drawn
    assert (np.abs(out.astype(int) - frame)[int(landmarks[33, 1]), :].max(axis=-1) > 0).any()


def test_other_references_draw_the_inside_between_the_inner_lips_only(reference):
    """A closed photo's skin with an opened reference's inside, in one drawing: the references'
    weighted mix between the target's inner lips, this warp's pixels everywhere else."""
    image, landmarks = reference
    frame, _ = drawn_face(SIZE, mouth_open=0.0, interior=False, seed=1)
    target = open_mouth(close_lips(landmarks), 0.3)
    skin = MouthWarp(image, landmarks)
    green = np.zeros_like(image)
    green[...] = (0, 200, 0)
    other = MouthWarp(green, landmarks)
    alone = render(skin, frame, target, landmarks)
    kwargs = {"frame_landmarks": landmarks, "grow": 4.0, "feather": 2.0}
    whole = skin.render(frame, target, **kwargs, inside=Inside(((other, 1.0),)))
    half = skin.render(frame, target, **kwargs, inside=Inside(((skin, 0.5), (other, 0.5))))
    inside = polygon_coverage(inner_lip_outline(target), SIZE, SIZE)
    assert (inside >= 1).sum() > 50
    outside = inside == 0
    assert np.array_equal(whole[outside], alone[outside])
    assert np.array_equal(half[outside], alone[outside])
    greenish = whole[inside >= 1].astype(int)
    assert (greenish[:, 1] - greenish[:, [0, 2]].max(axis=1) > 100).all()
    assert np.abs(half[inside >= 1].astype(int)
                  - (alone[inside >= 1].astype(int) + greenish) / 2).max() <= 2


def test_light_reaches_a_narrow_mouths_inside_less():
    low, high = SLIT_GAPS
    gaps = np.linspace(0, 0.4, 41)
    light = np.array([inside_light(gap) for gap in gaps])
    assert light[gaps <= low] == pytest.approx(SLIT_LIGHT)
    assert light[gaps >= high] == pytest.approx(1.0)
    assert (np.diff(light) >= 0).all() and SLIT_LIGHT < inside_light((low + high) / 2) < 1


def painted(warp: MouthWarp, frame: np.ndarray, target: np.ndarray, landmarks: np.ndarray):
    """`render` with `warp`'s own inside drawn as a painted one is (`Inside`)."""
    return warp.render(frame, target, frame_landmarks=landmarks, grow=4.0, feather=2.0,
                       inside=Inside(((warp, 1.0),)))


@pytest.mark.parametrize("gap", [0.08, 0.14])
def test_a_painted_inside_opened_less_than_its_reference_is_darker(reference, monkeypatch, gap):
    """Only between the inner lips, by the share of the light that a gap that narrow lets in
    over the reference's (the drawing's lighting match is the same with and without); a frame's
    own inside (dub's references, no `Inside`) keeps its light."""
    image, landmarks = reference
    frame, _ = drawn_face(SIZE, mouth_open=0.0, interior=False, seed=1)
    warp = MouthWarp(image, landmarks)
    target = open_mouth(close_lips(landmarks), gap)
    share = inside_light(gap) / inside_light(0.4)
    assert share < 0.95
    dimmed = painted(warp, frame, target, landmarks).astype(float)
    own = render(warp, frame, target, landmarks)
    monkeypatch.setattr(mouth_warp, "SLIT_LIGHT", 1.0)
    lit = painted(warp, frame, target, landmarks).astype(float)
    assert np.array_equal(own, render(warp, frame, target, landmarks))
    inside = polygon_coverage(inner_lip_outline(target), SIZE, SIZE)
    assert (inside >= 1).sum() > 5
    assert np.array_equal(dimmed[inside == 0], lit[inside == 0])
    assert dimmed[inside >= 1] == pytest.approx(share * lit[inside >= 1], abs=1.5)


def test_a_painted_inside_opened_as_wide_as_its_reference_keeps_its_light(reference, monkeypatch):
    image, landmarks = reference
    warp = MouthWarp(image, landmarks)
    wider = open_mouth(close_lips(landmarks), 0.5)
    for target in (landmarks, wider):
        drawn = painted(warp, image, target, landmarks)
        monkeypatch.setattr(mouth_warp, "SLIT_LIGHT", 1.0)
        assert np.array_equal(drawn, painted(warp, image, target, landmarks))
        monkeypatch.undo()


def test_teeth_bared_across_the_mouth_keep_their_light(reference):
    """A grin's or a bite's share of the inside (`Inside.bared`) is lit across the mouth's width,
    not through the gap between its lips."""
    image, landmarks = reference
    warp = MouthWarp(image, landmarks)
    narrow = open_mouth(close_lips(landmarks), 0.08)
    through = inside_light(0.08) / inside_light(0.4)
    assert Inside(((warp, 1.0),)).light(narrow) == pytest.approx(through)
    assert Inside(((warp, 1.0),), 0.5).light(narrow) == pytest.approx((1 + through) / 2)
    assert Inside(((warp, 1.0),), 1.0).light(narrow) == 1.0
    assert Inside(((warp, 1.0),)).light(landmarks) == 1.0
