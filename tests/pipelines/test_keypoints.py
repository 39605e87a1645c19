from __future__ import annotations

import numpy as np
import pytest
import torch

from reenact.api import create_model
from reenact.containers import Keypoints
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


def test_reframe_keypoints_moves_keypoints_into_the_reference_crop() -> None:
    from reenact.pipelines.keypoints import reframe_keypoints

    size = 64
    reference = CropBox(100, 100, 80)
    # the same face, found 20 px further right in a crop twice as large
    moved = CropBox(120, 100, 160)
    face = np.array([[90.0, 95.0], [110.0, 105.0]])  # image pixels in the reference frame
    shifted = face + (20, 0)

    def to_kp(points: np.ndarray, box: CropBox) -> torch.Tensor:
        crop = box.image_to_crop(points, size)
        return torch.from_numpy(2 * (crop - 0.5) / (size - 1) - 1).float()

    jacobian = torch.eye(2).expand(2, 2, 2, 2) * 1.5
    kp = Keypoints(torch.stack([to_kp(face, reference), to_kp(shifted, moved)]), jacobian)
    out = reframe_keypoints(kp, [reference, moved], reference, size)
    torch.testing.assert_close(out.value[0], kp.value[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(out.value[1], to_kp(shifted, reference), atol=1e-6, rtol=0)
    torch.testing.assert_close(out.jacobian[0], jacobian[0], atol=0, rtol=0)
    # the face is half as large in a crop twice as large; in the reference's crop, its size again
    torch.testing.assert_close(out.jacobian[1], 2 * jacobian[1], atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="one per keypoint set"):
        reframe_keypoints(kp, [reference], reference, size)


def test_reframed_anchors_of_one_face_cut_by_two_boxes_agree(anchored: TorchBackend) -> None:
    from reenact.pipelines.keypoints import reframe_keypoints

    # one face in one image, cut by the reference box and by a smaller, shifted one (a face
    # follower's box that shrank): reframed, its anchors are those cut by the reference box
    size = 64
    reference = CropBox(200, 150, 150)
    follower = CropBox(210, 140, 110)
    face = template_in_image(CropBox(200, 150, 120), size)
    crops = np.zeros((2, size, size, 3), dtype=np.uint8)
    kp = detect_keypoints(anchored, crops, [face, face], [reference, follower])
    out = reframe_keypoints(kp, [reference, follower], reference, size)
    torch.testing.assert_close(out.value[1, :14], out.value[0, :14], atol=1e-4, rtol=0)
    torch.testing.assert_close(out.jacobian[1, :14], out.jacobian[0, :14], atol=1e-4, rtol=0)
    assert not torch.allclose(kp.jacobian[1, :14], kp.jacobian[0, :14], atol=1e-2)
