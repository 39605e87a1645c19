from __future__ import annotations

import numpy as np
import pytest
import torch

from reenact.api import create_model
from reenact.engine import TorchBackend
from reenact.pipelines.keypoints import crop_landmarks, detect_keypoints
from reenact.preprocess.anchors import TEMPLATE, anchor_keypoints
from reenact.preprocess.crop import CropBox


@pytest.fixture(scope="module")
def anchored() -> TorchBackend:
    return TorchBackend(create_model("tiny-face-64", seed=0), device="cpu")


def template_in_image(box: CropBox, size: int) -> np.ndarray:
    """The template face placed in an image so that `box` cut to `size` pixels frames it."""
    return box.crop_to_image((TEMPLATE + 1) / 2 * (size - 1) + 0.5, size)


def test_crop_landmarks_maps_into_the_crop_and_marks_missing_rows() -> None:
    box = CropBox(100, 80, 50)
    points = crop_landmarks([template_in_image(box, 64), None], [box, box], 64)
    np.testing.assert_allclose(points[0], (TEMPLATE + 1) / 2 * 63 + 0.5, atol=1e-9)
    assert np.isnan(points[1]).all()
    with pytest.raises(ValueError, match="one per box"):
        crop_landmarks([None], [box, box], 64)


def test_anchored_model_takes_anchors_from_landmarks_where_known(anchored: TorchBackend) -> None:
    crops = np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    box = CropBox(200, 150, 120)
    kp = detect_keypoints(anchored, crops, [template_in_image(box, 64), None], [box, box])
    detected = anchored.detect(crops)
    expected = anchor_keypoints(torch.from_numpy(TEMPLATE).float()[None])
    torch.testing.assert_close(kp.value[0, :14], expected.value[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(kp.jacobian[0, :14], expected.jacobian[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(kp.value[0, 14:], detected.value[0, 14:])
    torch.testing.assert_close(kp.value[1], detected.value[1])  # no face: the detector's


def test_free_keypoint_model_ignores_landmarks() -> None:
    backend = TorchBackend(create_model("tiny-64", seed=0), device="cpu")
    crops = np.zeros((1, 64, 64, 3), dtype=np.uint8)
    box = CropBox(32, 32, 64)
    kp = detect_keypoints(backend, crops, [template_in_image(box, 64)], [box])
    torch.testing.assert_close(kp.value, backend.detect(crops).value)
