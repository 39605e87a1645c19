"""Folds in the motion model's dense deformation, and their removal before the photo is warped.

The deformation is a backward map: each output pixel says where in the source it shows. Where it
folds over (its local area, the determinant of its jacobian, is negative), two places of the output
show the same place of the source. A first-order motion model makes such folds where one keypoint
moves a part far and its neighbour holds still: a brow raised high is drawn where it went and again
where it was, between the lid's still region and the brow's moved one (dev clip lp_d10: two brown
patches under raised brows, in the warped photo itself, with or without the generator's pixels).
No real motion duplicates a face's part, so the fold is smoothed away: the displacement of folded
cells (and their neighbours) is replaced by its 3x3 mean until no cell's area is under `FLOOR` of
the identity's. The skin between the lid and the raised brow then stretches, as it does on a face.
An unfolded deformation comes back unchanged (a driving frame without motion still gives the photo
back exactly).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from reenact.geometry import coordinate_grid

FLOOR = 0.05  # the least local area (a fraction of the identity's) a cell keeps
ITERATIONS = 50  # smoothing passes at most (a lattice's fold is gone within a few)


def local_areas(grid: Tensor) -> Tensor:
    """(h, w) the deformation's local area per lattice cell, over the identity's: the
    determinant of its jacobian by central differences (one-sided at the edges); negative where
    it folds. grid: (h, w, 2) normalized (x, y) coordinates, h, w >= 2."""
    identity = coordinate_grid(*grid.shape[:2], dtype=grid.dtype, device=grid.device)
    return _determinant(grid) / _determinant(identity)


def _determinant(grid: Tensor) -> Tensor:
    dx_dcol, dx_drow = torch.gradient(grid[..., 0], dim=(1, 0))
    dy_dcol, dy_drow = torch.gradient(grid[..., 1], dim=(1, 0))
    return dx_dcol * dy_drow - dx_drow * dy_dcol


def unfolded(grid: Tensor, *, floor: float = FLOOR, iterations: int = ITERATIONS) -> Tensor:
    """(h, w, 2) `grid` with its folds smoothed away (see the module's docstring); the same tensor
    where nothing folds."""
    if grid.dim() != 3 or grid.shape[2] != 2 or min(grid.shape[:2]) < 2:
        raise ValueError(f"grid: expected (h, w, 2) with h, w >= 2, got {tuple(grid.shape)}")
    identity = coordinate_grid(*grid.shape[:2], dtype=grid.dtype, device=grid.device)
    base = _determinant(identity)
    if not bool((_determinant(grid) / base < floor).any()):
        return grid
    displacement = (grid - identity).permute(2, 0, 1)[None]  # (1, 2, h, w)
    for _ in range(iterations):
        folded = _determinant(identity + displacement[0].permute(1, 2, 0)) / base < floor
        if not bool(folded.any()):
            break
        near = F.max_pool2d(folded.to(grid.dtype)[None, None], 3, stride=1, padding=1)[0, 0] > 0
        mean = F.avg_pool2d(F.pad(displacement, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        displacement = torch.where(near, mean, displacement)
    return identity + displacement[0].permute(1, 2, 0)
