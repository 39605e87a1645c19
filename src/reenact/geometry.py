"""The geometry of first-order motion as pure functions.

Conventions, everywhere in the project:
- image coordinates are normalized to [-1, 1]: (x, y) = (-1, -1) is the centre of the top-left pixel,
  (1, 1) the centre of the bottom-right one;
- sampling grids are (B, H, W, 2) in `grid_sample` order (x, y);
- `align_corners` is always passed explicitly; it only matters to `grid_sample`, because the
  coordinate grid above is the same under both conventions (as in the reference implementation).

Only ONNX-exportable ops are used on the render path (no `torch.inverse`: ONNX has no Inverse op).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from reenact.containers import Keypoints
from reenact.point_geometry import convex_hull_area


def coordinate_grid(height: int, width: int, *, device: torch.device | str | None = None,
                    dtype: torch.dtype = torch.float32) -> Tensor:
    """(H, W, 2) grid of (x, y) pixel-centre coordinates in [-1, 1]."""
    x = torch.arange(width, device=device, dtype=dtype)
    y = torch.arange(height, device=device, dtype=dtype)
    # 2 * (i / (n - 1)) - 1, computed in this order to match the reference bit for bit
    x = 2 * (x / max(width - 1, 1)) - 1
    y = 2 * (y / max(height - 1, 1)) - 1
    xx = x.view(1, width).expand(height, width)
    yy = y.view(height, 1).expand(height, width)
    return torch.stack([xx, yy], dim=2)  # (H, W, 2)


def gaussian_heatmaps(kp_value: Tensor, height: int, width: int, variance: float) -> Tensor:
    """Unnormalized gaussians exp(-|p - kp|^2 / (2 variance)) around each keypoint.

    kp_value: (B, K, 2) in [-1, 1]. Returns (B, K, H, W).
    """
    grid = coordinate_grid(height, width, device=kp_value.device, dtype=kp_value.dtype)
    diff = grid.view(1, 1, height, width, 2) - kp_value[:, :, None, None, :]  # (B, K, H, W, 2)
    return torch.exp(-0.5 * (diff**2).sum(-1) / variance)


def heatmap_to_keypoints(heatmap: Tensor) -> Tensor:
    """Expected (x, y) under each heatmap (soft-argmax after a softmax).

    heatmap: (B, K, H, W), each map summing to 1. Returns (B, K, 2) in [-1, 1].
    """
    height, width = heatmap.shape[2:]
    grid = coordinate_grid(height, width, device=heatmap.device, dtype=heatmap.dtype)
    return (heatmap.unsqueeze(-1) * grid).sum(dim=(2, 3))  # (B, K, 2)


def inverse_2x2(matrix: Tensor) -> Tensor:
    """Closed-form inverse of (..., 2, 2) matrices: ONNX has no Inverse op.

    Singular matrices give inf/nan, as `torch.inverse` would raise; callers validate jacobians.
    """
    a, b = matrix[..., 0, 0], matrix[..., 0, 1]
    c, d = matrix[..., 1, 0], matrix[..., 1, 1]
    det = a * d - b * c
    row0 = torch.stack([d, -b], dim=-1)
    row1 = torch.stack([-c, a], dim=-1)
    return torch.stack([row0, row1], dim=-2) / det[..., None, None]


def warp(image: Tensor, grid: Tensor, *, align_corners: bool) -> Tensor:
    """Sample `image` (B, C, H, W) at `grid` (B, h, w, 2); zeros outside. Returns (B, C, h, w)."""
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=align_corners)


def resize_grid(grid: Tensor, height: int, width: int) -> Tensor:
    """Bilinearly resize a (B, h, w, 2) sampling grid to (B, height, width, 2).

    Uses `F.interpolate(..., align_corners=False)` whatever the model's `grid_sample` convention,
    as the reference implementation does.
    """
    if grid.shape[1] == height and grid.shape[2] == width:
        return grid
    resized = F.interpolate(grid.permute(0, 3, 1, 2), size=(height, width), mode="bilinear",
                            align_corners=False)
    return resized.permute(0, 2, 3, 1)  # (B, height, width, 2)


def sparse_motions(height: int, width: int, kp_source: Keypoints, kp_driving: Keypoints) -> Tensor:
    """Per-keypoint backward motions driving -> source, plus the identity (background) motion first.

    Around driving keypoint k, a pixel z maps to kp_source_k + J_k (z - kp_driving_k) with
    J_k = J_source_k @ inverse(J_driving_k) (first-order Taylor expansion of the motion).
    kp_source may have batch 1 for a driving batch of B (one portrait). Returns (B, K+1, H, W, 2).
    """
    value_d, value_s = kp_driving.value, kp_source.value
    batch, num_kp = value_d.shape[:2]
    identity = coordinate_grid(height, width, device=value_d.device, dtype=value_d.dtype)
    identity = identity.view(1, 1, height, width, 2)
    offsets = identity - value_d.view(batch, num_kp, 1, 1, 2)  # (B, K, H, W, 2)
    if kp_driving.jacobian is not None and kp_source.jacobian is not None:
        jacobian = torch.matmul(kp_source.jacobian, inverse_2x2(kp_driving.jacobian))  # (B, K, 2, 2)
        # (B, K, 1, 1, 2, 2) @ (B, K, H, W, 2, 1) -> (B, K, H, W, 2)
        offsets = torch.matmul(jacobian[:, :, None, None], offsets.unsqueeze(-1)).squeeze(-1)
    driving_to_source = offsets + value_s[:, :, None, None, :]  # broadcasts a source batch of 1
    background = identity.expand(batch, 1, height, width, 2)
    return torch.cat([background, driving_to_source], dim=1)  # (B, K+1, H, W, 2)


def antialias_kernel(scale_factor: float, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """Normalized 2-D gaussian for downscaling by `scale_factor` (sigma = (1/scale - 1) / 2).

    Returns (k, k) with k = 2 * round(4 sigma) + 1.
    """
    sigma = (1 / scale_factor - 1) / 2
    size = 2 * round(sigma * 4) + 1
    coords = torch.arange(size, dtype=torch.float32)
    mean = (size - 1) / 2
    kernel_1d = torch.exp(-((coords - mean) ** 2) / (2 * sigma**2))
    kernel = kernel_1d.view(size, 1) * kernel_1d.view(1, size)
    return (kernel / kernel.sum()).to(dtype)


def antialias_downscale(image: Tensor, kernel: Tensor, scale_factor: float) -> Tensor:
    """Blur with `kernel` (C, 1, k, k) per channel, then keep every (1/scale)-th pixel.

    image: (B, C, H, W). Returns (B, C, H * scale, W * scale).
    """
    if scale_factor == 1:
        return image
    size = kernel.shape[-1]
    before = size // 2
    after = before - 1 if size % 2 == 0 else before
    padded = F.pad(image, (before, after, before, after))
    blurred = F.conv2d(padded, kernel, groups=image.shape[1])
    step = int(round(1 / scale_factor))
    return blurred[:, :, ::step, ::step]


def movement_scale(kp_source: Keypoints, kp_driving_initial: Keypoints) -> Tensor:
    """sqrt(hull area of source keypoints / hull area of initial driving keypoints), per batch item.

    Adapts the driving motion to a face of another size. Returns (B,) on the keypoints' device.
    """
    src = kp_source.value.detach().cpu().double().numpy()
    ini = kp_driving_initial.value.detach().cpu().double().numpy()
    if ini.shape[0] != src.shape[0]:
        ini = np.broadcast_to(ini, src.shape)
    scales = []
    for source_points, initial_points in zip(src, ini):
        initial_area = convex_hull_area(initial_points)
        source_area = convex_hull_area(source_points)
        scales.append(math.sqrt(source_area) / math.sqrt(initial_area) if initial_area > 0 else 1.0)
    return torch.tensor(scales, device=kp_source.value.device, dtype=kp_source.value.dtype)


def normalize_keypoints(kp_source: Keypoints, kp_driving: Keypoints, kp_driving_initial: Keypoints, *,
                        relative_movement: bool = True, relative_jacobian: bool = True,
                        adapt_movement_scale: bool = False) -> Keypoints:
    """Transfer driving motion onto the source's keypoints.

    Absolute mode (relative_movement=False) returns the driving keypoints unchanged. Relative mode
    moves the source keypoints by the driving keypoints' displacement from `kp_driving_initial`,
    scaled by `movement_scale` when `adapt_movement_scale`; relative jacobians apply
    J_driving @ inverse(J_initial) to the source jacobians.

    kp_source and kp_driving_initial: batch 1 or B; kp_driving: batch B.
    """
    if not relative_movement:
        return Keypoints(kp_driving.value, kp_driving.jacobian)
    displacement = kp_driving.value - kp_driving_initial.value  # (B, K, 2)
    if adapt_movement_scale:
        displacement = displacement * movement_scale(kp_source, kp_driving_initial).view(-1, 1, 1)
    value = displacement + kp_source.value
    jacobian = kp_driving.jacobian
    if relative_jacobian and jacobian is not None:
        if kp_source.jacobian is None or kp_driving_initial.jacobian is None:
            raise ValueError("normalize_keypoints: relative_jacobian needs jacobians on all three "
                             "keypoint sets")
        change = torch.matmul(jacobian, inverse_2x2(kp_driving_initial.jacobian))
        jacobian = torch.matmul(change, kp_source.jacobian)  # (B, K, 2, 2)
    return Keypoints(value, jacobian)


def smoothstep(t: Tensor) -> Tensor:
    """0 below 0, 1 above 1, 3 t^2 - 2 t^3 between (a soft threshold)."""
    t = t.clamp(0, 1)
    return t * t * (3 - 2 * t)
