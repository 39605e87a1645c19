"""The brows' five points each, read by FaceMesh instead of dlib: a raised brow that dlib reads low.

dlib's 68-point predictor places the brows well on a face at rest, but on a brow raised high it
keeps its points near where a resting brow would be, on the skin under the brow (dev clip lp_d10, a
surprised face: dlib's brows 0.20 interocular distances above the eye corners where the frame at
rest read 0.32, while the brows had risen; FaceMesh, on the brow itself, 0.35 -> 0.39). The motion
model's brow keypoints, anchored on dlib's brows, then pulled the photo's brows *down* onto the lids
whenever the driver raised them, drawn as two dark blots (`reenact.pipelines.driving_mesh` mends
the driver's brows where the two models disagree).

FaceMesh traces each brow's upper and lower edge with five points. A dlib-like point lies between
them: `BROW_DEPTH` is the fraction of the way from the upper edge to the lower one, from the brow's
outer end to its inner one (the median over 10 dev clips, 600 frames, where the two models agree:
about a fifth of the way at the outer end and two thirds at the inner one, as dlib traces a brow).
"""

from __future__ import annotations

import numpy as np

from reenact.preprocess.expressions import check_face_landmarks
from reenact.preprocess.face_mesh import check_mesh

# MediaPipe face-mesh indices of each brow's upper and lower edge, from its outer end to its inner
# one: the subject's right brow (dlib's 17 .. 21, outer first), then its left (dlib's 26 .. 22)
RIGHT_BROW_UPPER = (70, 63, 105, 66, 107)
RIGHT_BROW_LOWER = (46, 53, 52, 65, 55)
LEFT_BROW_UPPER = (300, 293, 334, 296, 336)
LEFT_BROW_LOWER = (276, 283, 282, 295, 285)
BROW_DEPTH = (0.2, 0.1, 0.4, 0.6, 0.7)  # outer end to inner; 0 the upper edge, 1 the lower
RIGHT_BROW = (17, 18, 19, 20, 21)  # dlib's, outer end first
LEFT_BROW = (26, 25, 24, 23, 22)


def mesh_brows(landmarks: np.ndarray, mesh: np.ndarray) -> np.ndarray:
    """(68, 2) float64: `landmarks` (68, 2) with the brows' points (17-26) placed on the same face's
    FaceMesh `mesh` (>= 468, 2) brows, as dlib would place them on a brow it reads well."""
    out = check_face_landmarks(landmarks).astype(np.float64, copy=True)
    points = check_mesh(mesh, "mesh")
    depth = np.asarray(BROW_DEPTH)[:, None]  # (5, 1)
    for brow, upper, lower in ((RIGHT_BROW, RIGHT_BROW_UPPER, RIGHT_BROW_LOWER),
                               (LEFT_BROW, LEFT_BROW_UPPER, LEFT_BROW_LOWER)):
        top, bottom = points[list(upper)], points[list(lower)]
        out[list(brow)] = top + depth * (bottom - top)
    return out
