"""Where the photo's landmarks belong in each frame: the driver's landmark motion, carried over."""

import numpy as np
import pytest

from reenact.pipelines.landmark_targets import landmark_targets, smoothed_series
from reenact.preprocess.anchors import TEMPLATE
from reenact.preprocess.crop import CropBox

PHOTO_BOX = CropBox(200.0, 200.0, 400.0)  # centre x, centre y, side
DRIVER_BOX = CropBox(100.0, 100.0, 200.0)


def face(scale, offset):
    return TEMPLATE * scale + np.asarray(offset, dtype=np.float64)


def test_a_still_driver_leaves_the_photo_landmarks_where_they_are():
    photo, driver = face(200, (200, 190)), face(100, (100, 95))
    targets = landmark_targets([driver] * 5, 0, photo, PHOTO_BOX, DRIVER_BOX)
    assert all(np.allclose(t, photo) for t in targets)


def test_driver_motion_is_carried_in_crop_fractions():
    """The driver's face moves 10 px right in a 200-px crop: the photo's moves 20 px in its 400-px
    crop (5% of the crop each)."""
    photo, driver = face(200, (200, 190)), face(100, (100, 95))
    moved = driver + (10.0, 0.0)
    series = [driver] * 4 + [moved] * 8  # held long enough that the smoothing has settled
    targets = landmark_targets(series, 0, photo, PHOTO_BOX, DRIVER_BOX, adapt_scale=False)
    assert np.allclose(targets[-1], photo + (20.0, 0.0), atol=1e-6)
    assert np.allclose(targets[0], photo, atol=1e-6)


def test_the_movement_scale_follows_the_faces_sizes():
    """A photo face half the driver's size (in crop fractions) moves half as far."""
    photo, driver = face(100, (200, 190)), face(100, (100, 95))  # 25% vs 50% of the crop
    series = [driver] * 4 + [driver + (0.0, 10.0)] * 8
    adapted = landmark_targets(series, 0, photo, PHOTO_BOX, DRIVER_BOX)
    plain = landmark_targets(series, 0, photo, PHOTO_BOX, DRIVER_BOX, adapt_scale=False)
    assert np.allclose(plain[-1] - photo, (0.0, 20.0), atol=1e-6)
    assert np.allclose(adapted[-1] - photo, (0.0, 10.0), atol=1e-6)


def test_absolute_motion_puts_the_drivers_face_in_the_photos_crop():
    photo, driver = face(200, (200, 190)), face(100, (110, 95))
    targets = landmark_targets([driver], 0, photo, PHOTO_BOX, DRIVER_BOX, relative=False)
    assert np.allclose(targets[0], face(200, (220, 190)))


def test_frames_without_landmarks_get_no_targets():
    photo, driver = face(200, (200, 190)), face(100, (100, 95))
    targets = landmark_targets([driver, None, driver], 0, photo, PHOTO_BOX, DRIVER_BOX)
    assert targets[1] is None and targets[0] is not None and targets[2] is not None
    assert landmark_targets([None, driver], 0, photo, PHOTO_BOX, DRIVER_BOX) == [None, None]


def test_smoothing_averages_neighbours_and_skips_gaps():
    a, b = face(100, (0, 0)), face(100, (3, 0))
    smoothed = smoothed_series([a, b, None, a], sigma=1.0)
    assert smoothed[2] is None
    assert 0 < smoothed[1][0, 0] - a[0, 0] < 3  # pulled toward its neighbours
    assert smoothed_series([a, b], sigma=0) == [a, b]


def test_bad_photo_landmarks_are_named():
    with pytest.raises(ValueError, match="photo"):
        landmark_targets([face(100, (0, 0))], 0, np.zeros((5, 2)), PHOTO_BOX, DRIVER_BOX)
