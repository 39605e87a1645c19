"""An open mouth's inner lip line read from its pixels where the landmarks fall inside the mouth."""

from __future__ import annotations

import numpy as np
import pytest
from face_images import MOUTH, drawn_face
from PIL import Image, ImageDraw

from reenact.preprocess.expressions import mouth_opening
from reenact.preprocess.inner_lips import COLUMNS, inner_lip_edges

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
