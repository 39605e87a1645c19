"""Fewer FLOPs, same outputs: a copy of a motion model rewritten for fp32 CPU inference.

`fast_conv_model(model)` deep-copies the model (the caller's is never changed) and rewrites its
convolution blocks; the result equals the original up to float rounding:

  - eval-mode BatchNorm folded into the convolution before it (conv -> BN in every up/down block;
    conv1 -> norm2 inside each residual block);
  - 3x3 convolutions by Winograd F(4x4, 3x3) in the generator (1/4 of the multiplications) and
    F(2x2, 3x3) in the hourglasses' wide layers (4/9), where `choose_tile` says it pays; the
    residual block's BatchNorm + ReLU, its inner ReLU and the residual sum fused into the tiling;
  - nearest 2x upsampling folded into the convolution after it: inside the Winograd kernel, or as
    four 2x2 convolutions of the small image, one per output phase (`UpsampleConv2d`, 16 instead of
    36 multiplications per small pixel);
  - convolutions with at most 4 output channels (the generator's final 7x7 layer) computed as their
    four output phases at stride 2 (`PhaseConv2d`);
  - every other convolution through oneDNN with its weight reordered once (torch reorders it on
    every call) and the block's ReLU as a fused post-op;
  - the generator's decode run image by image (`ImageByImageGenerator`).

`choose_tile` decides from the convolution's channels and the size of its input, found by one dry
run of the model at its image size.
"""
from __future__ import annotations

import copy
import dataclasses
import logging

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reenact.containers import DenseMotion, Rendered, SourceEncoding
from reenact.engine.onednn import PackedConv2d, PhaseConv2d, UpsampleConv2d
from reenact.engine.winograd import (
    WinogradConv2d,
    batch_norm_affine,
    fold_batch_norm,
    is_winograd_eligible,
    zero_bordered,
)
from reenact.models import MotionModel, OcclusionAwareGenerator
from reenact.models.blocks import ConvNormReLU, DownBlock, ResBlock, UpBlock

logger = logging.getLogger(__name__)

NETWORKS = ("keypoint_detector", "dense_motion", "generator")


def choose_tile(network: str, in_channels: int, out_channels: int, height: int, width: int, *,
                upsample: bool = False) -> int | None:
    """The Winograd tile for a 3x3 convolution (None: direct), measured on a 2-core AVX-512 CPU.

    height, width: the convolution's input size (after the upsampling of an up block).
    Generator (64-256 channels, 64x64 to 256x256): F(4x4) is 1.7-2.3x faster than oneDNN's direct
    convolution; an up block with fewer than 256 input channels is faster by output phase
    (`UpsampleConv2d`: 14 vs 16 ms for vox-256's 128 -> 64 at 256x256), its four output transforms
    being as dear as the products. Hourglasses: F(2x2) is up to 1.3x faster from 16x16 up with >= 128
    input channels, slower on smaller images or thin layers (its tile transforms cost more than they
    save); their up blocks are faster by output phase. F(4x4) would be faster in the hourglasses too,
    but the keypoints' softmax and the motion masks amplify its larger rounding error (3x that of a
    direct convolution in the render, with weights that keep activations at unit scale).
    """
    if network == "generator":
        wide = min(in_channels, out_channels) >= 64 and (in_channels >= 256 or not upsample)
        return 4 if wide and height * width >= 64 * 64 else None
    wide = in_channels >= 128 and out_channels >= 64
    return 2 if wide and not upsample and height * width >= 16 * 16 else None


# Upsampling blocks by output phase from this small-image side up (below it the four 2x2 kernels,
# 16/9 of the weights, cost more to read than the multiplications they save)
MIN_PHASE_SIDE = 4


class ConvBlock(nn.Module):
    """[2x nearest upsampling ->] conv with ReLU [-> 2x2 average pooling]: the up and down blocks.

    `conv` is a PackedConv2d or WinogradConv2d with the ReLU fused; a WinogradConv2d built with
    upsample=True folds the upsampling itself.
    """

    def __init__(self, conv: nn.Module, *, upsample: bool = False, pool: bool = False) -> None:
        super().__init__()
        self.conv, self.upsample, self.pool = conv, upsample, pool

    def forward(self, x: Tensor) -> Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        out = self.conv(x)
        return F.avg_pool2d(out, kernel_size=2) if self.pool else out


