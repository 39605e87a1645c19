"""A parted photo's own upper inside drawn into its further-opened reference: the photo's real
upper teeth over a painted cavity (`reenact.pipelines.portrait_mouth`: drawn wider from its own
inside, a smile's teeth together had stretched into a row of tall teeth).

Coordinates are continuous image pixels, pixel (row i, column j) centred at (j + 0.5, i + 0.5).
"""

from __future__ import annotations

import numpy as np

from reenact.point_geometry import apply_affine, similarity_fit
from reenact.postprocess.mouth_mask import polygon_box, polygon_coverage
from reenact.postprocess.mouth_warp import inner_lip_outline
from reenact.postprocess.piecewise import row_spans
from reenact.preprocess.face import REC601_LUMA
from reenact.preprocess.pixels import bilinear_samples

SEAM_FROM, SEAM_TO = 0.3, 0.9  # where `hung_inside` looks for the teeth's seam, of the inside's height


def hung_inside(reference: np.ndarray, opened: np.ndarray, image: np.ndarray,
                landmarks: np.ndarray) -> np.ndarray:
    """`reference` (the photo's mouth opened further, its inside painted; (68, 2) landmarks
    `opened`) with the photo's own inside above its teeth's seam drawn between the opened inner
    lips, hung from the upper lip (the similarity of the upper inner lip, 60-64, from `opened`
    to the photo's `landmarks`): the photo's real upper teeth over a painted cavity. The seam, per
    column of the photo's inside, is its darkest row (luma) from `SEAM_FROM` to `SEAM_TO` of the
    way down from the upper inner lip to the lower (between teeth together, the line where they
    meet; in an open mouth, the cavity), smoothed across columns; the cut is feathered by a
    pixel."""
    height, width = image.shape[:2]
    outline = inner_lip_outline(landmarks)
    x0, y0, x1, y1 = polygon_box(outline, width, height)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return reference
    inside = polygon_coverage(outline - (x0, y0), x1 - x0, y1 - y0)  # (h, w)
    luma = image[y0:y1, x0:x1].astype(np.float64) @ REC601_LUMA
    rows = np.arange(y1 - y0, dtype=np.float64)[:, None]
    top, bottom = row_spans((inside > 0.5).T).T.astype(np.float64)  # per column, rows covered
    gap = bottom - top
    span = (rows >= top + SEAM_FROM * gap) & (rows <= top + SEAM_TO * gap)
    smoothed = (luma + np.roll(luma, 1, axis=0) + np.roll(luma, -1, axis=0)) / 3
    seam = np.where(span.any(axis=0), np.argmax(np.where(span, -smoothed, -np.inf), axis=0),
                    bottom).astype(np.float64)
    seam = np.convolve(np.pad(seam, 2, mode="edge"), np.full(5, 0.2), mode="valid")
    upper = inside * np.clip(seam[None, :] - rows, 0.0, 1.0)  # above the seam, by a pixel's ramp
    # each pixel of the opened mouth's inside reads the photo where the upper lip hangs it
    opened_outline = inner_lip_outline(opened)
    ox0, oy0, ox1, oy1 = polygon_box(opened_outline, *reference.shape[1::-1])
    if ox1 <= ox0 or oy1 <= oy0:
        return reference
    lips = list(range(60, 65))
    hang = similarity_fit(opened[lips], landmarks[lips])
    ys, xs = np.mgrid[oy0:oy1, ox0:ox1] + 0.5
    source = apply_affine(hang, np.stack([xs.ravel(), ys.ravel()], axis=1))
    sx, sy = source[:, 0] - x0 - 0.5, source[:, 1] - y0 - 0.5  # the photo box's pixel indices
    read = bilinear_samples(np.dstack([image[y0:y1, x0:x1], upper]), sx, sy)  # (N, 4)
    pixels = read[:, :3]
    alpha = read[:, 3] * polygon_coverage(opened_outline - (ox0, oy0), ox1 - ox0,
                                          oy1 - oy0).ravel()
    region = reference[oy0:oy1, ox0:ox1].reshape(-1, 3).astype(np.float64)
    mixed = region + alpha[:, None] * (pixels - region)
    result = reference.copy()
    result[oy0:oy1, ox0:ox1] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8).reshape(
        oy1 - oy0, ox1 - ox0, 3)
    return result
