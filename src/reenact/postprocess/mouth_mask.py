"""The lower-face mask of dubbing: where a re-rendered mouth may replace the original pixels (and
the whole face's hull, which the full-resolution compositor always pastes).

The region is the convex hull of the lower jaw line (landmarks 2-14), the bottom of the nose
(31-35) and the lips (48-67), grown by `dilation` (room for a mouth that opens wider than the
original's) and feathered with a gaussian of `feather` (no visible seam). Both are fractions of the
crop side. Outside the grown region the mask is exactly 0, so `paste_back` keeps those pixels'
bytes.
"""

from __future__ import annotations

import numpy as np

from reenact.preprocess.crop import CropBox
from reenact.preprocess.expressions import face_down
from reenact.preprocess.face import NUM_LANDMARKS, require_pillow

LOWER_FACE_LANDMARKS = (*range(2, 15), *range(31, 36), *range(48, 68))
NOSE_BRIDGE = (27, 28, 29, 30)  # the face's middle, across it
MOUTH_LANDMARKS = tuple(range(48, 68))  # the lips, outer and inner
JAW_LANDMARKS = tuple(range(17))  # the jaw line, from the image-left ear to the image-right one
# how much of each jaw point `inner_jaw` takes at the face's side (the rest: at the chin)
# `above_jaw`'s fade reaches this many `soft`s beyond the jaw line (its gaussian's truncation)
JAW_FADE_REACH = 4.0
JAW_SIDE_SHARES = (1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0)


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
    points = box.image_to_crop(landmarks[list(LOWER_FACE_LANDMARKS)], size)  # (N, 2) crop pixels
    return grown_hull(points, size, size, dilation * size, feather * size)


def grown_hull(points: np.ndarray, width: int, height: int, grow: float,
                feather: float) -> np.ndarray:
    """(height, width) float32 in [0, 1]: the convex hull of (N, 2) `points` (pixel units, pixel
    (i, j) covering [j, j + 1) x [i, i + 1)) grown by a disc of `grow` pixels (its outline drawn
    2 * grow wide, with round corners) and feathered by a gaussian of `feather` pixels."""
    pil = require_pillow()
    from PIL import ImageDraw, ImageFilter

    mask = pil.new("L", (width, height), 0)
    hull = [tuple(p) for p in _convex_hull(points).tolist()]
    draw = ImageDraw.Draw(mask)
    if len(hull) >= 3:
        draw.polygon(hull, fill=255)
    if grow > 0 and hull:
        draw.line(hull + hull[:1], fill=255, width=max(1, int(round(2 * grow))))
        for x, y in hull:
            draw.ellipse((x - grow, y - grow, x + grow, y + grow), fill=255)
    if feather > 0:
        mask = mask.filter(ImageFilter.GaussianBlur(feather))
    return np.asarray(mask, dtype=np.float32) / 255


