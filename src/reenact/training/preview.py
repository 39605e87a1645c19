"""Preview grids written during training: source, driving, prediction, deformed source, occlusion."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from reenact.containers import Keypoints

# distinct colours for up to 20 keypoints (cycled beyond)
_PALETTE = np.array([
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
    (170, 110, 40), (255, 250, 200), (128, 0, 0), (170, 255, 195), (128, 128, 0), (255, 215, 180),
    (0, 0, 128), (128, 128, 128)], dtype=np.uint8)


def _to_uint8(images: Tensor) -> np.ndarray:
    """(B, C, H, W) in [0, 1] (C = 1 or 3) -> (B, H, W, 3) uint8."""
    images = images.detach().float().clamp(0, 1)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    return (images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def draw_keypoints(images: np.ndarray, keypoints: Tensor, radius: int = 3) -> np.ndarray:
    """Draw (B, K, 2) keypoints in [-1, 1] on (B, H, W, 3) uint8 images (a copy)."""
    from PIL import Image, ImageDraw

    drawn = []
    size = images.shape[2], images.shape[1]
    points = ((keypoints.detach().float().cpu().numpy() + 1) / 2) * (np.array(size) - 1)
    for image, kps in zip(images, points):
        pil = Image.fromarray(image)
        canvas = ImageDraw.Draw(pil)
        for index, (x, y) in enumerate(kps):
            colour = tuple(int(c) for c in _PALETTE[index % len(_PALETTE)])
            canvas.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour,
                           outline=(0, 0, 0))
        drawn.append(np.asarray(pil))
    return np.stack(drawn)


def preview_grid(source: Tensor, driving: Tensor, kp_source: Keypoints, kp_driving: Keypoints,
                 prediction: Tensor, deformed: Tensor | None, occlusion: Tensor | None,
                 max_rows: int = 4) -> np.ndarray:
    """One row per sample: source+kp | driving+kp | prediction | deformed | occlusion.

    All images (B, C, H, W) in [0, 1]; occlusion (B, 1, h, w) is resized to H x W. Returns uint8.
    """
    rows = min(max_rows, source.shape[0])
    height, width = source.shape[2:]
    columns = [draw_keypoints(_to_uint8(source[:rows]), kp_source.value[:rows]),
               draw_keypoints(_to_uint8(driving[:rows]), kp_driving.value[:rows]),
               _to_uint8(prediction[:rows])]
    if deformed is not None:
        columns.append(_to_uint8(deformed[:rows]))
    if occlusion is not None:
        resized = torch.nn.functional.interpolate(occlusion[:rows].float(), size=(height, width),
                                                  mode="bilinear", align_corners=False)
        columns.append(_to_uint8(resized))
    grid = np.concatenate([np.concatenate(list(column), axis=0) for column in columns], axis=1)
    return grid  # (rows * H, columns * W, 3)
