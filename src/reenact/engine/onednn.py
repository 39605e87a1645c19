"""Convolutions through oneDNN with the weight reordered once, and ReLU as a fused post-op.

torch's eager convolution reorders the weight into oneDNN's blocked layout on every call: for wide
layers on small images (the hourglasses' 1024-channel convolutions at 4x4 and 8x8) that reorder costs
more than the arithmetic. `PackedConv2d` keeps the reordered weight (the same op torch.compile's
freezing pass uses), which gives the same results to float rounding. The ops are private to torch
(`torch.ops.mkldnn`); without them, or off the CPU, it falls back to `F.conv2d`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def packed_convolutions_available() -> bool:
    """Whether this torch has oneDNN and its weight-prepacking convolution ops."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        return all(hasattr(torch.ops.mkldnn, op) for op in
                   ("_reorder_convolution_weight", "_convolution_pointwise"))
    except RuntimeError:  # an op namespace that fails to load
        return False


class PackedConv2d(nn.Module):
    """relu?(conv2d(x, weight, bias, stride, padding, dilation, groups)) with a prepacked weight.

    The weight is reordered for oneDNN on the first float32 CPU call (for that input's shape; other
    shapes stay correct, oneDNN reorders again if it must). x: (B, C, H, W), best channels-last.
    """

    def __init__(self, weight: Tensor, bias: Tensor | None, *, stride: tuple[int, int] = (1, 1),
                 padding: tuple[int, int] = (0, 0), dilation: tuple[int, int] = (1, 1),
                 groups: int = 1, relu: bool = False) -> None:
        super().__init__()
        self.weight: Tensor
        self.register_buffer("weight", weight.detach().contiguous(memory_format=torch.channels_last))
        self.bias: Tensor | None
        self.register_buffer("bias", None if bias is None else bias.detach().clone())
        self.stride, self.padding, self.dilation = list(stride), list(padding), list(dilation)
        self.groups, self.relu = groups, relu
        self.packable = packed_convolutions_available()
        self._packed: Tensor | None = None  # not a buffer: an opaque oneDNN tensor, rebuilt on demand

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, *, relu: bool = False) -> PackedConv2d:
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError(f"conv: expected numeric zero padding, got {conv}")
        return cls(conv.weight, conv.bias, stride=conv.stride, padding=conv.padding,  # type: ignore[arg-type]
                   dilation=conv.dilation, groups=conv.groups, relu=relu)

    def extra_repr(self) -> str:
        out_channels, in_channels, *kernel = self.weight.shape
        return (f"{in_channels * self.groups}, {out_channels}, kernel_size={tuple(kernel)}, "
                f"stride={self.stride}, padding={self.padding}, groups={self.groups}, "
                f"relu={self.relu}")

    def _apply(self, fn, recurse=True):  # type: ignore[no-untyped-def]
        self._packed = None  # moved or cast: pack again from the new weight
        return super()._apply(fn, recurse)

    def forward(self, x: Tensor) -> Tensor:
        if self.packable and x.device.type == "cpu" and x.dtype == torch.float32 \
                and self.weight.dtype == torch.float32 and not torch.is_grad_enabled():
            if self._packed is None:
                self._packed = torch.ops.mkldnn._reorder_convolution_weight(
                    self.weight, self.padding, self.stride, self.dilation, self.groups,
                    list(x.shape))
            return torch.ops.mkldnn._convolution_pointwise(
                x, self._packed, self.bias, self.padding, self.stride, self.dilation, self.groups,
                "relu" if self.relu else "none", [], "")
        out = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                       self.groups)
        return F.relu(out) if self.relu else out


def phase_kernel(weight: Tensor) -> Tensor:
    """(K, C, k, k) kernel -> (4K, C, k + 1, k + 1): its four output phases for a stride-2 convolution.

    Output channel 4k + 2 py + px computes output pixel (2i + py, 2j + px) of channel k at position
    (i, j): the kernel shifted by (py, px) inside a one-larger window.
    """
    out_channels, in_channels, height, width = weight.shape
    phases = weight.new_zeros(out_channels, 2, 2, in_channels, height + 1, width + 1)
    for py in range(2):
        for px in range(2):
            phases[:, py, px, :, py:py + height, px:px + width] = weight
    return phases.reshape(4 * out_channels, in_channels, height + 1, width + 1)


