"""An open mouth's inner lip line read from its pixels, where dlib's points fall short of it (and
a closed mouth's line between the lips, `crease_edges`).

On a mouth open wide enough to show its teeth or tongue, dlib's 68-point model puts the inner-lip
points a few pixels inside the mouth: the upper ones on the top of the teeth, the lower ones on
the tongue (dev vr_3, grid_lbax4n). Drawn from such a photo, a mouth that closes keeps a sliver
of teeth and tongue between its lips (the lips' triangles carry them). Here each of the three
middle inner-lip points of each lip is moved out, across the lips (along the line through the
pair's middle, parallel to the one from the upper lip's outer edge to the lower's), to where the
pixels stop looking like that lip:

    samples along the line (bilinear, half-pixel steps)
      -> luma and redness ((R - G) / (R + G + B)) per sample
      -> the lip's colour: median and spread of the samples between `LIP_SPAN` of the way from its
         outer edge to dlib's inner point
      -> walking in from `LIP_SPAN[1]`: the first two samples in a row more than `EDGE_SIGMAS`
         spreads away from the lip's colour (teeth are paler, the inside darker, the tongue less
         red); a point never moves inward, nor further out than `LIP_SPAN[1]`.

Corners (60, 64) stay. A mouth whose lips meet (dlib's inner points within `MIN_GAP` of the lips'
outer span of each other) is left as it is; closed lips get the same walk outward from the middle
of each pair to the edges of the line between them instead (`crease_edges`). Coordinates are
continuous image pixels, pixel (row i, column j) centred at (j + 0.5, i + 0.5).
"""

from __future__ import annotations

import numpy as np

from reenact.preprocess.expressions import check_face_landmarks, interocular_distance
from reenact.preprocess.face import REC601_LUMA, check_rgb_image
from reenact.preprocess.pixels import bilinear_samples

# (outer upper, inner upper, inner lower, outer lower) along the mouth's middle
COLUMNS = ((50, 61, 67, 58), (51, 62, 66, 57), (52, 63, 65, 56))
LIP_SPAN = (0.1, 0.4)  # of the way from a lip's outer edge to dlib's inner point
EDGE_SIGMAS = 3.0
MIN_SPREAD = 6.0  # floor of a lip's colour spread (luma levels; redness x 255)
MIN_GAP = 0.1  # of the lips' span: inner points closer than this are lips that meet
MAX_CREASE = 0.08  # `crease_edges`: the most each point moves, interocular distances
LINE_SHARE = 0.6  # ... over samples at least this share of which are unlike the lip


def _features(colours: np.ndarray) -> np.ndarray:
    """(N, 2) luma and redness x 255 of (N, 3) RGB colours."""
    total = np.maximum(colours.sum(axis=1), 1e-6)
    return np.stack([colours @ REC601_LUMA, (colours[:, 0] - colours[:, 1]) / total * 255], axis=1)


