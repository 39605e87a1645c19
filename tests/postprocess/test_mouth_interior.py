"""The painted inside of an open mouth: where it goes, what it holds, what it leaves alone."""

from __future__ import annotations

import numpy as np
import pytest
from face_images import LIPS, SKIN, drawn_face
from scipy.ndimage import distance_transform_edt

from reenact.pipelines.articulation import close_lips, open_mouth
from reenact.postprocess.mouth_interior import face_colours, inner_outline, paint_interior
from reenact.postprocess.mouth_warp import inner_lip_outline
from reenact.preprocess.expressions import interocular_distance

SIZE = 200
LUMA = np.array([0.299, 0.587, 0.114])


@pytest.fixture(scope="module")
def open_face():
    """An open mouth whose inside is lip-coloured (nothing to show yet)."""
    return drawn_face(SIZE, mouth_open=0.4, interior=False)


def inside_polygon(landmarks: np.ndarray) -> np.ndarray:
    from PIL import Image, ImageDraw

    mask = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(mask).polygon([tuple(p) for p in inner_outline(landmarks).tolist()], fill=255)
    return np.asarray(mask) > 0


def column_height(outline: np.ndarray, x: float) -> float:
    """The closed polygon `outline`'s extent down the column at `x`."""
    ends = np.roll(outline, -1, axis=0)
    crossing = (outline[:, 0] - x) * (ends[:, 0] - x) <= 0
    crossing &= outline[:, 0] != ends[:, 0]
    t = (x - outline[crossing, 0]) / (ends[crossing, 0] - outline[crossing, 0])
    ys = outline[crossing, 1] + t * (ends[crossing, 1] - outline[crossing, 1])
    return float(ys.max() - ys.min()) if ys.size else 0.0


@pytest.mark.parametrize("outline", [inner_outline, inner_lip_outline])
def test_an_opened_mouth_opens_toward_its_corners_as_an_ellipse_would(outline):
    """Speech's opening (each inner-lip pair moved apart alike) reaches toward the corners: at a
    tenth of the inner width from each, over half the middle's height (an ellipse's 0.6). With
    the curves leaving the corners along the lips, the opening tapered to a point over the
    outer third (0.46 there); the painted inside and the warp's mesh share the curves."""
    _, landmarks = drawn_face(SIZE, mouth_open=0.0, interior=False)
    for opening in (0.1, 0.3):
        opened = open_mouth(close_lips(landmarks), opening)
        points = outline(opened)
        left, right = opened[60, 0], opened[64, 0]
        middle = column_height(points, (left + right) / 2)
        assert middle > 0.9 * opening * interocular_distance(opened)
        for near in (left + 0.1 * (right - left), right - 0.1 * (right - left)):
            assert column_height(points, near) > 0.52 * middle, (opening, near)


def test_face_colours_are_the_skin_and_the_lips(open_face):
    image, landmarks = open_face
    skin, lips = face_colours(image, landmarks)
    np.testing.assert_allclose(skin, SKIN, atol=6)
    np.testing.assert_allclose(lips, LIPS, atol=6)


def test_the_inside_holds_teeth_above_a_dark_cavity(open_face):
    image, landmarks = open_face
    painted = paint_interior(image, landmarks, np.array(SKIN, float), np.array(LIPS, float))
    luma = painted.astype(float) @ LUMA
    inside = inside_polygon(landmarks)
    columns = slice(int(landmarks[62, 0]) - 3, int(landmarks[62, 0]) + 4)  # the midline
    top, bottom = landmarks[62, 1], landmarks[66, 1]
    rows = np.arange(SIZE)[:, None] + 0.5
    upper = inside & (rows < top + 0.2 * (bottom - top))
    middle = inside & (np.abs(rows - (top + bottom) / 2) < 0.1 * (bottom - top))
    upper[:, :columns.start] = upper[:, columns.stop:] = False
    middle[:, :columns.start] = middle[:, columns.stop:] = False
    skin_luma = float(np.array(SKIN) @ LUMA)
    assert luma[upper].mean() > 0.6 * skin_luma  # teeth: pale
    assert luma[middle].mean() < 0.35 * skin_luma  # the cavity: dark
    assert luma[middle].mean() < float(np.array(LIPS) @ LUMA) * 0.5


