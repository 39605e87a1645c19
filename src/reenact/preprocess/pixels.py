"""An image's pixels read between pixel centres (numpy only), for the readers that measure a face
from its pixels: the irises (`reenact.preprocess.gaze`), an open mouth's lip edges
(`reenact.preprocess.inner_lips`)."""

from __future__ import annotations

import numpy as np


def bilinear_samples(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(..., C) float64 samples of (H, W, C) `image` at pixel positions x, y (pixel (i, j)'s
    centre is (j, i); clamped to the image), interpolated bilinearly."""
    height, width = image.shape[:2]
    x = np.clip(x, 0, width - 1.001)
    y = np.clip(y, 0, height - 1.001)
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy
