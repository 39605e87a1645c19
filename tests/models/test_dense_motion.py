import torch

from reenact.containers import Keypoints
from reenact.geometry import coordinate_grid
from reenact.models import DenseMotionNetwork
from reenact.presets import get_preset


def make_network(align_corners=True, occlusion=True) -> DenseMotionNetwork:
    config = get_preset("tiny-64")
    dense = config.dense_motion
    if not occlusion:
        from dataclasses import replace
        dense = replace(dense, estimate_occlusion_map=False)
    torch.manual_seed(0)
    return DenseMotionNetwork(dense, num_kp=config.num_kp, num_channels=3, align_corners=align_corners)


def keypoints(batch, seed):
    generator = torch.Generator().manual_seed(seed)
    value = torch.rand(batch, 4, 2, generator=generator) * 1.2 - 0.6
    jacobian = torch.eye(2) + 0.1 * torch.randn(batch, 4, 2, 2, generator=generator)
    return Keypoints(value, jacobian)


def test_shapes_and_ranges(images):
    net = make_network().eval()
    motion_image = net.prepare_source(images[:1])
    assert motion_image.shape == (1, 3, 32, 32)
    out = net(motion_image, keypoints(1, 0), keypoints(3, 1))  # one source, three frames
    assert out.deformation.shape == (3, 32, 32, 2)
    assert out.mask.shape == (3, 5, 32, 32)
    assert torch.allclose(out.mask.sum(1), torch.ones(3, 32, 32), atol=1e-5)
    assert out.occlusion_map.shape == (3, 1, 32, 32)
    assert 0 <= out.occlusion_map.min() and out.occlusion_map.max() <= 1
    assert out.sparse_deformed.shape == (3, 5, 3, 32, 32)
    assert all(torch.isfinite(t).all() for t in (out.deformation, out.mask, out.occlusion_map))


def test_without_occlusion(images):
    net = make_network(occlusion=False).eval()
    out = net(net.prepare_source(images[:1]), keypoints(1, 0), keypoints(1, 1))
    assert out.occlusion_map is None and net.occlusion_head is None


def test_zero_motion_gives_identity_deformation(images):
    net = make_network().eval()
    kp = keypoints(2, 3)
    out = net(net.prepare_source(images[:2]), kp, kp)
    identity = coordinate_grid(32, 32).expand(2, 32, 32, 2)
    assert torch.allclose(out.deformation, identity, atol=1e-5)


def test_gradient_reaches_every_parameter(images):
    net = make_network().train()
    source, driving = keypoints(2, 0), keypoints(2, 1)
    driving = Keypoints(driving.value.requires_grad_(), driving.jacobian.requires_grad_())
    out = net(net.prepare_source(images[:2]), source, driving)
    (out.deformation.sum() + out.occlusion_map.sum()).backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert driving.value.grad.abs().sum() > 0 and driving.jacobian.grad.abs().sum() > 0


def test_deterministic(images):
    net = make_network().eval()
    args = (net.prepare_source(images[:1]), keypoints(1, 0), keypoints(2, 1))
    assert torch.equal(net(*args).deformation, net(*args).deformation)


def test_anchor_prior_hands_an_anchors_neighbourhood_to_its_motion() -> None:
    import pytest

    from reenact.config import ConfigError, DenseMotionConfig

    config = get_preset("tiny-face-64")
    num_anchors = config.anchors.num_anchors
    assert config.dense_motion.anchor_prior > 0
    torch.manual_seed(0)
    network = DenseMotionNetwork(config.dense_motion, num_kp=config.num_kp, num_channels=3,
                                 align_corners=True, num_anchors=num_anchors).eval()
    kp = Keypoints(torch.rand(1, config.num_kp, 2) * 1.6 - 0.8,
                   torch.eye(2).expand(1, config.num_kp, 2, 2).clone())
    with torch.no_grad():
        mask = network(torch.rand(1, 3, 32, 32), kp, kp).mask  # (1, K+1, 32, 32)
    for anchor in range(num_anchors):
        x, y = ((kp.value[0, anchor] + 1) / 2 * 31).round().long().tolist()
        assert float(mask[0, 1:1 + num_anchors, y, x].sum()) > 0.9
    with pytest.raises(ConfigError, match="anchor_prior"):
        DenseMotionConfig(anchor_prior=-1.0)


def test_anchor_exclusive_takes_the_face_from_background_and_free_keypoints() -> None:
    import dataclasses

    import pytest

    from reenact.config import ConfigError, DenseMotionConfig

    config = get_preset("tiny-face-64")
    num_anchors = config.anchors.num_anchors
    kp = Keypoints(torch.rand(1, config.num_kp, 2, generator=torch.Generator().manual_seed(1)) * 1.2
                   - 0.6, torch.eye(2).expand(1, config.num_kp, 2, 2).clone())
    mass = {}
    for exclusive in (0.0, 40.0):
        dense = dataclasses.replace(config.dense_motion, anchor_prior=0.0, anchor_prior_scale=2.0,
                                    anchor_exclusive=exclusive)
        torch.manual_seed(0)
        network = DenseMotionNetwork(dense, num_kp=config.num_kp, num_channels=3,
                                     align_corners=True, num_anchors=num_anchors).eval()
        with torch.no_grad():
            mask = network(torch.rand(1, 3, 32, 32), kp, kp).mask  # (1, K+1, 32, 32)
        x, y = ((kp.value[0, 0] + 1) / 2 * 31).round().long().tolist()
        mass[exclusive] = float(mask[0, 1:1 + num_anchors, y, x].sum())
    assert mass[40.0] > 0.99 and mass[40.0] > mass[0.0]
    with pytest.raises(ConfigError, match="anchor_exclusive"):
        DenseMotionConfig(anchor_exclusive=float("nan"))
    with pytest.raises(ConfigError, match="anchor_prior_scale"):
        DenseMotionConfig(anchor_prior_scale=0.0)
