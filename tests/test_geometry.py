import numpy as np
import pytest
import torch

from reenact.containers import Keypoints
from reenact.geometry import (
    antialias_downscale,
    antialias_kernel,
    coordinate_grid,
    gaussian_heatmaps,
    heatmap_to_keypoints,
    inverse_2x2,
    movement_scale,
    normalize_keypoints,
    sparse_motions,
    warp,
)
from reenact.point_geometry import affine_part, apply_affine, convex_hull_area, similarity_fit


def random_keypoints(batch=2, num_kp=5, seed=0, spread=0.6):
    generator = torch.Generator().manual_seed(seed)
    value = (torch.rand(batch, num_kp, 2, generator=generator) * 2 - 1) * spread
    jacobian = torch.eye(2) + 0.2 * torch.randn(batch, num_kp, 2, 2, generator=generator)
    return Keypoints(value, jacobian)


def test_coordinate_grid_corners_and_order():
    grid = coordinate_grid(4, 6)
    assert grid.shape == (4, 6, 2)
    assert grid[0, 0].tolist() == [-1, -1]
    assert grid[-1, -1].tolist() == [1, 1]
    assert grid[0, -1].tolist() == [1, -1]  # x varies along width


def test_keypoints_heatmap_keypoints_round_trip():
    kp = random_keypoints(spread=0.5)
    heat = gaussian_heatmaps(kp.value, 64, 64, variance=0.005)
    heat = heat / heat.sum(dim=(2, 3), keepdim=True)
    recovered = heatmap_to_keypoints(heat)
    assert torch.allclose(recovered, kp.value, atol=1e-4)


def test_inverse_2x2_matches_torch_inverse():
    matrices = torch.randn(3, 7, 2, 2, dtype=torch.float64) + 2 * torch.eye(2, dtype=torch.float64)
    assert torch.allclose(inverse_2x2(matrices), torch.inverse(matrices), atol=1e-10)


def test_zero_motion_is_identity_warp():
    kp = random_keypoints()
    motions = sparse_motions(32, 32, kp, kp)  # (B, K+1, H, W, 2)
    identity = coordinate_grid(32, 32).expand_as(motions)
    assert torch.allclose(motions, identity, atol=1e-5)
    image = torch.rand(2, 3, 32, 32)
    warped = warp(image, motions[:, 3], align_corners=True)
    assert torch.allclose(warped, image, atol=1e-5)


def test_translation_moves_the_content():
    source = Keypoints(torch.zeros(1, 1, 2), torch.eye(2).view(1, 1, 2, 2))
    driving = Keypoints(torch.tensor([[[0.5, 0.0]]]), torch.eye(2).view(1, 1, 2, 2))
    motion = sparse_motions(5, 5, source, driving)[:, 1]
    # a driving pixel at x reads the source at x - 0.5
    assert torch.allclose(motion[..., 0], coordinate_grid(5, 5)[..., 0] - 0.5)


def test_convex_hull_area():
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2], [1, 1], [0.5, 1.5]])
    assert convex_hull_area(square) == pytest.approx(4.0)
    assert convex_hull_area(np.array([[0, 0], [1, 1], [2, 2]])) == 0.0


def test_normalize_absolute_returns_driving():
    source, driving, initial = random_keypoints(seed=1), random_keypoints(seed=2), random_keypoints(seed=3)
    out = normalize_keypoints(source, driving, initial, relative_movement=False)
    assert torch.equal(out.value, driving.value) and torch.equal(out.jacobian, driving.jacobian)


def test_normalize_relative_initial_frame_gives_source():
    source, initial = random_keypoints(seed=1), random_keypoints(seed=3)
    out = normalize_keypoints(source, initial, initial, adapt_movement_scale=True)
    assert torch.allclose(out.value, source.value, atol=1e-6)
    assert torch.allclose(out.jacobian, source.jacobian, atol=1e-5)


def test_movement_scale_is_ratio_of_hull_sides():
    initial = random_keypoints(batch=1, seed=4)
    source = Keypoints(initial.value * 0.5, initial.jacobian)
    assert movement_scale(source, initial).item() == pytest.approx(0.5, rel=1e-5)
    driving = Keypoints(initial.value + 0.2, initial.jacobian)
    out = normalize_keypoints(source, driving, initial, adapt_movement_scale=True)
    assert torch.allclose(out.value - source.value, torch.full_like(out.value, 0.1), atol=1e-5)


def test_antialias_kernel_and_downscale():
    kernel = antialias_kernel(0.25)
    assert kernel.shape == (13, 13) and kernel.sum().item() == pytest.approx(1.0)
    image = torch.full((1, 3, 64, 64), 0.5)
    small = antialias_downscale(image, kernel.expand(3, 1, 13, 13), 0.25)
    assert small.shape == (1, 3, 16, 16)
    assert torch.allclose(small[..., 4:-4, 4:-4], torch.full_like(small[..., 4:-4, 4:-4], 0.5))


def test_similarity_fit_recovers_a_similarity_and_never_reflects():
    rng = np.random.default_rng(0)
    points = rng.normal(0, 10, (12, 2))
    angle, scale, shift = 0.4, 1.7, np.array([3.0, -5.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = scale * points @ rotation.T + shift
    affine = similarity_fit(points, moved)
    np.testing.assert_allclose(affine[:, :2], scale * rotation, atol=1e-9)
    np.testing.assert_allclose(apply_affine(affine, points), moved, atol=1e-9)
    mirrored = points * (-1, 1)  # the best similarity to a mirror image is still a rotation
    assert np.linalg.det(similarity_fit(points, mirrored)[:, :2]) > 0
    with pytest.raises(ValueError, match="source, target"):
        similarity_fit(points, points[:5])
    with pytest.raises(ValueError, match="coincide"):
        similarity_fit(np.zeros((3, 2)), points[:3])


def test_affine_part_keeps_an_affine_motion_and_straightens_a_bent_one():
    rng = np.random.default_rng(1)
    points = rng.normal(0, 10, (11, 2))
    affine = np.array([[1.1, 0.2, 3.0], [-0.1, 0.9, -2.0]])
    motion = apply_affine(affine, points) - points
    np.testing.assert_allclose(affine_part(points, motion), motion, atol=1e-9)
    bent = np.zeros((2, 11, 2))
    bent[1, 5] = (0.0, 4.0)  # one point moved alone, in the second of two sets
    part = affine_part(points, bent)
    np.testing.assert_allclose(part[0], 0.0, atol=1e-12)
    assert np.abs(part[1, 5, 1]) < 4.0 and np.abs(part[1]).max() > 0
    with pytest.raises(ValueError, match="points, displacements"):
        affine_part(points[:2], bent[:, :2])
    with pytest.raises(ValueError, match="all on one line"):
        affine_part(np.stack([np.arange(5.0), np.arange(5.0)], axis=1), np.zeros((5, 2)))
