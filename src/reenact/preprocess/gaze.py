"""Where each iris sits in its eye, read from the pixels between dlib's lids: the gaze that
`animate` carries from the driver onto the photo's own eyes (`reenact.postprocess.eyelids`).

dlib's 68 points outline the lids but not the iris. Between the lids, the iris (and pupil) is the
darkest part of the eye and the white the brightest, so along the eye, from corner to corner,
the dark mass's centre is the iris's position:

    image (H, W, 3) uint8 + (68, 2) landmarks
      -> per eye, a lattice in the eye's own frame (u along it from the middle, in half corner
         distances; v across, between the lid margins at 20-80% of the gap)
      -> luminance sampled there (bilinear), averaged across -> a profile along u
      -> darkness = how far each sample is below halfway between the profile's dark (10th
         percentile) and light (90th) levels
      -> the darkness-weighted mean of u: the iris's position (-1 / +1: at the image-left / right
         corner)

A closed or tiny eye has no iris to read (NaN). Checked against mediapipe FaceMesh's iris points on
dev clips (lp_d0, lp_d14: eyes that look from side to side): r 0.97-0.98 over time, the pixel
reading about 1.25x FaceMesh's offsets; where the eyes hold still (lp_d18, vr_1) it wanders by a
standard deviation of ~0.05-0.07 half lengths (FaceMesh: ~0.02).
"""

from __future__ import annotations

import numpy as np

from reenact.preprocess.expressions import check_face_landmarks
from reenact.preprocess.face import REC601_LUMA, check_rgb_image
from reenact.preprocess.pixels import bilinear_samples

# each eye's six points: corner, upper lid (2), corner, lower lid (2), as in dlib's 68
EYE_POINTS = ((36, 37, 38, 39, 40, 41), (42, 43, 44, 45, 46, 47))
ALONG = np.linspace(-0.85, 0.85, 35)  # u of the samples, half corner distances (corners are shade)
ACROSS = np.linspace(0.2, 0.8, 7)  # v of the samples, as shares of the lid gap
# percent: the profile's dark and light levels; samples darker than halfway are the iris's
DARK_RANGE = (10, 90)
MIN_OPENING = 0.12  # the lid gap over the corner distance below which the eye is too shut to read
MIN_LENGTH = 8.0  # pixels between the corners below which an eye is too small to read


def _iris(image: np.ndarray, points: np.ndarray) -> float:
    """The iris's position along one eye (half corner distances, + toward its second corner), or
    NaN; `points`: (6, 2) that eye's landmarks in `EYE_POINTS` order."""
    first, last = points[0], points[3]
    length = float(np.linalg.norm(last - first))
    if length < MIN_LENGTH:
        return float("nan")
    half = length / 2
    along = (last - first) / length
    across = np.array([-along[1], along[0]])  # downward for an upright face
    origin = (first + last) / 2
    upper, lower = points[[0, 1, 2, 3]] - origin, points[[0, 5, 4, 3]] - origin
    if ((lower[1:3] - upper[1:3]) @ across).mean() < MIN_OPENING * length:
        return float("nan")
    u = ALONG * half
    top = np.interp(u, upper @ along, upper @ across)
    bottom = np.interp(u, lower @ along, lower @ across)
    v = top[None] + (bottom - top)[None] * ACROSS[:, None]  # (7, 35)
    x = origin[0] + u[None] * along[0] + v * across[0]
    y = origin[1] + u[None] * along[1] + v * across[1]
    profile = (bilinear_samples(image, x, y) @ REC601_LUMA).mean(axis=0)  # (35,) along the eye
    low, high = np.percentile(profile, DARK_RANGE)
    darkness = np.clip((low + high) / 2 - profile, 0, None)
    if darkness.sum() <= 0:  # a flat eye (a sketch, a blank): nothing to read
        return float("nan")
    return float((darkness * ALONG).sum() / darkness.sum())


def iris_positions(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(2,) float64 per eye (`EYE_POINTS` order: image left, then right), the iris's position
    along the eye from its middle in half corner distances, + toward the eye's second corner (36
    -> 39, 42 -> 45: the image's right on an upright face; see the module's docstring); NaN for
    an eye too shut or too small to read. image: (H, W, 3) uint8 RGB; landmarks: (68, 2) pixels."""
    points = check_face_landmarks(landmarks)
    check_rgb_image(image, "image")
    return np.array([_iris(image, points[list(eye)]) for eye in EYE_POINTS])
