"""The landmark-warp baseline: triangle maps, rasterization, the warp itself, displacement transfer."""

from __future__ import annotations

import numpy as np
import pytest

from face_images import drawn_face
from reenact.evaluation.warp import (
    border_points,
    landmark_warp,
    mesh_points,
    piecewise_affine_warp,
    transfer_displacements,
)
from reenact.postprocess.piecewise import triangle_affines
from speech_fixtures import face_landmarks


def smooth_image(height: int = 72, width: int = 96) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    image = np.stack([xs * 2, ys * 3, (xs + ys)], axis=-1) % 256
    return image.astype(np.uint8)


def test_a_global_affine_motion_gives_that_affine_on_every_triangle() -> None:
    target = mesh_points(face_landmarks(48, 36, 40), 96, 72)
    motion = np.array([[1.1, 0.2, -3.0], [-0.1, 0.9, 5.0]])
    source = target @ motion[:, :2].T + motion[:, 2]
    triangles = np.array([[0, 1, 2], [10, 30, 50], [60, 70, 80]])
    affines, valid = triangle_affines(source, target, triangles)
    assert valid.all()
    np.testing.assert_allclose(affines, np.broadcast_to(motion, (3, 2, 3)), atol=1e-9)


def test_warp_with_identical_landmarks_is_the_identity() -> None:
    image, landmarks = drawn_face(96)
    np.testing.assert_array_equal(landmark_warp(image, landmarks, landmarks), image)
    tall = np.ascontiguousarray(np.concatenate([image, image[:40]], axis=0))  # (136, 96): not square
    moved = landmarks + (0.0, 20.0)
    np.testing.assert_array_equal(landmark_warp(tall, moved, moved), tall)


def test_warp_moves_the_face_with_its_landmarks_and_keeps_the_border() -> None:
    image = smooth_image()
    source = face_landmarks(48, 36, 40)
    shifted = source + (4.0, 0.0)
    warped = landmark_warp(image, source, shifted)
    # the face region moved 4 px right: the pixel under landmark 30 (nose tip) comes from 4 px left
    x, y = (shifted[30] - 0.5).round().astype(int)
    np.testing.assert_allclose(warped[y, x].astype(int), image[y, x - 4].astype(int), atol=1)
    np.testing.assert_array_equal(warped[0], image[0])  # the image border stays put
    np.testing.assert_array_equal(warped[:, -1], image[:, -1])


def test_piecewise_affine_warp_checks_its_points() -> None:
    image = smooth_image()
    with pytest.raises(ValueError, match=r"source, target: expected two \(N, 2\) point arrays"):
        piecewise_affine_warp(image, np.zeros((5, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"image: expected an \(H, W, 3\) uint8"):
        piecewise_affine_warp(image[..., 0], np.zeros((5, 2)), np.zeros((5, 2)))


def test_border_points_and_displacement_transfer() -> None:
    border = border_points(96, 72, per_side=3)
    corners = {(0.0, 0.0), (96.0, 0.0), (96.0, 72.0), (0.0, 72.0)}
    assert len(border) == 8 and corners <= set(map(tuple, border))
    portrait = face_landmarks(100, 100, 120)  # 3x the driver's face
    initial = face_landmarks(30, 30, 40)
    opened = face_landmarks(30, 30, 40, mouth_open=0.3)
    np.testing.assert_allclose(transfer_displacements(portrait, initial, initial), portrait)
    moved = transfer_displacements(portrait, opened + (2.0, 0.0), initial)
    np.testing.assert_allclose(moved, portrait + ((opened - initial) + (2.0, 0.0)) * 3, atol=1e-9)
