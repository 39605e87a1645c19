from __future__ import annotations

from pathlib import Path

import pytest
import torch

from reenact.containers import Keypoints
from reenact.training import losses
from reenact.training.transforms import TpsConfig, TpsWarp


def test_pixel_pyramid_loss_is_zero_only_for_equal_images() -> None:
    pyramid = losses.ImagePyramid((1.0, 0.5, 0.25), 3)
    image = torch.rand(2, 3, 32, 32)
    levels = pyramid(image)
    assert [tuple(v.shape[2:]) for v in levels.values()] == [(32, 32), (16, 16), (8, 8)]
    assert float(losses.pixel_pyramid_loss(levels, pyramid(image))) == 0
    assert float(losses.pixel_pyramid_loss(levels, pyramid(image.flip(-1)))) > 0


def test_blur_costs_more_than_l1_alone() -> None:
    """The gradient term penalizes a blurred reconstruction beyond its pixel error."""
    pyramid = losses.ImagePyramid((1.0,), 1)
    sharp = (torch.arange(32).view(1, 1, 1, 32) % 4 < 2).float().expand(1, 1, 32, 32)
    blurred = torch.nn.functional.avg_pool2d(sharp, 3, 1, 1, count_include_pad=False)
    full = losses.pixel_pyramid_loss(pyramid(blurred), pyramid(sharp))
    pixel_only = losses.PIXEL_LOSS_SCALE * (blurred - sharp).abs().mean()
    assert float(full) > 2 * float(pixel_only)


def _write_fake_vgg(path: Path) -> None:
    reference = losses.Vgg19Features()
    state = {f"features.{k.split('.', 1)[1]}": v for k, v in reference.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # torchvision's file has the classifier too
    path.parent.mkdir(parents=True)
    torch.save(state, path)


def test_vgg_weights_from_the_torch_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert losses.load_vgg19() is None
    assert "offline fallback" in losses.describe_perceptual(None)
    _write_fake_vgg(tmp_path / "hub" / "checkpoints" / losses.VGG19_FILE)
    vgg = losses.load_vgg19()
    assert vgg is not None and "VGG19" in losses.describe_perceptual(vgg)
    taps = vgg(torch.rand(1, 3, 32, 32))
    assert [t.shape[1] for t in taps] == [64, 128, 256, 512, 512]
    pyramid = losses.ImagePyramid((1.0, 0.5), 3)
    image = torch.rand(1, 3, 32, 32, requires_grad=True)
    loss = losses.vgg_pyramid_loss(vgg, pyramid(image), pyramid(torch.rand(1, 3, 32, 32)))
    loss.backward()
    assert image.grad is not None and all(p.grad is None for p in vgg.parameters())


def test_vgg_file_with_other_weights_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vgg.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, path)
    with pytest.raises(ValueError, match="not torchvision's VGG19 weights"):
        losses.load_vgg19(path)


def test_equivariance_losses_vanish_for_consistent_keypoints() -> None:
    warp = TpsWarp.random(2, TpsConfig(sigma_affine=0.1, sigma_tps=0.01),
                          generator=torch.Generator().manual_seed(0))
    transformed = Keypoints(torch.rand(2, 4, 2) - 0.5, torch.eye(2).repeat(2, 4, 1, 1) * 1.3)
    # the keypoints the original image must have if detection is equivariant
    driving = Keypoints(warp.apply(transformed.value),
                        warp.jacobian(transformed.value) @ transformed.jacobian)
    assert float(losses.equivariance_value_loss(driving, transformed, warp)) < 1e-6
    assert float(losses.equivariance_jacobian_loss(driving, transformed, warp)) < 1e-5
    shifted = Keypoints(driving.value + 0.1, driving.jacobian * 1.5)
    assert float(losses.equivariance_value_loss(shifted, transformed, warp)) > 0.09
    assert float(losses.equivariance_jacobian_loss(shifted, transformed, warp)) > 0.1


def test_gan_losses() -> None:
    ones, zeros = [torch.ones(2, 1, 4, 4)], [torch.zeros(2, 1, 4, 4)]
    assert float(losses.generator_gan_loss(ones)) == 0
    assert float(losses.discriminator_gan_loss(ones, zeros)) == 0
    assert float(losses.discriminator_gan_loss(zeros, ones)) == 2
    features = [torch.rand(2, 3, 4, 4)]
    assert float(losses.feature_matching_loss(features, features)) == 0


