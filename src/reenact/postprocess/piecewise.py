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

    Every pixel of every triangle's bounding box is a candidate, all at once: per triangle, a
    loop of small array operations cost 2.5x as much on a drawn mouth's mesh (94 x 131 px)."""
    corners = points[triangles]  # (T, 3, 2)
    low = np.maximum(np.floor(corners.min(axis=1) - 0.5).astype(int), 0)  # (T, 2) x0, y0
    high = np.minimum(np.ceil(corners.max(axis=1) - 0.5).astype(int) + 1, (width, height))
    reach = np.flatnonzero(valid & (high > low).all(axis=1))  # the triangles that reach the image
    if reach.size == 0:
        return np.full((height, width), -1, dtype=np.int64)
    x0, y0 = low[reach, 0], low[reach, 1]
    span = high[reach, 0] - x0
    counts = span * (high[reach, 1] - y0)
    owner = np.repeat(np.arange(reach.size), counts)  # each candidate's triangle (of `reach`)
    offset = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
    row = offset // span[owner]
    xs = x0[owner] + (offset - row * span[owner])
    ys = y0[owner] + row
    a = corners[reach, 0]  # (K, 2)
    b, c = corners[reach, 1] - a, corners[reach, 2] - a
    det = b[:, 0] * c[:, 1] - c[:, 0] * b[:, 1]
    dx, dy = xs + 0.5 - a[owner, 0], ys + 0.5 - a[owner, 1]
    beta = (dx * c[owner, 1] - c[owner, 0] * dy) / det[owner]
    gamma = (b[owner, 0] * dy - dx * b[owner, 1]) / det[owner]
    depth = np.minimum(np.minimum(beta, gamma), 1 - beta - gamma)  # smallest barycentric coordinate
    keep = depth > -1e-6  # a hair of tolerance
    pixel, depth, index = (ys * width + xs)[keep], depth[keep], reach[owner[keep]]
    deepest = np.full(height * width, -np.inf)
    np.maximum.at(deepest, pixel, depth)
    best = depth == deepest[pixel]
    none = np.iinfo(np.int64).max
    label = np.full(height * width, none, dtype=np.int64)
    np.minimum.at(label, pixel[best], index[best])
    label[label == none] = -1
    return label.reshape(height, width)
