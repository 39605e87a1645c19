"""How much of a parted mouth is teeth, read from the pixels between dlib's inner lips: what tells
a grin (the teeth together, the lips drawn back) from an open jaw (a dark or red inside) in the
driving video, for the mouth `animate` draws (`reenact.pipelines.mouth_transfer`).

    image (H, W, 3) uint8 + (68, 2) landmarks
      -> the inner-lip polygon (60-67), rasterized on a crop around the mouth
      -> luminance there over the cheeks' (a patch on each cheek, between the eye's lower lid and
         the mouth's corner, its median)
      -> the share of the polygon's pixels brighter than `BRIGHT` times the cheeks

Teeth are as bright as the skin around them or brighter; the mouth's inside, tongue and lips are
darker. Dev drivers: a grin with the teeth together (lp_d0, lp_d14) reads 0.62-0.76; speech with
the upper teeth showing (vr_1) 0.03-0.38; a wide "oh" (lp_d18) 0.00.

`pale_share` asks the same of lips that barely part, against the lips themselves rather than the
cheeks: pale lips are as bright as the cheeks (`teeth_share` read 0.3-0.7 on closed mouths whose
dlib inner lips were 0.05-0.14 interocular distances apart), while teeth are brighter and far less
saturated than the lips around them.
"""

from __future__ import annotations

import numpy as np

from reenact.preprocess.expressions import check_face_landmarks, interocular_distance
from reenact.preprocess.face import REC601_LUMA, check_rgb_image, require_pillow

BRIGHT = 0.85  # of the cheeks' luminance: brighter pixels count as teeth
MIN_PIXELS = 40  # a polygon of less area (lips together, a small face) is not read
CHEEK_RADIUS = 0.08  # interocular distances: the half side of each cheek patch
# `pale_share`: teeth are brighter than the lips' median by this many luma levels and less
# saturated than this share of the lips' median saturation ((max - min) / max of RGB)
PALER_BY = 10.0
LESS_SATURATED = 0.7


def _polygon_mask(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """(height, width) bool: the pixels whose centres lie inside the polygon (x, y) `points`."""
    pil = require_pillow()
    from PIL import ImageDraw

    canvas = pil.new("L", (width, height))
    ImageDraw.Draw(canvas).polygon([(float(x), float(y)) for x, y in points], fill=1)
    return np.asarray(canvas, dtype=bool)


def _box(points: np.ndarray, height: int, width: int) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the whole pixels around (N, 2) `points`, cut to a height x width image;
    None where nothing of it is inside."""
    x0, y0 = np.maximum(np.floor(points.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(points.max(axis=0)).astype(int) + 1, (width, height))
    return None if x1 <= x0 or y1 <= y0 else (int(x0), int(y0), int(x1), int(y1))


def _inner_lips(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple]:
    """(the inner-lip polygon's (60-67) mask, the lips' band's (48-59 less it), the crop (y0, y1,
    x0, x1) both are on); empty masks where the polygon lies outside the image."""
    box = _box(points[48:68], *image.shape[:2])
    if box is None:
        return np.zeros((0, 0), bool), np.zeros((0, 0), bool), (0, 0, 0, 0)
    x0, y0, x1, y1 = box
    inner = _polygon_mask(points[60:68] - (x0, y0), y1 - y0, x1 - x0)
    outer = _polygon_mask(points[48:60] - (x0, y0), y1 - y0, x1 - x0)
    return inner, outer & ~inner, (y0, y1, x0, x1)


def _inner_area(points: np.ndarray) -> float:
    """The inner-lip polygon's (60-67) area, square pixels (the shoelace formula)."""
    x, y = points[60:68, 0], points[60:68, 1]
    return 0.5 * abs(float(x @ np.roll(y, -1) - y @ np.roll(x, -1)))


def _cheeks(image: np.ndarray, points: np.ndarray) -> float:
    """The median luminance of two square patches, each halfway between an eye's lower lid and the
    mouth's corner below it."""
    height, width = image.shape[:2]
    half = max(1, int(round(CHEEK_RADIUS * float(interocular_distance(points)))))
    values = []
    for lid, corner in ((points[[40, 41]].mean(axis=0), points[48]),
                        (points[[46, 47]].mean(axis=0), points[54])):
        x, y = np.round((lid + corner) / 2).astype(int)
        patch = image[max(0, y - half):min(height, y + half + 1),
                      max(0, x - half):min(width, x + half + 1)]
        if patch.size:
            values.append(patch.reshape(-1, 3) @ REC601_LUMA)
    return float(np.median(np.concatenate(values))) if values else float("nan")


def teeth_share(image: np.ndarray, landmarks: np.ndarray) -> float:
    """The share (0-1) of the pixels between the inner lips (68-point 60-67) brighter than `BRIGHT`
    times the cheeks' luminance (see the module's docstring); NaN where the lips part by fewer
    than `MIN_PIXELS` pixels or the cheeks cannot be read. image: (H, W, 3) uint8 RGB;
    landmarks: (68, 2) pixels."""
    points = check_face_landmarks(landmarks)
    check_rgb_image(image, "image")
    inner = points[60:68]
    box = _box(inner, *image.shape[:2])
    if _inner_area(points) < MIN_PIXELS or box is None:
        return float("nan")
    x0, y0, x1, y1 = box
    mask = _polygon_mask(inner - (x0, y0), y1 - y0, x1 - x0)
    if mask.sum() < MIN_PIXELS:
        return float("nan")
    cheeks = _cheeks(image, points)
    if not np.isfinite(cheeks) or cheeks <= 0:
        return float("nan")
    luminance = image[y0:y1, x0:x1][mask] @ REC601_LUMA
    return float((luminance > BRIGHT * cheeks).mean())


def pale_share(image: np.ndarray, landmarks: np.ndarray) -> float:
    """The share (0-1) of the pixels between the inner lips (68-point 60-67) that are teeth by the
    lips' own colour: brighter than the lips' (48-59 less 60-67) median luma by `PALER_BY` and less
    saturated than `LESS_SATURATED` times their median saturation; NaN where either region has
    fewer than `MIN_PIXELS` pixels. Dev frames (GRID, presenters, PC-AVS, LivePortrait, Arabic
    anchors; 772 with dlib's lips 0.03 or more apart): 143 closed by FaceMesh (gap under 0.02) read
    0.04 at most; lips parted on teeth 0.18-0.74. image: (H, W, 3) uint8 RGB; landmarks: (68, 2)
    pixels."""
    points = check_face_landmarks(landmarks)
    check_rgb_image(image, "image")
    if _inner_area(points) < MIN_PIXELS:
        return float("nan")
    inner, band, (y0, y1, x0, x1) = _inner_lips(image, points)
    if inner.sum() < MIN_PIXELS or band.sum() < MIN_PIXELS:
        return float("nan")
    pixels = image[y0:y1, x0:x1].astype(np.float64)
    luma = pixels @ REC601_LUMA
    brightest = pixels.max(axis=-1)
    saturation = (brightest - pixels.min(axis=-1)) / np.maximum(brightest, 1.0)
    pale = ((luma > np.median(luma[band]) + PALER_BY)
            & (saturation < LESS_SATURATED * np.median(saturation[band])))
    return float(pale[inner].mean())
