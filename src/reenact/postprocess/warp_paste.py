"""Paste a rendered region into a frame at the frame's own resolution (dub's mouth).

The model renders a crop of S pixels (128 for the default model) from a source crop; pasted back
upscaled over a face box several times larger, its mouth is soft next to the untouched video. Here
every frame pixel under the paste mask is rendered the way the model renders its own pixels, only
at the frame's resolution:

1. its position in the frame's crop box (box fraction q per axis) reads the model's dense
   deformation there (bilinear, as the model resizes it: `reenact.geometry.resize_grid`), which
   says where in the source crop its content comes from (normalized coordinates under the model's
   `align_corners`);
2. that point of the *source image* (the full-resolution frame the source crop was cut from) is
   sampled bicubically;
3. where the model invents content (its source weight, `reenact.engine.backend.source_weight`, is
   low: an opening mouth's interior, teeth), the generator's frame, upsampled bicubically, is used
   instead (smoothstep between `invented` and `trusted`);
4. the result is blended into the frame through the paste mask (S x S, read at q). Pixels where
   the mask is 0 keep their bytes.

Unlike `reenact.postprocess.full_res` (which warps a photo into its own frame), source and output
are different frames here, each with its own crop box.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from reenact.geometry import smoothstep
from reenact.postprocess.full_res import FullResConfig
from reenact.postprocess.paste import check_paste_inputs
from reenact.preprocess.crop import CropBox


def _check_map(value: object, name: str, size: int, channels: int | None = None) -> None:
    shape = (size, size) if channels is None else (size, size, channels)
    if not isinstance(value, np.ndarray) or value.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got "
                         f"{getattr(value, 'shape', type(value).__name__)}")


def _sample(maps: torch.Tensor, where: torch.Tensor, mode: str) -> torch.Tensor:
    """(C, m, n) maps read at (h, w, 2) normalized points (align_corners=False) -> (C, h, w)."""
    return F.grid_sample(maps[None], where[None], mode=mode, padding_mode="border",
                         align_corners=False)[0]


@torch.no_grad()
def warp_paste(frame: np.ndarray, box: CropBox, mask: np.ndarray, *, source_image: np.ndarray,
               source_box: CropBox, deformation: np.ndarray, generated: np.ndarray,
               source_weight: np.ndarray, align_corners: bool,
               trusted: float = FullResConfig.trusted,
               invented: float = FullResConfig.invented) -> np.ndarray:
    """`frame` (H, W, 3) uint8 with the region under `mask` rendered at full resolution.

    box: `frame`'s crop box (the model's output crop); mask: (S, S) float in [0, 1], the paste
    weight over that crop; source_image: (Hs, Ws, 3) uint8, the image the model's source crop was
    cut from at `source_box`; deformation: (h, w, 2) the model's dense deformation (normalized
    source-crop coordinates, `grid_sample` order); generated: (S, S, 3) uint8 the model's frame;
    source_weight: (S, S) in [0, 1]; align_corners: the model's `grid_sample` convention.
    """
    check_paste_inputs(frame, generated, box, background_name="frame")
    check_paste_inputs(source_image, generated, source_box, background_name="source_image")
    size = generated.shape[0]
    _check_map(mask, "mask", size)
    _check_map(source_weight, "source_weight", size)
    if not isinstance(deformation, np.ndarray) or deformation.ndim != 3 \
            or deformation.shape[2] != 2 or min(deformation.shape[:2]) < 2:
        raise ValueError(f"deformation: expected (h, w, 2) with h, w >= 2, got "
                         f"{getattr(deformation, 'shape', type(deformation).__name__)}")
    if not 0 <= invented < trusted <= 1:
        raise ValueError(f"invented, trusted: expected 0 <= invented < trusted <= 1, got "
                         f"{invented}, {trusted}")
    result = frame.copy()
    rows, cols = np.nonzero(mask > 0)
    if len(rows) == 0:
        return result
    height, width = frame.shape[:2]
    # the frame pixels whose centres fall in the mask's bounding cells
    x0 = max(0, math.floor(box.x0 + cols.min() / size * box.side))
    x1 = min(width, math.ceil(box.x0 + (cols.max() + 1) / size * box.side))
    y0 = max(0, math.floor(box.y0 + rows.min() / size * box.side))
    y1 = min(height, math.ceil(box.y0 + (rows.max() + 1) / size * box.side))
    if x1 <= x0 or y1 <= y0:
        return result
    qx = (torch.arange(x0, x1, dtype=torch.float32) + 0.5 - box.x0) / box.side  # (w',)
    qy = (torch.arange(y0, y1, dtype=torch.float32) + 0.5 - box.y0) / box.side  # (h',)
    where = torch.stack(torch.broadcast_tensors(2 * qx[None, :] - 1, 2 * qy[:, None] - 1),
                        dim=-1)  # (h', w', 2) normalized crop points, align_corners=False

    alpha = _sample(torch.from_numpy(np.ascontiguousarray(mask, np.float32))[None], where,
                    "bilinear")[0].clamp(0, 1)  # (h', w')
    grid = torch.from_numpy(np.ascontiguousarray(deformation, np.float32)).permute(2, 0, 1)
    source = _sample(grid, where, "bilinear")  # (2, h', w') normalized source-crop points
    # -> source crop pixels (pixel j's centre at j + 0.5) -> source image pixels
    crop = ((source + 1) / 2 * (size - 1) + 0.5) if align_corners else (source + 1) / 2 * size
    image_x = source_box.x0 + crop[0] * (source_box.side / size)
    image_y = source_box.y0 + crop[1] * (source_box.side / size)
    source_height, source_width = source_image.shape[:2]
    read = torch.stack([image_x * (2 / source_width) - 1, image_y * (2 / source_height) - 1], dim=-1)
    pixels = torch.from_numpy(np.ascontiguousarray(source_image.transpose(2, 0, 1))).float()
    content = _sample(pixels, read, "bicubic")  # (3, h', w')

    weight = _sample(torch.from_numpy(np.ascontiguousarray(source_weight, np.float32))[None],
                     where, "bilinear")[0]
    mix = 1 - smoothstep((weight - invented) / (trusted - invented))  # (h', w')
    if bool((mix > 0).any()):
        model = torch.from_numpy(np.ascontiguousarray(generated.transpose(2, 0, 1))).float()
        content += mix * (_sample(model, where, "bicubic") - content)

    original = frame[y0:y1, x0:x1]
    before = torch.from_numpy(np.ascontiguousarray(original.transpose(2, 0, 1))).float()
    blended = content.sub_(before).mul_(alpha).add_(before).round_().clamp_(0, 255)
    blended = blended.to(torch.uint8).permute(1, 2, 0).numpy()
    result[y0:y1, x0:x1] = np.where((alpha > 0).numpy()[..., None], blended, original)
    return result
