"""Winograd convolution F(m x m, 3 x 3) for fp32 inference, and BatchNorm folding.

A 3x3, stride-1, padding-1 convolution computes every m x m tile of the output from an
(m + 2) x (m + 2) tile of the input. Winograd's minimal filtering algorithm does that with
(m + 2)^2 products per input/output channel pair instead of 9 m^2:

    Y = A^T [ (G g G^T) * (B^T d B) ] A       (per tile; * is elementwise, summed over channels)

with g the 3x3 kernel, d the input tile and the matrices of the Cook-Toom construction below. The
kernel transform G g G^T is done once (in float64, then rounded to float32); per call the input tiles
are transformed (one batched matrix product), the channel sums become one grouped 1x1 convolution
(one channel product per transformed point: oneDNN's GEMM, faster on CPUs than torch.matmul's BLAS)
and the output tiles are transformed back (another matrix product). F(2x2) does 16/36 of the
multiplications of a direct convolution, F(4x4) 36/144 = 1/4; the price is rounding error that grows
with the tile: about 1e-6 (F(2x2)) and 1e-5 (F(4x4)) of the output's magnitude in float32.

Layout: everything runs channels-last, (B, H, W, C) in memory, so that channels are the contiguous
dimension of every matrix product.
"""

from __future__ import annotations

import math
from fractions import Fraction

import torch
from torch import Tensor, nn

from reenact.engine.onednn import PackedConv2d
from reenact.models.skip_init import random_init_skipped

# The interpolation points of F(m x m, 3 x 3) (plus the point at infinity): small integers keep the
# input transform's coefficients small, which keeps the float32 rounding error small.
TILE_POINTS: dict[int, tuple[Fraction, ...]] = {
    2: tuple(map(Fraction, (0, 1, -1))),
    4: tuple(map(Fraction, (0, 1, -1, 2, -2))),
}
TILES = tuple(TILE_POINTS)
KERNEL = 3
# Tiles per matrix-product chunk: 256 tiles of 256 channels keep the transformed tiles (~9 MB) and
# products in the caches; whole batches at once were ~2x slower per tile on a 2-core CPU.
TILES_PER_CHUNK = 256

# Nearest 2x upsampling followed by a 3x3 convolution is a 3x3 convolution of the small image per
# output parity: row (column) parity p of the upsampled image sees the small image's rows i-1, i, i+1
# through these 3x3 maps of the kernel's rows (columns) (parity 0: taps 1 and 2 land on row i).
UPSAMPLE_TAPS = ((1, 0, 0), (0, 1, 1), (0, 0, 0)), ((0, 0, 0), (1, 1, 0), (0, 0, 1))


