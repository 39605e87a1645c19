"""Put an animated square crop back into the full source image.

Coordinates follow `reenact.preprocess.crop`: the crop (S, S) covers `CropBox` `box` of the image,
crop pixel centre (c + 0.5, r + 0.5) sitting at image point (x0 + (c + 0.5) side / S, ...), so
`paste_back(image, crop_image(image, box, S), box, ...)` puts every pixel back where it came from.

Only the pixels whose centres lie strictly inside the box can change; every other pixel of the
result is bit-identical to the background. The work (resampling, mask, colour statistics) is done on
the box's pixels only.
"""

from __future__ import annotations

import math

import numpy as np

from reenact.preprocess.crop import CropBox, take_region
from reenact.preprocess.face import check_rgb_image, require_pillow

# Colour matching scales a channel's contrast by at most this factor either way: the animated crop
# legitimately changes contrast (an open mouth, closed eyes), so only gross shifts are corrected.
_MAX_CONTRAST_GAIN = 1.5
# Colour statistics need some mask weight (in pixels) to mean anything.
_MIN_MASK_WEIGHT = 16.0


def feather_window(length: int, start: float, stop: float, feather: float) -> np.ndarray:
    """(length,) float32 blend weights of pixels 0..length-1 for a box edge-to-edge [start, stop).

    Pixel k (centre k + 0.5) weighs smoothstep(distance to the nearer box edge / feather) where
    feather > 0 (pixels), 1 inside and 0 outside the box where feather == 0; 0 whenever its centre is
    not strictly inside the box.
    """
    centers = np.arange(length, dtype=np.float64) + 0.5
    distance = np.minimum(centers - start, stop - centers)
    if feather > 0:
        t = np.clip(distance / feather, 0.0, 1.0)
        weights = t * t * (3 - 2 * t)  # smoothstep: continuous slope at both ends, no visible ridge
    else:
        weights = np.ones(length)
    weights[distance <= 0] = 0.0
    return weights.astype(np.float32)


def _resample_crop(crop: np.ndarray, box: CropBox, left: int, top: int, width: int,
                   height: int) -> np.ndarray:
    """Image pixels [top, top + height) x [left, left + width) sampled from `crop` (S, S, C)
    (uint8 or float32) by bicubic, antialiased resizing; points beyond the crop replicate its edge."""
    pil = require_pillow()
    size = crop.shape[0]
    scale = size / box.side  # crop pixels per image pixel
    # Region pixels may lie up to one image pixel (`scale` crop pixels) outside the box, plus the
    # bicubic support (2 source pixels, widened by the shrink factor when the crop is shrunk).
    pad = int(math.ceil(scale + 2 * max(1.0, scale))) + 2
    padded = take_region(crop, -pad, -pad, size + pad, size + pad, fill="edge")
    source_box = ((left - box.x0) * scale + pad, (top - box.y0) * scale + pad,
                  (left + width - box.x0) * scale + pad, (top + height - box.y0) * scale + pad)
    if padded.dtype == np.uint8:
        image = pil.fromarray(np.ascontiguousarray(padded))
        return np.asarray(image.resize((width, height), pil.Resampling.BICUBIC, box=source_box))
    channels = [pil.fromarray(np.ascontiguousarray(padded[..., c], dtype=np.float32))
                .resize((width, height), pil.Resampling.BICUBIC, box=source_box)
                for c in range(padded.shape[2])]
    return np.stack([np.asarray(c) for c in channels], axis=-1)


