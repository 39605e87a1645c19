"""One face followed through consecutive video frames without detecting it in every frame.

dlib's HOG detector costs about 15-60 ms a frame, its 68-point shape predictor about 2 ms. Between
full detections, `FaceFollower` predicts a frame's landmarks in a box placed where the previous
frame's landmarks say the face is: the box sits on the eye corners and nose as the detector's box
sat on those of the last detection (the predictor was trained on detector boxes, so it wants the
same framing). Those points, not the whole landmark box, because the box moves with expressions:
placed on the whole box, a box that grew with raised brows read the brows low and kept them low
until the next detection (dev clip lp_d10: brows 6.7 px from a full detection's at a 256-px face,
4.4 px low on average; the jaw, nose, eyes and lips 1.0-1.6 px). A full detection runs every
`redetect_every` frames, and at once when the followed face jumps or changes size by more than
`max_change` of its size in one frame (a cut, a lost face), or when its eyes' distance changes by
more than `max_eye_change` from the previous frame or by more than twice that from the last
detection. The eye check catches the predictor's worst failure, which the landmark box misses: on a
face with glasses and a wide grin it can settle on a shape 1.4-1.8x too large around the same box
(the eyes put on the glasses' rims), and following from there keeps it until the next detection
(dev clip lp_d12: 10 frames in 12), which gave the motion model a face zoomed 1.6x and melted the
picture.

A fast head swing defeats both checks: placed where the face was, the predictor keeps reading a
face there while the head has moved 30% of its size away (lp_d12, frames 51-52: 60-90 px off
on a 210-px face, and the output's head sent across the frame). Two more checks catch it: a face
that moved by more than `max_speed` of its size into a frame is detected in the next one, and each
followed face is read once more in the box its own new points place (~1 ms), which finds it again
where the first reading had; a reading that moves by more than `max_drift` means it had not.
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


# (x shift, y shift, scale change) of the boxes the predictor reads a face in, in shares of the
# box's side; the box itself first
BOX_NUDGES = ((0.0, 0.0, 0.0), (0.02, 0.0, 0.0), (-0.02, 0.0, 0.0), (0.0, 0.02, 0.0),
              (0.0, -0.02, 0.0), (0.0, 0.0, 0.03), (0.0, 0.0, -0.03), (0.014, 0.014, 0.015),
              (-0.014, -0.014, -0.015))


@dataclass(frozen=True)
class FollowConfig:
    """redetect_every: frames from one full detection to the next (1: detect in every frame).
    max_change: a followed face whose landmark box moves or changes size by more than this share
        of its size from the previous frame is detected again in that frame.
    max_eye_change: ... and one whose eyes' distance (outer corners) changes by more than this
        share from the previous frame, or by more than twice it from the last detection.
    landmark_boxes: the predictor runs in this many boxes around the face's (`BOX_NUDGES`: shifted
        by up to 2% of its side, scaled by up to 3%) and the landmarks are their mean (1: the
        box alone). dlib's points are whole pixels and move with the box, and an eye is a few
        pixels high: on dev drivers lp_d18, lp_d11, lp_d19 the mean of 9 read the eyes' opening
        nearer FaceMesh's (r 0.78 / 0.92 / 0.88 -> 0.81 / 0.94 / 0.93) and jittered less (frame
        to frame 20-33% less); about 1 ms a box.
    max_speed: a face whose eye corners and nose moved by more than this share of its size from
        the frame before is detected again in the next frame: the box is placed where the face
        was, and a head swinging back through it leaves the predictor reading the old place.
    max_drift: a followed face is read once more in the box placed on its new landmarks; where
        that reading moves them by more than this share of the face's size (mean over the points),
        the first reading had not found the face, and the detector runs."""

    redetect_every: int = 12
    max_change: float = 0.25
    max_eye_change: float = 0.05
    landmark_boxes: int = 9
    max_speed: float = 0.05
    max_drift: float = 0.02

    def __post_init__(self) -> None:
        if isinstance(self.redetect_every, bool) or not isinstance(self.redetect_every, int) \
                or self.redetect_every < 1:
            raise ConfigError(f"FollowConfig.redetect_every: expected an integer >= 1, got "
                              f"{self.redetect_every!r}")
        if isinstance(self.landmark_boxes, bool) or not isinstance(self.landmark_boxes, int) \
                or not 1 <= self.landmark_boxes <= len(BOX_NUDGES):
            raise ConfigError(f"FollowConfig.landmark_boxes: expected an integer in [1, "
                              f"{len(BOX_NUDGES)}], got {self.landmark_boxes!r}")
        if isinstance(self.max_change, bool) or not isinstance(self.max_change, (int, float)) \
                or not 0 < self.max_change < math.inf:
            raise ConfigError(f"FollowConfig.max_change: expected a positive number, got "
                              f"{self.max_change!r}")
        for name in ("max_eye_change", "max_speed", "max_drift"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not 0 < value < math.inf:
                raise ConfigError(f"FollowConfig.{name}: expected a positive number, got {value!r}")


# outer eye corners of the 68-point scheme (`reenact.preprocess.face`)
_EYE_CORNERS = (36, 45)


def _eye_distance(points: np.ndarray) -> float | None:
    """The outer eye corners' distance of 68 landmarks; None for another scheme."""
    if len(points) != 68:
        return None
    return float(np.linalg.norm(points[_EYE_CORNERS[1]] - points[_EYE_CORNERS[0]]))


