"""Face measures of one image and its 68 landmarks, and the statistics that compare two series.

Images are (H, W, 3) uint8 RGB; landmarks are (68, 2) float (x, y) in the image's continuous pixel
coordinates, iBUG 300-W order (see `reenact.preprocess.face`: pixel (row i, column j) has its centre
at (j + 0.5, i + 0.5)). Lengths are divided by the interocular distance (between the eye centres,
`reenact.preprocess.expressions`) or, for AKD, scaled to a 256-px face, so that faces of any size
compare.

Mouth: dlib's inner-lip landmarks (60-67) often sit apart on pressed lips, so their gap reads closed
lips as slightly open and misses much of a closure. `mouth_interior` reads the pixels instead: the
area inside the outer-lip contour (48-59) that is not lip-coloured (the dark cavity, the teeth), so
it falls to its floor (a thin line between the lips, a lip highlight) when the lips meet, whatever
the landmarks say. It is the noisier of the two where the mouth barely moves; report both.
`teeth_area` counts the pale pixels inside any inner-lip polygon (FaceMesh's, in the lip-sync
measure: `reenact.evaluation.mouth_track`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from reenact.preprocess.expressions import check_face_landmarks as check_landmarks
from reenact.preprocess.expressions import interocular_distance
from reenact.preprocess.face import REC601_LUMA, check_rgb_image
from reenact.preprocess.pixels import bilinear_samples

AKD_FACE_SIZE = 256  # AKD is reported in pixels of a face this big (landmark box's longer side)
FACE_BOX_GROW = 1.2  # the face box of `face_box`: the landmarks' box grown by this factor
MOUTH_REGION_GROW = 1.3  # `mouth_region`: the outer lips grown this much about their centre

_OUTER_LIP = tuple(range(48, 60))
_INNER_LIP = tuple(range(60, 68))
# `mouth_interior`'s ramp, in RGB distance from the lip colour over the lip colour's norm: lips in
# shade or highlight stay under ~0.3; the cavity (~0.6-0.8) and teeth (~0.5-0.7) reach the top
INTERIOR_LOW = 0.3
INTERIOR_HIGH = 0.55
# `teeth_area`'s test of a pixel inside the inner lips against the lip colour: teeth are at least a
# little brighter than the lips and far whiter (brightness ratio x saturation ratio); the dark
# cavity, the tongue and the lips' inner edge are not. Set on GRID and presenter clips outside
# ../shared/media/eval: dim GRID teeth read 1.1-1.2x the lips' luma at 0.6-0.75x their saturation,
# yellowish teeth 1.3-1.6x at 0.65-0.85x, the inner edge of a lower lip up to 1.45 in the product
TEETH_MIN_BRIGHTNESS = 1.05
TEETH_MIN_WHITENESS = 1.6
# `mouth_error`: the mouth's box, around the driver's lips (half its width and height, in mouth
# widths: the lips, the philtrum's foot and the chin's top), resampled to this many pixels (a
# 256-px face's mouth box is about this big), and the widest shift, in them, that it may take
MOUTH_BOX = (0.7, 0.42)
MOUTH_SAMPLES = (64, 38)
MOUTH_SHIFT = 2


# -- series statistics --------------------------------------------------------------------------


def _finite_pairs(a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    first, second = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if first.shape != second.shape or first.ndim != 1:
        raise ValueError(f"series: expected two 1-D series of one length, got shapes {first.shape} "
                         f"and {second.shape}")
    keep = np.isfinite(first) & np.isfinite(second)
    return first[keep], second[keep]


def pearson(output: object, driver: object) -> float:
    """Pearson r over the frames where both series are finite; NaN with fewer than 3 such frames or
    a constant series (r is undefined there)."""
    a, b = _finite_pairs(output, driver)
    if len(a) < 3 or a.std() < 1e-12 or b.std() < 1e-12:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def amplitude_ratio(output: object, driver: object) -> float:
    """std(output) / std(driver) over the frames where both are finite: 1 = the output moves as much
    as the driver, 0 = not at all. NaN with fewer than 3 such frames or a still driver."""
    a, b = _finite_pairs(output, driver)
    if len(a) < 3 or b.std() < 1e-12:
        return float("nan")
    return float(a.std() / b.std())


# -- geometry of the landmarks ------------------------------------------------------------------


def face_size(landmarks: np.ndarray) -> float:
    """The longer side of the landmarks' bounding box, in their units."""
    points = check_landmarks(landmarks)
    return float((points.max(axis=0) - points.min(axis=0)).max())