def test_the_cavity_is_dark_but_not_black(open_face):
    """Real mouths in speech are not black inside (their darkest 2% at 0.23-0.67 of the lips'
    luma in 10 dev clips, the 10th percentile inside the inner lips at 0.46-0.71): the painted
    cavity's middle, its darkest depth, stands at 0.38-0.6 of it, not at the 0.32 of a cavity
    of 0.4 or the 0.16 of one of 0.2."""
    image, landmarks = open_face
    painted = paint_interior(image, landmarks, np.array(SKIN, float), np.array(LIPS, float))
    luma = painted.astype(float) @ LUMA
    x, top, bottom = int(landmarks[62, 0]), landmarks[62, 1], landmarks[66, 1]
    middle = luma[int(top + 0.45 * (bottom - top)):int(top + 0.6 * (bottom - top)), x - 3:x + 4]
    lips_luma = float(np.array(LIPS) @ LUMA)
    assert 0.38 * lips_luma < float(np.median(middle)) < 0.6 * lips_luma


def test_a_bite_shows_the_lower_teeth_right_under_the_upper(open_face):
    """bite=True (a grin): below the upper teeth's edge come the lower teeth, pale, after a thin
    dark seam; the open jaw has its dark cavity there."""
    image, landmarks = open_face
    colours = np.array(SKIN, float), np.array(LIPS, float)
    apart = paint_interior(image, landmarks, *colours).astype(float) @ LUMA
    together = paint_interior(image, landmarks, *colours, bite=True).astype(float) @ LUMA
    iod = float(np.linalg.norm(landmarks[42:48].mean(axis=0) - landmarks[36:42].mean(axis=0)))
    x, top = int(landmarks[62, 0]), float(landmarks[62:65, 1].min())
    below = slice(int(top + 0.24 * iod), int(top + 0.3 * iod))  # under the upper teeth's edge
    skin_luma = float(np.array(SKIN) @ LUMA)
    assert together[below, x - 3:x + 4].mean() > 0.5 * skin_luma
    assert apart[below, x - 3:x + 4].mean() < 0.35 * skin_luma
    seam = together[int(top + 0.12 * iod):int(top + 0.26 * iod), x].min()
    assert seam < together[below, x].mean() - 10


def test_only_the_inside_changes(open_face):
    image, landmarks = open_face
    painted = paint_interior(image, landmarks, np.array(SKIN, float), np.array(LIPS, float))
    changed = np.abs(painted.astype(int) - image).sum(axis=-1) > 0
    inside = inside_polygon(landmarks)
    rim = distance_transform_edt(inside) <= 3  # the inset (1.5 px here) and its antialiasing
    assert changed.sum() > 0.5 * inside.sum()
    assert not (inside & ~rim & ~changed).any()  # all but the rim
    assert not (changed & ~inside).any()  # the lips keep their colour


def test_a_grey_photo_gets_grey_teeth(open_face):
    image, landmarks = open_face
    grey = np.repeat((image.astype(float) @ LUMA)[..., None], 3, axis=-1).astype(np.uint8)
    skin, lips = face_colours(grey, landmarks)
    painted = paint_interior(grey, landmarks, skin, lips).astype(int)
    assert np.abs(painted - painted.mean(axis=-1, keepdims=True)).max() <= 12


def test_closed_lips_have_no_inside_to_paint():
    image, landmarks = drawn_face(SIZE, mouth_open=0.0, interior=False)
    landmarks = landmarks.copy()
    for upper, lower in ((61, 67), (62, 66), (63, 65)):
        landmarks[[upper, lower]] = (landmarks[upper] + landmarks[lower]) / 2
    painted = paint_interior(image, landmarks, np.array(SKIN, float), np.array(LIPS, float))
    assert np.array_equal(painted, image)


def test_bad_landmarks_are_named(open_face):
    image, landmarks = open_face
    with pytest.raises(ValueError, match="landmarks"):
        paint_interior(image, landmarks[:60], np.array(SKIN, float), np.array(LIPS, float))
    with pytest.raises(ValueError, match="image"):
        paint_interior(image[..., 0], landmarks, np.array(SKIN, float), np.array(LIPS, float))