def _away(features: np.ndarray, t: np.ndarray, inner: float,
          outer_first: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """((N,) bool: the samples more than `EDGE_SIGMAS` spreads from the lip's colour, (N,) each
    sample's distance from the lip's outer edge as a share of the way to `inner`, (2,) the lip's
    median features) for a lip whose outer edge is at t = 0 (outer_first) or 1; None where the
    lip has under 2 samples."""
    way = t / max(inner, 1e-9) if outer_first else (1 - t) / max(1 - inner, 1e-9)
    lip = features[(way >= LIP_SPAN[0]) & (way <= LIP_SPAN[1])]
    if len(lip) < 2:
        return None
    spread = np.maximum(lip.std(axis=0), MIN_SPREAD)
    median = np.median(lip, axis=0)
    return (np.abs(features - median) / spread).max(axis=1) > EDGE_SIGMAS, way, median


def _first_away(away: np.ndarray, way: np.ndarray, t: np.ndarray, inner: float) -> float:
    """Walking in from `LIP_SPAN[1]` of the way to `inner`, the first of two samples in a row
    that are `away`; `inner` where there are none."""
    candidates = [i for i in np.argsort(way) if LIP_SPAN[1] <= way[i] <= 1]
    for first, second in zip(candidates, candidates[1:]):
        if away[first] and away[second]:
            return float(t[first])
    return inner


def _edge(features: np.ndarray, t: np.ndarray, inner: float, outer_first: bool) -> float:
    """Where along the line (t) a lip whose outer edge is at t = 0 (outer_first) or 1 and whose
    dlib inner point is at `inner` ends: see the module docstring."""
    read = _away(features, t, inner, outer_first)
    return inner if read is None else _first_away(*read[:2], t, inner)


def _line_edge(features: np.ndarray, t: np.ndarray, middle: float, outer_first: bool) -> float:
    """Where the line between closed lips (its middle at `middle` along t) meets the lip whose
    outer edge is at t = 0 (outer_first) or 1: `_edge`'s reading, kept where at least
    `LINE_SHARE` of the samples from there to the middle are unlike the lip (a groove's shoulder
    may be lip-like in places) or where it is darker than the lip (the lip's own shade next to a
    groove); else the middle (a lip's highlight, lip-coloured pixels between it and the line, is
    no part of the line)."""
    read = _away(features, t, middle, outer_first)
    if read is None:
        return middle
    away, way, lip = read
    edge = _first_away(away, way, t, middle)
    if edge == middle:
        return middle
    between = (t >= min(edge, middle)) & (t <= max(edge, middle))
    darker = float(features[int(np.argmin(np.abs(t - edge))), 0]) < lip[0]  # shade, not gloss
    return edge if darker or float(away[between].mean()) >= LINE_SHARE else middle


def _columns(image: np.ndarray, points: np.ndarray, samples_per_pixel: float):
    """For each of `COLUMNS` whose lips span 2 pixels or more: (its inner upper and lower
    landmark indices, the line across the lips through the inner pair's middle (dlib's outer and
    inner points are not in one column: the outer ones sit nearer the corners) as its start
    point, unit direction and length from the upper lip's outer edge to the lower's, t (N,) in
    [0, 1] along it and the (N, 2) colour features there)."""
    for outer_upper, inner_upper, inner_lower, outer_lower in COLUMNS:
        across = points[outer_lower] - points[outer_upper]
        span = float(np.linalg.norm(across))
        if span < 2.0:
            continue
        across = across / span
        middle = (points[inner_upper] + points[inner_lower]) / 2
        start = middle + float((points[outer_upper] - middle) @ across) * across
        t = np.linspace(0.0, 1.0, max(int(span * samples_per_pixel), 8))
        line = start + (t * span)[:, None] * across  # (N, 2) continuous pixel points
        features = _features(bilinear_samples(image, line[:, 0] - 0.5, line[:, 1] - 0.5))
        yield inner_upper, inner_lower, start, across, span, t, features


def inner_lip_edges(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(68, 2) `landmarks` (a face's, image pixels) with the middle inner-lip points (61-63,
    65-67) moved out to the lips' edges in `image` (H, W, 3) uint8; see the module docstring."""
    check_rgb_image(image, "image")
    points = check_face_landmarks(landmarks)
    result = points.copy()
    for inner_upper, inner_lower, start, across, span, t, features in _columns(image, points, 2.0):
        upper = float((points[inner_upper] - start) @ across) / span
        lower = float((points[inner_lower] - start) @ across) / span
        if lower - upper < MIN_GAP or not 0 < upper < lower < 1:
            continue
        result[inner_upper] += (min(_edge(features, t, upper, True), upper) - upper) * span * across
        result[inner_lower] += (max(_edge(features, t, lower, False), lower) - lower) * span * across
    return result


def crease_edges(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(68, 2) the landmarks of closed lips (a face's, image pixels) with the middle inner-lip
    points moved apart to the edges of the line between the lips in `image` (H, W, 3) uint8:
    dlib puts both on its middle, and the line's dark pixels (a painting's or a statue's groove,
    a shadow, teeth glinting between lips barely parted) then belong to the lips. Warped open,
    they became a dark fringe along the inner lips that stretched into a wedge at the corners
    (dev statue and man_painting). Each point goes out from the pair's middle to where
    `inner_lip_edges`'s walk in finds the lip's end (`_line_edge`), at most `MAX_CREASE`
    interocular distances; corners stay."""
    check_rgb_image(image, "image")
    points = check_face_landmarks(landmarks)
    result = points.copy()
    reach = MAX_CREASE * float(interocular_distance(points))
    for inner_upper, inner_lower, start, across, span, t, features in _columns(image, points, 4.0):
        middle = float(((points[inner_upper] + points[inner_lower]) / 2 - start) @ across) / span
        if not 0 < middle < 1:
            continue
        limit = reach / span
        upper = max(min(_line_edge(features, t, middle, True), middle), middle - limit)
        lower = min(max(_line_edge(features, t, middle, False), middle), middle + limit)
        result[inner_upper] = start + upper * span * across
        result[inner_lower] = start + lower * span * across
    return result