def face_box(landmarks: np.ndarray, grow: float = FACE_BOX_GROW) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1): the landmarks' bounding box grown `grow` times about its centre."""
    points = check_landmarks(landmarks)
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    cx, cy, half_w, half_h = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * grow / 2, (y1 - y0) * grow / 2
    return cx - half_w, cy - half_h, cx + half_w, cy + half_h


def keypoint_distance(output: np.ndarray, driver: np.ndarray) -> float:
    """AKD: mean distance between the two faces' landmarks, in pixels of a face `AKD_FACE_SIZE` px
    big (scaled by the driver's `face_size`)."""
    out, drv = check_landmarks(output, "output"), check_landmarks(driver, "driver")
    return float(np.linalg.norm(out - drv, axis=1).mean() * AKD_FACE_SIZE / max(face_size(drv), 1e-9))


def head_pose(landmarks: np.ndarray) -> tuple[float, float]:
    """(yaw, roll) proxies from 2-D landmarks.

    roll: degrees, the angle of the line from the right eye's centre to the left eye's (image
        coordinates, y down: positive = the face's left side lower, a clockwise tilt on screen).
    yaw: in [-1, 1], where the nose tip (30) sits between the jaw ends (0 and 16), measured along the
        eye line so that roll does not leak in: 0 facing the camera, positive = nose toward the
        image's right.
    """
    points = check_landmarks(landmarks)
    right_eye, left_eye = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    axis = left_eye - right_eye
    roll = math.degrees(math.atan2(axis[1], axis[0]))
    axis = axis / max(float(np.linalg.norm(axis)), 1e-9)
    along = (points @ axis)  # (68,) position along the eye line
    width = along[16] - along[0]
    yaw = ((along[30] - along[0]) - (along[16] - along[30])) / width if abs(width) > 1e-9 else 0.0
    return float(np.clip(yaw, -1.0, 1.0)), roll


# -- pixels --------------------------------------------------------------------------------------


def luma(image: np.ndarray) -> np.ndarray:
    """(H, W) float64 Rec. 601 luma in [0, 255] of (H, W, 3) uint8 RGB."""
    return check_rgb_image(image, "image").astype(np.float64) @ REC601_LUMA


def _pixel_window(box: tuple[float, float, float, float], height: int,
                  width: int) -> tuple[int, int, int, int]:
    """Integer (x0, y0, x1, y1) of the pixels whose centres lie in `box`, clipped to the image."""
    x0 = min(max(int(math.ceil(box[0] - 0.5)), 0), width)
    y0 = min(max(int(math.ceil(box[1] - 0.5)), 0), height)
    x1 = min(max(int(math.ceil(box[2] - 0.5)), x0), width)
    y1 = min(max(int(math.ceil(box[3] - 0.5)), y0), height)
    return x0, y0, x1, y1


def laplacian_variance(image: np.ndarray, box: tuple[float, float, float, float],
                       leave_out: np.ndarray | None = None) -> float:
    """Variance of the 4-neighbour Laplacian of the luma inside `box` (x0, y0, x1, y1): a
    sharpness figure (blur lowers it). leave_out: (H, W) bool over the image, pixels not counted
    (nor any whose Laplacian reads one of them). NaN when fewer than 9 pixels count."""
    return _variances(image, box, [leave_out])[0]


def _variances(image: np.ndarray, box: tuple[float, float, float, float],
               leave_outs: list[np.ndarray | None]) -> list[float]:
    """`laplacian_variance` of `image` in `box` with each of `leave_outs`, the Laplacian taken
    once."""
    height, width = check_rgb_image(image, "image").shape[:2]
    x0, y0, x1, y1 = _pixel_window(box, height, width)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return [float("nan")] * len(leave_outs)
    region = luma(image[y0:y1, x0:x1])
    laplacian = (region[1:-1, :-2] + region[1:-1, 2:] + region[:-2, 1:-1] + region[2:, 1:-1]
                 - 4 * region[1:-1, 1:-1])
    out: list[float] = []
    for leave_out in leave_outs:
        if leave_out is None:
            out.append(float(laplacian.var()))
            continue
        if np.shape(leave_out) != (height, width):
            raise ValueError(f"leave_out: expected a ({height}, {width}) mask, got "
                             f"{np.shape(leave_out)}")
        left = np.asarray(leave_out, dtype=bool)[y0:y1, x0:x1]
        read = (left[1:-1, 1:-1] | left[1:-1, :-2] | left[1:-1, 2:] | left[:-2, 1:-1]
                | left[2:, 1:-1])
        counted = laplacian[~read]
        out.append(float(counted.var()) if counted.size >= 9 else float("nan"))
    return out