def _landmark_box(points: np.ndarray) -> np.ndarray:
    """(68, 2) -> (4,) x0, y0, x1, y1 of the points."""
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


# eye corners and nose of the 68-point scheme: the points an expression leaves in place
_STILL_POINTS = (27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45)


def _anchor(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Where the detector's box is placed from: (x, y) origin and a size in pixels. For 68 points,
    the centre of the eye corners and nose and their RMS distance from it, which raised brows and
    an open jaw do not move; for another scheme, the landmark box's centre and longer side."""
    if len(points) == 68:
        still = points[list(_STILL_POINTS)]
        centre = still.mean(axis=0)
        return centre, max(float(np.sqrt(((still - centre) ** 2).sum(axis=1).mean())), 1e-6)
    marks = _landmark_box(points)
    return (marks[:2] + marks[2:]) / 2, max(float((marks[2:] - marks[:2]).max()), 1e-6)


def nudged_boxes(box: tuple[float, float, float, float], count: int
                 ) -> list[tuple[float, float, float, float]]:
    """The first `count` boxes of `BOX_NUDGES` around `box` (x0, y0, x1, y1), `box` itself first."""
    x0, y0, x1, y1 = box
    centre_x, centre_y, half_w, half_h = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    side = x1 - x0
    return [(centre_x + dx * side - half_w * (1 + ds), centre_y + dy * side - half_h * (1 + ds),
             centre_x + dx * side + half_w * (1 + ds), centre_y + dy * side + half_h * (1 + ds))
            for dx, dy, ds in BOX_NUDGES[:count]]


class FaceFollower:
    """A `FaceAnalyzer` for consecutive frames of one video: `detect(frame)` returns the detector's
    faces on detection frames and the followed face alone in between. Use one per video."""

    def __init__(self, analyzer: LandmarkRefiner, config: FollowConfig | None = None) -> None:
        self.analyzer = analyzer
        self.config = config if config is not None else FollowConfig()
        self._previous: Face | None = None
        self._box_on_landmarks: np.ndarray | None = None  # detector box in `_anchor` units
        self._detected_eyes: float | None = None  # the eyes' distance at the last detection
        self._since_detection = 0
        self._fast = False  # the face moved fast into the last frame: detect in the next
        self.detections = 0  # full detections run so far

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in `image` (H, W, 3) uint8 RGB, the next frame of the video."""
        previous = self._previous
        if previous is not None and not self._fast \
                and self._since_detection + 1 < self.config.redetect_every:
            followed = self._follow(image, previous)
            if followed is not None:
                self._since_detection += 1
                self._previous = followed
                self._fast = self._moved_fast(previous, followed)
                return [followed]
        faces = self._detect(image)
        self._fast = self._moved_fast(previous, self._previous)
        return faces

    def _moved_fast(self, before: Face | None, after: Face | None) -> bool:
        """Whether the face moved by more than `FollowConfig.max_speed` of its size between two
        consecutive frames' faces."""
        if before is None or after is None or before.landmarks is None or after.landmarks is None:
            return False
        size = float(np.ptp(before.landmarks, axis=0).max())
        moved = float(np.linalg.norm(_anchor(after.landmarks)[0] - _anchor(before.landmarks)[0]))
        return moved > self.config.max_speed * max(size, 1e-6)

    def _detect(self, image: np.ndarray) -> list[Face]:
        faces = self.analyzer.detect(image)
        self.detections += 1
        self._since_detection = 0
        previous = None if self._previous is None else self._previous.center
        face = nearest_face(faces, previous) if faces else None
        if face is not None and face.landmarks is not None and self.config.landmark_boxes > 1:
            points = self._read(image, face.box, face.landmarks)
            # the nudged boxes may fail as a followed box can (`_eyes_changed`): keep the detector's
            if points is not None and not self._eyes_apart(points, face.landmarks):
                faces = [Face(face.box, face.score, points) if other is face else other
                         for other in faces]
                face = Face(face.box, face.score, points)
        self._previous = face
        self._box_on_landmarks = self._detected_eyes = None
        if face is not None and face.landmarks is not None:
            self._detected_eyes = _eye_distance(face.landmarks)
            origin, size = _anchor(face.landmarks)
            box = np.asarray(face.box, dtype=np.float64)
            self._box_on_landmarks = np.concatenate([(box[:2] - origin) / size,
                                                     (box[2:] - origin) / size])
        return faces

    def _follow(self, image: np.ndarray, previous: Face) -> Face | None:
        if previous.landmarks is None or self._box_on_landmarks is None:
            return None
        points = self._read(image, self._placed(previous.landmarks))
        if points is None:
            return None
        marks, new = _landmark_box(previous.landmarks), _landmark_box(points)
        size, new_size = np.maximum(marks[2:] - marks[:2], 1e-6), np.maximum(new[2:] - new[:2], 1e-6)
        scale = float(np.max(size))
        moved = np.abs((new[:2] + new[2:]) / 2 - (marks[:2] + marks[2:]) / 2).max() / scale
        resized = np.abs(np.log(new_size / size)).max()
        if moved > self.config.max_change or resized > math.log1p(self.config.max_change):
            return None
        if self._eyes_changed(points, previous.landmarks):
            return None
        placed = self._placed(points)
        # read once more where the new points place the box: a reading that found the face stays
        check = self.analyzer.landmarks_in(image, placed)
        if check is None or not np.isfinite(check).all() or check.shape != points.shape:
            return None
        drift = float(np.linalg.norm(check - points, axis=1).mean())
        if drift > self.config.max_drift * max(float(np.ptp(points, axis=0).max()), 1e-6):
            return None
        return Face(placed, previous.score, points)

    def _placed(self, points: np.ndarray) -> tuple[float, float, float, float]:
        """The box (x0, y0, x1, y1) the last detection's framing puts on landmarks `points`."""
        origin, anchor_size = _anchor(points)
        relative = self._box_on_landmarks
        return tuple(float(v) for v in np.concatenate([origin + relative[:2] * anchor_size,
                                                       origin + relative[2:] * anchor_size]))

    def _read(self, image: np.ndarray, box: tuple[float, float, float, float],
              in_box: np.ndarray | None = None) -> np.ndarray | None:
        """The mean of the predictor's landmarks in the `landmark_boxes` boxes around `box`; None
        where any reading fails. in_box: the reading in `box` itself where it is known already
        (a detection's landmarks), so that it is not predicted twice."""
        boxes = nudged_boxes(box, self.config.landmark_boxes)
        reads = ([in_box] if in_box is not None else []) + [
            self.analyzer.landmarks_in(image, nudged) for nudged in boxes[in_box is not None:]]
        if any(points is None or not np.isfinite(points).all() for points in reads):
            return None
        return np.mean(reads, axis=0)

    def _eyes_changed(self, points: np.ndarray, previous: np.ndarray) -> bool:
        """Whether the eyes' distance of `points` left the bounds (`FollowConfig.max_eye_change`)."""
        now = _eye_distance(points)
        if now is None or self._detected_eyes is None or now <= 0:
            return False
        limit = math.log1p(self.config.max_eye_change)
        return (self._eyes_apart(points, previous)
                or abs(math.log(now / max(self._detected_eyes, 1e-6))) > 2 * limit)

    def _eyes_apart(self, points: np.ndarray, other: np.ndarray) -> bool:
        """Whether the eyes' distance of `points` and `other` differ by more than
        `FollowConfig.max_eye_change`."""
        now, before = _eye_distance(points), _eye_distance(other)
        if now is None or before is None or now <= 0:
            return False
        return abs(math.log(now / max(before, 1e-6))) > math.log1p(self.config.max_eye_change)


def follower_for(analyzer: FaceAnalyzer, config: FollowConfig | None = None) -> FaceAnalyzer:
    """A `FaceFollower` around `analyzer` where it can predict landmarks in a box, else `analyzer`
    itself (detection in every frame)."""
    if isinstance(analyzer, LandmarkRefiner) and getattr(analyzer, "landmarks_in", None) is not None:
        if config is not None and config.redetect_every == 1:
            return analyzer
        return FaceFollower(analyzer, config)
    return analyzer
