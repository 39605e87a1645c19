"""Convolutional building blocks shared by the three networks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reenact.config import HourglassConfig
from reenact.geometry import antialias_downscale, antialias_kernel


@contextlib.contextmanager
def fp32_island(device: torch.device) -> Iterator[None]:
    """Autocast off inside: the step runs in float32 under a bf16 autocast (inputs need `.float()`).

    For the few cheap steps where bf16's 8-bit mantissa moves the output by whole pixels: heatmap
    softmax and soft-argmax (keypoint coordinates), the motion mask softmax and the deformation
    (sampling coordinates), the warps and the last convolution. Without autocast it changes nothing.
    """
    with torch.autocast(device.type, enabled=False):
        yield


class ConvNormReLU(nn.Module):
    """conv -> BatchNorm -> ReLU at the same resolution."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.norm = nn.BatchNorm2d(out_channels, affine=True)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.norm(self.conv(x)))


class DownBlock(ConvNormReLU):
    """conv3x3 -> BatchNorm -> ReLU -> 2x2 average pool (halves H and W)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, 3)

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(super().forward(x), kernel_size=2)


class UpBlock(ConvNormReLU):
    """2x nearest upsample -> conv3x3 -> BatchNorm -> ReLU (doubles H and W)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, 3)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class ResBlock(nn.Module):
    """Pre-activation residual block: x + conv(relu(bn(conv(relu(bn(x))))))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(channels, affine=True)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = nn.BatchNorm2d(channels, affine=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return out + x


class Hourglass(nn.Module):
    """U-Net style encoder/decoder; the output concatenates the input (skip of level 0).

    x: (B, in_channels, H, W) with H, W divisible by 2**num_blocks.
    Returns (B, block_expansion + in_channels, H, W).
    """

    def __init__(self, config: HourglassConfig, in_channels: int) -> None:
        super().__init__()
        expansion, cap, depth = config.block_expansion, config.max_features, config.num_blocks

        def width(level: int) -> int:
            return min(cap, expansion * 2**level)

        self.down_blocks = nn.ModuleList(
            DownBlock(in_channels if i == 0 else width(i), width(i + 1)) for i in range(depth))
        self.up_blocks = nn.ModuleList(
            UpBlock((1 if i == depth - 1 else 2) * width(i + 1), width(i))
            for i in reversed(range(depth)))
        self.out_channels = expansion + in_channels

    def forward(self, x: Tensor) -> Tensor:
        skips = [x]
        for block in self.down_blocks:
            skips.append(block(skips[-1]))
        out = skips.pop()
        for block in self.up_blocks:
            out = torch.cat([block(out), skips.pop()], dim=1)
        return out


class AntiAliasDownscale(nn.Module):
    """Gaussian blur then subsample by 1/scale_factor (< 1; build none for a factor of 1).

    The kernel is a deterministic buffer, kept in checkpoints for layout parity with the reference.
    """

    def __init__(self, channels: int, scale_factor: float) -> None:
        super().__init__()
        assert 0 < scale_factor < 1, "no downscaling module is needed for a factor of 1"
        self.scale_factor = scale_factor
        kernel = antialias_kernel(scale_factor)
        self.register_buffer("kernel", kernel.expand(channels, 1, *kernel.shape).clone())

    def forward(self, image: Tensor) -> Tensor:
        return antialias_downscale(image, self.kernel, self.scale_factor)
