"""Folds in the motion model's dense deformation, and their removal before the photo is warped.

The deformation is a backward map: each output pixel says where in the source it shows. Where it
folds over (its local area, the determinant of its jacobian, is negative), two places of the output
show the same place of the source. A first-order motion model makes such folds where one keypoint
moves a part far and its neighbour holds still: a brow raised high is drawn where it went and again
where it was, between the lid's still region and the brow's moved one (dev clip lp_d10: two brown
patches under raised brows, in the warped photo itself, with or without the generator's pixels).
No real motion duplicates a face's part, so the fold is smoothed away: the displacement at the
corners of folded cells is replaced by its 3x3 mean until no cell's area is under `FLOOR` of the
identity's (on dev clips, smoothing the points around them too cost head roll r 0.63 -> 0.59 across
identities; the corners alone, nothing). The skin between the lid and the raised brow then
stretches, as it does on a face. An unfolded deformation comes back unchanged (a driving frame
without motion still gives the photo back exactly).

A cell's area is what the compositor draws: it upsamples the lattice bilinearly, and a bilinear
map's jacobian determinant is affine in each cell, so the cell is drawn without a fold exactly when
the determinant at its four corners (from the cell's own edges) is positive. The least of the four
is the cell's area. Central differences over two cells, measured at the lattice's points, miss a
fold one cell wide: dev clip lp_d10's raised brows read 0.2-0.5 of the identity's area that way
while two cells beside each brow folded to -0.6 and -0.8, and the brows were still drawn twice.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from reenact.geometry import coordinate_grid

FLOOR = 0.05  # the least local area (a fraction of the identity's) a cell keeps
ITERATIONS = 50  # smoothing passes at most (a lattice's fold is gone within a few)


def local_areas(grid: Tensor) -> Tensor:
    """(h - 1, w - 1) the deformation's least local area per lattice cell, over the identity's:
    the determinant of its bilinear interpolation's jacobian at the cell's four corners (see the
    module's docstring); negative where it folds. grid: (h, w, 2) normalized (x, y) coordinates,
    h, w >= 2."""
    identity = coordinate_grid(*grid.shape[:2], dtype=grid.dtype, device=grid.device)
    return _cell_areas(grid) / _cell_areas(identity)


def _cell_areas(grid: Tensor) -> Tensor:
    across = grid[:, 1:] - grid[:, :-1]  # (h, w - 1, 2): each row's edges
    down = grid[1:] - grid[:-1]  # (h - 1, w, 2): each column's edges

    def cross(a: Tensor, b: Tensor) -> Tensor:
        return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    corners = (cross(across[:-1], down[:, :-1]), cross(across[:-1], down[:, 1:]),
               cross(across[1:], down[:, :-1]), cross(across[1:], down[:, 1:]))
    return torch.stack(corners).amin(dim=0)


def unfolded(grid: Tensor, *, floor: float = FLOOR, iterations: int = ITERATIONS) -> Tensor:
    """(h, w, 2) `grid` with its folds smoothed away (see the module's docstring); the same tensor
    where nothing folds."""
    if grid.dim() != 3 or grid.shape[2] != 2 or min(grid.shape[:2]) < 2:
        raise ValueError(f"grid: expected (h, w, 2) with h, w >= 2, got {tuple(grid.shape)}")
    identity = coordinate_grid(*grid.shape[:2], dtype=grid.dtype, device=grid.device)
    base = _cell_areas(identity)
    if not bool((_cell_areas(grid) / base < floor).any()):
        return grid
    displacement = (grid - identity).permute(2, 0, 1)[None]  # (1, 2, h, w)
    for _ in range(iterations):
        folded = _cell_areas(identity + displacement[0].permute(1, 2, 0)) / base < floor
        if not bool(folded.any()):
            break
        # the folded cells' corners: (h - 1, w - 1) cells -> (h, w) points
        near = F.max_pool2d(folded.to(grid.dtype)[None, None], 2, stride=1, padding=1)[0, 0] > 0
        mean = F.avg_pool2d(F.pad(displacement, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        displacement = torch.where(near, mean, displacement)
    return identity + displacement[0].permute(1, 2, 0)
