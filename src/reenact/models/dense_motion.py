"""Dense motion: keypoints of source and driving -> dense deformation field and occlusion map."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from reenact.config import DenseMotionConfig
from reenact.containers import DenseMotion, Keypoints
from reenact.geometry import gaussian_heatmaps, sparse_motions, warp
from reenact.models.blocks import AntiAliasDownscale, Hourglass, fp32_island

HEAD_KERNEL = 7


class DenseMotionNetwork(nn.Module):
    """Predicts how to combine K+1 sparse motions (background + one per keypoint) into one field.

    Input of the hourglass, per motion: the difference of driving and source keypoint gaussians
    (zeros for the background) and the source warped by that motion.
    """

    def __init__(self, config: DenseMotionConfig, *, num_kp: int, num_channels: int,
                 align_corners: bool, num_anchors: int = 0) -> None:
        super().__init__()
        self.config = config
        self.num_kp = num_kp
        self.num_anchors = num_anchors  # the first keypoints, anchored on the face (config.anchor_prior)
        self.align_corners = align_corners
        self.downscale = (AntiAliasDownscale(num_channels, config.scale_factor)
                          if config.scale_factor != 1 else None)
        self.hourglass = Hourglass(config.hourglass, (num_kp + 1) * (num_channels + 1))
        channels = self.hourglass.out_channels
        self.mask_head = nn.Conv2d(channels, num_kp + 1, HEAD_KERNEL, padding=HEAD_KERNEL // 2)
        self.occlusion_head = (nn.Conv2d(channels, 1, HEAD_KERNEL, padding=HEAD_KERNEL // 2)
                               if config.estimate_occlusion_map else None)

    def prepare_source(self, source_image: Tensor) -> Tensor:
        """(B, C, H, W) source in [0, 1] -> (B, C, h, w) at this network's resolution."""
        return source_image if self.downscale is None else self.downscale(source_image)

    def _anchor_prior(self, logits: Tensor, kp_driving: Keypoints, gauss_driving: Tensor) -> Tensor:
        """(B, K+1, h, w) mask logits with the anchored keypoints' prior (`DenseMotionConfig`)."""
        config, anchors = self.config, self.num_anchors
        if config.anchor_prior_scale == 1:
            gauss = gauss_driving[:, :anchors]  # (B, A, h, w)
        else:
            height, width = logits.shape[2:]
            gauss = gaussian_heatmaps(kp_driving.value[:, :anchors], height, width,
                                      config.kp_variance * config.anchor_prior_scale)
        penalty = config.anchor_exclusive * gauss.amax(dim=1, keepdim=True)  # (B, 1, h, w)
        return torch.cat([logits[:, :1] - penalty,
                          logits[:, 1:1 + anchors] + config.anchor_prior * gauss,
                          logits[:, 1 + anchors:] - penalty], dim=1)

    def forward(self, motion_image: Tensor, kp_source: Keypoints, kp_driving: Keypoints) -> DenseMotion:
        """motion_image: (B or 1, C, h, w) from `prepare_source`; keypoints of batch B (source: B or 1)."""
        batch = kp_driving.batch_size
        channels, height, width = motion_image.shape[1:]
        num_motions = self.num_kp + 1
        motions = sparse_motions(height, width, kp_source, kp_driving)  # (B, K+1, h, w, 2)

        gauss_driving = gaussian_heatmaps(kp_driving.value, height, width, self.config.kp_variance)
        gauss_source = gaussian_heatmaps(kp_source.value, height, width, self.config.kp_variance)
        heat = gauss_driving - gauss_source  # (B, K, h, w)
        background = torch.zeros_like(heat[:, :1])
        heat = torch.cat([background, heat], dim=1).unsqueeze(2)  # (B, K+1, 1, h, w)

        source = motion_image.expand(batch, channels, height, width)
        source = source.unsqueeze(1).expand(batch, num_motions, channels, height, width)
        sparse_deformed = warp(source.reshape(batch * num_motions, channels, height, width),
                               motions.reshape(batch * num_motions, height, width, 2),
                               align_corners=self.align_corners)
        sparse_deformed = sparse_deformed.view(batch, num_motions, channels, height, width)

        features = torch.cat([heat, sparse_deformed], dim=2)  # (B, K+1, C+1, h, w)
        features = self.hourglass(features.view(batch, -1, height, width))
        with fp32_island(features.device):  # bf16 sampling coordinates are off by pixels
            features = features.float()
            logits = self.mask_head(features)  # (B, K+1, h, w)
            if self.num_anchors and (self.config.anchor_prior or self.config.anchor_exclusive):
                logits = self._anchor_prior(logits, kp_driving, gauss_driving)
            mask = torch.softmax(logits, dim=1)  # (B, K+1, h, w)
            # weighted sum of motions: (B, K+1, 1, h, w) * (B, K+1, 2, h, w) -> (B, 2, h, w)
            deformation = (mask.unsqueeze(2) * motions.permute(0, 1, 4, 2, 3)).sum(dim=1)
            occlusion = (torch.sigmoid(self.occlusion_head(features))
                         if self.occlusion_head is not None else None)
        return DenseMotion(deformation=deformation.permute(0, 2, 3, 1), mask=mask,
                           occlusion_map=occlusion, sparse_deformed=sparse_deformed)
