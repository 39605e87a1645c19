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

from reenact.point_geometry import convex_hull_area
from reenact.preprocess.crop import CropBox
from reenact.preprocess.expressions import check_face_landmarks
from reenact.smoothing import gaussian_smooth

SMOOTHING = 1.0  # gaussian sigma, frames, over the driver's landmark series


def smoothed_series(landmarks: list[np.ndarray | None], sigma: float = SMOOTHING
                    ) -> list[np.ndarray | None]:
    """Per frame (68, 2) landmarks low-passed over time (`smoothing.gaussian_smooth`, `sigma`
    frames), each run of frames with landmarks on its own; a frame without keeps None."""
    out: list[np.ndarray | None] = list(landmarks)
    if sigma <= 0:
        return out
    index = 0
    while index < len(landmarks):
        if landmarks[index] is None:
            index += 1
            continue
        end = index
        while end < len(landmarks) and landmarks[end] is not None:
            end += 1
        run = np.stack([check_face_landmarks(points) for points in landmarks[index:end]])
        out[index:end] = list(gaussian_smooth(run, sigma))
        index = end
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
