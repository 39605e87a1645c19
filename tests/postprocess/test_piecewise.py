"""Piecewise-affine maps: one affine per triangle, and which triangle holds each pixel."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.postprocess.piecewise import (
    delaunay,
    rasterize_triangles,
    row_spans,
    triangle_affines,
)


def test_triangle_affines_map_target_corners_onto_source_corners() -> None:
    rng = np.random.default_rng(0)
    target = rng.uniform(0, 100, (6, 2))
    source = rng.uniform(0, 100, (6, 2))
    triangles = np.array([[0, 1, 2], [3, 4, 5], [0, 0, 1]])  # the last one has no area
    affines, valid = triangle_affines(source, target, triangles)
    assert affines.shape == (3, 2, 3) and valid.tolist() == [True, True, False]
    for affine, corners in zip(affines[:2], triangles[:2]):
        homogeneous = np.concatenate([target[corners], np.ones((3, 1))], axis=1)  # (3, 3)
        np.testing.assert_allclose(homogeneous @ affine.T, source[corners], atol=1e-9)



def test_rasterized_triangles_cover_the_frame_and_hold_their_pixels() -> None:
    points = np.array([[0, 0], [10, 0], [10, 8], [0, 8], [4.0, 3.0]])
    triangles = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    label = rasterize_triangles(points, triangles, np.ones(4, bool), 8, 10)
    assert (label >= 0).all()
    assert label[0, 5] == 0 and label[4, 9] == 1 and label[7, 5] == 2 and label[4, 0] == 3
    outside = rasterize_triangles(points, triangles[:1], np.ones(1, bool), 8, 10)
    assert outside[7, 5] == -1 and outside[0, 5] == 0


def _deepest_triangle(points: np.ndarray, triangles: np.ndarray, valid: np.ndarray, x: float,
                      y: float) -> int:
    """Per pixel, what `rasterize_triangles` promises: the deepest valid triangle, lowest index on a
    tie, -1 where none holds the point (barycentric coordinates solved afresh)."""
    best, depth = -1, -1e-6
    for index in np.flatnonzero(valid):
        a, b, c = points[triangles[index]]
        matrix = np.stack([b - a, c - a], axis=1)
        if abs(np.linalg.det(matrix)) < 1e-12:
            continue
        beta, gamma = np.linalg.solve(matrix, np.array([x, y]) - a)
        smallest = min(beta, gamma, 1 - beta - gamma)
        if smallest > depth + 1e-9:
            best, depth = int(index), smallest
    return best


@pytest.mark.parametrize("points, spread, height, width", [
    (12, 30, 18, 22),  # small triangles
    (9, 100, 64, 80),  # large ones, reaching past the image
])
def test_overlapping_triangles_give_each_pixel_the_one_it_lies_deepest_in(points, spread, height,
                                                                          width) -> None:
    rng = np.random.default_rng(3)
    corners = rng.uniform(-5, spread - 5, (points, 2))
    triangles = delaunay(corners)
    folded = corners + rng.normal(0, spread / 8, corners.shape)  # the mesh folded over itself
    valid = rng.uniform(size=len(triangles)) > 0.2
    label = rasterize_triangles(folded, triangles, valid, height, width)
    assert (label >= 0).sum() > 100 and label.max() < len(triangles)
    assert not np.isin(label[label >= 0], np.flatnonzero(~valid)).any()
    agree = [label[i, j] == _deepest_triangle(folded, triangles, valid, j + 0.5, i + 0.5)
             for i in range(height) for j in range(width)]
    assert np.mean(agree) > 0.995  # ties at shared edges may fall either way within 1e-9


def test_a_triangle_without_area_holds_no_pixel() -> None:
    points = np.array([[0, 0], [10, 10], [20, 20.0], [0, 20]])
    label = rasterize_triangles(points, np.array([[0, 1, 2], [0, 2, 3]]), np.ones(2, bool), 25, 25)
    assert not (label == 0).any() and (label == 1).sum() > 150


def test_spans_leave_the_pixels_outside_them_unlabelled_and_the_others_as_they_were() -> None:
    rng = np.random.default_rng(5)
    corners = rng.uniform(0, 60, (20, 2))
    triangles = delaunay(corners)
    valid = np.ones(len(triangles), bool)
    whole = rasterize_triangles(corners, triangles, valid, 60, 60)
    yy, xx = np.mgrid[:60, :60]
    disc = (yy - 30) ** 2 + (xx - 28) ** 2 < 20 ** 2
    spans = row_spans(disc)
    assert spans[30].tolist() == [9, 48] and spans[5].tolist() == [0, 0]
    part = rasterize_triangles(corners, triangles, valid, 60, 60, spans)
    np.testing.assert_array_equal(part[disc], whole[disc])
    assert (part[~disc] == -1).all() and (whole[~disc] >= 0).sum() > 500



def test_delaunay_triangulates_a_square_with_a_centre_into_four_triangles() -> None:
    points = np.array([[0, 0], [10, 0], [10, 10], [0, 10], [5.0, 5.0]])
    triangles = delaunay(points)
    assert triangles.shape == (4, 3) and triangles.dtype == np.int64
    assert all(4 in triangle for triangle in triangles.tolist())