def polygon_box(outline: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the pixels that the polygon with (N, 2) vertices `outline` can cover in a
    `width` x `height` image, with a pixel of margin, clipped to the image (empty where x1 <= x0
    or y1 <= y0)."""
    x0, y0 = np.maximum(np.floor(outline.min(axis=0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(outline.max(axis=0)).astype(int) + 1, (width, height))
    return int(x0), int(y0), int(x1), int(y1)


def polygon_coverage(outline: np.ndarray, width: int, height: int, *, supersample: int = 4,
                     erode: float = 0.0) -> np.ndarray:
    """(height, width) float32 in [0, 1]: how much of each pixel (pixel (i, j) covering
    [j, j + 1) x [i, i + 1)) the polygon with (N, 2) vertices `outline` covers, by supersampling,
    the polygon shrunk by `erode` pixels. Pillow also fills the outline's own subpixels, which
    would give a polygon without area (lips pressed together) a line of coverage: one subpixel
    more is always eroded."""
    pil = require_pillow()
    from PIL import ImageDraw
    from scipy.ndimage import minimum_filter  # separable; Pillow's MinFilter: same pixels, O(k^2)

    coverage = np.zeros((height, width), np.float32)
    x0, y0, x1, y1 = polygon_box(outline, width, height)
    if x1 <= x0 or y1 <= y0:
        return coverage
    mask = pil.new("L", ((x1 - x0) * supersample, (y1 - y0) * supersample), 0)
    ImageDraw.Draw(mask).polygon([tuple(p) for p in ((outline - (x0, y0)) * supersample).tolist()],
                                 fill=255)
    steps = 1 + int(round(erode * supersample))
    mask = pil.fromarray(minimum_filter(np.asarray(mask), size=2 * steps + 1, mode="nearest"))
    coverage[y0:y1, x0:x1] = np.asarray(mask.resize((x1 - x0, y1 - y0), pil.BOX), np.float32) / 255
    return coverage


def _point_sets(landmarks: list[np.ndarray]) -> list[np.ndarray]:
    """One or more (68, 2) landmark sets as float64 arrays; a ValueError naming them otherwise."""
    sets = [np.asarray(points, np.float64) for points in landmarks]
    if not sets or any(points.shape != (NUM_LANDMARKS, 2) for points in sets):
        raise ValueError(f"landmarks: expected one or more ({NUM_LANDMARKS}, 2) point sets, got "
                         f"{[points.shape for points in sets]}")
    return sets


def lower_face_region(landmarks: list[np.ndarray], height: int, width: int, *, grow: float,
                      feather: float,
                      indices: tuple[int, ...] = LOWER_FACE_LANDMARKS) -> tuple[int, int, np.ndarray]:
    """The lower face of one or more (68, 2) landmark sets (image pixels) in a `height` x `width`
    image, at the image's own resolution: (y0, x0, mask) with mask (h, w) float32 in [0, 1] over
    rows y0..y0+h and columns x0..x0+w, the convex hull of all sets' `indices` (default
    `LOWER_FACE_LANDMARKS`; `MOUTH_LANDMARKS`: the lips alone) grown
    by `grow` pixels and feathered by a gaussian of `feather` pixels. h or w is 0 when the region
    lies outside the image."""
    sets = _point_sets(landmarks)
    if grow < 0 or feather < 0:
        raise ValueError(f"grow, feather: expected pixels >= 0, got {grow!r}, {feather!r}")
    points = np.concatenate([p[list(indices)] for p in sets])  # image pixels
    margin = grow + 3 * feather + 2
    x0 = max(0, int(np.floor(points[:, 0].min() - margin)))
    y0 = max(0, int(np.floor(points[:, 1].min() - margin)))
    x1 = min(width, int(np.ceil(points[:, 0].max() + margin)))
    y1 = min(height, int(np.ceil(points[:, 1].max() + margin)))
    if x1 <= x0 or y1 <= y0:
        return y0, x0, np.zeros((max(0, y1 - y0), max(0, x1 - x0)), np.float32)
    return y0, x0, grown_hull(points - (x0, y0), x1 - x0, y1 - y0, grow, feather)


def above_jaw(landmarks: list[np.ndarray], jaw: tuple[int, ...], y0: int, x0: int, height: int,
              width: int, soft: float) -> np.ndarray:
    """(height, width) float32 in [0, 1] over image rows y0.. and columns x0..: 1 on the face's
    side of the jaw line (`jaw`: indices of `JAW_LANDMARKS` in order, joined and closed straight
    up the face at its two ends) of any of the (68, 2) landmark sets (image pixels), 0 from 4 `soft`
    pixels beyond the outermost: a drawn lower face covers its own chin and the frame's,
    not the neck, collar or background a margin grown beyond them would carry along."""
    coverage = np.zeros((height, width), np.float32)
    for points in landmarks:
        points = np.asarray(points, np.float64)
        line = points[list(jaw)] - (x0, y0)
        up = -face_down(points) * (height + width)  # beyond the region: the outline's top
        outline = np.concatenate([line, [line[-1] + up, line[0] + up]])
        coverage = np.maximum(coverage, polygon_coverage(outline, width, height, supersample=1))
    if soft <= 0:
        return coverage
    from scipy.ndimage import gaussian_filter

    # blurred, a straight edge reads 0.5 on the line: doubled, 1 there and inside, 0.32 one soft
    # beyond, 0.05 two beyond, exactly 0 from four (the filter's reach)
    return np.minimum(2 * gaussian_filter(coverage, soft, truncate=JAW_FADE_REACH),
                      1).astype(np.float32)


def inner_jaw(landmarks: list[np.ndarray], inset: float) -> np.ndarray:
    """(68, 2): the first of one or more (68, 2) landmark sets (image pixels) with its jaw line
    (`JAW_LANDMARKS`) replaced by the cut `above_jaw` makes for all of them where a drawn lower
    face must not reach the face's sides: at the sides (`JAW_SIDE_SHARES`) each jaw point is the
    sets' point nearest the face's middle (across its own down, `face_down`), moved `inset` pixels
    further in; at the chin, the sets' lowest (as `above_jaw` of them all). Two faces whose
    outlines lie apart (a drawing placed by a similarity, a rendered head turned a little; dlib's
    jaw a few pixels inside a painted face's outline) then show one outline, the frame's, not a
    cross-fade of both (a pale band beside the jaw: dev cartoon_boy x lp_d0)."""
    sets = _point_sets(landmarks)
    first = sets[0]
    down = face_down(first)
    across = np.array([-down[1], down[0]])
    middle = first[list(NOSE_BRIDGE)].mean(axis=0)
    jaws = np.stack([points[list(JAW_LANDMARKS)] for points in sets])  # (K, 17, 2)
    side = (jaws - middle) @ across  # (K, 17) signed, from the face's middle
    nearest = np.abs(side).argmin(axis=0)
    columns = np.arange(len(JAW_LANDMARKS))
    inner = jaws[nearest, columns] - (np.sign(side[nearest, columns]) * inset)[:, None] * across
    lowest = jaws[((jaws - middle) @ down).argmax(axis=0), columns]
    shares = np.asarray(JAW_SIDE_SHARES)[:, None]
    result = first.copy()
    result[list(JAW_LANDMARKS)] = shares * inner + (1 - shares) * lowest
    return result


def face_hull_mask(landmarks: np.ndarray, box: CropBox, size: int) -> np.ndarray:
    """(size, size) float32 in {0, 1}: the convex hull of the 68 face landmarks (image pixels) in
    the crop of `box` cut to `size` pixels."""
    if not isinstance(landmarks, np.ndarray) or landmarks.shape != (NUM_LANDMARKS, 2):
        raise ValueError(f"landmarks: expected ({NUM_LANDMARKS}, 2) points, got "
                         f"{getattr(landmarks, 'shape', type(landmarks).__name__)}")
    pil = require_pillow()
    from PIL import ImageDraw

    mask = pil.new("L", (size, size), 0)
    hull = [tuple(p) for p in _convex_hull(box.image_to_crop(landmarks, size)).tolist()]
    if len(hull) >= 3:
        ImageDraw.Draw(mask).polygon(hull, fill=255)
    return np.asarray(mask, dtype=np.float32) / 255
