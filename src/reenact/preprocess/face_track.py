"""One face followed through a video: a smoothed crop box for every frame, and the landmarks of the
frames where the face was found.

Frames without a face take the box of the nearest frame with one (so every frame can be cropped)
but keep `landmarks[i] = None` and `found[i] = False`: pipelines that change the face (dub) leave
those frames untouched, training skips them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from reenact.preprocess.crop import CropBox, crop_box, smooth_boxes
from reenact.preprocess.face import Face, FaceAnalyzer, NoFaceError, nearest_face
from reenact.preprocess.face_follow import FollowConfig, follower_for


@dataclass(frozen=True)
class FaceTrack:
    """boxes: one per frame (gaps filled, one-euro smoothed); landmarks: (68, 2) image pixels or
    None per frame; found: (T,) bool."""

    boxes: list[CropBox]
    landmarks: list[np.ndarray | None]
    found: np.ndarray

    def __len__(self) -> int:
        return len(self.boxes)

    def landmark_array(self) -> np.ndarray:
        """(T, 68, 2) float64, NaN where no face was found."""
        out = np.full((len(self), 68, 2), np.nan)
        for index, points in enumerate(self.landmarks):
            if points is not None:
                out[index] = points
        return out


def _fill_gaps(boxes: list[CropBox | None]) -> list[CropBox]:
    found = np.flatnonzero([box is not None for box in boxes])
    filled = []
    for index, box in enumerate(boxes):
        if box is None:
            box = boxes[int(found[np.argmin(np.abs(found - index))])]
        filled.append(box)
    return filled  # type: ignore[return-value]


def track_face(frames: Iterable[np.ndarray], fps: float, analyzer: FaceAnalyzer, *,
               margin: float = 0.4, name: str = "video", require_face: bool = True,
               follow: FollowConfig | None = None) -> FaceTrack:
    """Follow the largest face (then the one nearest to it) through `frames` (H, W, 3) uint8.

    Raises NoFaceError naming `name` if the video has no frames, or (require_face) no face at all;
    with require_face=False a faceless video gives centred boxes and found all False. `follow`:
    how often the full detector runs (`reenact.preprocess.face_follow`; default every 12 frames).
    """
    analyzer = follower_for(analyzer, follow if follow is not None else FollowConfig())
    raw: list[CropBox | None] = []
    landmarks: list[np.ndarray | None] = []
    previous: Face | None = None
    size = (1, 1)
    for frame in frames:
        size = frame.shape[1], frame.shape[0]
        faces = analyzer.detect(frame)
        face = nearest_face(faces, None if previous is None else previous.center) if faces else None
        raw.append(crop_box(face, *size, margin=margin) if face is not None else None)
        landmarks.append(face.landmarks if face is not None else None)
        previous = face or previous
    if not raw:
        raise NoFaceError(f"{name}: the video has no frames")
    found = np.array([box is not None for box in raw])
    if not found.any():
        if require_face:
            raise NoFaceError(f"{name}: no face found in any frame")
        centred = CropBox(size[0] / 2, size[1] / 2, float(min(size)))
        return FaceTrack([centred] * len(raw), landmarks, found)
    return FaceTrack(smooth_boxes(_fill_gaps(raw), fps), landmarks, found)
