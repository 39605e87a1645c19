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
                        width: int, spans: np.ndarray | None = None) -> np.ndarray:
    """(H, W) int64: for each pixel centre, the index of the valid triangle of `points` it lies in
    (the one it lies deepest in where triangles meet or overlap, the lowest index on a tie); -1
    outside them all. spans: (H, 2) int, per row the columns [start, stop) that matter (the
    others are -1), or None for all.

    All triangles at once: on each row a triangle reaches, the columns between where its three
    barycentric coordinates (each linear along the row) pass the tolerance, a pixel of margin
    either side, are its candidates; each candidate's depth is its smallest coordinate there.
    Recorded calls of talk's drawn mouth (133 x 192 px): 0.74 ms a call, against 1.65 ms when
    small triangles took every pixel of their bounding boxes and large ones were looped over
    (2026-12-06); the labels differed only at exact ties (depths within 1e-16)."""
    corners = points[triangles]  # (T, 3, 2)
    low = np.maximum(np.floor(corners.min(axis=1) - 0.5).astype(int), 0)  # (T, 2) x0, y0
    high = np.minimum(np.ceil(corners.max(axis=1) - 0.5).astype(int) + 1, (width, height))
    reach = np.flatnonzero(valid & (high > low).all(axis=1))  # the triangles that reach the image
    label = np.full(height * width, _NONE, dtype=np.int64)
    if reach.size:
        owner, xs, ys, depth = _inside(corners[reach], low[reach], high[reach], spans)
        pixel, index = ys * width + xs, reach[owner]
        deepest = np.full(height * width, -np.inf)
        np.maximum.at(deepest, pixel, depth)
        best = depth == deepest[pixel]
        np.minimum.at(label, pixel[best], index[best])
    label[label == _NONE] = -1
    return label.reshape(height, width)


def row_spans(mask: np.ndarray) -> np.ndarray:
    """(H, 2) int: per row of the (H, W) bool `mask`, the columns [start, stop) from its first
    True to its last ([0, 0) on a row without one): `rasterize_triangles`' spans."""
    mask = np.asarray(mask, bool)
    any_ = mask.any(axis=1)
    start = np.where(any_, mask.argmax(axis=1), 0)
    stop = np.where(any_, mask.shape[1] - mask[:, ::-1].argmax(axis=1), 0)
    return np.stack([start, stop], axis=1)


_TOLERANCE = -1e-6  # a pixel centre this far outside a triangle (barycentric) still lies in it
_NONE = np.iinfo(np.int64).max


def _inside(corners: np.ndarray, low: np.ndarray, high: np.ndarray, spans: np.ndarray | None,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pixels whose centres lie in triangles `corners` (T, 3, 2) with bounding boxes [low,
    high) (T, 2): (owner, x, y, depth), each (C,): the triangle (of T), the pixel's column and
    row, its smallest barycentric coordinate (> `_TOLERANCE`)."""
    ax, ay = corners[:, 0, 0], corners[:, 0, 1]
    ex, ey = corners[:, 1, 0] - ax, corners[:, 1, 1] - ay  # edge a -> b
    fx, fy = corners[:, 2, 0] - ax, corners[:, 2, 1] - ay  # edge a -> c
    det = ex * fy - fx * ey
    flat = det == 0  # no area: nothing lies inside
    det = np.where(flat, 1.0, det)
    rows = high[:, 1] - low[:, 1]
    owner = np.repeat(np.arange(len(corners)), rows)  # one entry per (triangle, row)
    y = low[owner, 1] + np.arange(owner.size) - (np.cumsum(rows) - rows)[owner]
    # along a row each barycentric coordinate is slope * (x + 0.5) + offset
    dy, scale = y + 0.5 - ay[owner], det[owner]
    s1, o1 = fy[owner] / scale, -(ax[owner] * fy[owner] + fx[owner] * dy) / scale
    s2, o2 = -ey[owner] / scale, (ex[owner] * dy + ax[owner] * ey[owner]) / scale
    s0, o0 = -s1 - s2, 1 - o1 - o2
    left, right = np.full(owner.size, -1e9), np.full(owner.size, 1e9)
    empty = flat[owner]
    with np.errstate(divide="ignore", invalid="ignore"):
        for slope, offset in ((s0, o0), (s1, o1), (s2, o2)):
            bound = (_TOLERANCE - offset) / slope  # where the coordinate passes the tolerance
            left = np.where(slope > 0, np.maximum(left, bound), left)
            right = np.where(slope < 0, np.minimum(right, bound), right)
            empty |= (slope == 0) & (offset <= _TOLERANCE)
    x0 = np.maximum(low[owner, 0], np.floor(np.maximum(left, -1e9) - 1.5).astype(np.int64))
    x1 = np.minimum(high[owner, 0], np.ceil(np.minimum(right, 1e9) + 0.5).astype(np.int64))
    if spans is not None:
        x0, x1 = np.maximum(x0, spans[y, 0]), np.minimum(x1, spans[y, 1])
    counts = np.where(empty, 0, np.maximum(x1 - x0, 0))
    which = np.repeat(np.arange(owner.size), counts)  # each candidate's (triangle, row) entry
    xs = x0[which] + np.arange(which.size) - (np.cumsum(counts) - counts)[which]
    centre = xs + 0.5
    depth = np.minimum(np.minimum(s0[which] * centre + o0[which], s1[which] * centre + o1[which]),
                       s2[which] * centre + o2[which])
    keep = depth > _TOLERANCE
    return owner[which][keep], xs[keep], y[which][keep], depth[keep]
