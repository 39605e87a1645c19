import torch

from reenact.containers import DenseMotion, SourceEncoding
from reenact.geometry import coordinate_grid
from reenact.models import OcclusionAwareGenerator
from reenact.presets import get_preset


def make_generator() -> OcclusionAwareGenerator:
    torch.manual_seed(0)
    return OcclusionAwareGenerator(get_preset("tiny-64").generator, num_channels=3, align_corners=True)


def motion(batch, size=32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    grid = coordinate_grid(size, size).expand(batch, size, size, 2)
    grid = grid + 0.05 * torch.randn(batch, size, size, 2, generator=generator)
    occlusion = torch.rand(batch, 1, size, size, generator=generator)
    return DenseMotion(deformation=grid, mask=torch.ones(batch, 1, size, size), occlusion_map=occlusion,
                       sparse_deformed=torch.zeros(batch, 1, 3, size, size))


def encode(generator, images):
    return SourceEncoding(image=images, features=generator.encode(images), motion_image=images)


def test_shapes_and_range(images):
    generator = make_generator().eval()
    source = encode(generator, images[:1])
    assert source.features.shape == (1, 16, 16, 16)  # block_expansion 4 * 2**2, 64 / 2**2
    out = generator.decode(source, motion(3), return_deformed=True)
    assert out.prediction.shape == (3, 3, 64, 64) and out.deformed.shape == (3, 3, 64, 64)
    assert 0 <= out.prediction.min() and out.prediction.max() <= 1
    assert torch.isfinite(out.prediction).all()


def test_deformation_at_another_resolution_is_resized(images):
    generator = make_generator().eval()
    out = generator.decode(encode(generator, images[:1]), motion(2, size=8))
    assert out.prediction.shape == (2, 3, 64, 64)


def test_identity_deformation_reproduces_source_in_deformed(images):
    generator = make_generator().eval()
    identity = DenseMotion(coordinate_grid(64, 64).expand(1, 64, 64, 2), torch.ones(1, 1, 64, 64), None,
                           torch.zeros(1, 1, 3, 64, 64))
    out = generator.decode(encode(generator, images[:1]), identity, return_deformed=True)
    assert torch.allclose(out.deformed, images[:1], atol=1e-5)


def test_gradient_reaches_every_parameter(images):
    generator = make_generator().train()
    out = generator.decode(encode(generator, images[:2]), motion(2))
    out.prediction.mean().backward()
    for name, parameter in generator.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_deterministic(images):
    generator = make_generator().eval()
    source = encode(generator, images[:1])
    assert torch.equal(generator.decode(source, motion(2)).prediction,
                       generator.decode(source, motion(2)).prediction)
