from __future__ import annotations

import pytest
import torch

from reenact.training.transforms import TpsConfig, TpsWarp


def random_warp(batch: int = 3, seed: int = 0, **config) -> TpsWarp:
    return TpsWarp.random(batch, TpsConfig(**config), generator=torch.Generator().manual_seed(seed))


def test_zero_noise_is_the_identity() -> None:
    warp = random_warp(sigma_affine=0, sigma_tps=0)
    points = torch.rand(3, 7, 2) * 2 - 1
    torch.testing.assert_close(warp.apply(points), points)
    torch.testing.assert_close(warp.jacobian(points), torch.eye(2).expand(3, 7, 2, 2))
    image = torch.rand(3, 3, 16, 16)
    torch.testing.assert_close(warp.warp_image(image, align_corners=True), image)


def test_jacobian_matches_autograd() -> None:
    warp = random_warp(sigma_affine=0.1, sigma_tps=0.05)
    points = (torch.rand(3, 5, 2) * 2 - 1).double()
    warp = TpsWarp(warp.affine.double(), warp.control.double(), warp.weights.double())
    expected = torch.stack([
        torch.autograd.functional.jacobian(
            lambda p, b=b: warp.apply(p.expand(3, 1, 2))[b, 0], points[b, k])
        for b in range(3) for k in range(5)]).view(3, 5, 2, 2)
    torch.testing.assert_close(warp.jacobian(points), expected)


def test_warped_image_moves_content_to_where_the_warp_says() -> None:
    """A bright dot at T(p) in the original appears at p in the warped image."""
    warp = random_warp(batch=1, sigma_affine=0.1, sigma_tps=0.01, seed=3)
    size = 65
    target = torch.tensor([[[0.1, -0.2]]])
    source_point = warp.apply(target)[0, 0]
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    blob = torch.exp(-((xs - source_point[0]) ** 2 + (ys - source_point[1]) ** 2) / 0.005)
    warped = warp.warp_image(blob[None, None], align_corners=True)[0, 0]
    weights = warped / warped.sum()
    found = torch.stack([(weights * xs).sum(), (weights * ys).sum()])
    torch.testing.assert_close(found, target[0, 0], atol=0.02, rtol=0)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="sigma_affine and sigma_tps must be >= 0"):
        TpsConfig(sigma_affine=-1)
    with pytest.raises(ValueError, match="TpsConfig.points"):
        TpsConfig(points=0)
