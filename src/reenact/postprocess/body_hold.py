"""The body held still while the head moves: how much of its motion each image pixel keeps.

Relative motion moves whatever the model's keypoints cover, so a turning head drags its whole field
along: collar, lapels, shoulders, a space suit's neck ring. Held, the motion is kept whole on the
head (inside the outline of the photo's jaw, 68-point landmarks 0-16, and everywhere above the
row of the jaw's two ends: hair, brows and what is behind them) and fades out with the distance
from it, smoothstep from `start` to `end` eyes-to-chin heights away, so the body keeps the photo's
pixels while the head moves over a neck that stretches between them.

A fade by distance from the jaw, not by rows below the chin: beside the jaw a collar or a ring
round the neck sits as high as the chin or higher, and a fade that began under the chin moved it
whole there and not at all further down, so it bent with every turn of the head (the README's
astronaut). The distance is computed once per photo on a lattice of `_CELLS_PER_HEIGHT` cells
per eyes-to-chin height and read bilinearly, so the hold is exactly 1 and exactly 0 where it
should be.
"""

from __future__ import annotations

import math

import numpy as np

from reenact.preprocess.crop import CropBox

JAW = slice(0, 17)
EYES = slice(36, 48)
CHIN = 8
_CELLS_PER_HEIGHT = 24