class WinogradResBlock(nn.Module):
    """ResBlock x + conv2(relu(bn2(conv1(relu(bn1(x)))))) as two fused Winograd convolutions.

    bn1 + ReLU are applied while conv1 pads its input, bn2 is folded into conv1, conv1 writes the
    ReLU of its output straight into conv2's padded input, and conv2 adds the residual while writing
    its output; one image at a time, so that the intermediate buffers stay small and are reused.
    """

    def __init__(self, block: ResBlock, tile: int) -> None:
        super().__init__()
        scale, shift = batch_norm_affine(block.norm1)
        self.conv1 = WinogradConv2d.from_conv(fold_batch_norm(block.conv1, block.norm2), tile=tile,
                                              input_scale=scale, input_shift=shift,
                                              input_relu=True)
        self.conv2 = WinogradConv2d.from_conv(block.conv2, tile=tile, input_relu=True)

    def forward(self, x: Tensor) -> Tensor:
        batch, _, height, width = x.shape
        if height % self.conv1.tile or width % self.conv1.tile:  # tiles overhang: unfused
            return self.conv2(self.conv1(x), residual=x)
        # image by image, conv1 writes relu(its output) straight into conv2's padded input
        residual = x.permute(0, 2, 3, 1).contiguous()  # (B, H, W, C), a view when channels-last
        out = x.new_empty(batch, height, width, self.conv2.out_channels)
        for image in range(batch):
            padded = self.conv1.padded_input(x[image:image + 1], height + 2, width + 2)
            between, inner = zero_bordered(x, height + 2, width + 2, self.conv1.out_channels,
                                           height, width)
            self.conv1.convolve_padded(padded, inner, None, relu=True)
            self.conv2.convolve_padded(between, out[image], residual[image], relu=False)
        return out.permute(0, 3, 1, 2)  # (B, C, H, W), channels-last


class ImageByImageGenerator(nn.Module):
    """The generator with `decode` run one image at a time (`encode` unchanged).

    Its Winograd layers work image by image anyway; a batch-wide decode only adds batch-sized
    activations (32-128 MB at batch 8 on vox-256), which the C allocator hands back to the system and
    pages in again on every call: ~1.1x slower per frame at batch 8 on a 2-core CPU.
    """

    def __init__(self, generator: OcclusionAwareGenerator) -> None:
        super().__init__()
        self.generator = generator
        self.config = generator.config

    def encode(self, source_image: Tensor) -> Tensor:
        return self.generator.encode(source_image)

    def decode(self, source: SourceEncoding, motion: DenseMotion,
               return_deformed: bool = False) -> Rendered:
        batch = motion.deformation.shape[0]
        if batch == 1:
            return self.generator.decode(source, motion, return_deformed)
        images = [self.generator.decode(_image(source, index), _image(motion, index),
                                        return_deformed) for index in range(batch)]
        deformed = [image.deformed for image in images]
        keep = [image.skip_weight for image in images]
        return Rendered(prediction=torch.cat([image.prediction for image in images]),
                        motion=motion,
                        deformed=torch.cat(deformed) if return_deformed else None,  # type: ignore[arg-type]
                        skip_weight=(torch.cat(keep)  # type: ignore[arg-type]
                                     if keep[0] is not None else None))


def _image(value: SourceEncoding | DenseMotion, index: int):  # type: ignore[no-untyped-def]
    """Image `index` of a batched container (a source of batch 1 serves every image)."""
    fields = {}
    for field in dataclasses.fields(value):
        tensor = getattr(value, field.name)
        keep = tensor is None or tensor.shape[0] == 1
        fields[field.name] = tensor if keep else tensor[index:index + 1]
    return type(value)(**fields)