def _ratio(output: float, reference: float) -> float:
    """output / reference; NaN where the reference's region is flat (or unread)."""
    return output / reference if reference > 1e-9 else float("nan")


def sharpness_ratio(output: np.ndarray, driver: np.ndarray,
                    box: tuple[float, float, float, float],
                    leave_out: np.ndarray | None = None) -> float:
    """`laplacian_variance` of output / of driver in the same box (and the same pixels left out):
    < 1 softer, 1 as sharp. NaN when the driver's region is flat."""
    return _ratio(laplacian_variance(output, box, leave_out),
                  laplacian_variance(driver, box, leave_out))


def face_sharpness(output: np.ndarray, reference: np.ndarray, box: tuple[float, float, float, float],
                   *faces: np.ndarray | None) -> dict[str, float]:
    """{"sharpness": `sharpness_ratio` of output over reference in `box`, "sharpness_face": the
    same without the mouths of `faces` ((68, 2) landmarks in either picture, None skipped;
    `mouth_region`)}. Each picture's Laplacian is taken once for both."""
    mouths = mouth_region(list(faces), *check_rgb_image(output, "output").shape[:2])
    whole, face = _variances(reference, box, [None, mouths])
    output_whole, output_face = _variances(output, box, [None, mouths])
    return {"sharpness": _ratio(output_whole, whole), "sharpness_face": _ratio(output_face, face)}


def mouth_region(faces: list[np.ndarray | None], height: int, width: int) -> np.ndarray:
    """(height, width) bool: the pixels within `MOUTH_REGION_GROW` times the outer lips (48-59,
    about their centre) of any of `faces` ((68, 2) landmarks; None skipped). What the face's
    sharpness leaves out where the mouth is drawn: a painted inside's teeth against its dark
    cavity are the sharpest edges of a face, and a mouth drawn open where the reference's was shut
    would count them as the face's detail."""
    mask = np.zeros((height, width), dtype=bool)
    for landmarks in faces:
        if landmarks is not None:
            lips = check_landmarks(landmarks)[list(_OUTER_LIP)]
            centre = lips.mean(axis=0)
            mask |= polygon_mask(centre + MOUTH_REGION_GROW * (lips - centre), height, width)
    return mask


def _mouth_samples(image: np.ndarray, box: tuple[float, float, float, float], margin: int,
                   ) -> np.ndarray:
    """(h + 2 margin, w + 2 margin, 3) float64 in [0, 1]: `image` over `box` (x0, y0, x1, y1,
    continuous pixels) resampled to `MOUTH_SAMPLES` (w, h) pixels, `margin` more on each side,
    each the mean of a few bilinear samples (no aliasing when the box is larger)."""
    columns, rows = MOUTH_SAMPLES
    step_x, step_y = (box[2] - box[0]) / columns, (box[3] - box[1]) / rows
    factor = max(1, int(math.ceil(max(step_x, step_y))))
    offsets = (np.arange(factor) + 0.5) / factor
    xs = box[0] + step_x * (np.arange(-margin, columns + margin)[:, None] + offsets).ravel()
    ys = box[1] + step_y * (np.arange(-margin, rows + margin)[:, None] + offsets).ravel()
    samples = bilinear_samples(image, xs[None, :] - 0.5, ys[:, None] - 0.5)
    height, width = rows + 2 * margin, columns + 2 * margin
    return samples.reshape(height, factor, width, factor, 3).mean(axis=(1, 3)) / 255


