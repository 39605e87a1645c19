"""Keypoints of face crops, as every pipeline needs them: the backend's detector, with a
face-anchored model's anchored keypoints taken from the faces' landmarks where they are known.

A face-anchored model (`reenact.config.AnchorConfig`) was trained to render with anchors computed
from 68-point landmarks (`reenact.preprocess.anchors`); its detector also predicts them, which is
the fallback for frames without landmarks. Models without anchors get the detector's keypoints.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from reenact.containers import Keypoints
from reenact.engine.backend import Backend
from reenact.preprocess.anchors import (
    NUM_LANDMARKS,
    anchor_detected,
    normalized_to_pixels,
    pixels_to_normalized,
)
from reenact.preprocess.crop import CropBox


def crop_landmarks(landmarks: Sequence[np.ndarray | None], boxes: Sequence[CropBox],
                   size: int) -> np.ndarray:
    """(B, 68, 2) image-pixel landmarks moved into their frames' size x size crops (crop pixels);
    NaN rows where None."""
    if len(landmarks) != len(boxes):
        raise ValueError(f"landmarks: expected one per box ({len(boxes)}), got {len(landmarks)}")
    out = np.full((len(landmarks), NUM_LANDMARKS, 2), np.nan)
    for row, (points, box) in enumerate(zip(landmarks, boxes)):
        if points is not None and np.isfinite(points).all():
            out[row] = box.image_to_crop(points, size)
    return out


def detect_keypoints(backend: Backend, crops: np.ndarray,
                     landmarks: Sequence[np.ndarray | None] | None = None,
                     boxes: Sequence[CropBox] | None = None) -> Keypoints:
    """Keypoints of (B, S, S, 3) uint8 crops; `landmarks` (per crop, (68, 2) in image pixels, or
    None) with the `boxes` the crops were cut with anchor a face-anchored model's keypoints."""
    kp = backend.detect(crops)
    groups = getattr(backend, "anchor_groups", ())
    if not groups or landmarks is None or boxes is None:
        return kp
    size = backend.image_size
    return anchor_detected(kp, crop_landmarks(landmarks, boxes, size), groups, size)


def reframe_keypoints(kp: Keypoints, boxes: Sequence[CropBox], reference: CropBox,
                      size: int) -> Keypoints:
    """Keypoints detected in each frame's own crop (`boxes`, cut to `size` px), moved into the
    `reference` crop's coordinates, so that a head moving through the frame moves its keypoints.

    Crops follow the face for the detector's sake; relative motion is measured in one frame of
    reference (the initial driving frame's crop), as with the reference's fixed crop. The boxes
    are squares, so a crop-to-crop map is a scale (box side over the reference's) and a shift; the
    jacobians, local maps into the crop, take the same scale. (Left unscaled, a driver whose box
    shrank by a fifth after the first frame gave every keypoint a 1.25x zoom that its values did not
    have, and the portrait's lids and brows, whose own shape changes came on top, crumpled.)
    """
    if len(boxes) != kp.batch_size:
        raise ValueError(f"boxes: expected one per keypoint set ({kp.batch_size}), got {len(boxes)}")
    value = kp.value.detach().cpu().double().numpy()
    pixels = normalized_to_pixels(value, size)
    moved = np.stack([reference.image_to_crop(box.crop_to_image(points, size), size)
                      for points, box in zip(pixels, boxes)])
    out = torch.from_numpy(pixels_to_normalized(moved, size)).to(kp.value.device, kp.value.dtype)
    if kp.jacobian is None:
        return Keypoints(out, None)
    scale = torch.tensor([box.side / reference.side for box in boxes], dtype=kp.jacobian.dtype,
                         device=kp.jacobian.device)
    return Keypoints(out, kp.jacobian * scale.view(-1, 1, 1, 1))
