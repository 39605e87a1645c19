"""TorchBackend: bf16 and channels-last against fp32, input checks, no process-wide changes."""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reenact.api import create_model
from reenact.engine import TorchBackend, bf16_supported
from reenact.engine import torch_backend as torch_backend_module
from reenact.models import MotionModel
from reenact.presets import get_preset


def crops(batch: int, seed: int = 0) -> np.ndarray:
    coarse = np.random.default_rng(seed).integers(0, 256, (batch, 8, 8, 3)).astype(np.float32)
    return np.kron(coarse, np.ones((1, 8, 8, 1), np.float32)).astype(np.uint8)  # (B, 64, 64, 3)


def animate(backend: TorchBackend, frames: np.ndarray) -> np.ndarray:
    source = frames[0]
    return backend.render(backend.encode_source(source), backend.detect(source[None]),
                          backend.detect(frames))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.fixture(scope="module")
def fp32_frames():
    return animate(TorchBackend(create_model("tiny-64", seed=0), device="cpu"), crops(4))


def test_channels_last_matches_contiguous(fp32_frames):
    backend = TorchBackend(create_model("tiny-64", seed=0), device="cpu", channels_last=True)
    frames = animate(backend, crops(4))
    assert frames.dtype == np.uint8 and frames.shape == (4, 64, 64, 3)
    assert np.abs(frames.astype(int) - fp32_frames).max() <= 1


@pytest.mark.skipif(not bf16_supported(torch.device("cpu")), reason="no native bf16 on this CPU")
def test_bf16_is_close_to_fp32(fp32_frames):
    backend = TorchBackend(create_model("tiny-64", seed=0), device="cpu", precision="bf16")
    kp = backend.detect(crops(2))
    assert kp.value.dtype == torch.float32 and kp.jacobian.dtype == torch.float32
    assert psnr(animate(backend, crops(4)), fp32_frames) >= 30  # random tiny weights: a loose bound


def test_bad_precision_and_missing_bf16(monkeypatch):
    with pytest.raises(ValueError, match="precision: expected one of fp32, bf16, got 'fp16'"):
        TorchBackend(create_model("tiny-64", seed=0), device="cpu", precision="fp16")
    monkeypatch.setattr(torch_backend_module, "bf16_supported", lambda device: False)
    with pytest.raises(ValueError, match="bf16 needs native bf16 support .*; use fp32"):
        TorchBackend(create_model("tiny-64", seed=0), device="cpu", precision="bf16")


def test_wrong_crops_are_refused():
    backend = TorchBackend(create_model("tiny-64", seed=0), device="cpu")
    with pytest.raises(ValueError, match="frames: expected 64x64 crops, got 32x64"):
        backend.detect(np.zeros((1, 64, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="frames: expected \\(B, H, W, 3\\) uint8, got \\(1, 64, 64, 3\\) float32"):
        backend.detect(np.zeros((1, 64, 64, 3), np.float32))


def test_thread_count_is_left_to_the_caller(monkeypatch):
    def forbidden(count):
        raise AssertionError("a backend must not change the process-wide thread count")

    monkeypatch.setattr(torch, "set_num_threads", forbidden)
    animate(TorchBackend(create_model("tiny-64", seed=0), device="cpu", channels_last=True), crops(2))


def test_render_with_motion():
    """The frames of `render`, the dense deformation and the source weight: the pixel-skip weight
    where the generator has one, capped by the occlusion map."""
    base = get_preset("tiny-64")
    config = dataclasses.replace(base, generator=dataclasses.replace(base.generator, pixel_skip=True))
    torch.manual_seed(0)
    model = MotionModel(config).eval()
    with torch.no_grad():
        model.generator.skip_weight.weight.normal_(0, 0.1)
        model.dense_motion.occlusion_head.bias.fill_(2.0)  # about the skip weight's level: both count
    backend, frames = TorchBackend(model, device="cpu"), crops(3)
    encoded, kp_source, kp_driving = (backend.encode_source(frames[0]), backend.detect(frames[:1]),
                                      backend.detect(frames))
    rendered = backend.render_with_motion(encoded, kp_source, kp_driving)
    assert np.array_equal(rendered.frames, backend.render(encoded, kp_source, kp_driving))
    assert rendered.deformation.shape == (3, 32, 32, 2) and rendered.deformation.dtype == np.float32
    with torch.no_grad():
        expected = model.render(encoded, kp_source, kp_driving)
    skip = expected.skip_weight[:, 0].numpy()
    occlusion = F.interpolate(expected.motion.occlusion_map, size=(64, 64), mode="bilinear",
                              align_corners=False)[:, 0].numpy()
    assert np.allclose(rendered.source_weight, np.minimum(skip, occlusion), atol=1e-6)
    assert (rendered.source_weight < skip - 1e-3).any() and (rendered.source_weight < occlusion - 1e-3).any()