class BodyHold:
    """How much of the motion each pixel of a photo keeps, given its 68 face `landmarks` (image
    pixels, (x, y)): 1 on the head, 0 from `end` eyes-to-chin heights away from it, smoothstep
    from `start` (see the module)."""

    def __init__(self, landmarks: np.ndarray, start: float, end: float) -> None:
        if not isinstance(landmarks, np.ndarray) or landmarks.shape != (68, 2) \
                or not np.isfinite(landmarks).all():
            raise ValueError(f"landmarks: expected a finite (68, 2) array, got "
                             f"{getattr(landmarks, 'shape', type(landmarks).__name__)}")
        if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
            raise ValueError(f"start, end: expected 0 <= start < end, got {start!r}, {end!r}")
        points = np.asarray(landmarks, dtype=np.float64)
        self.height = eyes_to_chin(points)
        self.start, self.end = start * self.height, end * self.height
        self._jaw, self._ends_row = points[JAW], jaw_ends_row(points)
        self.step = max(1.0, self.height / _CELLS_PER_HEIGHT)
        # the lattice covers the jaw and more than `end` around it: read beyond, it is clamped to
        # its edge, where the jaw is further than `end` and only the rows' own distance below the
        # jaw's ends counts, as it does there (so a photo's size costs nothing)
        margin = self.end + 2 * self.step
        self._origin = np.array([self._jaw[:, 0].min() - margin,
                                 min(self._ends_row, self._jaw[:, 1].min()) - margin])
        cells = np.ceil((np.array([self._jaw[:, 0].max(), self._jaw[:, 1].max()]) + margin
                         - self._origin) / self.step).astype(int)
        x, y = np.meshgrid(self._origin[0] + (np.arange(cells[0]) + 0.5) * self.step,
                           self._origin[1] + (np.arange(cells[1]) + 0.5) * self.step)
        self._distance = self.distance(x, y)  # (rows, columns) on the lattice

    def distance(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Pixels from the points (`x`, `y`, same shape) to the head: 0 on it."""
        return head_distance(self._jaw, self._ends_row, x, y)

    def at(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """(len(rows), len(columns)) in [0, 1]: the hold at image rows x columns (pixel
        coordinates, centres at j + 0.5), of the distance read bilinearly from the lattice."""
        return self._faded(self._grid_distance(rows, columns))

    def at_points(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """In [0, 1], shaped as `x` and `y` (image pixels): the hold at those points."""
        return self._faded(self._point_distance(x, y))

    def moving(self, rows: np.ndarray, columns: np.ndarray, shift: np.ndarray,
               every: int = 1) -> np.ndarray:
        """(len(rows), len(columns)) in [0, 1]: the hold of a motion that shows, at each output
        pixel of rows x columns, the photo `shift` (R, C, 2) pixels (x, y) away: the larger of the
        hold where the pixel is and where it reads, so a head that moves keeps all of its motion
        where it went, not only where it was (a jaw turned past the photo's outline would lag
        behind and squash). `every`: the distances are taken on every `every`-th row and column
        (and the last) and read bilinearly between, for dense pixels (the distance changes over a
        lattice step, `step` pixels)."""
        r, c = _every(len(rows), every), _every(len(columns), every)
        rows, columns = np.asarray(rows, dtype=np.float64), np.asarray(columns, dtype=np.float64)
        moved = shift[np.ix_(r, c)]  # (r, c, 2)
        nearest = np.minimum(self._grid_distance(rows[r], columns[c]),
                             self._point_distance(columns[c][None, :] + moved[..., 0],
                                                  rows[r][:, None] + moved[..., 1]))
        if every > 1:
            r0, r1, wr = _neighbours(np.interp(np.arange(len(rows)), r, np.arange(len(r))) + 0.5,
                                     1.0, len(r))
            c0, c1, wc = _neighbours(np.interp(np.arange(len(columns)), c, np.arange(len(c)))
                                     + 0.5, 1.0, len(c))
            nearest = _bilinear(nearest, r0, r1, wr, c0, c1, wc)
        return self._faded(nearest)

    def on_lattice(self, box: CropBox, shift: np.ndarray) -> np.ndarray:
        """(h, w) in [0, 1]: `moving` at the cells of an h x w lattice over crop `box` that show
        the photo `shift` (h, w, 2) pixels (x, y) away."""
        cells_y, cells_x = shift.shape[:2]
        rows = box.y0 + (np.arange(cells_y) + 0.5) * (box.side / cells_y)
        columns = box.x0 + (np.arange(cells_x) + 0.5) * (box.side / cells_x)
        return self.moving(rows, columns, shift)

    def _grid_distance(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """(len(rows), len(columns)) the distance at image rows x columns."""
        return _bilinear(self._distance, *self._cells(rows, columns))

    def _point_distance(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The distance at the points (`x`, `y`, same shape)."""
        r0, r1, wr, c0, c1, wc = self._cells(y, x)
        lattice = self._distance
        return ((lattice[r0, c0] * (1 - wc) + lattice[r0, c1] * wc) * (1 - wr)
                + (lattice[r1, c0] * (1 - wc) + lattice[r1, c1] * wc) * wr)

    def _cells(self, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, ...]:
        """The lattice's rows (below, above, weight above) around image rows `y` and its columns
        around image columns `x` (`_neighbours`)."""
        (left, top), (height, width) = self._origin, self._distance.shape
        return (*_neighbours(np.asarray(y, dtype=np.float64) - top, self.step, height),
                *_neighbours(np.asarray(x, dtype=np.float64) - left, self.step, width))

    def _faded(self, distance: np.ndarray) -> np.ndarray:
        t = np.clip((distance - self.start) / (self.end - self.start), 0.0, 1.0)
        return 1 - t * t * (3 - 2 * t)


def eyes_to_chin(points: np.ndarray) -> float:
    """The eyes-to-chin height of (68, 2) face landmarks (image pixels), at least 1: the unit the
    fades around the head are measured in."""
    return max(1.0, float(points[CHIN, 1] - points[EYES, 1].mean()))


def jaw_ends_row(points: np.ndarray) -> float:
    """The row of the jaw's two ends (landmarks 0 and 16) of (68, 2) face landmarks: above it,
    everything is head (`head_distance`)."""
    return float(points[JAW][[0, -1], 1].mean())


def head_distance(jaw: np.ndarray, ends_row: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pixels from the points (`x`, `y`, same shape) to the head: 0 inside the closed outline of
    the (17, 2) `jaw` points and on every row above `ends_row` (the row of the jaw's two ends),
    else the distance to the outline or to that row, whichever is nearer."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    above = np.maximum(y - ends_row, 0.0)
    start, stop = jaw, np.roll(jaw, -1, axis=0)  # the outline, closed
    nearest = np.full(x.shape, np.inf)
    inside = np.zeros(x.shape, dtype=bool)
    for (x0, y0), (x1, y1) in zip(start, stop):
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((x - x0) * dx + (y - y0) * dy) / max(dx * dx + dy * dy, 1e-12), 0, 1)
        nearest = np.minimum(nearest, np.hypot(x - x0 - t * dx, y - y0 - t * dy))
        crosses = (y0 > y) != (y1 > y)  # even-odd rule along +x
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x0 + (y - y0) * dx / dy
        inside ^= crosses & (x < at)
    return np.where(inside, 0.0, np.minimum(nearest, above))


def _every(size: int, every: int) -> np.ndarray:
    """Every `every`-th of `size` indices, and the last."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every: expected a whole number >= 1, got {every!r}")
    return np.unique(np.r_[np.arange(0, size, every), size - 1])


def _bilinear(grid: np.ndarray, r0: np.ndarray, r1: np.ndarray, wr: np.ndarray, c0: np.ndarray,
              c1: np.ndarray, wc: np.ndarray) -> np.ndarray:
    """(len(r0), len(c0)): `grid` read between its rows r0, r1 (weight wr of r1) and columns
    c0, c1 (weight wc of c1)."""
    by_row = grid[r0] * (1 - wr)[:, None] + grid[r1] * wr[:, None]  # (R, grid columns)
    return by_row[:, c0] * (1 - wc) + by_row[:, c1] * wc


def _neighbours(coords: np.ndarray, step: float, size: int) -> tuple[np.ndarray, np.ndarray,
                                                                     np.ndarray]:
    """Lattice cells (below, above) around coordinates `coords` from the lattice's origin, and
    the weight of the one above, for cells centred at (i + 0.5) * `step`; clamped at the ends."""
    position = np.clip(coords / step - 0.5, 0, size - 1)
    below = np.floor(position).astype(np.int64)
    return below, np.minimum(below + 1, size - 1), position - below
