"""Random thin-plate-spline warps for the equivariance losses.

A warp T maps points of a transformed image to points of the original, in normalized (x, y)
coordinates in [-1, 1]: transformed(p) = original(T(p)). So a keypoint p' found in the transformed
image should satisfy T(p') = p, the keypoint found in the original, and its jacobian J' should satisfy
dT/dp(p') @ J' = J.

T(p) = A p + b + sum_k w_k U(|p - c_k|), U(r) = r^2 log r^2, with c_k on a regular grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from reenact.geometry import coordinate_grid

_EPS = 1e-9


@dataclass(frozen=True)
class TpsConfig:
    """sigma_affine: std of the affine part around the identity; sigma_tps: std of the spline
    weights; points: control points per side (points x points grid)."""

    sigma_affine: float = 0.05
    sigma_tps: float = 0.005
    points: int = 5

    def __post_init__(self) -> None:
        if self.sigma_affine < 0 or self.sigma_tps < 0:
            raise ValueError("TpsConfig: sigma_affine and sigma_tps must be >= 0, got "
                             f"{self.sigma_affine}, {self.sigma_tps}")
        if self.points < 1:
            raise ValueError(f"TpsConfig.points: expected an integer >= 1, got {self.points}")


@dataclass(frozen=True)
class TpsWarp:
    """affine: (B, 2, 3) [A | b]; control: (P, 2) control points; weights: (B, P, 2)."""

    affine: Tensor
    control: Tensor
    weights: Tensor

    @staticmethod
    def random(batch: int, config: TpsConfig, *, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> TpsWarp:
        noise = torch.randn(batch, 2, 3, generator=generator) * config.sigma_affine
        affine = noise + torch.eye(2, 3)
        axis = torch.linspace(-1, 1, config.points)
        ys, xs = torch.meshgrid(axis, axis, indexing="ij")
        control = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1)  # (P, 2)
        weights = torch.randn(batch, control.shape[0], 2, generator=generator) * config.sigma_tps
        return TpsWarp(affine.to(device), control.to(device), weights.to(device))

    def _radial(self, points: Tensor) -> tuple[Tensor, Tensor]:
        """points (B, N, 2) -> offsets to each control point (B, N, P, 2) and their squared norms."""
        offsets = points[:, :, None, :] - self.control[None, None]  # (B, N, P, 2)
        return offsets, (offsets ** 2).sum(-1)  # (B, N, P)

    def apply(self, points: Tensor) -> Tensor:
        """T(points): (B, N, 2) -> (B, N, 2)."""
        linear = points @ self.affine[:, :, :2].transpose(1, 2) + self.affine[:, None, :, 2]
        _, squared = self._radial(points)
        kernel = squared * torch.log(squared + _EPS)  # (B, N, P)
        return linear + kernel @ self.weights  # (B, N, 2)

    def jacobian(self, points: Tensor) -> Tensor:
        """dT/dp at points: (B, N, 2) -> (B, N, 2, 2), [i, j] = d T_i / d p_j."""
        offsets, squared = self._radial(points)
        # d/dp [r^2 log r^2] = 2 (log r^2 + 1) (p - c)
        scale = 2 * (torch.log(squared + _EPS) + 1)  # (B, N, P)
        grad_kernel = scale[..., None] * offsets  # (B, N, P, 2): d U_k / d p_j
        spline = torch.einsum("bnpj,bpi->bnij", grad_kernel, self.weights)
        return self.affine[:, None, :, :2] + spline

    def warp_image(self, image: Tensor, *, align_corners: bool) -> Tensor:
        """The transformed image: (B, C, H, W) -> (B, C, H, W), reflecting at the border."""
        batch, _, height, width = image.shape
        grid = coordinate_grid(height, width, device=image.device, dtype=image.dtype)
        points = grid.view(1, -1, 2).expand(batch, -1, -1)
        sampled = self.apply(points).view(batch, height, width, 2)
        return F.grid_sample(image, sampled, mode="bilinear", padding_mode="reflection",
                             align_corners=align_corners)
