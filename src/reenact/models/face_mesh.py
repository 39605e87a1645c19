"""FaceMesh: a 192 x 192 face crop -> 468 surface landmarks and a face-presence logit.

The network of "Real-time Facial Surface Geometry from Monocular Video on Mobile GPUs"
(Kartynnik et al., arXiv:1907.06724), as MediaPipe and ARCore ship it: a MobileNet-like stack of
depthwise-separable residual blocks with PReLU, no normalisation layers. Its lids and inner lips
follow a closing eye or mouth, where dlib's 68 points keep part of the opening.

Conventions (those of the converted weights, `reenact.checkpoint.face_mesh`):
- input: (B, 3, 192, 192) RGB float in [-1, 1], the face in the middle with about a quarter of
  its size as margin on every side;
- output: `FaceMeshOutput.points` (B, 468, 3): x, y in pixels of the 192-px crop (x right, y
  down, 0 at the top-left corner of the top-left pixel), z a relative depth in the same unit;
  `presence` (B,) a logit, > 0 where the crop holds a face.

Padding follows TensorFlow's "same" (what the weights were trained with): a stride-2 3 x 3
convolution on an even input pads one row and column at the bottom and right only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

NUM_POINTS = 468
INPUT_SIZE = 192
# (output channels, stride) of the backbone's residual blocks, after its first convolution (16)
BACKBONE = ((16, 1), (16, 1), (32, 2), (32, 1), (32, 1), (64, 2), (64, 1), (64, 1),
            (128, 2), (128, 1), (128, 1), (128, 2), (128, 1), (128, 1))
HEAD_WIDTH = 32


@dataclass(frozen=True)
class FaceMeshOutput:
    """points: (B, 468, 3) crop pixels (x, y) and relative depth; presence: (B,) logit."""

    points: Tensor
    presence: Tensor


class SeparableBlock(nn.Module):
    """x -> PReLU(pointwise(depthwise(x)) + shortcut(x)): the shortcut is x, max-pooled 2 x 2 at
    stride 2 and zero-padded with channels where the block widens."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        if stride not in (1, 2) or out_channels < in_channels:
            raise ValueError(f"SeparableBlock: expected stride 1 or 2 and out_channels >= "
                             f"in_channels, got stride {stride}, {in_channels} -> {out_channels}")
        self.stride = stride
        self.extra_channels = out_channels - in_channels
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, in_channels, 3, stride=stride, padding=1 if stride == 1 else 0,
                      groups=in_channels),
            nn.Conv2d(in_channels, out_channels, 1))
        self.act = nn.PReLU(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        if self.stride == 2:
            x = F.pad(x, (0, 1, 0, 1))  # TF "same" for a stride-2 3 x 3 on an even size
            shortcut = F.max_pool2d(shortcut, 2)
        if self.extra_channels:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, self.extra_channels))
        return self.act(self.convs(x) + shortcut)


def _head(out_channels: int, blocks: int) -> nn.Sequential:
    """`blocks` 128-wide blocks (the first at stride 2: 6 x 6 -> 3 x 3), a 1 x 1 narrowing to
    `HEAD_WIDTH` with PReLU, one block, and a 3 x 3 convolution to (B, out_channels, 1, 1)."""
    layers: list[nn.Module] = [SeparableBlock(128, 128, stride=2)]
    layers += [SeparableBlock(128, 128) for _ in range(blocks - 1)]
    layers += [nn.Conv2d(128, HEAD_WIDTH, 1), nn.PReLU(HEAD_WIDTH),
               SeparableBlock(HEAD_WIDTH, HEAD_WIDTH), nn.Conv2d(HEAD_WIDTH, out_channels, 3)]
    return nn.Sequential(*layers)


class FaceMesh(nn.Module):
    """See the module docstring. ~0.6 M parameters, ~36 MFLOP per crop."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, 16, 3, stride=2), nn.PReLU(16)]
        channels = 16
        for out_channels, stride in BACKBONE:
            layers.append(SeparableBlock(channels, out_channels, stride))
            channels = out_channels
        self.backbone = nn.Sequential(*layers)
        self.coord_head = _head(NUM_POINTS * 3, blocks=3)
        self.conf_head = _head(1, blocks=1)

    def forward(self, crops: Tensor) -> FaceMeshOutput:
        """crops: (B, 3, 192, 192) float in [-1, 1] -> FaceMeshOutput."""
        if crops.ndim != 4 or tuple(crops.shape[1:]) != (3, INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"crops: expected (B, 3, {INPUT_SIZE}, {INPUT_SIZE}), got "
                             f"{tuple(crops.shape)}")
        features = self.backbone(F.pad(crops, (0, 1, 0, 1)))  # (B, 128, 6, 6)
        points = self.coord_head(features).reshape(-1, NUM_POINTS, 3)
        presence = self.conf_head(features).reshape(-1)
        return FaceMeshOutput(points, presence)
