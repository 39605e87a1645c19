"""Where a drawn mouth's inside comes from in an opened reference: hung from the upper lip, with
the lower teeth risen with the lower lip.

A mouth drawn narrower than its open reference (`reenact.postprocess.mouth_warp`) shows only part
of the reference's inside. Hung from the upper lip (`lip_hang`), that part is the top of it: the
upper teeth, then the cavity, cut off by the lower lip, so a painted reference's lower teeth
(just above its lower lip) never showed in speech, and its openings were upper teeth over a dark
slab where real speech shows the lower teeth's edge above the lower lip too. `lower_teeth`: a
band above the lower lip sampled from just above the reference's lower lip (its painted lower
teeth), shown from a gap of `LOWER_FROM`, behind a thin dark seam along its top (where the band
met the upper teeth without it, an opening read as one white slab; dev grid_bbaf2n shows the line
between the rows).

Tried and not kept (docs/talk-and-dub.md): the middle of the inside hung from the skull (the pose
landmarks' similarity), so that a lip rising over the upper teeth uncovers them. With this band,
6 dev self-reenactment clips' mouth boxes came nearer the drivers' (mouth L1 on open frames
0.0364 -> 0.0337, this band alone 0.0349), but dlib's lips r fell 0.92 -> 0.87 and held out the
mouth interior r 0.68 -> 0.64.

Coordinates are continuous image pixels of the frame being drawn (region pixels where a caller
draws a region), pixel (row i, column j) centred at (j + 0.5, i + 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenact.point_geometry import similarity_fit
from reenact.postprocess.mouth_interior import catmull_rom, smoothstep
from reenact.preprocess.expressions import interocular_distance

# the lower teeth's band: at most this many interocular distances tall, nor more than this share
# of the gap; shown from the first gap to the second (interocular distances: a mouth a little
# open shows no lower teeth)
LOWER_HEIGHT, LOWER_SHARE = 0.05, 0.4
LOWER_FROM = (0.08, 0.14)
# the band is sampled this far (interocular distances) inside the reference's lower lip, on its
# teeth rather than on the lip's inner edge
LOWER_INSET = 0.03
# the dark line between the rows: its darkness at the band's top edge and its width (Gaussian
# sigma, interocular distances)
SEAM_DARK, SEAM_WIDTH = 0.6, 0.008
# ... and a softer one where the teeth meet the lower lip (the lip's inner edge stands in front of
# them): on 6 dev clips FaceMesh's gap then moves 0.80x the driver's, 0.79x without (the code
# before this band: 0.85x), dlib's 0.87x (0.85x; 0.87x)
LIP_SHADOW = 0.5
# the band, its seam and shadow fade out from this to this fraction of the way to the corners (a
# smoothstep, as the painted lower teeth do): drawn to the corners, the band and its two dark
# lines outlined the whole lower lip, a drawn ring in talk's portraits (dev woman_smiling,
# man_painting); the pixel and landmark measures on dev did not change
ACROSS_FADE = (0.4, 0.7)
_UPPER_INNER = (60, 61, 62, 63, 64)
_LOWER_INNER = (64, 65, 66, 67, 60)


@dataclass(frozen=True)
class LowerTeeth:
    """The lower teeth's band over a box of pixels (`lower_teeth`): source_x, source_y: (h, w)
    where to sample the reference; share: (h, w) in [0, 1], how much of the band to take;
    keep: (h, w) in [0, 1], what is left of each pixel's brightness after the seam."""

    source_x: np.ndarray
    source_y: np.ndarray
    share: np.ndarray
    keep: np.ndarray


