"""Training losses: pure functions of model outputs and the batch (plus the frozen feature network).

Reconstruction is compared at several scales of an image pyramid, through either VGG19 features (as
the reference does, when torchvision's VGG19 weights are in the local torch cache) or, offline,
through the pixels and their gradients.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reenact.containers import Keypoints
from reenact.geometry import antialias_downscale, antialias_kernel, gaussian_heatmaps, inverse_2x2
from reenact.training.transforms import TpsWarp

logger = logging.getLogger(__name__)

VGG19_FILE = "vgg19-dcbb9e9d.pth"  # torchvision's ImageNet VGG19 weights, as cached by torch.hub
# torchvision's features[...] indices of the convolutions, in order; "M" = max pool
_VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512)
_VGG19_TAPS = (1, 6, 11, 20, 29)  # relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 (torchvision indices)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
# the reference's weights for the 5 VGG taps
VGG_LAYER_WEIGHTS = (10.0, 10.0, 10.0, 10.0, 10.0)
# brings the pixel loss to roughly the VGG loss's size next to the equivariance terms, so that the
# reference's loss weights keep their balance
PIXEL_LOSS_SCALE = 10.0


class Vgg19Features(nn.Module):
    """VGG19's convolutional trunk up to relu5_1, frozen; returns the 5 relu_x_1 activations.

    image: (B, 3, H, W) in [0, 1] (normalized with ImageNet statistics inside).
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in _VGG19_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU()]
                channels = int(item)
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)

    def forward(self, image: Tensor) -> list[Tensor]:
        return tapped_outputs(self.features, (image - self.mean) / self.std, _VGG19_TAPS)


def tapped_outputs(layers: nn.Sequential, x: Tensor, taps: tuple[int, ...]) -> list[Tensor]:
    """x through `layers` in turn; the outputs of the layers at indices `taps`, in order."""
    out = []
    for index, layer in enumerate(layers):
        x = layer(x)
        if index in taps:
            out.append(x)
    return out


def vgg19_weights_path() -> Path:
    """Where torch.hub (and so torchvision) caches VGG19: $TORCH_HOME/hub/checkpoints."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch")
    return Path(torch_home) / "hub" / "checkpoints" / VGG19_FILE


def load_vgg19(path: Path | None = None) -> Vgg19Features | None:
    """VGG19 features from torchvision's cached weights, or None when the file is not there.

    Read with weights_only=True; only the `features.*` entries are used.
    """
    path = path or vgg19_weights_path()
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = Vgg19Features()
    wanted = {k: v for k, v in state.items() if k.startswith("features.")}
    model.load_state_dict(wanted, strict=False)
    missing = set(model.state_dict()) - set(wanted)
    if missing:
        raise ValueError(f"{path}: not torchvision's VGG19 weights; missing {sorted(missing)[:3]}")
    return model.eval()


class ImagePyramid(nn.Module):
    """Anti-aliased downscales of an image: scale -> (B, C, H * scale, W * scale)."""

    def __init__(self, scales: tuple[float, ...], channels: int) -> None:
        super().__init__()
        self.scales = scales
        for scale in scales:
            if scale != 1:
                kernel = antialias_kernel(scale).repeat(channels, 1, 1, 1)
                self.register_buffer(f"kernel_{str(scale).replace('.', '_')}", kernel,
                                     persistent=False)

    def forward(self, image: Tensor) -> dict[float, Tensor]:
        levels = {}
        for scale in self.scales:
            if scale == 1:
                levels[scale] = image
            else:
                kernel = getattr(self, f"kernel_{str(scale).replace('.', '_')}")
                levels[scale] = antialias_downscale(image, kernel.to(image.dtype), scale)
        return levels


def _gradients(image: Tensor) -> tuple[Tensor, Tensor]:
    return image[..., :, 1:] - image[..., :, :-1], image[..., 1:, :] - image[..., :-1, :]


def pixel_pyramid_loss(prediction: dict[float, Tensor], target: dict[float, Tensor],
                       weight: Tensor | None = None) -> Tensor:
    """Offline stand-in for the perceptual loss: L1 on pixels and on their x/y differences at every
    pyramid scale (the gradient term rewards sharp edges, which plain L1 lets blur).

    weight: (B, 1, H, W) >= 0 at full scale, resized to each scale: a weighted mean instead of the
    plain one (e.g. `face_part_weight`); its mean is divided out, so the loss keeps its size.
    """
    total = prediction[next(iter(prediction))].new_zeros(())

    def mean(error: Tensor, scaled: Tensor | None) -> Tensor:
        return weighted_mean(error, None if scaled is None
                             else scaled[..., :error.shape[-2], :error.shape[-1]])

    for scale, predicted in prediction.items():
        expected = target[scale]
        scaled = None
        if weight is not None:
            scaled = F.interpolate(weight, size=predicted.shape[-2:], mode="bilinear",
                                   align_corners=False)
        total = total + mean((predicted - expected).abs(), scaled)
        for a, b in zip(_gradients(predicted), _gradients(expected)):
            total = total + 2 * mean((a - b).abs(), scaled)
    return PIXEL_LOSS_SCALE * total


def weighted_mean(error: Tensor, weight: Tensor | None) -> Tensor:
    """The mean of `error` weighted by `weight` (broadcast against it; its mean divided out, so a
    uniform weight gives the plain mean); the plain mean where weight is None."""
    if weight is None:
        return error.mean()
    return (error * weight).mean() / weight.mean().clamp_min(1e-8)


def face_part_weight(anchors: Keypoints, size: int, strength: float, parts: list[int],
                     sigma: float = 0.08) -> Tensor:
    """(B, 1, size, size) pixel weights 1 + strength * (a gaussian bump of std `sigma`, in
    normalized units, around each of the anchors `parts`, max-combined): the mouth and eyes count
    more than cheeks and background. Rows with NaN anchors get weight 1 everywhere."""
    points = anchors.value[:, parts].detach()  # (B, P, 2)
    finite = torch.isfinite(points).flatten(1).all(dim=1).view(-1, 1, 1, 1)
    bumps = gaussian_heatmaps(points.nan_to_num(), size, size, sigma**2)  # (B, P, H, W)
    bump = bumps.amax(dim=1, keepdim=True) * finite
    return 1 + strength * bump


def landmark_flow_loss(deformation: Tensor, source_landmarks: Tensor,
                       driving_landmarks: Tensor) -> Tensor:
    """Mean L1 (normalized crop units) between where the dense deformation reads the source at
    each of the driving frame's landmarks and that landmark's place in the source: the motion
    at the face's 68 points, not only at the anchors' centroids, is what moves jaw, nose, brows
    and lips to where the driver has them (what AKD measures).

    deformation: (B, h, w, 2) the dense motion's sampling grid (`DenseMotion.deformation`, its
    lattice at `geometry.coordinate_grid`'s points); *_landmarks: (B, N, 2) in the same
    coordinates, NaN rows where a frame has no face (those pairs count for nothing; zero when
    no pair has both)."""
    valid = (torch.isfinite(source_landmarks).flatten(1).all(dim=1)
             & torch.isfinite(driving_landmarks).flatten(1).all(dim=1))
    if not bool(valid.any()):
        return deformation.sum() * 0
    grid = deformation[valid].permute(0, 3, 1, 2).float()  # (b, 2, h, w)
    where = driving_landmarks[valid].float().unsqueeze(1)  # (b, 1, N, 2)
    read = F.grid_sample(grid, where, mode="bilinear", padding_mode="border",
                         align_corners=True)  # (b, 2, 1, N): the lattice's ends are -1 and +1
    return (read[:, :, 0].transpose(1, 2) - source_landmarks[valid].float()).abs().mean()


def anchor_loss(detected: Keypoints, anchors: Keypoints) -> Tensor:
    """L1 between the detector's first A keypoints and the landmark anchors (values, and jacobians
    at a tenth of the weight), over the rows whose anchors are known (zero when none are)."""
    num_anchors = anchors.num_kp
    valid = torch.isfinite(anchors.value).flatten(1).all(dim=1)
    if anchors.jacobian is not None:
        valid = valid & torch.isfinite(anchors.jacobian).flatten(1).all(dim=1)
    if not bool(valid.any()):
        return detected.value.sum() * 0
    loss = (detected.value[valid, :num_anchors] - anchors.value[valid]).abs().mean()
    if detected.jacobian is not None and anchors.jacobian is not None:
        loss = loss + 0.1 * (detected.jacobian[valid, :num_anchors]
                             - anchors.jacobian[valid]).abs().mean()
    return loss


def vgg_pyramid_loss(vgg: Vgg19Features, prediction: dict[float, Tensor],
                     target: dict[float, Tensor]) -> Tensor:
    """The reference's perceptual loss: weighted L1 between VGG19 activations at every scale."""
    total = prediction[next(iter(prediction))].new_zeros(())
    for scale, predicted in prediction.items():
        with torch.no_grad():
            expected = vgg(target[scale])
        for weight, a, b in zip(VGG_LAYER_WEIGHTS, vgg(predicted), expected):
            total = total + weight * (a - b).abs().mean()
    return total