def _match_colors(values: np.ndarray, reference: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Shift and scale each channel of `values` (h, w, 3) float32 so that its weighted mean and
    standard deviation match `reference`'s (gain clamped to [1/1.5, 1.5]).

    The statistics are taken on a regular subsample of about 2**14 pixels: plenty for a mean and a
    deviation, and it keeps the cost of large boxes down.
    """
    step = max(1, math.ceil(math.sqrt(weights.size / 2**14)))
    w = weights[::step, ::step].reshape(-1).astype(np.float64)  # (n,)
    total = float(w.sum())
    if total * step * step < _MIN_MASK_WEIGHT:
        return values
    w /= total
    sample_v = values[::step, ::step].reshape(-1, 3).astype(np.float64)  # (n, 3)
    sample_r = reference[::step, ::step].reshape(-1, 3).astype(np.float64)
    mean_v, mean_r = w @ sample_v, w @ sample_r  # (3,)
    std_v = np.sqrt(np.maximum(w @ (sample_v * sample_v) - mean_v**2, 0.0))
    std_r = np.sqrt(np.maximum(w @ (sample_r * sample_r) - mean_r**2, 0.0))
    gain = np.clip(std_r / np.maximum(std_v, 1e-3), 1 / _MAX_CONTRAST_GAIN, _MAX_CONTRAST_GAIN)
    offset = mean_r - mean_v * gain
    return values * gain.astype(np.float32) + offset.astype(np.float32)


def check_paste_inputs(background: object, crop: object, box: object, *,
                       background_name: str = "background") -> None:
    """ValueError naming the argument unless `background` is an RGB image, `crop` a square RGB
    image and `box` a CropBox: what pasting a crop back (or compositing it) takes."""
    check_rgb_image(background, background_name)
    check_rgb_image(crop, "crop")
    if crop.shape[0] != crop.shape[1]:  # type: ignore[attr-defined]
        raise ValueError(f"crop: expected a square (S, S, 3) image, got shape "
                         f"{tuple(crop.shape)}")  # type: ignore[attr-defined]
    if not isinstance(box, CropBox):
        raise ValueError(f"box: expected a CropBox, got {type(box).__name__}")


def paste_back(background: np.ndarray, crop: np.ndarray, box: CropBox, *, feather: float = 0.1,
               color_match: bool = False, mask: np.ndarray | None = None) -> np.ndarray:
    """Blend `crop` back into `box` of `background`; returns a new (H, W, 3) uint8 image.

    background: (H, W, 3) uint8 RGB, left untouched. crop: (S, S, 3) uint8 RGB showing `box`.
    box: where the crop was cut; it may extend past the image (that part is dropped).
    feather: width of the soft edge as a fraction of the box side, in [0, 0.5]: the blend weight
        rises from 0 at the box edge to 1 at `feather * side` inside it (smoothstep), separably in x
        and y, giving a soft-edged rounded square. 0 gives a hard edge.
    color_match: match the crop's per-channel RGB mean and standard deviation (gain clamped to
        [1/1.5, 1.5]) to the background's under the blend mask, so that a global colour or
        brightness drift of the generator shows no seam.
    mask: optional (S, S) float in [0, 1] (or bool) in crop pixels, e.g. a face-parsing mask; it
        multiplies the feathered box window.

    Pixels whose centres are not strictly inside the box, and pixels where the blend weight is 0,
    are bit-identical to `background`.
    """
    check_paste_inputs(background, crop, box)
    if isinstance(feather, bool) or not isinstance(feather, (int, float)) \
            or not 0 <= feather <= 0.5:
        raise ValueError(f"feather: expected a number in [0, 0.5], got {feather!r}")
    if not isinstance(color_match, bool):
        raise ValueError(f"color_match: expected true or false, got {color_match!r}")
    if mask is not None:
        _check_mask(mask, crop.shape[0])

    result = background.copy()
    height, width = background.shape[:2]
    left, top = max(0, math.floor(box.x0)), max(0, math.floor(box.y0))
    right, bottom = min(width, math.ceil(box.x1)), min(height, math.ceil(box.y1))
    if right <= left or bottom <= top:
        return result  # the box misses the image

    region_w, region_h = right - left, bottom - top
    feather_px = feather * box.side
    weights_x = feather_window(region_w, box.x0 - left, box.x1 - left, feather_px)  # (w,)
    weights_y = feather_window(region_h, box.y0 - top, box.y1 - top, feather_px)  # (h,)
    weights = weights_y[:, None] * weights_x[None, :]  # (h, w)
    if mask is not None:
        resampled = _resample_crop(mask.astype(np.float32)[..., None], box, left, top, region_w,
                                   region_h)[..., 0]
        weights = weights * np.clip(resampled, 0.0, 1.0)

    original = background[top:bottom, left:right]
    pasted = _resample_crop(crop, box, left, top, region_w, region_h).astype(np.float32)
    reference = original.astype(np.float32)
    if color_match:
        pasted = _match_colors(pasted, reference, weights)
    alpha = weights[..., None]  # (h, w, 1)
    blended = np.clip(np.rint(reference + alpha * (pasted - reference)), 0, 255).astype(np.uint8)
    # where the weight is 0 keep the background's bytes exactly (not a float round trip)
    result[top:bottom, left:right] = np.where(alpha > 0, blended, original)
    return result


def _check_mask(mask: object, size: int) -> None:
    if not isinstance(mask, np.ndarray) or mask.shape != (size, size):
        raise ValueError(f"mask: expected a ({size}, {size}) array matching the crop, got "
                         f"{getattr(mask, 'shape', type(mask).__name__)}")
    if mask.dtype == np.bool_:
        return
    if not np.issubdtype(mask.dtype, np.floating):
        raise ValueError(f"mask: expected float values in [0, 1] or bool, got dtype {mask.dtype}")
    if not np.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
        raise ValueError(f"mask: expected float values in [0, 1], got range "
                         f"[{float(np.nanmin(mask))}, {float(np.nanmax(mask))}]")