class MouthComparison(NamedTuple):
    """`compare_mouths`' figures: l1, the mean absolute difference (pixels in [0, 1]); ssim, the
    luma's structural similarity (Gaussian window of 1.5 samples; 1 = the same), which weighs
    local contrast and structure where the L1 weighs differences alone (where shapes do not line
    up exactly, a duller inside can lower an L1)."""

    l1: float
    ssim: float


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity of two (h, w) images in [0, 1] (Wang et al. 2004's constants,
    a Gaussian window of sigma 1.5)."""
    from scipy.ndimage import gaussian_filter

    def blur(image: np.ndarray) -> np.ndarray:
        return gaussian_filter(image, 1.5, mode="reflect", truncate=3.5)

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mean_a, mean_b = blur(a), blur(b)
    var_a = blur(a * a) - mean_a ** 2
    var_b = blur(b * b) - mean_b ** 2
    cov = blur(a * b) - mean_a * mean_b
    ssim = ((2 * mean_a * mean_b + c1) * (2 * cov + c2)
            / ((mean_a ** 2 + mean_b ** 2 + c1) * (var_a + var_b + c2)))
    return float(ssim.mean())


def compare_mouths(output: np.ndarray, driving: np.ndarray, driver: np.ndarray,
                   ) -> MouthComparison:
    """How like the driving frame's mouth `output`'s is (self-reenactment: the driving frame is
    the truth), over a box around the driver's lips ((68, 2) `driver` landmarks; `MOUTH_BOX`),
    both images resampled there to `MOUTH_SAMPLES`, at the whole shift of the output's box within
    `MOUTH_SHIFT` samples with the least L1 (where the head is placed is AKD's; this is how the
    mouth looks: its lips, their opening, the teeth and the inside). NaNs where the mouth has no
    width. The two images are the same size."""
    check_rgb_image(output, "output")
    if check_rgb_image(driving, "driving").shape != output.shape:
        raise ValueError(f"compare_mouths: the images differ in size ({output.shape} and "
                         f"{driving.shape})")
    points = check_landmarks(driver)
    width = float(np.linalg.norm(points[54] - points[48]))
    if not width > 1e-6:
        return MouthComparison(float("nan"), float("nan"))
    centre = points[list(_OUTER_LIP + _INNER_LIP)].mean(axis=0)
    half = np.array(MOUTH_BOX) * width
    box = (centre[0] - half[0], centre[1] - half[1], centre[0] + half[0], centre[1] + half[1])
    shift = MOUTH_SHIFT
    truth = _mouth_samples(driving, box, 0)
    shifted = _mouth_samples(output, box, shift)
    rows, columns = truth.shape[:2]
    l1, dy, dx = min((float(np.abs(shifted[y:y + rows, x:x + columns] - truth).mean()), y, x)
                     for y in range(2 * shift + 1) for x in range(2 * shift + 1))
    aligned = shifted[dy:dy + rows, dx:dx + columns]
    return MouthComparison(l1, _ssim(aligned @ REC601_LUMA, truth @ REC601_LUMA))


def polygon_mask(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W) bool: the pixels whose centre lies inside the polygon of (N, 2) `points` (even-odd
    rule, so a self-intersecting outline still gives a mask)."""
    polygon = np.asarray(points, dtype=np.float64)
    mask = np.zeros((height, width), dtype=bool)
    x0, y0, x1, y1 = _pixel_window((*polygon.min(axis=0), *polygon.max(axis=0)), height, width)
    if x1 <= x0 or y1 <= y0:
        return mask
    xs = np.arange(x0, x1) + 0.5
    ys = np.arange(y0, y1)[:, None] + 0.5
    inside = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    for (ax, ay), (bx, by) in zip(polygon, np.roll(polygon, -1, axis=0)):
        if ay == by:
            continue
        crosses = (ay <= ys) != (by <= ys)  # (h, 1): the edge spans this row's centre height
        x_at = ax + (ys - ay) * (bx - ax) / (by - ay)  # (h, 1)
        inside ^= crosses & (xs < x_at)
    mask[y0:y1, x0:x1] = inside
    return mask


