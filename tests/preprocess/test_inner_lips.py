"""An open mouth's inner lip line read from its pixels where the landmarks fall inside the mouth, and
the line between closed lips."""

from __future__ import annotations

import numpy as np
import pytest
from face_images import MOUTH, drawn_face
from PIL import Image, ImageDraw

from reenact.preprocess.expressions import interocular_distance, mouth_opening
from reenact.preprocess.inner_lips import MAX_CREASE, COLUMNS, crease_edges, inner_lip_edges

SIZE = 240
UPPER = [inner for _, inner, _, _ in COLUMNS]
LOWER = [inner for _, _, inner, _ in COLUMNS]


def open_mouth_with_teeth():
    """A drawn face whose mouth is open 0.4 interocular distances: its upper third pale teeth
    hanging from the upper lip, the rest dark. Returns (image, true landmarks)."""
    image, landmarks = drawn_face(SIZE, mouth_open=0.4)
    canvas = Image.fromarray(image)
    top = landmarks[[61, 62, 63], 1].max()
    bottom = landmarks[[65, 66, 67], 1].min()
    teeth = top + (bottom - top) / 3
    inside = Image.new("L", canvas.size)
    ImageDraw.Draw(inside).polygon([tuple(p) for p in landmarks[60:68]], fill=255)
    pale = Image.new("RGB", canvas.size, (235, 230, 215))
    band = Image.new("L", canvas.size)
    ImageDraw.Draw(band).rectangle((0, 0, SIZE, teeth), fill=255)
    mask = np.minimum(np.asarray(inside), np.asarray(band))
    canvas.paste(pale, mask=Image.fromarray(mask))
    return np.asarray(canvas), landmarks


def test_points_that_fell_inside_the_mouth_go_back_to_the_lips_edges():
    """dlib's error: the upper inner points on the teeth, the lower ones in the mouth, 4 px in."""
    image, truth = open_mouth_with_teeth()
    misread = truth.copy()
    misread[UPPER, 1] += 4.0
    misread[LOWER, 1] -= 4.0
    found = inner_lip_edges(image, misread)
    np.testing.assert_allclose(found[UPPER + LOWER], truth[UPPER + LOWER], atol=1.5)
    assert mouth_opening(found) == pytest.approx(mouth_opening(truth), abs=0.03)
    others = [i for i in range(68) if i not in UPPER + LOWER]
    np.testing.assert_array_equal(found[others], misread[others])


def test_points_on_the_edges_stay_and_never_move_into_the_mouth():
    image, truth = open_mouth_with_teeth()
    found = inner_lip_edges(image, truth)
    np.testing.assert_allclose(found, truth, atol=1.0)
    assert (found[UPPER, 1] <= truth[UPPER, 1] + 1e-9).all()
    assert (found[LOWER, 1] >= truth[LOWER, 1] - 1e-9).all()


def test_lips_that_meet_or_an_inside_as_red_as_the_lips_are_left_alone():
    closed, landmarks = drawn_face(SIZE, mouth_open=0.02)
    np.testing.assert_array_equal(inner_lip_edges(closed, landmarks), landmarks)
    # pressed lips read open: the "inside" is lip-coloured all the way
    pressed, landmarks = drawn_face(SIZE, mouth_open=0.3, interior=False)
    np.testing.assert_allclose(inner_lip_edges(pressed, landmarks), landmarks, atol=1e-9)
    assert (np.abs(pressed.astype(int) - MOUTH).sum(axis=-1) < 90).sum() == 0


def test_bad_inputs_are_refused():
    image, landmarks = open_mouth_with_teeth()
    with pytest.raises(ValueError, match="landmarks"):
        inner_lip_edges(image, landmarks[:60])
    with pytest.raises(ValueError, match="image"):
        inner_lip_edges(image[..., :2], landmarks)


def lips_with_a_dark_line(thickness: float):
    """A drawn face with closed lips and a dark line `thickness` px tall between them, centred on
    the inner points' middle, corner to corner. Returns (image, landmarks, line top, bottom)."""
    image, landmarks = drawn_face(SIZE, mouth_open=0.0)
    middle = landmarks[[61, 62, 63, 65, 66, 67], 1].mean()
    top, bottom = middle - thickness / 2, middle + thickness / 2
    canvas = Image.fromarray(image)
    ImageDraw.Draw(canvas).rectangle((landmarks[60, 0], top, landmarks[64, 0], bottom),
                                     fill=(40, 20, 20))
    return np.asarray(canvas), landmarks, top, bottom


def test_closed_lips_open_to_the_edges_of_the_dark_line_between_them():
    image, landmarks, top, bottom = lips_with_a_dark_line(6.0)
    found = crease_edges(image, landmarks)
    np.testing.assert_allclose(found[UPPER, 1], top, atol=1.5)
    np.testing.assert_allclose(found[LOWER, 1], bottom, atol=1.5)
    others = [i for i in range(68) if i not in UPPER + LOWER]
    np.testing.assert_array_equal(found[others], landmarks[others])  # the corners stay


def test_lips_without_a_line_stay_and_a_wide_dark_band_opens_no_further_than_the_cap():
    plain, landmarks = drawn_face(SIZE, mouth_open=0.0)
    np.testing.assert_allclose(crease_edges(plain, landmarks), landmarks, atol=1.5)
    image, landmarks, _, _ = lips_with_a_dark_line(60.0)  # a band past both lips: not a crease
    found = crease_edges(image, landmarks)
    reach = MAX_CREASE * interocular_distance(landmarks) + 1e-6
    middle = (landmarks[UPPER] + landmarks[LOWER]) / 2
    assert (np.linalg.norm(found[UPPER] - middle, axis=1) <= reach).all()
    assert (np.linalg.norm(found[LOWER] - middle, axis=1) <= reach).all()


def test_a_highlight_on_a_lip_is_no_part_of_the_line_between_the_lips():
    """A glossy lower lip: a pale streak half-way from its outer edge to the lips' meeting line,
    lip-coloured pixels between. The line between the lips must not take the lip up to it."""
    image, landmarks = drawn_face(2 * SIZE, mouth_open=0.0)  # lips thick enough for a streak
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    for inner, outer in ((67, 58), (66, 57), (65, 56)):
        y = (landmarks[inner, 1] + landmarks[outer, 1]) / 2
        draw.rectangle((landmarks[inner, 0] - 4, y - 1, landmarks[inner, 0] + 4, y + 1),
                       fill=(250, 235, 235))
    found = crease_edges(np.asarray(canvas), landmarks)
    np.testing.assert_allclose(found[LOWER], landmarks[LOWER], atol=1.5)
