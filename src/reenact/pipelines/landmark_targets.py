"""Where the photo's landmarks belong in each output frame: the driver's landmark motion carried
onto the photo the way the motion model's keypoints are (`geometry.normalize_keypoints`).

Both faces are measured in crop fractions: the photo's landmarks in its own crop box, the driver's
in the crop box of the driving frame motion is measured from (each frame's landmarks are in frame
pixels, so a head moving through the frame moves them, as `keypoints.reframe_keypoints` does for
keypoints). Relative motion: target = photo + scale * (driver now - driver initially), scale the
square root of the faces' landmark-hull area ratio when the movement scale is adapted; absolute:
target = driver now. The driver's series is smoothed over time first (dlib's jaw and brows jitter
by a pixel or two between frames). `reenact.postprocess.landmark_fit` fits the model's motion to
the targets.
"""

from __future__ import annotations

import math

import numpy as np

from reenact.geometry import convex_hull_area
from reenact.preprocess.crop import CropBox
from reenact.preprocess.expressions import check_face_landmarks

SMOOTHING = 1.0  # gaussian sigma, frames, over the driver's landmark series


def smoothed_series(landmarks: list[np.ndarray | None], sigma: float = SMOOTHING
                    ) -> list[np.ndarray | None]:
    """Per frame (68, 2) landmarks averaged with their neighbours' (gaussian in frames, over the
    frames that have landmarks; a frame without keeps None)."""
    found = [i for i, points in enumerate(landmarks) if points is not None]
    if sigma <= 0 or len(found) < 2:
        return list(landmarks)
    stack = np.stack([check_face_landmarks(landmarks[i]) for i in found])
    times = np.asarray(found, dtype=np.float64)
    out: list[np.ndarray | None] = [None] * len(landmarks)
    for row, t in enumerate(times):
        weights = np.exp(-0.5 * ((times - t) / sigma) ** 2)
        weights[np.abs(times - t) > 3 * sigma] = 0
        out[found[row]] = np.tensordot(weights / weights.sum(), stack, axes=1)
    return out


def landmark_targets(driving: list[np.ndarray | None], initial: int,
                     photo: np.ndarray, photo_box: CropBox, reference: CropBox, *,
                     relative: bool = True, adapt_scale: bool = True
                     ) -> list[np.ndarray | None]:
    """Per driving frame, (68, 2) photo pixels where the photo's `photo` landmarks belong (None
    where the frame has no landmarks, or relative motion has no `initial` landmarks).

    driving: per frame the driver's landmarks (frame pixels); initial: the index of the driving
    frame motion is measured from; photo_box: the photo's crop box; reference: the crop box of the
    driving frame motion is measured from."""
    photo = check_face_landmarks(photo, "photo")
    series = smoothed_series(driving)
    if relative and (not 0 <= initial < len(series) or series[initial] is None):
        return [None] * len(driving)
    to_photo = lambda q: photo_box.crop_to_image(q, 1)  # noqa: E731 - crop fractions -> pixels
    photo_q = photo_box.image_to_crop(photo, 1)
    start = reference.image_to_crop(series[initial], 1) if relative else None
    scale = 1.0
    if relative and adapt_scale:
        area = convex_hull_area(start)
        scale = math.sqrt(convex_hull_area(photo_q) / area) if area > 0 else 1.0
    targets: list[np.ndarray | None] = []
    for points in series:
        if points is None:
            targets.append(None)
            continue
        now = reference.image_to_crop(points, 1)
        targets.append(to_photo(photo_q + scale * (now - start) if relative else now))
    return targets
