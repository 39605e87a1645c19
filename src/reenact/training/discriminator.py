"""A patch discriminator for the optional adversarial and feature-matching losses (training only)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm


@dataclass(frozen=True)
class DiscriminatorConfig:
    block_expansion: int = 32
    max_features: int = 256
    num_blocks: int = 4

    def __post_init__(self) -> None:
        for name in ("block_expansion", "max_features", "num_blocks"):
            if getattr(self, name) < 1:
                raise ValueError(f"DiscriminatorConfig.{name}: expected an integer >= 1, "
                                 f"got {getattr(self, name)}")


class PatchDiscriminator(nn.Module):
    """image (B, C, H, W) in [0, 1] -> (features of every block, patch scores (B, 1, h, w))."""

    def __init__(self, config: DiscriminatorConfig, num_channels: int = 3) -> None:
        super().__init__()
        blocks = []
        channels = num_channels
        for index in range(config.num_blocks):
            width = min(config.max_features, config.block_expansion * 2 ** index)
            layers: list[nn.Module] = [spectral_norm(nn.Conv2d(channels, width, 4)),
                                       nn.LeakyReLU(0.2)]
            if index > 0:
                layers.insert(1, nn.InstanceNorm2d(width, affine=True))
            if index < config.num_blocks - 1:
                layers.append(nn.AvgPool2d(2))
            blocks.append(nn.Sequential(*layers))
            channels = width
        self.blocks = nn.ModuleList(blocks)
        self.score = spectral_norm(nn.Conv2d(channels, 1, 1))

    def forward(self, image: Tensor) -> tuple[list[Tensor], Tensor]:
        features = []
        x = image
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return features, self.score(x)
