"""One face followed through consecutive video frames without detecting it in every frame.

dlib's HOG detector costs about 15-60 ms a frame, its 68-point shape predictor about 2 ms. Between
full detections, `FaceFollower` predicts a frame's landmarks in a box placed where the previous
frame's landmarks say the face is: the box sits on those landmarks as the detector's box sat on the
landmarks of the last detection (the predictor was trained on detector boxes, so it wants the same
framing). A full detection runs every `redetect_every` frames, and at once when the followed face
jumps or changes size by more than `max_change` of its size in one frame (a cut, a lost face).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from reenact.config import ConfigError
from reenact.preprocess.face import Face, FaceAnalyzer, nearest_face


@runtime_checkable
class LandmarkRefiner(Protocol):
    """A face analyzer that can also predict landmarks in a given box (`DlibFaceAnalyzer`)."""

    def detect(self, image: np.ndarray) -> list[Face]: ...

    def landmarks_in(self, image: np.ndarray,
                     box: tuple[float, float, float, float]) -> np.ndarray | None: ...


@dataclass(frozen=True)
class FollowConfig:
    """redetect_every: frames from one full detection to the next (1: detect in every frame).
    max_change: a followed face whose landmark box moves or changes size by more than this share
        of its size from the previous frame is detected again in that frame."""

    redetect_every: int = 12
    max_change: float = 0.25

    def __post_init__(self) -> None:
        if isinstance(self.redetect_every, bool) or not isinstance(self.redetect_every, int) \
                or self.redetect_every < 1:
            raise ConfigError(f"FollowConfig.redetect_every: expected an integer >= 1, got "
                              f"{self.redetect_every!r}")
        if isinstance(self.max_change, bool) or not isinstance(self.max_change, (int, float)) \
                or not 0 < self.max_change < math.inf:
            raise ConfigError(f"FollowConfig.max_change: expected a positive number, got "
                              f"{self.max_change!r}")


def _landmark_box(points: np.ndarray) -> np.ndarray:
    """(68, 2) -> (4,) x0, y0, x1, y1 of the points."""
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


class FaceFollower:
    """A `FaceAnalyzer` for consecutive frames of one video: `detect(frame)` returns the detector's
    faces on detection frames and the followed face alone in between. Use one per video."""

    def __init__(self, analyzer: LandmarkRefiner, config: FollowConfig | None = None) -> None:
        self.analyzer = analyzer
        self.config = config if config is not None else FollowConfig()
        self._previous: Face | None = None
        self._box_on_landmarks: np.ndarray | None = None  # detector box in landmark-box units
        self._since_detection = 0
        self.detections = 0  # full detections run so far

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in `image` (H, W, 3) uint8 RGB, the next frame of the video."""
        if self._previous is not None and self._since_detection + 1 < self.config.redetect_every:
            followed = self._follow(image, self._previous)
            if followed is not None:
                self._since_detection += 1
                self._previous = followed
                return [followed]
        return self._detect(image)

    def _detect(self, image: np.ndarray) -> list[Face]:
        faces = self.analyzer.detect(image)
        self.detections += 1
        self._since_detection = 0
        previous = None if self._previous is None else self._previous.center
        face = nearest_face(faces, previous) if faces else None
        self._previous = face
        self._box_on_landmarks = None
        if face is not None and face.landmarks is not None:
            marks = _landmark_box(face.landmarks)
            origin, size = marks[:2], np.maximum(marks[2:] - marks[:2], 1e-6)
            box = np.asarray(face.box)
            self._box_on_landmarks = np.concatenate([(box[:2] - origin) / size,
                                                     (box[2:] - origin) / size])
        return faces

    def _follow(self, image: np.ndarray, previous: Face) -> Face | None:
        if previous.landmarks is None or self._box_on_landmarks is None:
            return None
        marks = _landmark_box(previous.landmarks)
        origin, size = marks[:2], np.maximum(marks[2:] - marks[:2], 1e-6)
        relative = self._box_on_landmarks
        box = np.concatenate([origin + relative[:2] * size, origin + relative[2:] * size])
        points = self.analyzer.landmarks_in(image, tuple(float(v) for v in box))
        if points is None or not np.isfinite(points).all():
            return None
        new = _landmark_box(points)
        new_size = np.maximum(new[2:] - new[:2], 1e-6)
        scale = float(np.max(size))
        moved = np.abs((new[:2] + new[2:]) / 2 - (marks[:2] + marks[2:]) / 2).max() / scale
        resized = np.abs(np.log(new_size / size)).max()
        if moved > self.config.max_change or resized > math.log1p(self.config.max_change):
            return None
        placed = np.concatenate([new[:2] + relative[:2] * new_size, new[:2] + relative[2:] * new_size])
        return Face(tuple(float(v) for v in placed), previous.score, points)


def follower_for(analyzer: FaceAnalyzer, config: FollowConfig | None = None) -> FaceAnalyzer:
    """A `FaceFollower` around `analyzer` where it can predict landmarks in a box, else `analyzer`
    itself (detection in every frame)."""
    if isinstance(analyzer, LandmarkRefiner) and getattr(analyzer, "landmarks_in", None) is not None:
        if config is not None and config.redetect_every == 1:
            return analyzer
        return FaceFollower(analyzer, config)
    return analyzer
