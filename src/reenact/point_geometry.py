"""Plane geometry of points in pixels (face landmarks, mesh corners), on numpy alone: no torch, so
that pass 1 (`reenact.pipelines.driving_track`) runs in a process that never imports it."""

from __future__ import annotations

import numpy as np


def convex_hull_area(points: np.ndarray) -> float:
    """Area of the convex hull of (N, 2) points (Andrew's monotone chain + shoelace)."""
    unique = sorted(set(map(tuple, np.asarray(points, dtype=np.float64).tolist())))
    if len(unique) < 3:
        return 0.0

    def cross(o: tuple, a: tuple, b: tuple) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def half(sequence: list) -> list:
        chain: list = []
        for p in sequence:
            while len(chain) >= 2 and cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        return chain[:-1]

    hull = half(unique) + half(unique[::-1])
    area = 0.0
    for (x0, y0), (x1, y1) in zip(hull, hull[1:] + hull[:1]):
        area += x0 * y1 - x1 * y0
    return abs(area) / 2


def similarity_fit(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(2, 3) the similarity (rotation, uniform scale, shift; no reflection) that takes (N, 2)
    `source` points closest to `target` in least squares (Umeyama 1991): target ~ A @ (x, y, 1)."""
    source = np.asarray(source, np.float64)
    target = np.asarray(target, np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2 \
            or len(source) < 2:
        raise ValueError(f"source, target: expected two (N, 2) point arrays with N >= 2, got "
                         f"{source.shape} and {target.shape}")
    mean_s, mean_t = source.mean(axis=0), target.mean(axis=0)
    centred_s, centred_t = source - mean_s, target - mean_t
    variance = float((centred_s ** 2).sum()) / len(source)
    if variance <= 0:
        raise ValueError("source: the points coincide; no similarity fits them")
    covariance = centred_t.T @ centred_s / len(source)  # (2, 2)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.diag([1.0, 1.0 if np.linalg.det(u @ vt) >= 0 else -1.0])
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(singular) @ sign)) / variance
    shift = mean_t - scale * rotation @ mean_s
    return np.concatenate([scale * rotation, shift[:, None]], axis=1)


def apply_affine(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(..., 2) points mapped by a (2, 3) affine."""
    points = np.asarray(points, np.float64)
    return points @ affine[:, :2].T + affine[:, 2]


def affine_part(points: np.ndarray, displacements: np.ndarray) -> np.ndarray:
    """(..., N, 2) the part of (..., N, 2) `displacements` of (N, 2) `points` that one affine map
    explains: each set of displacements replaced by the least-squares affine map's (N >= 3 points
    not all on a line)."""
    points = np.asarray(points, np.float64)
    displacements = np.asarray(displacements, np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3 \
            or displacements.shape[-2:] != points.shape:
        raise ValueError(f"points, displacements: expected (N, 2) points, N >= 3, and (..., N, 2) "
                         f"displacements, got {points.shape} and {displacements.shape}")
    design = np.concatenate([points, np.ones((len(points), 1))], axis=1)  # (N, 3)
    if np.linalg.matrix_rank(design) < 3:
        raise ValueError("points: all on one line; no affine map is fitted to them")
    projection = design @ np.linalg.pinv(design)  # (N, N)
    return np.einsum("ij,...jk->...ik", projection, displacements)
