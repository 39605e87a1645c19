"""Typed values that cross the boundaries of the motion pipeline.

keypoint detector -> Keypoints -> dense motion -> DenseMotion -> generator -> Rendered
source image -> generator.encode_source -> SourceEncoding (computed once per video)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Keypoints:
    """Keypoints in normalized image coordinates.

    value: (B, K, 2) float, (x, y) with -1 = left/top pixel centre and +1 = right/bottom one.
    jacobian: (B, K, 2, 2) float local affine transform around each keypoint, or None when the model
        estimates no jacobians.
    heatmap_logits: (B, K, h, w) pre-softmax heatmaps, only when the detector was asked for them.
    """

    value: Tensor
    jacobian: Tensor | None = None
    heatmap_logits: Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.value.shape[0]

    @property
    def num_kp(self) -> int:
        return self.value.shape[1]

    def __getitem__(self, index: int | slice) -> Keypoints:
        """Select along the batch dimension, keeping it (an int index gives a batch of one)."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return Keypoints(
            self.value[index],
            None if self.jacobian is None else self.jacobian[index],
            None if self.heatmap_logits is None else self.heatmap_logits[index],
        )

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Keypoints:
        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device=device, dtype=dtype)

        return Keypoints(move(self.value), move(self.jacobian), move(self.heatmap_logits))

    @staticmethod
    def cat(items: list[Keypoints]) -> Keypoints:
        """Concatenate along the batch dimension (heatmaps are dropped)."""
        jacobians = [k.jacobian for k in items]
        has_jacobian = all(j is not None for j in jacobians)
        return Keypoints(
            torch.cat([k.value for k in items]),
            torch.cat(jacobians) if has_jacobian else None,  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class SourceEncoding:
    """Everything the renderer needs from the source image; depends on the source alone.

    image: (B, C, H, W) the source in [0, 1] (B is 1 for one portrait).
    features: (B, F, H / 2**d, W / 2**d) the generator's encoder output (d down blocks).
    motion_image: (B, C, h, w) the source anti-alias downscaled to the dense-motion resolution.
    """

    image: Tensor
    features: Tensor
    motion_image: Tensor


@dataclass(frozen=True)
class DenseMotion:
    """Output of the dense-motion network at its own resolution (h, w).

    deformation: (B, h, w, 2) sampling grid in `grid_sample` (x, y) order: for each output pixel, where
        to read the source.
    mask: (B, K+1, h, w) softmax weights of the background (index 0) and each keypoint's motion.
    occlusion_map: (B, 1, h, w) in [0, 1], or None when the model has no occlusion head.
    sparse_deformed: (B, K+1, C, h, w) the source warped by each sparse motion.
    """

    deformation: Tensor
    mask: Tensor
    occlusion_map: Tensor | None
    sparse_deformed: Tensor


@dataclass(frozen=True)
class Rendered:
    """A rendered batch.

    prediction: (B, C, H, W) in [0, 1].
    motion: the dense motion that produced it.
    deformed: (B, C, H, W) the source warped by the dense deformation alone, when asked for.
    skip_weight: (B, 1, H, W) in [0, 1], pixel-skip generators only: how much of each predicted
        pixel is the warped source image (the rest is the decoder's own output).
    """

    prediction: Tensor
    motion: DenseMotion
    deformed: Tensor | None = None
    skip_weight: Tensor | None = None

    def source_weight(self) -> Tensor:
        """(B, 1, H, W) in [0, 1]: how far each predicted pixel can be the warped source image.

        The smaller of the pixel-skip generator's own weight of the warped source and the
        occlusion map (bilinearly upsampled from the dense-motion resolution, as the generator
        resizes it); 1 where the model has neither. ONNX-exportable (the renderer graph computes
        it too).
        """
        prediction = self.prediction
        height, width = prediction.shape[2:]
        weight = (self.skip_weight if self.skip_weight is not None
                  else torch.ones_like(prediction[:, :1]))
        occlusion = self.motion.occlusion_map
        if occlusion is not None:
            if occlusion.shape[2:] != (height, width):
                occlusion = F.interpolate(occlusion, size=(height, width), mode="bilinear",
                                          align_corners=False)
            weight = torch.minimum(weight, occlusion)
        return weight