def _face_window(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The float64 RGB pixels under the landmarks' box (1 px margin), and the landmarks in them."""
    height, width = check_rgb_image(image, "image").shape[:2]
    box = face_box(points, grow=1.0)
    x0, y0, x1, y1 = _pixel_window((box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1), height, width)
    return image[y0:y1, x0:x1].astype(np.float64), points - (x0, y0)


def saturation(rgb: np.ndarray) -> np.ndarray:
    """(...,) HSV saturation in [0, 1], (max - min) / max of (..., 3) RGB (0 for black)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    high, low = rgb.max(axis=-1), rgb.min(axis=-1)
    return (high - low) / np.maximum(high, 1e-9)


def teeth_area(image: np.ndarray, inner_lip: np.ndarray, outer_lip: np.ndarray) -> float:
    """Visible teeth, in pixels: those inside the `inner_lip` polygon that are at least
    `TEETH_MIN_BRIGHTNESS` x as bright (Rec. 601 luma) as the lips and whose brightness ratio times
    the lips' saturation over theirs is at least `TEETH_MIN_WHITENESS`.

    image: (H, W, 3) uint8 RGB; inner_lip, outer_lip: (N, 2) polygons in its pixel coordinates. The
    lip colour is the median of the band inside `outer_lip` and outside `inner_lip`. NaN when that
    band holds fewer than 8 pixels.
    """
    height, width = check_rgb_image(image, "image").shape[:2]
    inner = np.asarray(inner_lip, dtype=np.float64)
    outer = np.asarray(outer_lip, dtype=np.float64)
    for name, polygon in (("inner_lip", inner), ("outer_lip", outer)):
        if polygon.ndim != 2 or polygon.shape[1] != 2 or len(polygon) < 3 \
                or not np.isfinite(polygon).all():
            raise ValueError(f"{name}: expected a finite (N >= 3, 2) polygon, got shape "
                             f"{polygon.shape}")
    x0, y0, x1, y1 = _pixel_window((*(outer.min(axis=0) - 1), *(outer.max(axis=0) + 1)), height,
                                   width)
    rgb = image[y0:y1, x0:x1].astype(np.float64)
    inside_inner = polygon_mask(inner - (x0, y0), y1 - y0, x1 - x0)
    band = polygon_mask(outer - (x0, y0), y1 - y0, x1 - x0) & ~inside_inner
    if band.sum() < 8:
        return float("nan")
    if not inside_inner.any():
        return 0.0
    lip_luma = max(float(np.median(rgb[band] @ REC601_LUMA)), 1.0)
    lip_saturation = float(np.median(saturation(rgb[band])))
    brightness = (rgb[inside_inner] @ REC601_LUMA) / lip_luma
    whiteness = brightness * lip_saturation / np.maximum(saturation(rgb[inside_inner]), 1e-3)
    return float(((brightness >= TEETH_MIN_BRIGHTNESS) & (whiteness >= TEETH_MIN_WHITENESS)).sum())


def mouth_interior(image: np.ndarray, landmarks: np.ndarray) -> float:
    """Visible mouth interior: the area inside the outer-lip contour (48-59) that is not lip-coloured,
    divided by the interocular distance squared.

    The lip colour is the median RGB of the lip band (inside the outer contour, outside the inner
    one, 60-67); a pixel counts 0 up to an RGB distance of `INTERIOR_LOW` x the lip colour's norm
    and 1 from `INTERIOR_HIGH` x, linearly in between. So the dark cavity and the teeth of an open
    mouth count and the lips do not: about 0 for closed lips (a thin dark line between them at
    most), 0.01-0.1 for speech, wherever dlib puts the inner-lip points. A blurred mouth, its
    interior smeared toward the lip colour, counts less. NaN when the lip band is under 8 pixels.
    """
    points = check_landmarks(landmarks)
    rgb, local = _face_window(image, points)
    height, width = rgb.shape[:2]
    if height == 0 or width == 0:
        return float("nan")
    outer = polygon_mask(local[list(_OUTER_LIP)], height, width)
    band = outer & ~polygon_mask(local[list(_INNER_LIP)], height, width)
    if band.sum() < 8:
        return float("nan")
    lip = np.median(rgb[band], axis=0)  # (3,)
    distance = np.linalg.norm(rgb[outer] - lip, axis=1) / max(float(np.linalg.norm(lip)), 1.0)
    weight = np.clip((distance - INTERIOR_LOW) / (INTERIOR_HIGH - INTERIOR_LOW), 0.0, 1.0)
    scale = float(interocular_distance(points))
    return float(weight.sum() / max(scale * scale, 1e-9))