class PhaseConv2d(nn.Module):
    """A stride-1 'same' convolution with few output channels, computed as 4x the channels at stride 2.

    oneDNN vectorizes over output channels in blocks of 16: a 64 -> 3 convolution (the generator's
    final 7x7 layer) leaves 13 of 16 lanes idle. The four output phases as channels (12 of 16 lanes)
    at a quarter of the positions, then a pixel shuffle, cost 2.4x less time for 1.3x the FLOPs (the
    phases' zero taps). Inputs with an odd side fall back to the direct convolution.
    """

    MAX_OUT_CHANNELS = 4  # 4 phases x 4 channels fill one 16-lane block

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        if not self.eligible(conv):
            raise ValueError(f"conv: expected a stride-1 'same' convolution with at most "
                             f"{self.MAX_OUT_CHANNELS} output channels, got {conv}")
        padding = tuple(conv.padding)  # type: ignore[arg-type]
        self.direct = PackedConv2d.from_conv(conv)
        bias = None if conv.bias is None else conv.bias.detach().repeat_interleave(4)
        self.phases = PackedConv2d(phase_kernel(conv.weight.detach()), bias, stride=(2, 2),
                                   padding=padding)

    @classmethod
    def eligible(cls, conv: nn.Conv2d) -> bool:
        kernel, padding = conv.kernel_size, conv.padding
        return (isinstance(conv, nn.Conv2d) and conv.out_channels <= cls.MAX_OUT_CHANNELS
                and conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.groups == 1
                and conv.padding_mode == "zeros" and not isinstance(padding, str)
                and all(k % 2 == 1 and 2 * p == k - 1 for k, p in zip(kernel, padding, strict=True)))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[2] % 2 or x.shape[3] % 2:
            return self.direct(x)
        return F.pixel_shuffle(self.phases(x), 2)  # (B, 4K, H/2, W/2) -> (B, K, H, W)


# After nearest 2x upsampling, output row 2i + p of a 3x3, padding-1 convolution sees small-image rows
# (i - 1, i) for p = 0 and (i, i + 1) for p = 1, through these 2x3 maps of the kernel's three rows
# (parity 0: taps 1 and 2 both land on row i). The same holds for columns.
UPSAMPLE_PHASE_TAPS = ((1, 0, 0), (0, 1, 1)), ((1, 1, 0), (0, 0, 1))


class UpsampleConv2d(nn.Module):
    """relu?(conv3x3(upsample2x_nearest(x))) as four 2x2 convolutions of the small image.

    Each output phase (row parity, column parity) is a 2x2 convolution of x with summed taps:
    16 instead of 36 multiplications per small pixel and channel pair, and no upsampled copy.
    The kernel must be 3x3 with stride 1 and padding 1. x: (B, C, H, W) -> (B, K, 2H, 2W)
    channels-last.
    """

    def __init__(self, conv: nn.Conv2d, *, relu: bool = False) -> None:
        super().__init__()
        if conv.kernel_size != (3, 3) or conv.stride != (1, 1) or conv.padding != (1, 1) \
                or conv.dilation != (1, 1) or conv.groups != 1 or conv.padding_mode != "zeros":
            raise ValueError(f"conv: expected a 3x3, stride-1, padding-1 convolution, got {conv}")
        weight = conv.weight.detach().double()
        taps = torch.tensor(UPSAMPLE_PHASE_TAPS, dtype=torch.float64, device=weight.device)
        self.out_channels = conv.out_channels
        self.phases = nn.ModuleList(
            PackedConv2d(torch.einsum("ab,cd,kibd->kiac", taps[py], taps[px], weight).float(),
                         conv.bias, relu=relu)
            for py in range(2) for px in range(2))

    def forward(self, x: Tensor) -> Tensor:
        batch, _, height, width = x.shape
        padded = F.pad(x, (1, 1, 1, 1)).contiguous(memory_format=torch.channels_last)
        out = x.new_empty(batch, height, 2, width, 2, self.out_channels)
        for index, conv in enumerate(self.phases):
            py, px = divmod(index, 2)
            phase = conv(padded[:, :, py:py + height + 1, px:px + width + 1])  # (B, K, H, W)
            out[:, :, py, :, px].copy_(phase.permute(0, 2, 3, 1))
        # (B, H, 2, W, 2, K) -> (B, K, 2H, 2W), channels-last
        return out.view(batch, 2 * height, 2 * width, self.out_channels).permute(0, 3, 1, 2)
