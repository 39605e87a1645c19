"""Winograd convolution, BatchNorm folding and the oneDNN convolution variants against F.conv2d."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reenact.engine import winograd as winograd_module
from reenact.engine.onednn import PackedConv2d, PhaseConv2d, UpsampleConv2d
from reenact.engine.winograd import (
    WinogradConv2d,
    batch_norm_affine,
    fold_batch_norm,
    is_winograd_eligible,
    winograd_matrices,
)

# float32 rounding relative to the output's magnitude: F(2x2) is as exact as a direct convolution,
# F(4x4) about 10x less (its transforms have coefficients up to 8)
TOLERANCE = {2: 2e-6, 4: 2e-5}


def conv_pair(in_channels: int, out_channels: int, bias: bool = True, seed: int = 0):
    """The same random 3x3 convolution in float32 and float64 (the reference)."""
    torch.manual_seed(seed)
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias)
    reference = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias).double()
    reference.load_state_dict({k: v.double() for k, v in conv.state_dict().items()})
    return conv, reference


def max_relative_error(output: torch.Tensor, reference: torch.Tensor) -> float:
    difference = (output.double() - reference).abs().max() / reference.abs().max()
    return float(difference.detach())


@pytest.mark.parametrize("tile", [2, 4])
def test_matrices_compute_a_1d_correlation(tile):
    a_t, g, b_t = winograd_matrices(tile)
    assert a_t.shape == (tile, tile + 2) and g.shape == (tile + 2, 3) and b_t.shape == (tile + 2,) * 2
    assert torch.equal(b_t, b_t.round())  # rows scaled to small integers
    generator = torch.Generator().manual_seed(tile)
    data = torch.randn(tile + 2, dtype=torch.float64, generator=generator)
    kernel = torch.randn(3, dtype=torch.float64, generator=generator)
    expected = torch.stack([data[i:i + 3] @ kernel for i in range(tile)])
    torch.testing.assert_close(a_t @ ((g @ kernel) * (b_t @ data)), expected, rtol=0, atol=1e-12)


def test_unknown_tile_is_refused():
    with pytest.raises(ValueError, match="tile: expected one of 2, 4, got 3"):
        winograd_matrices(3)
    with pytest.raises(ValueError, match=r"weight: expected \(K, C, 3, 3\), got \(4, 2, 5, 5\)"):
        WinogradConv2d(torch.zeros(4, 2, 5, 5), None)
    with pytest.raises(ValueError, match="conv: expected a 3x3, stride-1, padding-1"):
        WinogradConv2d.from_conv(nn.Conv2d(2, 4, 3, padding=1, stride=2))


@pytest.mark.parametrize("tile, size, batch, channels_last, bias", [
    (2, (8, 8), 1, True, True), (2, (7, 9), 3, False, False), (2, (5, 3), 2, True, False),
    (4, (8, 8), 2, True, True), (4, (7, 9), 1, False, True), (4, (13, 6), 3, True, False),
    (4, (1, 1), 2, False, True),
])
def test_winograd_equals_conv2d(tile, size, batch, channels_last, bias):
    conv, reference = conv_pair(5, 6, bias=bias)
    x = torch.rand(batch, 5, *size, dtype=torch.float64)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    with torch.inference_mode():
        out = WinogradConv2d.from_conv(conv, tile=tile)(x.float().contiguous(memory_format=memory_format))
    assert out.shape == (batch, 6, *size) and out.dtype == torch.float32
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert max_relative_error(out, reference(x)) <= TOLERANCE[tile]


@pytest.mark.parametrize("tile", [2, 4])
def test_fused_input_affine_relu_upsampling_residual(tile):
    conv, reference = conv_pair(4, 3, seed=1)
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(2, 4, 5, 6, dtype=torch.float64, generator=generator)
    scale, shift = torch.rand(4, dtype=torch.float64) + 0.5, torch.randn(4, dtype=torch.float64)
    residual = torch.randn(2, 3, 10, 12, dtype=torch.float64, generator=generator)
    fused = WinogradConv2d.from_conv(conv, tile=tile, upsample=True, input_scale=scale,
                                     input_shift=shift, input_relu=True, output_relu=True)
    with torch.inference_mode():
        out = fused(x.float(), residual.float())
    mapped = F.relu(x * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1))
    expected = F.relu(reference(F.interpolate(mapped, scale_factor=2.0, mode="nearest")) + residual)
    assert out.shape == (2, 3, 10, 12)
    assert max_relative_error(out, expected) <= TOLERANCE[tile]


def test_chunks_of_tile_rows(monkeypatch):
    monkeypatch.setattr(winograd_module, "TILES_PER_CHUNK", 3)  # many chunks on a small image
    conv, reference = conv_pair(3, 4, seed=3)
    x = torch.rand(2, 3, 18, 14, dtype=torch.float64)
    with torch.inference_mode():
        out = WinogradConv2d.from_conv(conv, tile=4, output_relu=True)(x.float())
    assert max_relative_error(out, F.relu(reference(x))) <= TOLERANCE[4]


def random_batch_norm(channels: int, seed: int) -> nn.BatchNorm2d:
    norm = nn.BatchNorm2d(channels).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        norm.running_mean.normal_(0, 1, generator=generator)
        norm.running_var.uniform_(0.2, 3, generator=generator)
        norm.weight.uniform_(0.5, 1.5, generator=generator)
        norm.bias.normal_(0, 0.5, generator=generator)
    return norm


@pytest.mark.parametrize("bias, kernel", [(True, 3), (False, 7)])
def test_fold_batch_norm_equals_conv_then_norm(bias, kernel):
    torch.manual_seed(4)
    conv = nn.Conv2d(3, 5, kernel, padding=kernel // 2, bias=bias)
    norm = random_batch_norm(5, seed=5)
    x = torch.rand(2, 3, 9, 9)
    folded = fold_batch_norm(conv, norm)
    assert folded.bias is not None and not folded.weight.requires_grad
    with torch.no_grad():
        torch.testing.assert_close(folded(x), norm(conv(x)), rtol=1e-5, atol=1e-5)
        scale, shift = batch_norm_affine(norm)  # (C,) float64: y = x * scale + shift
        y = torch.rand(2, 5, 4, 4)
        torch.testing.assert_close((y * scale.view(-1, 1, 1) + shift.view(-1, 1, 1)).float(),
                                   norm(y), rtol=1e-5, atol=1e-6)


def test_fold_refuses_batch_statistics():
    with pytest.raises(ValueError, match="norm: a BatchNorm without running statistics"):
        fold_batch_norm(nn.Conv2d(2, 2, 3), nn.BatchNorm2d(2, track_running_stats=False))


def test_eligibility():
    assert is_winograd_eligible(nn.Conv2d(2, 3, 3, padding=1))
    for conv in (nn.Conv2d(2, 3, 3), nn.Conv2d(2, 3, 3, padding=1, stride=2),
                 nn.Conv2d(2, 4, 3, padding=1, groups=2), nn.Conv2d(2, 3, 7, padding=3),
                 nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect")):
        assert not is_winograd_eligible(conv)


@pytest.mark.parametrize("relu, grad", list(itertools.product([False, True], [False, True])))
def test_packed_conv_equals_conv2d(relu, grad):
    torch.manual_seed(6)
    conv = nn.Conv2d(6, 5, 3, padding=1, stride=2)
    x = torch.rand(2, 6, 9, 8).contiguous(memory_format=torch.channels_last)
    packed = PackedConv2d.from_conv(conv, relu=relu)
    with torch.set_grad_enabled(grad):  # with gradients on, the fallback (plain F.conv2d) runs
        out, expected = packed(x), conv(x)
    torch.testing.assert_close(out, F.relu(expected) if relu else expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size", [(8, 6), (7, 8)])  # odd: the direct fallback
def test_phase_conv_equals_conv2d(size):
    torch.manual_seed(7)
    conv = nn.Conv2d(6, 3, 7, padding=3)
    assert PhaseConv2d.eligible(conv)
    assert not PhaseConv2d.eligible(nn.Conv2d(6, 5, 7, padding=3))  # too many channels
    assert not PhaseConv2d.eligible(nn.Conv2d(6, 3, 7))  # not 'same'
    x = torch.rand(2, 6, *size).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        torch.testing.assert_close(PhaseConv2d(conv)(x), conv(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("relu", [False, True])
def test_upsample_conv_equals_upsample_then_conv(relu):
    torch.manual_seed(8)
    conv = nn.Conv2d(5, 4, 3, padding=1)
    x = torch.randn(2, 5, 3, 4)
    expected = conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
    with torch.inference_mode():
        out = UpsampleConv2d(conv, relu=relu)(x)
    assert out.shape == (2, 4, 6, 8) and out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, F.relu(expected) if relu else expected, rtol=1e-5, atol=1e-5)