def _invert(matrix: list[list[Fraction]]) -> list[list[Fraction]]:
    """Exact inverse of a square matrix of Fractions (Gauss-Jordan)."""
    size = len(matrix)
    rows = [row[:] + [Fraction(int(i == j)) for j in range(size)] for i, row in enumerate(matrix)]
    for col in range(size):
        pivot = next(i for i in range(col, size) if rows[i][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        rows[col] = [value / rows[col][col] for value in rows[col]]
        for i in range(size):
            if i != col and rows[i][col] != 0:
                factor = rows[i][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[col], strict=True)]
    return [row[size:] for row in rows]


def winograd_matrices(tile: int) -> tuple[Tensor, Tensor, Tensor]:
    """A^T (m, n), G (n, 3) and B^T (n, n) of F(m x m, 3 x 3) in float64, n = m + 2.

    Cook-Toom: a 1-D correlation of n inputs with 3 taps is the transpose of a polynomial product,
    computed by evaluating at the n - 1 points of TILE_POINTS and at infinity, multiplying and
    interpolating. A^T evaluates the output polynomial, G the kernel, B^T is the transposed
    interpolation (inverse Vandermonde); each row of B^T is scaled to small integers and the same row
    of G divided by that factor, which leaves the product unchanged.
    """
    if tile not in TILE_POINTS:
        raise ValueError(f"tile: expected one of {', '.join(map(str, TILES))}, got {tile!r}")
    points, size = TILE_POINTS[tile], tile + KERNEL - 1

    def unit(index: int, length: int) -> list[Fraction]:  # the point at infinity: highest power
        return [Fraction(int(k == index)) for k in range(length)]

    vandermonde = [[p**k for k in range(size)] for p in points] + [unit(size - 1, size)]
    inverse = _invert(vandermonde)
    b_t = [[inverse[i][j] for i in range(size)] for j in range(size)]
    g = [[p**k for k in range(KERNEL)] for p in points] + [unit(KERNEL - 1, KERNEL)]
    a_t = [[p**i for p in points] + [Fraction(int(i == tile - 1))] for i in range(tile)]
    for j, row in enumerate(b_t):
        denominator = math.lcm(*(value.denominator for value in row))
        factor = Fraction(denominator, math.gcd(*(int(value * denominator) for value in row)))
        b_t[j] = [value * factor for value in row]
        g[j] = [value / factor for value in g[j]]

    def tensor(rows: list[list[Fraction]]) -> Tensor:
        return torch.tensor([[float(v) for v in row] for row in rows], dtype=torch.float64)

    return tensor(a_t), tensor(g), tensor(b_t)


def upsampled_kernel(weight: Tensor) -> Tensor:
    """(K, C, 3, 3) kernel applied after nearest 2x upsampling -> (4K, C, 3, 3) on the small image.

    Output channel (2 py + px) K + k is output channel k at row parity py and column parity px.
    """
    taps = torch.tensor(UPSAMPLE_TAPS, dtype=weight.dtype, device=weight.device)  # (2, 3, 3)
    expanded = torch.einsum("pab,qcd,kibd->pqkiac", taps, taps, weight)  # (2, 2, K, C, 3, 3)
    return expanded.reshape(4 * weight.shape[0], *weight.shape[1:])


def is_winograd_eligible(conv: nn.Conv2d) -> bool:
    """A 3x3, stride-1, padding-1 (zeros), ungrouped, undilated convolution."""
    return (isinstance(conv, nn.Conv2d) and conv.kernel_size == (KERNEL, KERNEL)
            and conv.stride == (1, 1) and conv.padding == (1, 1) and conv.dilation == (1, 1)
            and conv.groups == 1 and conv.padding_mode == "zeros")


def batch_norm_affine(norm: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """Eval-mode BatchNorm as y = x * scale + shift: (C,) scale and shift in float64."""
    if norm.running_mean is None or norm.running_var is None:
        raise ValueError("norm: a BatchNorm without running statistics normalizes by the batch's "
                         "statistics even in eval mode and cannot be folded")
    scale = 1 / torch.sqrt(norm.running_var.double() + norm.eps)
    if norm.weight is not None:
        scale = scale * norm.weight.double()
    shift = -norm.running_mean.double() * scale
    if norm.bias is not None:
        shift = shift + norm.bias.double()
    return scale, shift


def fold_batch_norm(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> nn.Conv2d:
    """A new convolution equal to eval-mode norm(conv(x)) up to float rounding (computed in float64)."""
    scale, shift = batch_norm_affine(norm)
    with random_init_skipped():  # both tensors are written below (~0.17 s on vox-256)
        folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                           stride=conv.stride, padding=conv.padding, dilation=conv.dilation,
                           groups=conv.groups, bias=True, padding_mode=conv.padding_mode,
                           device=conv.weight.device, dtype=conv.weight.dtype)
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(shift)
    with torch.no_grad():
        folded.weight.copy_(conv.weight.double() * scale.view(-1, 1, 1, 1))
        folded.bias.copy_(bias * scale + shift)
    return folded.requires_grad_(False)


def zero_bordered(like: Tensor, rows: int, cols: int, channels: int, height: int,
                  width: int) -> tuple[Tensor, Tensor]:
    """A (rows, cols, channels) buffer with a zero border and its (height, width, channels) interior.

    The interior starts at (1, 1) and is left for the caller to write; rows >= height + 2 and
    cols >= width + 2 (the extra rows and columns are zero too).
    """
    padded = like.new_empty(rows, cols, channels)
    padded[0].zero_()
    padded[height + 1:].zero_()
    padded[1:height + 1, 0].zero_()
    padded[1:height + 1, width + 1:].zero_()
    return padded, padded[1:height + 1, 1:width + 1]


class WinogradConv2d(nn.Module):
    """A 3x3, stride-1, padding-1 convolution by Winograd F(tile x tile, 3 x 3), float32, inference.

    With `upsample`, the input is first upsampled 2x (nearest), folded into the kernel: the products
    run at the small image's resolution. Optional fusions, in the order they apply:
    input_scale / input_shift ((C,) each): an affine map of the input (an eval-mode BatchNorm);
    input_relu: ReLU of the (mapped) input; output_relu: ReLU of the output; `forward(x, residual)`
    adds a (B, K, H', W') residual to the output.

    x: (B, C, H, W) float32, any memory format. Returns (B, K, H, W) (upsample: (B, K, 2H, 2W)),
    channels-last.
    """

    def __init__(self, weight: Tensor, bias: Tensor | None, *, tile: int = 4, upsample: bool = False,
                 input_scale: Tensor | None = None, input_shift: Tensor | None = None,
                 input_relu: bool = False, output_relu: bool = False) -> None:
        super().__init__()
        if weight.dim() != 4 or weight.shape[2:] != (KERNEL, KERNEL):
            raise ValueError(f"weight: expected (K, C, 3, 3), got {tuple(weight.shape)}")
        if (input_scale is None) != (input_shift is None):
            raise ValueError("input_scale and input_shift: give both or neither")
        a_t, g, b_t = winograd_matrices(tile)
        points = tile + KERNEL - 1
        self.tile, self.upsample = tile, upsample
        self.input_relu, self.output_relu = input_relu, output_relu
        self.in_channels, self.out_channels = weight.shape[1], weight.shape[0]
        kernel = weight.detach().double()
        bias = (bias.detach().double() if bias is not None
                else torch.zeros(self.out_channels, dtype=torch.float64, device=weight.device))
        if upsample:
            kernel, bias = upsampled_kernel(kernel), bias.repeat(4)
        g = g.to(kernel.device)
        # (n*n*K', C, 1, 1): the transformed kernel of each point, as a grouped 1x1 convolution
        transformed = torch.einsum("ik,ockl,jl->ijoc", g, kernel, g).reshape(-1, self.in_channels, 1, 1)
        # The bias enters in the transformed domain at the point (1, 1): A^T's column of the point 1
        # is all ones (1^i), so the output transform adds it to every output pixel.
        one = TILE_POINTS[tile].index(1)
        winograd_bias = torch.zeros(points, points, kernel.shape[0], dtype=torch.float64,
                                    device=kernel.device)
        winograd_bias[one, one] = bias
        self.products = PackedConv2d(transformed.float(), winograd_bias.reshape(-1).float(),
                                     groups=points * points)
        self.input_transform: Tensor
        self.output_transform: Tensor
        self.register_buffer("input_transform", torch.kron(b_t, b_t).float().to(kernel.device))
        self.register_buffer("output_transform", torch.kron(a_t, a_t).float().to(kernel.device))
        self.input_scale: Tensor | None
        self.input_shift: Tensor | None
        self.register_buffer("input_scale", None if input_scale is None else input_scale.float())
        self.register_buffer("input_shift", None if input_shift is None else input_shift.float())

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, *, tile: int = 4, upsample: bool = False,
                  **fusions: object) -> WinogradConv2d:
        """The same convolution as `conv` (which must pass `is_winograd_eligible`)."""
        if not is_winograd_eligible(conv):
            raise ValueError(f"conv: expected a 3x3, stride-1, padding-1 ungrouped convolution, "
                             f"got {conv}")
        return cls(conv.weight, conv.bias, tile=tile, upsample=upsample, **fusions)  # type: ignore[arg-type]

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, tile={self.tile}, upsample={self.upsample},"
                f" input_affine={self.input_scale is not None}, input_relu={self.input_relu}, "
                f"output_relu={self.output_relu}")

    def padded_input(self, image: Tensor, rows: int, cols: int) -> Tensor:
        """(1, C, H, W) -> (rows, cols, C): the pre-activated image with a zero border.

        One pass writes the interior (the pre-activation fused into it); only the border is zeroed.
        """
        padded, inner = zero_bordered(image, rows, cols, *image.shape[1:])
        pixels = image[0].permute(1, 2, 0)  # (H, W, C)
        scale, shift = self.input_scale, self.input_shift
        if scale is not None and shift is not None:
            torch.addcmul(shift, pixels, scale, out=inner)
            if self.input_relu:
                inner.relu_()
        elif self.input_relu:
            torch.clamp_min(pixels, 0, out=inner)
        else:
            inner.copy_(pixels)
        return padded

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """(rows, cols) of the padded input: whole tiles plus the kernel's border."""
        m = self.tile
        return -(-height // m) * m + KERNEL - 1, -(-width // m) * m + KERNEL - 1

    def forward(self, x: Tensor, residual: Tensor | None = None) -> Tensor:
        batch, channels, height, width = x.shape
        if channels != self.in_channels:
            raise ValueError(f"x: expected {self.in_channels} channels, got {tuple(x.shape)}")
        scale = 2 if self.upsample else 1
        rows, cols = self.padded_size(height, width)
        out = x.new_empty(batch, (rows - KERNEL + 1) * scale, (cols - KERNEL + 1) * scale,
                          self.out_channels)
        exact_fit = out.shape[1:3] == (height * scale, width * scale)
        # the residual is added while writing unless the last tiles overhang the image
        pixels = None if residual is None or not exact_fit else self._pixels(residual)
        relu_now = self.output_relu and residual is None  # ReLU commutes with the crop
        for image in range(batch):  # one image at a time: its buffers are reused, not paged in
            padded = self.padded_input(x[image:image + 1], rows, cols)
            self.convolve_padded(padded, out[image], None if pixels is None else pixels[image],
                                 relu=relu_now)
        result = out.permute(0, 3, 1, 2)  # (B, K, H', W'), channels-last
        if not exact_fit:
            result = result[:, :, :height * scale, :width * scale].contiguous(
                memory_format=torch.channels_last)
            if residual is not None:
                result = result + residual
        if residual is not None and self.output_relu:
            result = result.relu_()
        return result

    def convolve_padded(self, padded: Tensor, target: Tensor, residual: Tensor | None, *,
                        relu: bool) -> None:
        """One padded (rows, cols, C) image -> target (H', W', K) pixels (a view, written in place).

        H' x W' is the whole tiles' size (2x with upsample); `residual` (H', W', K) is added, or ReLU
        applied, while writing. Chunks of tile rows keep each chunk's working set in the caches.
        """
        m, scale = self.tile, 2 if self.upsample else 1
        tiles_y, tiles_x = (padded.shape[0] - KERNEL + 1) // m, (padded.shape[1] - KERNEL + 1) // m
        rows_per_chunk = max(1, TILES_PER_CHUNK // tiles_x)
        for row in range(0, tiles_y, rows_per_chunk):
            rows = slice(row, min(row + rows_per_chunk, tiles_y))
            band = slice(rows.start * m * scale, rows.stop * m * scale)
            self._write(self._output_tiles(padded, rows, tiles_x), target[band],
                        None if residual is None else residual[band], relu)

    def _output_tiles(self, padded: Tensor, rows: slice, tiles_x: int) -> Tensor:
        """Tile rows `rows` of one padded (H + 2, W + 2, C) image -> (tiles, m*m, K') output tiles."""
        m, points, channels = self.tile, self.tile + KERNEL - 1, self.in_channels
        count = (rows.stop - rows.start) * tiles_x
        window = padded[rows.start * m:rows.stop * m + KERNEL - 1]
        s_row, s_col, _ = window.stride()
        # overlapping input tiles, gathered: (tiles, n*n, C)
        tiles = window.as_strided((rows.stop - rows.start, tiles_x, points, points, channels),
                                  (m * s_row, m * s_col, s_row, s_col, 1))
        tiles = tiles.reshape(count, points * points, channels)
        transformed = torch.matmul(self.input_transform, tiles)  # (tiles, n*n, C)
        # one channel product per point: a grouped 1x1 convolution of a (1, n*n*C, tiles, 1) image
        products = self.products(transformed.view(1, count, 1, points * points * channels)
                                 .permute(0, 3, 1, 2))
        products = products.permute(0, 2, 3, 1).reshape(count, points * points, -1)
        return torch.matmul(self.output_transform, products)  # (tiles, m*m, K')

    def _write(self, output_tiles: Tensor, target: Tensor, residual: Tensor | None,
               relu: bool) -> None:
        """(tiles, m*m, K') -> target (rows, cols, K) pixels, adding `residual` or applying ReLU."""
        m, k = self.tile, self.out_channels
        scale = 2 if self.upsample else 1
        tiles_y, tiles_x = target.shape[0] // (m * scale), target.shape[1] // (m * scale)
        # output tiles (ty, tx, u, v, [py, px,] K) -> pixels (ty, u, [py,] tx, v, [px,] K)
        tiled = output_tiles.view(tiles_y, tiles_x, m, m, scale, scale, k)
        tiled = tiled.permute(0, 2, 4, 1, 3, 5, 6)
        target = target.view(tiles_y, m, scale, tiles_x, m, scale, k)
        if residual is not None:
            torch.add(tiled, residual.view(target.shape), out=target)
        elif relu:
            torch.clamp_min(tiled, 0, out=target)
        else:
            target.copy_(tiled)

    @staticmethod
    def _pixels(image: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, H, W, C) contiguous (a view when already channels-last)."""
        return image.permute(0, 2, 3, 1).contiguous()