def test_face_part_weight_peaks_on_the_parts_and_is_one_far_away() -> None:
    from reenact.containers import Keypoints
    from reenact.training.losses import face_part_weight

    value = torch.tensor([[[0.0, 0.5], [0.9, 0.9]], [[float("nan"), 0.0], [0.0, 0.0]]])
    weight = face_part_weight(Keypoints(value), 33, strength=4.0, parts=[0])
    assert weight.shape == (2, 1, 33, 33)
    assert float(weight[0, 0, 24, 16]) == pytest.approx(5.0)  # (x, y) = (0, 0.5): row 24, column 16
    assert float(weight[0, 0, 0, 0]) == pytest.approx(1.0, abs=1e-6)
    assert torch.equal(weight[1], torch.ones(1, 33, 33))  # unknown anchors: plain weights


def test_uniform_pixel_weight_changes_nothing_and_weights_count() -> None:
    from reenact.training.losses import pixel_pyramid_loss

    torch.manual_seed(0)
    prediction = {1.0: torch.rand(2, 3, 16, 16), 0.5: torch.rand(2, 3, 8, 8)}
    target = {1.0: torch.rand(2, 3, 16, 16), 0.5: torch.rand(2, 3, 8, 8)}
    plain = pixel_pyramid_loss(prediction, target)
    torch.testing.assert_close(pixel_pyramid_loss(prediction, target, torch.full((2, 1, 16, 16), 3.0)),
                               plain)
    exact = {k: v.clone() for k, v in target.items()}
    exact[1.0][..., :8, :] = prediction[1.0][..., :8, :]  # top half right
    top = torch.ones(2, 1, 16, 16)
    top[..., :8, :] = 10
    assert pixel_pyramid_loss(prediction, exact, top) < pixel_pyramid_loss(prediction, exact)


def test_landmark_flow_loss_is_zero_for_a_deformation_that_carries_the_landmarks() -> None:
    from reenact.geometry import coordinate_grid

    lattice = coordinate_grid(16, 16)  # (h, w, 2): where each cell sits
    # an affine backward map: the driving frame at x shows the source at A x + t
    matrix, shift = torch.tensor([[0.9, 0.1], [-0.05, 1.1]]), torch.tensor([0.05, -0.1])
    deformation = (lattice @ matrix.T + shift)[None].repeat(3, 1, 1, 1)  # (3, 16, 16, 2)
    driving = torch.rand(3, 68, 2) * 1.6 - 0.8
    source = driving @ matrix.T + shift
    assert float(losses.landmark_flow_loss(deformation, source, driving)) < 1e-6
    # a frame whose source landmarks are 0.1 off on x costs 0.05 a coordinate over its points
    moved = source.clone()
    moved[1, :, 0] += 0.1
    assert float(losses.landmark_flow_loss(deformation, moved, driving)) == pytest.approx(0.1 / 6,
                                                                                          abs=1e-5)
    # a pair with no face on either side counts for nothing, whatever its numbers
    moved[1] = float("nan")
    assert float(losses.landmark_flow_loss(deformation, moved, driving)) < 1e-6
    missing = driving.clone()
    missing[:] = float("nan")
    empty = losses.landmark_flow_loss(deformation.requires_grad_(), source, missing)
    assert float(empty.detach()) == 0.0
    empty.backward()  # a graph, so a batch without faces still steps


def test_landmark_flow_loss_pulls_the_deformation_towards_the_landmarks() -> None:
    from reenact.geometry import coordinate_grid

    deformation = coordinate_grid(9, 9)[None].clone().requires_grad_()  # the identity; 0 a cell
    driving = torch.tensor([[[0.0, 0.0]]])
    source = torch.tensor([[[0.2, 0.0]]])  # the source point is right of where the driver has it
    losses.landmark_flow_loss(deformation, source, driving).backward()
    assert deformation.grad is not None
    assert float(deformation.grad[0, ..., 0].sum()) < 0  # descending moves the reading right
    assert float(deformation.grad[0, ..., 1].abs().sum()) == 0.0
