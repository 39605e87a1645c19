"""Keypoint detector: image -> K keypoints (soft-argmax of heatmaps) with local affine jacobians."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reenact.config import KeypointDetectorConfig
from reenact.containers import Keypoints
from reenact.geometry import heatmap_to_keypoints
from reenact.models.blocks import AntiAliasDownscale, Hourglass, fp32_island

HEAD_KERNEL = 7


class KeypointDetector(nn.Module):
    """Hourglass features -> heatmap head (softmax with temperature) and optional jacobian head.

    Each jacobian is the heatmap-weighted average of a per-pixel 2x2 map. An untrained jacobian
    head outputs the identity exactly (weight 0, bias [1, 0, 0, 1]).
    """

    def __init__(self, config: KeypointDetectorConfig, *, num_kp: int, num_channels: int,
                 estimate_jacobian: bool) -> None:
        super().__init__()
        self.config = config
        self.num_kp = num_kp
        self.downscale = (AntiAliasDownscale(num_channels, config.scale_factor)
                          if config.scale_factor != 1 else None)
        self.hourglass = Hourglass(config.hourglass, num_channels)
        self.heatmap_head = nn.Conv2d(self.hourglass.out_channels, num_kp, HEAD_KERNEL,
                                      padding=config.head_padding)
        self.num_jacobian_maps = 1 if config.single_jacobian_map else num_kp
        self.jacobian_head: nn.Conv2d | None = None
        if estimate_jacobian:
            self.jacobian_head = nn.Conv2d(self.hourglass.out_channels, 4 * self.num_jacobian_maps,
                                           HEAD_KERNEL, padding=config.head_padding)
            self.reset_jacobian_head()

    def reset_jacobian_head(self) -> None:
        """Start from identity jacobians everywhere."""
        if self.jacobian_head is not None:
            with torch.no_grad():
                self.jacobian_head.weight.zero_()
                self.jacobian_head.bias.copy_(
                    torch.tensor([1.0, 0.0, 0.0, 1.0]).repeat(self.num_jacobian_maps))

    def forward(self, image: Tensor, return_heatmaps: bool = False) -> Keypoints:
        """image: (B, C, H, W) float in [0, 1] -> Keypoints (B, K, 2) (+ (B, K, 2, 2) jacobians).

        With `return_heatmaps`, the pre-softmax heatmap logits (B, K, h, w) come along.
        """
        x = image if self.downscale is None else self.downscale(image)
        features = self.hourglass(x)
        with fp32_island(features.device):  # keypoints from bf16 heatmaps are off by pixels
            value, jacobian, logits = self._keypoints(features.float())
        return Keypoints(value, jacobian, logits if return_heatmaps else None)

    def _keypoints(self, features: Tensor) -> tuple[Tensor, Tensor | None, Tensor]:
        """features (B, F, h, w) -> values (B, K, 2), jacobians (B, K, 2, 2) or None, logits."""
        logits = self.heatmap_head(features)  # (B, K, h, w)
        batch, num_kp, height, width = logits.shape
        heatmap = F.softmax(logits.view(batch, num_kp, -1) / self.config.temperature, dim=2)
        heatmap = heatmap.view(batch, num_kp, height, width)
        value = heatmap_to_keypoints(heatmap)
        jacobian = None
        if self.jacobian_head is not None:
            maps = self.jacobian_head(features).view(batch, self.num_jacobian_maps, 4, height, width)
            weighted = heatmap.unsqueeze(2) * maps  # (B, K, 4, h, w); one shared map broadcasts
            jacobian = weighted.sum(dim=(3, 4)).view(batch, num_kp, 2, 2)
        return value, jacobian, logits
