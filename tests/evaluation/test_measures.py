"""Face measures with known answers: series statistics, geometry, pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from face_images import blurred, drawn_face
from reenact.evaluation.measures import (
    amplitude_ratio,
    face_box,
    face_sharpness,
    head_pose,
    keypoint_distance,
    laplacian_variance,
    compare_mouths,
    mouth_interior,
    mouth_region,
    pearson,
    polygon_mask,
    sharpness_ratio,
    teeth_area,
)
from speech_fixtures import face_landmarks


def test_pearson_and_amplitude_of_known_series() -> None:
    x = np.sin(np.linspace(0, 6, 50))
    assert pearson(2 * x + 1, x) == pytest.approx(1.0)
    assert pearson(-x, x) == pytest.approx(-1.0)
    assert amplitude_ratio(0.5 * x + 3, x) == pytest.approx(0.5)
    assert amplitude_ratio(np.full(50, 2.0), x) == pytest.approx(0.0)
    with_gaps = 2 * x
    with_gaps[::5] = np.nan  # frames without a face are left out, not zero
    assert pearson(with_gaps, x) == pytest.approx(1.0) and amplitude_ratio(with_gaps, x) == pytest.approx(2.0)
    assert math.isnan(pearson(np.ones(50), x))  # a still output has no r
    assert math.isnan(amplitude_ratio(x, np.ones(50)))  # nor a still driver an amplitude
    assert math.isnan(pearson(x[:2], x[:2]))
    with pytest.raises(ValueError, match="series: expected two 1-D series of one length"):
        pearson(x, x[:10])


def test_keypoint_distance_is_in_pixels_of_a_256_px_face() -> None:
    driver = face_landmarks(100, 100, 80)
    size = float((driver.max(axis=0) - driver.min(axis=0)).max())
    assert keypoint_distance(driver + (3.0, 4.0), driver) == pytest.approx(5 * 256 / size)
    assert keypoint_distance(driver, driver) == 0.0
    with pytest.raises(ValueError, match=r"output: expected finite \(68, 2\) points"):
        keypoint_distance(driver[:60], driver)


def test_head_pose_roll_and_yaw() -> None:
    face = face_landmarks(100, 100, 80)
    yaw, roll = head_pose(face)
    assert yaw == pytest.approx(0.0, abs=1e-9) and roll == pytest.approx(0.0, abs=1e-9)
    angle = math.radians(10)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    tilted = (face - 100) @ rotation.T + 100
    yaw, roll = head_pose(tilted)
    assert roll == pytest.approx(10.0) and yaw == pytest.approx(0.0, abs=1e-9)
    turned = face.copy()
    turned[27:36, 0] += 10  # the nose toward the image's right
    assert head_pose(turned)[0] > 0.1
    assert head_pose((turned - 100) @ rotation.T + 100)[0] == pytest.approx(head_pose(turned)[0])


def test_face_box_grows_about_the_centre() -> None:
    points = face_landmarks(50, 60, 40)
    x0, y0, x1, y1 = face_box(points, grow=1.0)
    assert (x0, y0) == tuple(points.min(axis=0)) and (x1, y1) == tuple(points.max(axis=0))
    gx0, _, gx1, _ = face_box(points, grow=2.0)
    assert gx1 - gx0 == pytest.approx(2 * (x1 - x0)) and (gx0 + gx1) / 2 == pytest.approx((x0 + x1) / 2)


def test_sharpness_ratio_of_a_blurred_face_is_below_one() -> None:
    image, landmarks = drawn_face()
    box = face_box(landmarks)
    assert sharpness_ratio(image, image, box) == pytest.approx(1.0)
    assert sharpness_ratio(blurred(image), image, box) < 0.5
    flat = np.full((64, 64, 3), 128, np.uint8)
    assert laplacian_variance(flat, (0, 0, 64, 64)) == 0.0
    assert math.isnan(sharpness_ratio(image, flat, (0, 0, 64, 64)))  # flat reference
    assert math.isnan(laplacian_variance(image, (10, 10, 11, 11)))  # under 3x3 pixels


def test_face_sharpness_without_the_mouth_is_not_fooled_by_a_sharp_drawn_mouth() -> None:
    image, landmarks = drawn_face(mouth_open=0.3, interior=True)
    box = face_box(landmarks)
    soft = blurred(image)
    mouth = mouth_region([landmarks], *image.shape[:2])
    drawn = np.where(mouth[..., None], image, soft)  # a soft face with the sharp mouth pasted in
    figures = face_sharpness(drawn, image, box, landmarks, None)
    assert set(figures) == {"sharpness", "sharpness_face"}
    # over the whole face box the drawn mouth's edges lift the figure; without it the face is as
    # soft as the blurred one
    assert figures["sharpness"] > 1.5 * sharpness_ratio(soft, image, box)
    assert figures["sharpness_face"] == pytest.approx(sharpness_ratio(soft, image, box, mouth))
    assert figures["sharpness_face"] < 0.5
    # the outer lips grown 1.3x about their centre, of every face given
    lips = landmarks[48:60]
    centre = lips.mean(axis=0)
    np.testing.assert_array_equal(mouth, polygon_mask(centre + 1.3 * (lips - centre), *mouth.shape))
    moved = landmarks + (20.0, 0.0)
    both = mouth_region([landmarks, None, moved], *image.shape[:2])
    np.testing.assert_array_equal(both, mouth | mouth_region([moved], *image.shape[:2]))
    assert not mouth_region([None], 8, 8).any()


def test_laplacian_variance_leaves_out_the_masked_pixels_and_their_neighbours() -> None:
    rng = np.random.default_rng(0)
    image = np.repeat(rng.integers(0, 255, (12, 12, 1), dtype=np.uint8), 3, axis=2)
    box = (0.0, 0.0, 12.0, 12.0)
    out = np.zeros((12, 12), bool)
    out[5, 5] = True
    full = laplacian_variance(image, box)
    assert laplacian_variance(image, box, np.zeros((12, 12), bool)) == pytest.approx(full)
    changed = image.copy()
    changed[5, 5] = 255 - changed[5, 5]  # only pixels whose Laplacian reads (5, 5) change
    assert laplacian_variance(changed, box, out) == pytest.approx(laplacian_variance(image, box, out))
    assert laplacian_variance(changed, box) != pytest.approx(full)
    assert math.isnan(laplacian_variance(image, box, np.ones((12, 12), bool)))  # nothing counts
    with pytest.raises(ValueError, match=r"leave_out: expected a \(12, 12\) mask"):
        laplacian_variance(image, box, out[:5])


def test_polygon_mask_uses_pixel_centres() -> None:
    mask = polygon_mask(np.array([[2.0, 1.0], [6.0, 1.0], [6.0, 4.0], [2.0, 4.0]]), 8, 8)
    expected = np.zeros((8, 8), bool)
    expected[1:4, 2:6] = True  # pixel centres (2.5 .. 5.5, 1.5 .. 3.5)
    np.testing.assert_array_equal(mask, expected)


def test_mouth_interior_sees_closed_lips_that_the_landmarks_read_as_open() -> None:
    open_mouth, landmarks = drawn_face(mouth_open=0.3, interior=True)
    pressed, same_landmarks = drawn_face(mouth_open=0.3, interior=False)
    np.testing.assert_array_equal(landmarks, same_landmarks)  # the landmarks cannot tell them apart
    inner = polygon_mask(landmarks[60:68], *open_mouth.shape[:2]).sum()
    interocular = 0.7 * 0.6 * 160 / 2  # template units x size / 2
    # the dark inner-lip polygon, in interocular units squared (Pillow's fill also takes edge pixels)
    assert mouth_interior(open_mouth, landmarks) == pytest.approx(inner / interocular ** 2, rel=0.2)
    assert mouth_interior(pressed, landmarks) < 0.1 * mouth_interior(open_mouth, landmarks)
    # a blurred open mouth shows less interior: its dark inside smears toward the lip colour
    assert mouth_interior(blurred(open_mouth, 3), landmarks) < mouth_interior(open_mouth, landmarks)
    closed, closed_landmarks = drawn_face(mouth_open=0.0)  # a dark 1-px line between the lips
    assert mouth_interior(closed, closed_landmarks) < 0.25 * mouth_interior(open_mouth, landmarks)


def test_compare_mouths_judges_the_mouth_not_where_the_head_is() -> None:
    opened, landmarks = drawn_face(mouth_open=0.3, interior=True)
    pressed, _ = drawn_face(mouth_open=0.3, interior=False)  # the same lips, no dark inside
    shut = compare_mouths(pressed, opened, landmarks)
    same = compare_mouths(opened, opened, landmarks)
    assert same.l1 == 0.0 and same.ssim == pytest.approx(1.0)
    assert shut.l1 > 0.04 and shut.ssim < 0.9
    # the same mouth placed a pixel off (a 29-px mouth: 1.6 of its box's samples) costs a fraction
    for shift in ((1, 0), (0, 1), (-1, 1)):
        moved = compare_mouths(np.roll(opened, shift, axis=(0, 1)), opened, landmarks)
        assert moved.l1 < 0.3 * shut.l1 and moved.ssim > shut.ssim
    # only the box around the driver's mouth counts
    elsewhere = opened.copy()
    elsewhere[:70] = 0
    elsewhere[:, 125:] = 0
    assert compare_mouths(elsewhere, opened, landmarks) == same
    with pytest.raises(ValueError, match="differ in size"):
        compare_mouths(opened[:-1], opened, landmarks)


def _mouth_image(teeth: bool, interior: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray,
                                                                         np.ndarray]:
    """(64, 96, 3) image with a lip ellipse, its inner ellipse filled with `interior` and, with
    `teeth`, a pale block across the upper half; and the two polygons (24, 2)."""
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    outer = np.stack([48 + 36 * np.cos(angles), 32 + 20 * np.sin(angles)], axis=1)
    inner = np.stack([48 + 26 * np.cos(angles), 32 + 10 * np.sin(angles)], axis=1)
    image = np.full((64, 96, 3), (205, 160, 135), np.uint8)
    image[polygon_mask(outer, 64, 96)] = (170, 80, 85)
    inside = polygon_mask(inner, 64, 96)
    image[inside] = interior
    if teeth:
        block = np.zeros((64, 96), bool)
        block[23:31, 30:66] = True
        image[block & inside] = (215, 205, 180)
    return image, inner, outer


def test_teeth_area_counts_pale_pixels_inside_the_inner_lips() -> None:
    image, inner, outer = _mouth_image(teeth=True, interior=(35, 20, 25))
    expected = (np.all(image == (215, 205, 180), axis=2)).sum()
    assert expected > 100
    assert teeth_area(image, inner, outer) == expected
    # the dark cavity alone, pressed lips, and a tongue-coloured inside show no teeth
    assert teeth_area(_mouth_image(False, (35, 20, 25))[0], inner, outer) == 0
    assert teeth_area(_mouth_image(False, (170, 80, 85))[0], inner, outer) == 0
    assert teeth_area(_mouth_image(False, (200, 95, 100))[0], inner, outer) == 0
    # dim teeth of a compressed video: a little brighter than the lips, much less saturated
    dim, _, _ = _mouth_image(teeth=False, interior=(35, 20, 25))
    dim[25:29, 40:56] = (140, 120, 105)
    assert teeth_area(dim, inner, outer) == 64
    assert math.isnan(teeth_area(image, inner, inner))  # no lip band to take the colour from
    with pytest.raises(ValueError, match=r"inner_lip: expected a finite \(N >= 3, 2\) polygon"):
        teeth_area(image, inner[:2], outer)
