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


def test_pixel_skip_starts_close_to_the_warped_source(images) -> None:
    """With the pixel skip, the output is a per-pixel mix of the decoded image and the warped source
    (88% warped source at initialization), and every new weight gets a gradient."""
    from dataclasses import replace

    from reenact.models import MotionModel
    from reenact.presets import get_preset

    config = get_preset("tiny-64")
    config = replace(config, generator=replace(config.generator, pixel_skip=True))
    torch.manual_seed(0)
    model = MotionModel(config)
    source, driving = images[:1], images[1:2]
    rendered = model(source, model.detect(source), model.detect(driving), return_deformed=True)
    plain = model.generator.decode(model.encode_source(source), rendered.motion)
    assert rendered.deformed is not None
    decoded_only = (plain.prediction - 0.88079708 * rendered.deformed) / (1 - 0.88079708)
    assert decoded_only.min() > -1e-4 and decoded_only.max() < 1 + 1e-4
    rendered.prediction.mean().backward()
    assert model.generator.skip_weight.bias.grad is not None
    assert "skip_weight.weight" in dict(model.generator.named_parameters())
