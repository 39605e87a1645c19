from __future__ import annotations

import numpy as np
import pytest
import torch

from reenact.containers import Keypoints
from reenact.pipelines.articulation import open_mouth, opening_motion, reexpress_opening
from reenact.preprocess.anchors import DEFAULT_ANCHORS, TEMPLATE, anchor_keypoints, pixels_to_normalized
from reenact.preprocess.expressions import interocular_distance, mouth_opening

SIZE = 128


def template_pixels() -> np.ndarray:
    return (TEMPLATE + 1) / 2 * (SIZE - 1) + 0.5


def test_open_mouth_grows_the_inner_lip_gap_by_the_opening() -> None:
    points = template_pixels()
    opened = open_mouth(points, 0.1)
    assert mouth_opening(opened) - mouth_opening(points) == pytest.approx(0.1, abs=2e-3)
    assert (opened[8, 1] - points[8, 1]) > 0  # the chin drops
    assert (opened[62, 1] - points[62, 1]) < 0  # the upper lip rises
    assert np.array_equal(opened[17:48], points[17:48])  # brows, nose, eyes stay
    with pytest.raises(ValueError, match="landmarks"):
        open_mouth(points[:60], 0.1)


def test_opening_motion_moves_only_the_mouth_anchors_and_is_linear() -> None:
    points = template_pixels()
    num_anchors, num_kp = len(DEFAULT_ANCHORS), len(DEFAULT_ANCHORS) + 3
    anchors = anchor_keypoints(torch.from_numpy(pixels_to_normalized(points, SIZE))[None].float())
    free = Keypoints(torch.rand(1, 3, 2) - 0.5, torch.eye(2).expand(1, 3, 2, 2).clone())
    kp = Keypoints(torch.cat([anchors.value, free.value], 1), torch.cat([anchors.jacobian, free.jacobian], 1))
    motion = opening_motion(kp, points, DEFAULT_ANCHORS, SIZE).reshape(num_kp, 6)
    assert motion[num_anchors:].abs().max() == 0  # free keypoints stay
    moved = {name for name, row in zip(DEFAULT_ANCHORS, motion[:num_anchors]) if row.abs().max() > 1e-6}
    assert {"lower_lip", "chin"} <= moved and not moved & {"brow_left", "brow_right", "nose"}
    lower = DEFAULT_ANCHORS.index("lower_lip")
    # per unit of opening the lower lip drops 0.8 interocular distances (in normalized units)
    expected = 0.8 * interocular_distance(points) * 2 / (SIZE - 1)
    assert float(motion[lower, 1]) == pytest.approx(expected, rel=1e-4)


def test_reexpress_opening_keeps_the_coefficients() -> None:
    fitted = torch.tensor([1.0, 2.0, 0.0])
    geometric = torch.tensor([0.0, 0.5, 1.0])
    motion = np.array([[0.5, 1.0, 0.0], [0.0, 0.0, 0.0], [-1.0, -2.0, 0.0]], np.float32)
    out = reexpress_opening(motion, fitted, geometric)
    np.testing.assert_allclose(out, [[0.0, 0.25, 0.5], [0, 0, 0], [0.0, -0.5, -1.0]], atol=1e-7)
    assert not reexpress_opening(motion, torch.zeros(3), geometric).any()
