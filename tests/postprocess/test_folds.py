"""Folds in the dense deformation: found, smoothed away, and no longer drawing a part twice."""

import numpy as np
import pytest
import torch

from reenact.geometry import coordinate_grid
from reenact.postprocess.folds import FLOOR, local_areas, unfolded

CELLS = 32


def folded_grid(lift: float = 0.3) -> torch.Tensor:
    """The identity with a band of rows lifted: output rows 8-13 show the source `lift` (in
    normalized units) further down, rows 14 on show themselves; in between the map goes back up."""
    grid = coordinate_grid(CELLS, CELLS).clone()
    rows = torch.arange(CELLS, dtype=torch.float32)
    weight = torch.clamp(1 - torch.abs(rows - 11) / 4, 0, 1)  # a tent around row 11
    grid[..., 1] += lift * weight[:, None]
    return grid


def test_an_unfolded_grid_comes_back_as_it_is():
    grid = coordinate_grid(CELLS, CELLS)
    assert unfolded(grid) is grid
    torch.testing.assert_close(local_areas(grid), torch.ones(CELLS - 1, CELLS - 1))
    gentle = folded_grid(lift=0.02)
    assert local_areas(gentle).min() > FLOOR and unfolded(gentle) is gentle


def test_a_fold_is_smoothed_away_and_far_cells_keep_their_motion():
    grid = folded_grid()
    assert local_areas(grid).min() < 0
    fixed = unfolded(grid)
    assert local_areas(fixed).min() >= FLOOR - 1e-6
    torch.testing.assert_close(fixed[:3], grid[:3])  # rows far from the fold
    torch.testing.assert_close(fixed[-10:], grid[-10:])


def test_a_fold_one_cell_wide_is_found_and_smoothed_away():
    """One row of points lifted by 1.5 cells: the bilinear map folds between it and the next row,
    though central differences over two cells (measured at the points) stay positive there."""
    grid = coordinate_grid(CELLS, CELLS).clone()
    spacing = 2 / (CELLS - 1)
    grid[10, :, 1] += 1.5 * spacing
    central = torch.gradient(grid[..., 1], dim=0)[0] / spacing  # the rows' stretch at each point
    assert central.min() > 0
    areas = local_areas(grid)
    assert areas[10].max() < 0 and areas[9].min() > 0  # the cell below the lifted row folds
    fixed = unfolded(grid)
    assert local_areas(fixed).min() >= FLOOR - 1e-6
    torch.testing.assert_close(fixed[:5], grid[:5])


def test_bad_grids_are_refused():
    with pytest.raises(ValueError, match=r"grid: expected \(h, w, 2\)"):
        unfolded(torch.zeros(4, 4, 3))


def test_a_lifted_bar_is_not_drawn_twice():
    """A dark bar lifted by the fold's band shows once in the composite, not again where it was
    (what the unfolded deformation fixes: a raised brow drawn twice)."""
    from reenact.postprocess.full_res import FullResCompositor, FullResConfig
    from reenact.preprocess.crop import CropBox, crop_image

    size, box = 64, CropBox(100.0, 100.0, 200.0)
    photo = np.full((200, 200, 3), 200, np.uint8)
    bar = int(box.y0 + (11.5 / CELLS + 0.3 / 2) * box.side)  # where row 11 of the lift samples
    photo[bar - 3:bar + 3, 40:160] = 20
    full = FullResCompositor(photo, box, crop_image(photo, box, size), align_corners=False,
                             config=FullResConfig())
    out = full.composite(np.zeros((size, size, 3), np.uint8), folded_grid().numpy(),
                         np.ones((size, size), np.float32))
    column = out[:, 100].astype(int).mean(axis=1) < 100  # dark rows down the middle
    runs = int(np.count_nonzero(np.diff(column.astype(int)) == 1))
    assert column.any() and runs == 1


def test_a_bar_under_a_fold_one_cell_wide_is_drawn_once():
    """The composite of a one-row lift (a fold one cell wide, which central differences miss)
    shows a dark bar from the folded band once, not twice: dev lp_d10's ghost of a raised brow."""
    from reenact.postprocess.full_res import FullResCompositor, FullResConfig
    from reenact.preprocess.crop import CropBox, crop_image

    size, box = 64, CropBox(100.0, 100.0, 200.0)
    grid = coordinate_grid(CELLS, CELLS).clone()
    spacing = 2 / (CELLS - 1)
    grid[10, :, 1] += 1.5 * spacing
    photo = np.full((200, 200, 3), 200, np.uint8)
    bar = int(box.y0 + 11.25 / (CELLS - 1) * box.side)  # inside the band the fold shows twice
    photo[bar - 1:bar + 2, 40:160] = 20
    full = FullResCompositor(photo, box, crop_image(photo, box, size), align_corners=True,
                             config=FullResConfig())
    out = full.composite(np.zeros((size, size, 3), np.uint8), grid.numpy(),
                         np.ones((size, size), np.float32))
    column = out[:, 100].astype(int).mean(axis=1) < 120  # dark rows down the middle
    runs = int(np.count_nonzero(np.diff(column.astype(int)) == 1))
    assert column.any() and runs == 1