def _affine_map(affine: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(h, w) x and y of (2, 3) `affine` applied to the grid of (w,) `xs` and (h, 1) `ys`."""
    shape = (len(ys), len(xs))
    return (np.broadcast_to(affine[0, 0] * xs + affine[0, 1] * ys + affine[0, 2], shape),
            np.broadcast_to(affine[1, 0] * xs + affine[1, 1] * ys + affine[1, 2], shape))


def lip_hang(target: np.ndarray, reference: np.ndarray, xs: np.ndarray,
             ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(h, w) source x and y in the reference for the pixels of the grid (w,) `xs` x (h, 1) `ys`:
    the inside hung from the upper inner lip (the similarity that takes `target`'s upper inner
    lip landmarks to `reference`'s; both (68, 2))."""
    upper = list(_UPPER_INNER)
    return _affine_map(similarity_fit(target[upper], reference[upper]), xs, ys)


def lower_teeth(target: np.ndarray, reference: np.ndarray, xs: np.ndarray,
                ys: np.ndarray) -> LowerTeeth:
    """The lower teeth's band for the grid (w,) `xs` x (h, 1) `ys` of a mouth whose landmarks are
    `target`, drawn from a reference whose landmarks are `reference` (both (68, 2)): the bottom
    `LOWER_HEIGHT` (at most `LOWER_SHARE` of the gap) of the opening above the lower lip, faded
    out over half as much above it, with the seam's dark line along its top and the lip's
    shadow (`LIP_SHADOW`) along its bottom, all faded out toward the corners (`ACROSS_FADE`).
    Each pixel samples the reference as high above its lower inner lip (in interocular
    distances, plus `LOWER_INSET`) as the pixel is above the target's, the column carried by the
    similarity of the lower inner lips: the painted band follows the reference's lower lip, which
    a wider opening curves more (the similarity alone, fitted on a flatter lip, sampled the
    cavity above the band in the middle)."""
    lower = list(_LOWER_INNER)
    rise = similarity_fit(target[lower], reference[lower])
    source_x, _ = _affine_map(rise, xs, ys)

    def rows_on(curve: np.ndarray, at: np.ndarray) -> np.ndarray:  # the curve's y at each x
        order = np.argsort(curve[:, 0])
        return np.interp(at, curve[order, 0], curve[order, 1])

    bottom = rows_on(catmull_rom(target[lower]), xs.ravel())  # (w,)
    top = rows_on(catmull_rom(target[list(_UPPER_INNER)]), xs.ravel())
    distance = max(float(interocular_distance(target)), 1e-9)
    scale = float(interocular_distance(reference)) / distance
    height = bottom - ys  # (h, w) above the target's lower lip, pixels
    reference_bottom = rows_on(catmull_rom(reference[lower]), source_x)
    source_y = reference_bottom - scale * (height + LOWER_INSET * distance)
    gap = np.maximum(bottom - top, 0.0)
    shown = np.clip((gap / distance - LOWER_FROM[0]) / (LOWER_FROM[1] - LOWER_FROM[0]), 0.0, 1.0)
    band = np.minimum(LOWER_HEIGHT * distance, LOWER_SHARE * gap) * shown  # (w,)
    above = height - band  # (h, w) how far above the band's top edge
    left, right = target[60], target[64]
    half = max(float(np.linalg.norm(right - left)) / 2, 1e-9)
    axis = (right - left) / (2 * half)
    centre = (left + right) / 2
    across = np.abs((xs - centre[0]) * axis[0] + (ys - centre[1]) * axis[1]) / half  # (h, w)
    middle = (1 - smoothstep(*ACROSS_FADE, across)) * (band > 0)  # 0 toward the corners
    share = np.clip(1 - above / np.maximum(0.5 * band, 0.5), 0.0, 1.0) * middle
    seam = SEAM_DARK * shown * np.exp(-0.5 * (above / max(SEAM_WIDTH * distance, 0.5)) ** 2)
    shadow = LIP_SHADOW * shown * np.exp(-0.5 * (height / max(SEAM_WIDTH * distance, 0.5)) ** 2)
    return LowerTeeth(source_x, source_y, share, (1 - seam * middle) * (1 - shadow * middle))
