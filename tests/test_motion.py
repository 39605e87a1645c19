"""Keypoint motion relative to a reference: round trips, projections, rigid transforms."""

import math

import numpy as np
import torch

from reenact.containers import Keypoints
from reenact.motion import (
    KeypointMotion,
    MotionDirections,
    apply_motion,
    motion_between,
    rest_keypoints,
    similarity_transform,
)


def keypoints(batch=3, num_kp=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    value = torch.rand(batch, num_kp, 2, generator=generator) * 2 - 1
    jacobian = torch.eye(2) + 0.2 * torch.randn(batch, num_kp, 2, 2, generator=generator)
    return Keypoints(value, jacobian)


def test_motion_round_trip_and_flat_layout():
    reference, kp = keypoints(1), keypoints(3, seed=1)
    motion = motion_between(kp, reference)
    back = apply_motion(reference, motion)
    assert torch.allclose(back.value, kp.value, atol=1e-6)
    assert torch.allclose(back.jacobian, kp.jacobian, atol=1e-5)
    flat = motion.flat()
    assert flat.shape == (3, 24) and torch.equal(flat[:, :2], motion.displacement[:, 0])
    restored = KeypointMotion.from_flat(flat, 4)
    assert torch.equal(restored.jacobian_change, motion.jacobian_change)
    zero = apply_motion(reference, KeypointMotion(torch.zeros(1, 4, 2), torch.zeros(1, 4, 2, 2)))
    assert torch.equal(zero.value, reference.value) and torch.allclose(zero.jacobian, reference.jacobian)


def test_projector_keeps_its_span_and_removes_the_rest():
    generator = torch.Generator().manual_seed(0)
    vectors = torch.randn(3, 24, generator=generator)
    directions = MotionDirections(("mouth_open", "mouth_width", "blink"), vectors,
                                  torch.rand(24, generator=generator) + 0.5)
    projector = directions.projector(("mouth_open", "mouth_width"))
    assert torch.allclose(projector @ projector, projector, atol=1e-5)
    inside = 2 * vectors[0] - vectors[1]
    assert torch.allclose(projector @ inside, inside, atol=1e-5)
    zeroed = MotionDirections(directions.names, torch.zeros(3, 24), directions.scale)
    assert not zeroed.projector(("mouth_open",)).any()


def test_similarity_transform_is_rigid():
    kp = keypoints(2)
    same = similarity_transform(kp, torch.zeros(2), torch.zeros(2, 2), torch.ones(2))
    assert torch.allclose(same.value, kp.value, atol=1e-6) and torch.allclose(same.jacobian, kp.jacobian)
    turned = similarity_transform(kp, torch.full((2,), math.pi / 2), torch.zeros(2, 2), torch.ones(2))
    centre = kp.value.mean(1, keepdim=True)
    distances = (kp.value - centre).norm(dim=-1)
    assert torch.allclose((turned.value - centre).norm(dim=-1), distances, atol=1e-5)


def test_rest_keypoints_use_the_most_closed_mouth_frames():
    kp = keypoints(10)
    opening = np.array([0.3, 0.0, 0.3, 0.3, 0.01, 0.3, np.nan, 0.3, 0.3, 0.3])
    rest = rest_keypoints(kp, opening, quantile=0.2)
    assert rest.batch_size == 1
    chosen = kp.value[[1, 4]]
    assert torch.equal(rest.value[0], chosen.median(dim=0).values)
