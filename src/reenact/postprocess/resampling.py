"""Resampling for the full-resolution compositor (`reenact.postprocess.full_res`) and the head
box's move (`reenact.postprocess.head_motion`).

- Separable resampling as matrices: a map M (m, n) read at per-row and per-column positions is
  `Y @ M @ X.T`, cheaper than a `grid_sample` over a grid of every pixel when the positions are
  separable (a box's pixels), and the same numbers to float rounding.
- `kept_inside`: where a warped pixel reads, kept off the picture's edges. A head that moves away
  from an edge the photo cuts through (hair at the top of a tight crop, moving down) would read
  past it, where the photo has nothing: "border" sampling smeared the edge row into streaks,
  "reflection" drew the forehead again above itself. Near the edge the picture is stretched
  instead, the edge itself staying put.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

EDGE_REACH = 0.5  # kept_inside: how much of its distance to an edge a pixel may read toward it
ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, Tensor)


def _cubic_weights(t: np.ndarray) -> np.ndarray:
    """(n, 4) Keys cubic convolution weights (a = -0.75, torch's bicubic) of taps -1, 0, 1, 2."""
    a = -0.75
    d = np.stack([t + 1, t, 1 - t, 2 - t], axis=1)  # (n, 4) distances to the taps
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, far)


def interpolation_matrix(positions: np.ndarray, cells: int, *, cubic: bool = False) -> Tensor:
    """(n, cells) float32 weights that read a row of `cells` samples at `positions` (n,), in cell
    units (cell i's centre at i), bilinearly or by cubic convolution; edge samples are replicated
    (`grid_sample` with padding_mode="border", `F.interpolate` with align_corners=False).

    A map M (m, n) read at separable positions is then `Y @ M @ X.T`: cheaper than a `grid_sample`
    over a grid of every pixel, and the same numbers to float rounding.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if not cubic:  # torch clamps a bilinear read's position, a cubic read's taps
        positions = np.clip(positions, 0, cells - 1)
    base = np.floor(positions)
    t = positions - base
    if cubic:
        offsets, weights = np.arange(-1, 3), _cubic_weights(t)
    else:
        offsets, weights = np.arange(0, 2), np.stack([1 - t, t], axis=1)
    index = np.clip(base.astype(np.int64)[:, None] + offsets[None, :], 0, cells - 1)  # (n, taps)
    matrix = np.zeros((len(positions), cells))
    np.add.at(matrix, (np.arange(len(positions))[:, None], index), weights)
    return torch.from_numpy(matrix.astype(np.float32))


def blur_matrix(size: int, sigma: float) -> Tensor:
    """(size, size) float32: a gaussian blur of sigma `sigma` cut at 2 sigma, zeros beyond the
    edges, as a matrix (`B @ M @ B.T` blurs a map M)."""
    radius = int(math.ceil(2 * sigma))
    if radius < 1:
        return torch.eye(size)
    taps = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    kernel /= kernel.sum()
    matrix = np.zeros((size, size))
    for offset, weight in zip(taps, kernel):
        matrix += weight * np.eye(size, k=int(offset))
    return torch.from_numpy(matrix.astype(np.float32))


def max_filter(mask: Tensor, radius: int) -> Tensor:
    """(m, n) maximum over a (2 radius + 1)^2 square, separably (the edges' own values beyond
    them, which leave every maximum as it is). scipy's running maximum: on the compositor's
    128-px maps 0.15 ms a call where torch's max_pool2d (the same numbers) took 0.40 ms."""
    from scipy.ndimage import maximum_filter1d

    kernel = 2 * radius + 1
    rows = maximum_filter1d(mask.numpy(), kernel, axis=1, mode="nearest")
    return torch.from_numpy(maximum_filter1d(rows, kernel, axis=0, mode="nearest"))


def kept_inside(source: ArrayOrTensor, target: ArrayOrTensor, extent: float,
                reach: float = EDGE_REACH) -> ArrayOrTensor:
    """`source` (pixels along one axis: where output pixels whose centres are at `target` read a
    picture spanning [0, extent]) limited so that no pixel reads past the picture's edges: one at
    distance t from an edge reads no nearer it than (1 - reach) t. The edge pixels read
    themselves; a move of d toward an edge is cut within d / reach of it, where the picture is
    stretched (at most 1 / (1 - reach) times); positions farther from the edges are unchanged.
    Both bounds grow with `target`, so a warp that does not fold still does not. numpy arrays or
    torch tensors; `target` broadcasts against `source`."""
    if not 0 <= reach < 1:
        raise ValueError(f"reach: expected a number in [0, 1), got {reach!r}")
    return source.clip(target * (1 - reach), extent - (extent - target) * (1 - reach))
