"""Piecewise-affine maps between two sets of points: triangulate, one affine per triangle, and
which triangle each pixel lies in.

Coordinates are continuous pixel coordinates, pixel (row i, column j) centred at (j + 0.5, i + 0.5)
(see `reenact.preprocess.face`). scipy is needed for the triangulation (imported on first use).
Used by the training-free landmark-warp baseline (`reenact.evaluation.warp`) and by dub's mouth
(`reenact.postprocess.mouth_warp`).
"""

from __future__ import annotations

import numpy as np


def delaunay(points: np.ndarray) -> np.ndarray:
    """(T, 3) int64 vertex indices of the Delaunay triangles of (N, 2) points."""
    try:
        from scipy.spatial import Delaunay
    except ImportError as error:
        raise ImportError("piecewise-affine warps need scipy: pip install scipy") from error
    return Delaunay(points).simplices.astype(np.int64)


def triangle_affines(source: np.ndarray, target: np.ndarray,
                     triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle, the affine map taking its `target` corners onto its `source` corners.

    source, target: (N, 2) points; triangles: (T, 3) indices. Returns (T, 2, 3) matrices A with
    source = A @ (x, y, 1) for (x, y) in the target triangle, and a (T,) bool mask of the triangles
    whose target area is not ~0 (the others' A is the identity and must not be used).
    """
    tgt, src = target[triangles], source[triangles]  # (T, 3, 2)
    edges_t = np.stack([tgt[:, 1] - tgt[:, 0], tgt[:, 2] - tgt[:, 0]], axis=2)  # (T, 2, 2) columns
    edges_s = np.stack([src[:, 1] - src[:, 0], src[:, 2] - src[:, 0]], axis=2)  # (T, 2, 2)
    det = edges_t[:, 0, 0] * edges_t[:, 1, 1] - edges_t[:, 0, 1] * edges_t[:, 1, 0]
    valid = np.abs(det) > 1e-9
    safe = np.where(valid, det, 1.0)
    # closed-form 2x2 inverse of each target edge matrix
    adjugate = np.stack([np.stack([edges_t[:, 1, 1], -edges_t[:, 0, 1]], axis=1),
                         np.stack([-edges_t[:, 1, 0], edges_t[:, 0, 0]], axis=1)], axis=1)
    inverse = adjugate / safe[:, None, None]  # (T, 2, 2)
    linear = edges_s @ inverse  # (T, 2, 2)
    offset = src[:, 0] - np.einsum("tij,tj->ti", linear, tgt[:, 0])  # (T, 2)
    affines = np.concatenate([linear, offset[:, :, None]], axis=2)  # (T, 2, 3)
    affines[~valid] = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return affines, valid


def rasterize_triangles(points: np.ndarray, triangles: np.ndarray, valid: np.ndarray, height: int,
                        width: int) -> np.ndarray:
    """(H, W) int64: for each pixel centre, the index of the valid triangle of `points` it lies in
    (the one it lies deepest in where triangles meet or overlap, the lowest index on a tie); -1
    outside them all.

    Small triangles are tested all at once, every pixel of their bounding boxes a candidate (one
    by one, their few pixels cost less than the loop around them); large ones one by one. The
    labels are the same to the bit either way."""
    corners = points[triangles]  # (T, 3, 2)
    low = np.maximum(np.floor(corners.min(axis=1) - 0.5).astype(int), 0)  # (T, 2) x0, y0
    high = np.minimum(np.ceil(corners.max(axis=1) - 0.5).astype(int) + 1, (width, height))
    reach = np.flatnonzero(valid & (high > low).all(axis=1))  # the triangles that reach the image
    area = (high[reach] - low[reach]).prod(axis=1)
    deepest = np.full(height * width, -np.inf)
    label = np.full(height * width, _NONE, dtype=np.int64)
    _rasterize_together(corners, low, high, reach[area <= _TOGETHER_AREA], width, deepest, label)
    deepest, label = deepest.reshape(height, width), label.reshape(height, width)
    for index in reach[area > _TOGETHER_AREA]:
        (x0, y0), (x1, y1) = low[index], high[index]
        depth = _depths(corners[index], np.arange(x0, x1)[None], np.arange(y0, y1)[:, None])
        region_depth, region_label = deepest[y0:y1, x0:x1], label[y0:y1, x0:x1]
        better = (depth > region_depth) | ((depth == region_depth) & (index < region_label))
        better &= depth > _TOLERANCE
        region_depth[better] = depth[better]
        region_label[better] = index
    label[label == _NONE] = -1
    return label


# a triangle whose bounding box has at most this many pixels is rasterized with the others of its
# size at once, a larger one on its own. Medians of 5 runs over recorded calls, against the loop
# over every triangle: animate's drawn mouth (94 x 131 px) 3.6 -> 1.4 ms a call, dub's lower face
# (174 x 216 px, ringed by large triangles) 4.5 -> 2.7 ms; with every triangle together dub's
# took 9.3 ms (candidates in the large ones' boxes outnumber their pixels), with 256 here 2.1 and
# 3.0 ms
_TOGETHER_AREA = 512
_TOLERANCE = -1e-6  # a pixel centre this far outside a triangle (barycentric) still lies in it
_NONE = np.iinfo(np.int64).max


def _depths(corners: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The smallest barycentric coordinate in the triangle `corners` (3, 2) of the pixel centres
    (xs + 0.5, ys + 0.5) (broadcast integer arrays): > 0 inside, 0 on an edge, < 0 outside."""
    (ax, ay), (bx, by), (cx, cy) = corners
    det = (bx - ax) * (cy - ay) - (cx - ax) * (by - ay)
    dx, dy = xs + 0.5 - ax, ys + 0.5 - ay
    beta = (dx * (cy - ay) - (cx - ax) * dy) / det
    gamma = ((bx - ax) * dy - dx * (by - ay)) / det
    return np.minimum(np.minimum(beta, gamma), 1 - beta - gamma)


def _rasterize_together(corners: np.ndarray, low: np.ndarray, high: np.ndarray, chosen: np.ndarray,
                        width: int, deepest: np.ndarray, label: np.ndarray) -> None:
    """The `chosen` triangles into the flat (H * W) `deepest` and `label`, all at once."""
    if chosen.size == 0:
        return
    x0, y0 = low[chosen, 0], low[chosen, 1]
    span = high[chosen, 0] - x0
    counts = span * (high[chosen, 1] - y0)
    owner = np.repeat(np.arange(chosen.size), counts)  # each candidate's triangle (of `chosen`)
    offset = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
    row = offset // span[owner]
    xs = x0[owner] + (offset - row * span[owner])
    ys = y0[owner] + row
    depth = _depths(np.moveaxis(corners[chosen][owner], 0, -1), xs, ys)
    keep = depth > _TOLERANCE
    pixel, depth, index = (ys * width + xs)[keep], depth[keep], chosen[owner[keep]]
    np.maximum.at(deepest, pixel, depth)
    best = depth == deepest[pixel]
    np.minimum.at(label, pixel[best], index[best])
