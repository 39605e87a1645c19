"""How much of a parted mouth is teeth, read from the pixels between the inner lips."""

import numpy as np
import pytest
from speech_fixtures import face_landmarks

from reenact.preprocess.teeth import teeth_share

SKIN = (200, 160, 140)


def mouth_photo(landmarks, inside, teeth_rows=1.0, size=400):
    """Skin, with the inner-lip polygon filled dark red (`inside`) and its top `teeth_rows` share
    of rows white (teeth)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), SKIN)
    draw = ImageDraw.Draw(image)
    inner = [tuple(p) for p in landmarks[60:68]]
    draw.polygon(inner, fill=inside)
    top, bottom = landmarks[60:68, 1].min(), landmarks[60:68, 1].max()
    pixels = np.array(image)
    mask = np.zeros((size, size), bool)
    canvas = Image.new("L", (size, size))
    ImageDraw.Draw(canvas).polygon(inner, fill=1)
    mask = np.asarray(canvas, bool)
    rows = np.arange(size)[:, None] < top + teeth_rows * (bottom - top)
    pixels[mask & rows] = (235, 232, 220)
    return pixels


def test_teeth_are_the_bright_share_of_the_parted_lips():
    face = face_landmarks(200.0, 200.0, 300.0, mouth_open=0.4)
    assert teeth_share(mouth_photo(face, (60, 20, 25)), face) > 0.95  # teeth from edge to edge
    assert teeth_share(mouth_photo(face, (60, 20, 25), teeth_rows=0.0), face) == 0.0
    upper = teeth_share(mouth_photo(face, (60, 20, 25), teeth_rows=0.4), face)
    assert 0.25 < upper < 0.55  # the upper teeth over a dark inside


def test_shut_lips_or_no_cheeks_are_not_read():
    shut = face_landmarks(200.0, 200.0, 300.0, mouth_open=0.0)
    assert np.isnan(teeth_share(mouth_photo(shut, (60, 20, 25)), shut))
    face = face_landmarks(200.0, 200.0, 300.0, mouth_open=0.4)
    black = np.zeros((400, 400, 3), np.uint8)  # cheeks of luminance 0: nothing to compare with
    assert np.isnan(teeth_share(black, face))


def test_bad_inputs_name_the_argument():
    face = face_landmarks(200.0, 200.0, 300.0, mouth_open=0.4)
    with pytest.raises(ValueError, match="image: expected"):
        teeth_share(np.zeros((400, 400), np.uint8), face)
    with pytest.raises(ValueError, match="landmarks"):
        teeth_share(mouth_photo(face, (60, 20, 25)), face[:50])
