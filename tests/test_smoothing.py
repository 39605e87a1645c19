import pytest
import torch

from reenact.containers import Keypoints
from reenact.smoothing import KeypointSmoother


def sequence(length=40, seed=0):
    generator = torch.Generator().manual_seed(seed)
    clean = torch.linspace(-0.5, 0.5, length).view(length, 1, 1).expand(length, 3, 2)
    noisy = clean + 0.02 * torch.randn(length, 3, 2, generator=generator)
    jacobian = torch.eye(2).expand(length, 3, 2, 2) + 0.05 * torch.randn(length, 3, 2, 2, generator=generator)
    return clean, Keypoints(noisy, jacobian)


def test_reduces_jitter_and_streams_in_batches():
    clean, noisy = sequence()
    whole = KeypointSmoother(0.5)(noisy)
    streamed = KeypointSmoother(0.5)
    parts = Keypoints.cat([streamed(noisy[i:i + 7]) for i in range(0, 40, 7)])
    assert torch.allclose(whole.value, parts.value) and torch.allclose(whole.jacobian, parts.jacobian)
    jitter = lambda v: (v[2:] - 2 * v[1:-1] + v[:-2]).abs().mean()  # noqa: E731
    assert jitter(whole.value) < 0.5 * jitter(noisy.value)


def test_zero_strength_is_identity():
    _, noisy = sequence()
    out = KeypointSmoother(0)(noisy)
    assert torch.equal(out.value, noisy.value)


def test_bad_strength():
    with pytest.raises(ValueError, match=r"strength: expected a number in \[0, 1\), got 1"):
        KeypointSmoother(1)
