"""The jaw moved as one bone: the model's motion over the chin and jaw, made affine.

The motion model drops the chin with its chin keypoint, whose pull is a few lattice cells wide,
and pulls it sideways with others as narrow: an opening mouth took the chin's middle down while
the jaw beside it rose with the head, and a sideways pull tore the chin's outline apart across
one lattice cell (6-8 px either way at the README astronaut's chin). The chin came out drawn to a
point, notched, with the dark neck showing beside it, on every syllable. The lower jaw is one
bone, hinged near the ears: the chin, the jaw line and the skin between them move as one rigid
piece, which in a photo's plane is close to an affine map (a turn about the hinge stretches the
face's height).

So over the jaw's region (inside the photo's jaw outline, 68-point landmarks 0-16, from a little
below the lower lip's outer edge, point 57) the motion is replaced by the affine map fitted to it
there (least squares over the deformation lattice's cells), in two parts:
- along the face's own down (the jaw's drop): whole from `LIP_FADE`[1] eyes-to-chin heights below
  the lower lip, none above `LIP_FADE`[0] (the lips keep the model's motion: a wide-open photo
  closing them had its lower lip held open by the chin's fit); beside the mouth the fade starts
  higher (`SIDE_SLOPE`, up to `SIDE_REACH`), so the cheeks do not bend the jaw line at the lip's
  row. Under the chin (between jaw points 5 and 11, `CHIN_SIDES`) it is whole to `margin` past the
  jaw line (the chin's edge and the shadow under it go with the chin) and fades out over `fade`
  more (smoothstep); toward the jaw's sides (points 3 and 13, `JAW_SIDES`) that reach shrinks to
  `SIDE_EDGE`: there the neck beside the jaw stays where the model leaves it (dev grid_pwij3p
  self-reenactment, 25 frames: the neck's shadow dragged down with the jaw's sides took PSNR
  34.64 -> 34.22 dB; 34.48 with the shorter reach);
- across it (the sideways tear): the same, but only under the chin, fading out toward the jaw's
  sides: there the model's sideways motion is a turning head's silhouette, and the fitted one
  bulged the cheek over the background.
"""

from __future__ import annotations

import math

import numpy as np

from reenact.postprocess.body_hold import JAW, eyes_to_chin, head_distance, jaw_ends_row
from reenact.preprocess.crop import CropBox
from reenact.preprocess.expressions import check_face_landmarks, face_down

LOWER_LIP_OUTER = 57  # the lower lip's outer edge, middle
LIP_FADE = (0.05, 0.15)  # the fade from none to whole below it, eyes-to-chin heights
MOUTH_CORNERS = (48, 54)
SIDE_SLOPE = 1.0  # beside the mouth the fade starts this much higher per pixel further out...
SIDE_REACH = 0.25  # ...up to this many eyes-to-chin heights higher
CHIN_SIDES = (5, 11)  # across the face, the chin is between these jaw points...
JAW_SIDES = (3, 13)  # ...and the jaw's sides from these out (see the module)
SIDE_EDGE = 0.03  # the fit's reach past the jaw line there, eyes-to-chin heights
_MIN_CELLS = 6.0  # a fit over fewer (weighted) lattice cells than this is not made
_INSIDE_RAMP = 0.05  # cells within this many eyes-to-chin heights outside the jaw line still fit


