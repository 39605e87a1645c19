"""The lower-face mask of dubbing: where a re-rendered mouth may replace the original pixels.

The region is the convex hull of the lower jaw line (landmarks 2-14), the bottom of the nose
(31-35) and the lips (48-67), grown by `dilation` (room for a mouth that opens wider than the
original's) and feathered with a gaussian of `feather` (no visible seam). Both are fractions of the
crop side. Outside the grown region the mask is exactly 0, so `paste_back` keeps those pixels'
bytes.
"""

from __future__ import annotations

import numpy as np

from reenact.preprocess.crop import CropBox
from reenact.preprocess.face import NUM_LANDMARKS, require_pillow

LOWER_FACE_LANDMARKS = (*range(2, 15), *range(31, 36), *range(48, 68))


def _convex_hull(points: np.ndarray) -> np.ndarray:
    """(M, 2) hull vertices of (N, 2) points, counterclockwise (Andrew's monotone chain)."""
    ordered = sorted(set(map(tuple, points.tolist())))
    if len(ordered) < 3:
        return np.asarray(ordered)

    def half(sequence: list) -> list:
        chain: list = []
        for p in sequence:
            while len(chain) >= 2 and ((chain[-1][0] - chain[-2][0]) * (p[1] - chain[-2][1])
                                       - (chain[-1][1] - chain[-2][1]) * (p[0] - chain[-2][0])) <= 0:
                chain.pop()
            chain.append(p)
        return chain[:-1]

    return np.asarray(half(ordered) + half(ordered[::-1]))


def lower_face_mask(landmarks: np.ndarray, box: CropBox, size: int, *, dilation: float = 0.05,
                    feather: float = 0.02) -> np.ndarray:
    """(size, size) float32 in [0, 1]: the lower face in the crop of `box` cut to `size` pixels.

    landmarks: (68, 2) in image pixels (the frame's, as found by face analysis).
    """
    if not isinstance(landmarks, np.ndarray) or landmarks.shape != (NUM_LANDMARKS, 2):
        raise ValueError(f"landmarks: expected ({NUM_LANDMARKS}, 2) points, got "
                         f"{getattr(landmarks, 'shape', type(landmarks).__name__)}")
    if not 0 <= dilation <= 0.5 or not 0 <= feather <= 0.5:
        raise ValueError(f"dilation, feather: expected fractions of the crop side in [0, 0.5], got "
                         f"{dilation!r}, {feather!r}")
    pil = require_pillow()
    from PIL import ImageDraw, ImageFilter

    points = box.image_to_crop(landmarks[list(LOWER_FACE_LANDMARKS)], size)  # (N, 2) crop pixels
    mask = pil.new("L", (size, size), 0)
    hull = [tuple(p) for p in _convex_hull(points).tolist()]
    draw = ImageDraw.Draw(mask)
    if len(hull) >= 3:
        draw.polygon(hull, fill=255)
    grow = dilation * size
    if grow > 0 and hull:
        # the hull grown by a disc: its outline drawn 2 * grow wide, with round corners
        draw.line(hull + hull[:1], fill=255, width=max(1, int(round(2 * grow))))
        for x, y in hull:
            draw.ellipse((x - grow, y - grow, x + grow, y + grow), fill=255)
    if feather > 0:
        mask = mask.filter(ImageFilter.GaussianBlur(feather * size))
    return np.asarray(mask, dtype=np.float32) / 255