def _shape_only(conv: nn.Conv2d):
    """A forward for `conv` that returns zeros of its output's shape without computing it."""
    (kernel_h, kernel_w), (stride_h, stride_w) = conv.kernel_size, conv.stride
    (dilation_h, dilation_w), (pad_h, pad_w) = conv.dilation, conv.padding

    def forward(x: Tensor) -> Tensor:
        height, width = x.shape[2:]
        return x.new_zeros(x.shape[0], conv.out_channels,
                           (height + 2 * pad_h - dilation_h * (kernel_h - 1) - 1) // stride_h + 1,
                           (width + 2 * pad_w - dilation_w * (kernel_w - 1) - 1) // stride_w + 1)
    return forward


def conv_input_sizes(model: MotionModel) -> dict[nn.Conv2d, tuple[int, int]]:
    """The (height, width) of each convolution's input in detect + encode + render.

    A dry run with forward pre-hooks on one zero image at the model's image size, in which the
    convolutions return zeros of their output's shape instead of computing it (sizes do not
    depend on values; 0.09 s instead of 0.47 s on vox-256).
    """
    sizes: dict[nn.Conv2d, tuple[int, int]] = {}

    def record(module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
        sizes.setdefault(module, tuple(inputs[0].shape[2:]))  # type: ignore[arg-type]

    convs = [conv for conv in model.modules() if isinstance(conv, nn.Conv2d)]
    hooks = [conv.register_forward_pre_hook(record) for conv in convs]
    stubbed = [conv for conv in convs if not isinstance(conv.padding, str)]  # "same": computed
    for conv in stubbed:
        conv.forward = _shape_only(conv)  # an instance attribute, deleted below
    size = model.config.image_size
    parameter = next(model.parameters())
    image = torch.zeros(1, model.config.num_channels, size, size, dtype=parameter.dtype,
                        device=parameter.device)
    try:
        with torch.inference_mode():
            keypoints = model.detect(image)
            model.render(model.encode_source(image), keypoints, keypoints)
    finally:
        for hook in hooks:
            hook.remove()
        for conv in stubbed:
            del conv.forward
    return sizes


def _tile_for(network: str, conv: nn.Conv2d, sizes: dict[nn.Conv2d, tuple[int, int]], *,
              upsample: bool = False) -> int | None:
    if not is_winograd_eligible(conv) or conv not in sizes:  # unused in inference: leave it be
        return None
    return choose_tile(network, conv.in_channels, conv.out_channels, *sizes[conv],
                       upsample=upsample)


def _conv_block(block: ConvNormReLU, network: str,
                sizes: dict[nn.Conv2d, tuple[int, int]]) -> ConvBlock:
    upsample, pool = isinstance(block, UpBlock), isinstance(block, DownBlock)
    tile = _tile_for(network, block.conv, sizes, upsample=upsample)
    folded = fold_batch_norm(block.conv, block.norm)
    if tile is not None:
        conv = WinogradConv2d.from_conv(folded, tile=tile, upsample=upsample, output_relu=True)
        return ConvBlock(conv, pool=pool)
    height, width = sizes.get(block.conv, (0, 0))  # the upsampled size
    if upsample and is_winograd_eligible(folded) and min(height, width) >= 2 * MIN_PHASE_SIDE:
        return ConvBlock(UpsampleConv2d(folded, relu=True), pool=pool)
    return ConvBlock(PackedConv2d.from_conv(folded, relu=True), upsample=upsample, pool=pool)


def _rewrite(parent: nn.Module, network: str, sizes: dict[nn.Conv2d, tuple[int, int]],
             counts: dict[str, int]) -> None:
    """Replace the convolution blocks under `parent`, recursively, in place."""
    for name, child in parent.named_children():
        replacement: nn.Module | None = None
        if isinstance(child, ResBlock):
            tile = _tile_for(network, child.conv1, sizes)
            if tile is not None and _tile_for(network, child.conv2, sizes) == tile:
                replacement = WinogradResBlock(child, tile)
            else:  # conv1 -> norm2 still folds; the block's own forward runs on
                child.conv1 = PackedConv2d.from_conv(fold_batch_norm(child.conv1, child.norm2))
                child.conv2, child.norm2 = PackedConv2d.from_conv(child.conv2), nn.Identity()
        elif isinstance(child, ConvNormReLU):
            replacement = _conv_block(child, network, sizes)
        elif type(child) is nn.Conv2d:  # heads, the generator's first and final layers
            replacement = (PhaseConv2d(child) if PhaseConv2d.eligible(child)
                           else PackedConv2d.from_conv(child))
        else:
            _rewrite(child, network, sizes, counts)
        if replacement is not None:
            setattr(parent, name, replacement)
            kind = type(replacement).__name__
            counts[kind] = counts.get(kind, 0) + 1


def fast_conv_model(model: MotionModel, *, in_place: bool = False) -> MotionModel:
    """A rewritten deep copy of `model` for fp32 inference (eval mode, no gradients).

    Same outputs as `model` up to float rounding; see the module docstring for what changes.
    in_place: rewrite `model` itself instead of a copy (for a caller that does not use it again:
    the copy costs ~0.25 s on the default checkpoint and the model's size in memory).
    """
    model = (model if in_place else copy.deepcopy(model)).eval().requires_grad_(False)
    sizes = conv_input_sizes(model)
    counts: dict[str, int] = {}
    for network in NETWORKS:
        _rewrite(getattr(model, network), network, sizes, counts)
    model.generator = ImageByImageGenerator(model.generator)  # type: ignore[assignment]
    logger.debug("fast convolutions: %s", ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return model
