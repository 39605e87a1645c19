"""The lower-face mask of dubbing."""

import numpy as np
import pytest
from speech_fixtures import face_landmarks

from reenact.postprocess.mouth_mask import (
    JAW_SIDE_SHARES,
    inner_jaw,
    lower_face_mask,
    lower_face_region,
    polygon_coverage,
)
from reenact.preprocess.crop import CropBox


def test_covers_the_mouth_and_is_exactly_zero_far_from_it():
    landmarks = face_landmarks(128, 128, 120, mouth_open=0.2)
    mask = lower_face_mask(landmarks, CropBox(128, 128, 256), 256)
    assert mask.shape == (256, 256) and mask.dtype == np.float32
    mouth = np.round(landmarks[48:68].mean(axis=0)).astype(int)
    assert mask[mouth[1], mouth[0]] == 1
    eye = np.round(landmarks[36:42].mean(axis=0)).astype(int)
    assert mask[eye[1], eye[0]] == 0
    assert (mask[:40] == 0).all() and 0 <= mask.min() and mask.max() <= 1
    soft = (mask > 0) & (mask < 1)
    assert soft.any()  # feathered edge


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"landmarks: expected \(68, 2\)"):
        lower_face_mask(np.zeros((5, 2)), CropBox(10, 10, 20), 16)
    with pytest.raises(ValueError, match="dilation, feather"):
        lower_face_mask(face_landmarks(8, 8, 10), CropBox(8, 8, 16), 16, dilation=0.9)


def test_lower_face_region_covers_every_set_at_the_image_resolution():
    closed = face_landmarks(100, 90, 120)
    dropped = closed.copy()
    dropped[5:12, 1] += 15  # a chin that dropped
    y0, x0, mask = lower_face_region([closed, dropped], 200, 160, grow=4.0, feather=2.0)
    assert mask.dtype == np.float32 and 0 <= mask.min() and mask.max() <= 1
    chin = np.round(dropped[8] - (x0, y0) - (0, 3)).astype(int)
    mouth = np.round(closed[48:68].mean(axis=0) - (x0, y0)).astype(int)
    assert mask[chin[1], chin[0]] == 1 and mask[mouth[1], mouth[0]] == 1
    eye = np.round(closed[36:42].mean(axis=0)).astype(int)
    assert eye[1] < y0 or mask[eye[1] - y0, eye[0] - x0] == 0
    assert y0 >= 0 and x0 >= 0 and y0 + mask.shape[0] <= 200 and x0 + mask.shape[1] <= 160
    y0, x0, outside = lower_face_region([closed + 1000], 200, 160, grow=4.0, feather=2.0)
    assert outside.size == 0
    with pytest.raises(ValueError, match="grow, feather"):
        lower_face_region([closed], 200, 160, grow=-1.0, feather=0.0)


def test_polygon_coverage_is_the_area_inside_and_nothing_for_a_line():
    square = np.array([[2.0, 3.0], [12.0, 3.0], [12.0, 9.5], [2.0, 9.5]])
    coverage = polygon_coverage(square, 20, 16)
    assert coverage.shape == (16, 20) and coverage.dtype == np.float32
    assert coverage.sum() == pytest.approx(10 * 6.5, rel=0.1)
    assert coverage[5, 6] == 1 and coverage[0, 0] == 0 and coverage[9, 6] == pytest.approx(0.5, abs=0.2)
    line = np.array([[2.0, 5.0], [8.0, 5.0], [14.0, 5.0], [8.0, 5.0]])  # pressed lips: no area
    assert not polygon_coverage(line, 20, 16).any()
    assert polygon_coverage(square, 20, 16, erode=1.0).sum() == pytest.approx(8 * 4.5, rel=0.15)


def test_inner_jaw_stops_inside_the_nearer_side_and_takes_the_lower_chin():
    narrow = face_landmarks(100, 90, 120)  # upright: the face's across is the image's x
    wide = narrow.copy()
    middle = narrow[27:31, 0].mean()
    wide[:17, 0] = middle + 1.2 * (narrow[:17, 0] - middle)  # its outline further out
    wide[5:12, 1] += 9.0  # and its chin lower
    sides = [j for j, share in enumerate(JAW_SIDE_SHARES) if share == 1]
    for order in ([narrow, wide], [wide, narrow]):
        cut = inner_jaw(order, 3.0)
        inward = np.sign(middle - narrow[sides, 0])
        np.testing.assert_allclose(cut[sides, 0], narrow[sides, 0] + 3.0 * inward, atol=1e-9)
        np.testing.assert_allclose(cut[sides, 1], narrow[sides, 1], atol=1e-9)
        np.testing.assert_allclose(cut[8], wide[8], atol=1e-9)  # the chin: the lower one
        np.testing.assert_array_equal(cut[17:], order[0][17:])  # the rest: the first set's
    with pytest.raises(ValueError, match=r"landmarks: expected one or more \(68, 2\)"):
        inner_jaw([narrow[:17]], 3.0)
