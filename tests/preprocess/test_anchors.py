from __future__ import annotations

import numpy as np
import pytest
import torch

from reenact.containers import Keypoints
from reenact.preprocess.anchors import (
    ANCHOR_GROUPS,
    DEFAULT_ANCHORS,
    TEMPLATE,
    anchor_keypoints,
    flip_landmarks,
    pixels_to_normalized,
    replace_anchors,
)


def template(batch: int = 1) -> torch.Tensor:
    return torch.from_numpy(TEMPLATE).double().expand(batch, 68, 2).clone()


def test_template_face_gives_centroids_and_identity_jacobians() -> None:
    kp = anchor_keypoints(template())
    assert kp.value.shape == (1, len(DEFAULT_ANCHORS), 2)
    assert kp.jacobian is not None and kp.jacobian.shape == (1, len(DEFAULT_ANCHORS), 2, 2)
    for row, name in enumerate(DEFAULT_ANCHORS):
        centroid = TEMPLATE[list(ANCHOR_GROUPS[name])].mean(axis=0)
        np.testing.assert_allclose(kp.value[0, row].numpy(), centroid, atol=1e-12)
    torch.testing.assert_close(kp.jacobian, torch.eye(2, dtype=torch.float64).expand_as(kp.jacobian))


def test_similarity_motion_is_recovered_exactly() -> None:
    angle, scale, shift = 0.3, 1.25, torch.tensor([0.1, -0.05], dtype=torch.float64)
    rotation = torch.tensor([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = template() @ (scale * rotation).T + shift
    kp = anchor_keypoints(moved)
    torch.testing.assert_close(kp.jacobian[0], (scale * rotation).expand(len(DEFAULT_ANCHORS), 2, 2))


def test_opening_mouth_moves_lips_apart_and_stretches_their_groups() -> None:
    face = template()
    names = list(DEFAULT_ANCHORS)
    lower = list(ANCHOR_GROUPS["lower_lip"])
    face[0, lower, 1] += 0.1  # the lower lip drops
    kp, rest = anchor_keypoints(face), anchor_keypoints(template())
    upper_row, lower_row = names.index("upper_lip"), names.index("lower_lip")
    assert kp.value[0, lower_row, 1] - rest.value[0, lower_row, 1] == pytest.approx(0.1)
    assert kp.value[0, upper_row, 1] == rest.value[0, upper_row, 1]
    # the mouth corners' groups hold lower-lip points: they stretch vertically
    corner = names.index("mouth_corner_left")
    assert kp.jacobian[0, corner, 1, 1] > 1.05


def test_closed_eye_keeps_an_invertible_jacobian() -> None:
    face = template()
    face[0, 37, 1], face[0, 38, 1] = face[0, 41, 1], face[0, 40, 1]  # upper lid onto the lower
    kp = anchor_keypoints(face)
    row = list(DEFAULT_ANCHORS).index("upper_lid_left")
    determinant = torch.linalg.det(kp.jacobian[0, row])
    assert 0.05 < float(determinant) < 0.5


def test_nan_landmarks_give_nan_rows_and_replace_keeps_the_detector_there() -> None:
    faces = template(2)
    faces[1] = float("nan")
    anchors = anchor_keypoints(faces)
    assert torch.isfinite(anchors.value[0]).all() and torch.isnan(anchors.value[1]).all()
    num_kp = len(DEFAULT_ANCHORS) + 3
    detected = Keypoints(torch.zeros(2, num_kp, 2, dtype=torch.float64),
                         torch.eye(2, dtype=torch.float64).repeat(2, num_kp, 1, 1) * 2)
    mixed = replace_anchors(detected, anchors)
    torch.testing.assert_close(mixed.value[0, :len(DEFAULT_ANCHORS)], anchors.value[0])
    torch.testing.assert_close(mixed.value[1], detected.value[1])
    torch.testing.assert_close(mixed.jacobian[1], detected.jacobian[1])
    torch.testing.assert_close(mixed.value[:, len(DEFAULT_ANCHORS):], detected.value[:, len(DEFAULT_ANCHORS):])


def test_replace_refuses_more_anchors_than_keypoints() -> None:
    anchors = anchor_keypoints(template())
    detected = Keypoints(torch.zeros(1, 3, 2, dtype=torch.float64), torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match="14 anchored keypoints for a model of 3"):
        replace_anchors(detected, anchors)


def test_unknown_group_and_bad_shape_are_named() -> None:
    with pytest.raises(ValueError, match="unknown anchor group 'ears'"):
        anchor_keypoints(template(), ("chin", "ears"))
    with pytest.raises(ValueError, match=r"landmarks: expected \(B, 68, 2\)"):
        anchor_keypoints(torch.zeros(1, 5, 2))


def test_flip_renames_mirror_twins() -> None:
    size = 128
    pixels = (TEMPLATE + 1) / 2 * (size - 1) + 0.5
    flipped = flip_landmarks(pixels, size)
    np.testing.assert_allclose(flip_landmarks(flipped, size), pixels)
    # the template is nearly symmetric: its mirror image is itself, within 0.05 of the crop
    np.testing.assert_allclose(pixels_to_normalized(flipped, size), TEMPLATE, atol=0.05)
    assert flipped[48, 0] < flipped[54, 0]  # the left corner is still the left one


def test_pixels_to_normalized_maps_pixel_centres() -> None:
    np.testing.assert_allclose(pixels_to_normalized(np.array([[0.5, 127.5]]), 128), [[-1, 1]])
