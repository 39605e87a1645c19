"""Face clips for training and evaluation: a video cut into runs of frames, each with one fixed crop.

A fixed box per run (the union of the face boxes found in it, as the reference's VoxCeleb crops do)
keeps the head's own translation and scale changes in the frames, which is what the model has to
learn to reproduce. Runs are short so that a head that wanders across a wide frame still fills its
crop.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reenact.io.tree import files_under
from reenact.io.video import VideoReader, probe_video
from reenact.preprocess.crop import CropBox, crop_box, crop_image
from reenact.preprocess.face import NUM_LANDMARKS, Face, FaceAnalyzer

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mpg", ".mpeg", ".avi", ".mov", ".mkv", ".webm", ".m4v")


@dataclass(frozen=True)
class FaceClip:
    """A run of consecutive frames cut with one box.

    frames: (N, S, S, 3) uint8 RGB crops. start: index of the first frame in the video.
    landmarks: (N, 68, 2) float32 landmarks of the largest face in crop pixel coordinates (see
        `reenact.preprocess.crop`), NaN in frames where no face was detected or looked for.
    """

    frames: np.ndarray
    box: CropBox
    start: int
    landmarks: np.ndarray | None = None


def find_videos(directory: str | os.PathLike) -> list[Path]:
    """Every video file under `directory` (recursively, through directory links), sorted; an error
    when there are none."""
    root = Path(directory)
    if not root.is_dir():
        raise ValueError(f"{root}: expected a directory of videos")
    videos = files_under(root, VIDEO_SUFFIXES)
    if not videos:
        raise ValueError(f"{root}: no video files found (looked for {', '.join(VIDEO_SUFFIXES)})")
    return videos


def union_box(boxes: list[CropBox], width: int, height: int) -> CropBox:
    """The smallest square holding every box, moved inside the image when it fits."""
    x0 = min(b.x0 for b in boxes)
    y0 = min(b.y0 for b in boxes)
    x1 = max(b.x1 for b in boxes)
    y1 = max(b.y1 for b in boxes)
    side = max(x1 - x0, y1 - y0)
    center_x, center_y = (x0 + x1) / 2, (y0 + y1) / 2
    if side <= width:
        center_x = min(max(center_x, side / 2), width - side / 2)
    if side <= height:
        center_y = min(max(center_y, side / 2), height - side / 2)
    return CropBox(center_x, center_y, side)


def _largest(faces: list[Face]) -> Face | None:
    return max(faces, key=lambda f: f.area) if faces else None


def face_clips(path: str | os.PathLike, size: int, analyzer: FaceAnalyzer, *,
               run_length: int | None = None, max_frames: int | None = None,
               detect_every: int = 1) -> Iterator[FaceClip]:
    """Cut `path` into runs of at most `run_length` frames (None: the whole video) with one box each.

    Faces are detected on every `detect_every`-th frame; the largest face is used. A run with no
    face at all is skipped with a warning. Runs shorter than 2 frames are dropped (no pair to learn
    from).
    """
    if run_length is not None and run_length < 2:
        raise ValueError(f"run_length: expected None or an integer >= 2, got {run_length}")
    info = probe_video(path)
    limit = max_frames if max_frames is not None else None
    with VideoReader(path) as reader:
        frames: list[np.ndarray] = []
        boxes: list[CropBox] = []
        landmarks: list[np.ndarray | None] = []
        start = 0
        for index, frame in enumerate(reader):
            if limit is not None and index >= limit:
                break
            frames.append(frame)
            face = _largest(analyzer.detect(frame)) if index % detect_every == 0 else None
            if face is not None:
                boxes.append(crop_box(face, info.width, info.height))
            landmarks.append(face.landmarks if face is not None else None)
            if run_length is not None and len(frames) == run_length:
                yield from _finish_run(path, frames, boxes, landmarks, start, size, info.width,
                                       info.height)
                start += len(frames)
                frames, boxes, landmarks = [], [], []
        yield from _finish_run(path, frames, boxes, landmarks, start, size, info.width, info.height)


def _finish_run(path: str | os.PathLike, frames: list[np.ndarray], boxes: list[CropBox],
                landmarks: list[np.ndarray | None], start: int, size: int, width: int,
                height: int) -> Iterator[FaceClip]:
    if len(frames) < 2:
        return
    if not boxes:
        logger.warning("%s: no face in frames %d-%d; skipped", path, start, start + len(frames) - 1)
        return
    box = union_box(boxes, width, height)
    crops = np.stack([crop_image(frame, box, size) for frame in frames])  # (N, S, S, 3)
    points = np.full((len(frames), NUM_LANDMARKS, 2), np.nan, dtype=np.float32)
    for index, found in enumerate(landmarks):
        if found is not None:
            points[index] = box.image_to_crop(found, size)
    yield FaceClip(frames=crops, box=box, start=start, landmarks=points)
