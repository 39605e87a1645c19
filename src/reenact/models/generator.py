"""Occlusion-aware generator: source features warped by the dense motion, masked, decoded."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reenact.config import GeneratorConfig
from reenact.containers import DenseMotion, Rendered, SourceEncoding
from reenact.geometry import resize_grid, warp
from reenact.models.blocks import ConvNormReLU, DownBlock, ResBlock, UpBlock, fp32_island

FIRST_KERNEL = 7
FINAL_KERNEL = 7


class OcclusionAwareGenerator(nn.Module):
    """Encoder (run once per source) and decoder (run per driving frame).

    The encoder's output depends on the source only, so `encode` runs once per video and `decode`
    per frame; `decode(encode(x))` equals the reference's all-in-one forward.
    """

    def __init__(self, config: GeneratorConfig, *, num_channels: int, align_corners: bool) -> None:
        super().__init__()
        self.config = config
        self.align_corners = align_corners
        expansion, cap, depth = config.block_expansion, config.max_features, config.num_down_blocks

        def width(level: int) -> int:
            return min(cap, expansion * 2**level)

        self.first = ConvNormReLU(num_channels, expansion, FIRST_KERNEL)
        self.down_blocks = nn.ModuleList(DownBlock(width(i), width(i + 1)) for i in range(depth))
        self.bottleneck = nn.Sequential(
            *(ResBlock(width(depth)) for _ in range(config.num_bottleneck_blocks)))
        self.up_blocks = nn.ModuleList(
            UpBlock(width(depth - i), width(depth - i - 1)) for i in range(depth))
        self.final = nn.Conv2d(expansion, num_channels, FINAL_KERNEL, padding=FINAL_KERNEL // 2)
        if config.pixel_skip:
            self.skip_weight = nn.Conv2d(expansion, 1, FINAL_KERNEL, padding=FINAL_KERNEL // 2)
            # start out trusting the warped source (sigmoid(2) = 0.88): sharp from the first step
            nn.init.zeros_(self.skip_weight.weight)
            nn.init.constant_(self.skip_weight.bias, 2.0)

    def encode(self, source_image: Tensor) -> Tensor:
        """(B, C, H, W) in [0, 1] -> (B, F, H / 2**d, W / 2**d) features."""
        out = self.first(source_image)
        for block in self.down_blocks:
            out = block(out)
        return out

    def decode(self, source: SourceEncoding, motion: DenseMotion,
               return_deformed: bool = False) -> Rendered:
        """Warp the source features by `motion`, apply occlusion, decode to (B, C, H, W) in [0, 1].

        `source` may have batch 1 for a motion batch of B (one portrait, many frames).
        """
        batch = motion.deformation.shape[0]
        features = source.features.expand(batch, *source.features.shape[1:])
        height, width = features.shape[2:]
        with fp32_island(features.device):  # sampling coordinates and the output stay float32
            grid = resize_grid(motion.deformation, height, width)
            out = warp(features.float(), grid, align_corners=self.align_corners)
            if motion.occlusion_map is not None:
                occlusion = motion.occlusion_map
                if occlusion.shape[2:] != out.shape[2:]:
                    occlusion = F.interpolate(occlusion, size=(height, width), mode="bilinear",
                                              align_corners=False)
                out = out * occlusion
        out = self.bottleneck(out)
        for block in self.up_blocks:
            out = block(out)
        with fp32_island(out.device):
            out = out.float()
            prediction = torch.sigmoid(self.final(out))
            deformed, keep = None, None
            if return_deformed or self.config.pixel_skip:
                image = source.image.expand(batch, *source.image.shape[1:]).float()
                full_grid = resize_grid(motion.deformation, *image.shape[2:])
                deformed = warp(image, full_grid, align_corners=self.align_corners)
            if self.config.pixel_skip:
                keep = torch.sigmoid(self.skip_weight(out))  # (B, 1, H, W)
                prediction = keep * deformed + (1 - keep) * prediction
        return Rendered(prediction=prediction, motion=motion,
                        deformed=deformed if return_deformed else None, skip_weight=keep)
