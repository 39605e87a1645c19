"""Where each iris sits in its eye, read from the pixels between the lids."""

import numpy as np
import pytest

from reenact.preprocess.anchors import TEMPLATE
from reenact.preprocess.gaze import EYE_POINTS, iris_positions


def face_landmarks(scale=200.0, offset=(200.0, 180.0)):
    """(68, 2) the anchors' median face in pixels: eyes about 60 px long."""
    return TEMPLATE * scale + np.asarray(offset)


def eye_photo(landmarks, irises=(0.0, 0.0), height=420, width=400):
    """Skin, white almond eyes between the lid landmarks and a dark iris disc in each, centred
    `irises` half corner distances along its eye from the middle."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (205, 160, 140))
    draw = ImageDraw.Draw(image)
    for eye, position in zip(EYE_POINTS, irises):
        points = landmarks[list(eye)]
        draw.polygon([tuple(p) for p in points], fill=(235, 235, 230))
        first, last = points[0], points[3]
        centre = (first + last) / 2 + position * (last - first) / 2
        radius = 0.2 * np.linalg.norm(last - first)
        draw.ellipse([tuple(centre - radius), tuple(centre + radius)], fill=(50, 35, 30))
    return np.asarray(image)


def test_the_dark_iris_is_found_along_the_eye():
    face = face_landmarks()
    for truth in (-0.4, 0.0, 0.35):
        read = iris_positions(eye_photo(face, (truth, truth)), face)
        assert read.shape == (2,)
        np.testing.assert_allclose(read, truth, atol=0.12)
    apart = iris_positions(eye_photo(face, (-0.4, 0.4)), face)
    assert apart[0] < -0.25 and apart[1] > 0.25  # each eye is read on its own


def test_a_shut_or_tiny_eye_is_not_read():
    face = face_landmarks()
    shut = face.copy()
    for eye in EYE_POINTS:  # the lids' points on the line between the corners
        corners = shut[[eye[0], eye[3]]].mean(axis=0)
        shut[list(eye[1:3]) + list(eye[4:6]), 1] = corners[1]
    assert np.isnan(iris_positions(eye_photo(face), shut)).all()
    tiny = face_landmarks(scale=20.0, offset=(50.0, 50.0))  # eyes ~6 px long
    assert np.isnan(iris_positions(eye_photo(tiny, height=120, width=120), tiny)).all()
    blank = np.full((420, 400, 3), 128, np.uint8)  # no darker part: nothing to read
    assert np.isnan(iris_positions(blank, face)).all()


def test_bad_inputs_name_the_argument():
    face = face_landmarks()
    with pytest.raises(ValueError, match="image: expected"):
        iris_positions(np.zeros((420, 400), np.uint8), face)
    with pytest.raises(ValueError, match="landmarks"):
        iris_positions(eye_photo(face), face[:60])
