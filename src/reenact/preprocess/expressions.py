"""Expression measurements from 68-point landmarks (iBUG 300-W order, see `reenact.preprocess.face`).

All lengths are divided by the interocular distance (between the two eye centres), which does not
change when the mouth or the eyelids move, so the numbers compare across face sizes and distances:
- mouth opening: mean gap between the inner lips (61-67, 62-66, 63-65); about 0 closed, 0.3-0.5
  wide open;
- mouth width: between the mouth corners (48-54); about 0.8-1.0 at rest;
- eye aspect ratio (Soukupova & Cech 2016): eyelid gap over eye width, both eyes averaged; about
  0.25-0.35 open, under 0.1 closed. `eye_closure` turns it into 0 (open) .. 1 (closed).
"""

from __future__ import annotations

import numpy as np

from reenact.preprocess.face import NUM_LANDMARKS

INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))
# landmarks a similarity fitted to them carries one frame's face onto another's pose: the eye
# corners and the nose, not the jaw line's top. A nod moves the jaw's top against the eyes by up
# to a third of the interocular distance and dlib places it loosely on the face's edge; the
# least-squares fit, pulled by those four far points, shrank the drawn mouth toward the eyes
# (dev vr_3's self-reenactment: the lips 5-10 px high at a 256-px face; 11 dev clips: AKD 2.59
# -> 2.37, FaceMesh's 2.37 -> 2.20)
RIGID_LANDMARKS = (36, 39, 42, 45, *range(27, 36))
# ... and with the jaw line's top, those speech and expressions barely move: how far two faces'
# poses differ is read on them (dub's reference frame)
POSE_LANDMARKS = (0, 1, 15, 16, *RIGID_LANDMARKS)
_MOUTH_CORNERS = (48, 54)
_RIGHT_EYE = tuple(range(36, 42))  # the subject's right eye: 36 outer corner .. 39 inner corner
_LEFT_EYE = tuple(range(42, 48))


def check_landmarks(landmarks: object) -> np.ndarray:
    """(..., 68, 2) float64 points, or ValueError naming `landmarks` and the shape it has."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.ndim < 2 or points.shape[-2:] != (NUM_LANDMARKS, 2):
        raise ValueError(f"landmarks: expected (..., {NUM_LANDMARKS}, 2) points, got "
                         f"{getattr(landmarks, 'shape', type(landmarks).__name__)}")
    return points


def check_face_landmarks(landmarks: object, name: str = "landmarks") -> np.ndarray:
    """(68, 2) finite float64 points of one face (`check_landmarks` takes batches and NaNs), or
    ValueError naming `name`. May share memory with `landmarks`: copy before writing."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (NUM_LANDMARKS, 2) or not np.isfinite(points).all():
        raise ValueError(f"{name}: expected finite ({NUM_LANDMARKS}, 2) points, got shape "
                         f"{getattr(landmarks, 'shape', type(landmarks).__name__)}")
    return points


def _distance(points: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(points[..., a, :] - points[..., b, :], axis=-1)


def interocular_distance(landmarks: np.ndarray) -> np.ndarray:
    """(...,) distance between the eye centres, in the landmarks' units."""
    points = check_landmarks(landmarks)
    right = points[..., list(_RIGHT_EYE), :].mean(axis=-2)
    left = points[..., list(_LEFT_EYE), :].mean(axis=-2)
    return np.linalg.norm(left - right, axis=-1)


def face_down(landmarks: np.ndarray) -> np.ndarray:
    """(..., 2) unit vectors square to the eye line (right eye centre -> left eye centre turned a
    quarter clockwise in image pixels, y down): the face's own down, toward the mouth; straight
    down where the eyes coincide."""
    points = check_landmarks(landmarks)
    across = (points[..., list(_LEFT_EYE), :].mean(axis=-2)
              - points[..., list(_RIGHT_EYE), :].mean(axis=-2))
    length = np.linalg.norm(across, axis=-1, keepdims=True)
    down = np.stack([-across[..., 1], across[..., 0]], axis=-1)
    return np.where(length > 0, down / np.maximum(length, 1e-300), np.array([0.0, 1.0]))


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """(...,) mean inner-lip gap / interocular distance."""
    points = check_landmarks(landmarks)
    gap = np.mean([_distance(points, a, b) for a, b in INNER_LIP_PAIRS], axis=0)
    return gap / np.maximum(interocular_distance(points), 1e-9)


def mouth_width(landmarks: np.ndarray) -> np.ndarray:
    """(...,) mouth-corner distance / interocular distance."""
    points = check_landmarks(landmarks)
    return _distance(points, *_MOUTH_CORNERS) / np.maximum(interocular_distance(points), 1e-9)


def _eye_ratio(points: np.ndarray, eye: tuple[int, ...]) -> np.ndarray:
    p0, p1, p2, p3, p4, p5 = eye
    vertical = _distance(points, p1, p5) + _distance(points, p2, p4)
    return vertical / np.maximum(2 * _distance(points, p0, p3), 1e-9)


def eye_aspect_ratios(landmarks: np.ndarray) -> np.ndarray:
    """(..., 2) eyelid gap / eye width per eye: the subject's right eye (image left) first."""
    points = check_landmarks(landmarks)
    return np.stack([_eye_ratio(points, _RIGHT_EYE), _eye_ratio(points, _LEFT_EYE)], axis=-1)


def eye_aspect_ratio(landmarks: np.ndarray) -> np.ndarray:
    """(...,) eyelid gap / eye width, averaged over both eyes."""
    ratios = eye_aspect_ratios(landmarks)
    return (ratios[..., 0] + ratios[..., 1]) / 2


def eye_closure(aspect_ratio: np.ndarray, open_ratio: float) -> np.ndarray:
    """(...,) 1 - aspect_ratio / open_ratio clipped to [0, 1]: 0 for eyes as open as `open_ratio`
    (a person's usual open-eye ratio, e.g. a high percentile over a video), 1 for closed."""
    if not open_ratio > 0:
        raise ValueError(f"open_ratio: expected a number > 0, got {open_ratio!r}")
    return np.clip(1 - np.asarray(aspect_ratio, dtype=np.float64) / open_ratio, 0.0, 1.0)
