"""How much of a parted mouth is teeth, read from the pixels between the inner lips."""

import numpy as np
import pytest
from speech_fixtures import face_landmarks

from reenact.preprocess.teeth import pale_share, teeth_share

SKIN = (200, 160, 140)


def mouth_photo(landmarks, inside, teeth_rows=1.0, size=400, lips=None):
    """Skin, with the inner-lip polygon filled dark red (`inside`) and its top `teeth_rows` share
    of rows white (teeth); the lips (48-59) filled `lips` where given."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), SKIN)
    draw = ImageDraw.Draw(image)
    if lips is not None:
        draw.polygon([tuple(p) for p in landmarks[48:60]], fill=lips)
    inner = [tuple(p) for p in landmarks[60:68]]
    draw.polygon(inner, fill=inside)
    top, bottom = landmarks[60:68, 1].min(), landmarks[60:68, 1].max()
    pixels = np.array(image)
    mask = np.zeros((size, size), bool)
    canvas = Image.new("L", (size, size))
    ImageDraw.Draw(canvas).polygon(inner, fill=1)
    mask = np.asarray(canvas, bool)
    rows = np.arange(size)[:, None] < top + teeth_rows * (bottom - top)
    if teeth_rows > 0:
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


PALE_LIPS = (222, 178, 170)  # as bright as the cheeks, or brighter


def test_teeth_between_lips_barely_parted_are_told_from_pale_lips():
    """Lips 0.1 apart by dlib's points: teeth between them are paler than the lips; pale lips
    pressed together (the lip colour between the points) are not, though they are as bright as
    the cheeks, which `teeth_share` compares with."""
    face = face_landmarks(200.0, 200.0, 300.0, mouth_open=0.1)
    teeth = mouth_photo(face, (60, 20, 25), lips=PALE_LIPS)
    pressed = mouth_photo(face, PALE_LIPS, teeth_rows=0.0, lips=PALE_LIPS)
    assert pale_share(teeth, face) > 0.9
    assert pale_share(pressed, face) == 0.0
    assert teeth_share(pressed, face) > 0.9  # what the cheeks' measure reads there
    upper = pale_share(mouth_photo(face, (60, 20, 25), teeth_rows=0.4, lips=PALE_LIPS), face)
    assert 0.25 < upper < 0.55


def test_lips_without_an_inside_are_not_read():
    shut = face_landmarks(200.0, 200.0, 300.0, mouth_open=0.0)
    assert np.isnan(pale_share(mouth_photo(shut, (60, 20, 25), lips=PALE_LIPS), shut))


def test_bad_inputs_name_the_argument():
    face = face_landmarks(200.0, 200.0, 300.0, mouth_open=0.4)
    with pytest.raises(ValueError, match="image: expected"):
        teeth_share(np.zeros((400, 400), np.uint8), face)
    with pytest.raises(ValueError, match="landmarks"):
        teeth_share(mouth_photo(face, (60, 20, 25)), face[:50])
    for measure in (teeth_share, pale_share):
        with pytest.raises(ValueError, match="image: expected"):
            measure(np.zeros((400, 400), np.uint8), face)
        with pytest.raises(ValueError, match="landmarks"):
            measure(mouth_photo(face, (60, 20, 25)), face[:50])