class JawMotion:
    """The model's motion made affine over the jaw of a photo with 68 face `landmarks` (image
    pixels, (x, y)); `margin` and `fade` in eyes-to-chin heights (see the module)."""

    def __init__(self, landmarks: np.ndarray, margin: float = 0.08, fade: float = 0.15) -> None:
        points = check_face_landmarks(landmarks)
        for name, value in (("margin", margin), ("fade", fade)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0 or (name == "fade" and value == 0):
                raise ValueError(f"{name}: expected a number >= 0{' (fade > 0)' * (name == 'fade')}"
                                 f", got {value!r}")
        self._jaw, self._ends_row = points[JAW], jaw_ends_row(points)
        self.height = eyes_to_chin(points)
        self.margin, self.fade = margin * self.height, fade * self.height
        self._down = face_down(points)
        self._across = np.array([-self._down[1], self._down[0]])
        corners = points[list(MOUTH_CORNERS)] @ self._across
        self._middle, self._half_width = float(corners.mean()), float(abs(np.diff(corners)[0])) / 2
        self._chin_half = self._half_across(points, CHIN_SIDES)
        self._jaw_half = max(self._half_across(points, JAW_SIDES), self._chin_half + 1.0)
        lip = float(points[LOWER_LIP_OUTER] @ self._down)
        self._fade_from, self._fade_to = (lip + share * self.height for share in LIP_FADE)
        self._masks: dict[tuple[CropBox, int, int], tuple[np.ndarray, ...]] = {}

    def masks(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """At image points (`x`, `y`, same shape): how much each point takes of the fitted map
        along the face's down and across it, in [0, 1], and how much it counts in the fit (0 or
        more)."""
        xy = np.stack([x, y], axis=-1)
        lateral = np.abs(xy @ self._across - self._middle)
        beside = np.maximum(lateral - self._half_width, 0.0)
        top = self._fade_from - np.minimum(SIDE_SLOPE * beside, SIDE_REACH * self.height)
        along = (xy @ self._down - top) / (self._fade_to - top)
        below = _smoothstep(along)  # 0 near the lower lip, 1 from LIP_FADE[1] below it
        distance = head_distance(self._jaw, self._ends_row, x, y)
        chin = 1 - _smoothstep((lateral - self._chin_half) / (self._jaw_half - self._chin_half))
        beyond = chin * (1 - _smoothstep((distance - self.margin) / self.fade)) \
            + (1 - chin) * (1 - _smoothstep(distance / (SIDE_EDGE * self.height)))
        taken = below * beyond
        counted = np.where(along >= 1, 1.0, 0.0) \
            * np.clip(1 - distance / (_INSIDE_RAMP * self.height), 0.0, 1.0)
        return taken, taken * chin, counted

    def _half_across(self, points: np.ndarray, pair: tuple[int, int]) -> float:
        """Half the distance across the face between two of the (68, 2) `points`."""
        return abs(float((points[pair[1]] - points[pair[0]]) @ self._across)) / 2

    def rigid(self, box: CropBox, displacement: np.ndarray) -> np.ndarray:
        """(h, w, 2) `displacement` (any units, the same on both axes' cells: an h x w lattice over
        crop `box`, cell centres at (i + 0.5) / h of the box's side) with the jaw's part replaced by
        the affine map fitted to it; unchanged where too little of the jaw lies on the lattice."""
        displacement = np.asarray(displacement)
        cells_y, cells_x = displacement.shape[:2]
        key = (box, cells_y, cells_x)
        if key not in self._masks:
            rows = box.y0 + (np.arange(cells_y) + 0.5) * (box.side / cells_y)
            columns = box.x0 + (np.arange(cells_x) + 0.5) * (box.side / cells_x)
            x, y = np.meshgrid(columns, rows)
            self._masks[key] = self.masks(x, y)
        down, across, counted = self._masks[key]
        if counted.sum() < _MIN_CELLS:
            return displacement
        rows, columns = np.nonzero(counted)
        weights = counted[rows, columns]
        design = np.stack([columns, rows, np.ones(len(rows))], axis=1).astype(np.float64)
        values = np.asarray(displacement, dtype=np.float64)[rows, columns]  # (N, 2)
        weighted = design * weights[:, None]
        coefficients = np.linalg.lstsq(weighted.T @ design, weighted.T @ values, rcond=None)[0]
        y, x = np.mgrid[0:cells_y, 0:cells_x]
        fitted = np.stack([x, y, np.ones_like(x)], axis=-1) @ coefficients  # (h, w, 2)
        change = fitted - displacement
        result = (displacement + (down * (change @ self._down))[..., None] * self._down
                  + (across * (change @ self._across))[..., None] * self._across)
        return result.astype(displacement.dtype, copy=False)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)