def equivariance_value_loss(kp_driving: Keypoints, kp_transformed: Keypoints, warp: TpsWarp) -> Tensor:
    """|kp_driving - T(kp_transformed)|_1: keypoints must move with the image."""
    return (kp_driving.value - warp.apply(kp_transformed.value)).abs().mean()


def equivariance_jacobian_loss(kp_driving: Keypoints, kp_transformed: Keypoints,
                               warp: TpsWarp) -> Tensor:
    """|I - J_driving^-1 dT(kp') J'|_1: jacobians must transform with the image."""
    assert kp_driving.jacobian is not None and kp_transformed.jacobian is not None
    mapped = warp.jacobian(kp_transformed.value) @ kp_transformed.jacobian  # (B, K, 2, 2)
    product = inverse_2x2(kp_driving.jacobian) @ mapped
    identity = torch.eye(2, dtype=product.dtype, device=product.device)
    return (identity - product).abs().mean()


def generator_gan_loss(fake_scores: list[Tensor]) -> Tensor:
    """Least-squares GAN, generator side: (1 - D(fake))^2."""
    return sum(((1 - s) ** 2).mean() for s in fake_scores)  # type: ignore[return-value]


def discriminator_gan_loss(real_scores: list[Tensor], fake_scores: list[Tensor]) -> Tensor:
    """Least-squares GAN, discriminator side: (1 - D(real))^2 + D(fake)^2."""
    return sum(((1 - r) ** 2).mean() + (f ** 2).mean()  # type: ignore[return-value]
               for r, f in zip(real_scores, fake_scores))


def feature_matching_loss(real_features: list[Tensor], fake_features: list[Tensor]) -> Tensor:
    """L1 between the discriminator's features of the real and the generated image."""
    return sum((r.detach() - f).abs().mean()  # type: ignore[return-value]
               for r, f in zip(real_features, fake_features))


def describe_perceptual(vgg: Vgg19Features | None) -> str:
    return ("VGG19 perceptual (torchvision weights from the local torch cache)" if vgg is not None
            else f"pixel+gradient pyramid L1 (offline fallback: no {VGG19_FILE} in the torch cache)")


def resize_like(image: Tensor, size: int) -> Tensor:
    return F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False)
