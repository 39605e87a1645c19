"""The content rectangle of a frame: what is left inside uniform borders (letterbox, pillarbox, a
canvas the video was scaled into, as a screen recording does). Both layers read it: the tiled
layer folds it (`tile_detect`), and the DCT layer reads its canonical image (`verify`), which is
the marked frame's own when the rectangle is exact: a canvas is a downscale the DCT layer
survives, but one row too many is a zoom of 0.5% at 200 px, which moves its projections past
the quarter step a bit tolerates (canvas 80% at 256 px, 24 clips: 3 read with the rectangle
found by thresholds alone, 22 with the exact one)."""

from __future__ import annotations

import numpy as np

# a row or column of the frame belongs to a border when its luma varies less than this (grey
# levels, std) and stays this close to the border's colour
_BORDER_STD = 2.5
_BORDER_COLOUR = 8.0
_MIN_BORDER = 2  # pixels; thinner "borders" are left to the shift search
_BORDER_SAMPLES = 180  # pixels of each row and column (at least) the border test looks at
# the content's outermost row (or column) is border after all when it varies less than this
# share of the next one in: the encoder's ringing, next to the sharp edge of a canvas, which the
# thresholds above take for content (rows 0.1-0.25 of the next one's std on 256-px canvases at
# CRF 23; picture rows next to each other: 0.65-1.1)
_RINGING_SHARE = 0.4


def content_rect(luma: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, left, height, width) inside uniform borders, or None when there are none worth
    cutting."""
    height, width = luma.shape
    # every row and column, each from a sample of its pixels: the statistics of a full-size
    # frame cost more than decoding it
    step = max(1, min(height, width) // _BORDER_SAMPLES)
    rows, cols = luma[:, ::step].astype(np.float32), luma[::step].astype(np.float32)
    top, bottom = _extents(rows.std(axis=1), rows.mean(axis=1))
    left, right = _extents(cols.std(axis=0), cols.mean(axis=0))
    cut = [top, bottom, left, right]
    inner_h, inner_w = height - cut[0] - cut[1], width - cut[2] - cut[3]
    if not any(cut) or inner_h < height / 3 or inner_w < width / 3 or min(inner_h, inner_w) < 16:
        return None
    # borders found on full rows: the content's own columns there are read again on the rest
    if cut[0] or cut[1]:
        inner = luma[cut[0]:height - cut[1]:step].astype(np.float32)
        cut[2], cut[3] = _extents(inner.std(axis=0), inner.mean(axis=0))
        inner_w = width - cut[2] - cut[3]
        if inner_w < width / 3:
            return None
    return cut[0], cut[2], inner_h, inner_w


def _extents(std: np.ndarray, mean: np.ndarray) -> tuple[int, int]:
    """(first, last) border widths along one axis from its lines' std and mean (0: none)."""
    return _extent(std, mean), _extent(std[::-1], mean[::-1])


def _extent(std: np.ndarray, mean: np.ndarray) -> int:
    """How many lines from the start are border: uniform, of the first line's colour; 0 when
    fewer than _MIN_BORDER. One more when the first content line looks like ringing."""
    colour = mean[0]
    uniform = (std < _BORDER_STD) & (np.abs(mean - colour) < _BORDER_COLOUR)
    extent = int(np.argmin(uniform)) if not uniform.all() else len(uniform)
    if extent < _MIN_BORDER:
        return 0
    if extent + 1 < len(std) and std[extent] < _RINGING_SHARE * std[extent + 1]:
        extent += 1
    return extent
