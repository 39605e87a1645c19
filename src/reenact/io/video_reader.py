"""Streaming a video file's frames: `VideoReader` (one frame at a time) and `batched`."""

from __future__ import annotations

import contextlib
import logging
import os
import weakref
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from reenact.io.errors import media_error
from reenact.io.video_decode import (
    PlanarFrame,
    Span,
    check_complete,
    decode_frames,
    frame_to_planes,
    frame_to_rgb,
    planes_of_rgb,
    import_av,
    open_input,
    video_stream,
)
from reenact.io.video_probe import probe_video

logger = logging.getLogger(__name__)


def _letterbox(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """(h, w, 3) uint8 scaled to fit (height, width, 3), centred on black, aspect kept."""
    from PIL import Image

    scale = min(width / frame.shape[1], height / frame.shape[0])
    size = (max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale)))
    scaled = np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR))
    out = np.zeros((height, width, 3), np.uint8)
    top, left = (height - size[1]) // 2, (width - size[0]) // 2
    out[top:top + size[1], left:left + size[0]] = scaled
    return out



def batched(frames: Iterable[np.ndarray], batch_size: int) -> Iterator[np.ndarray]:
    """Group (H, W, 3) frames into (N, H, W, 3) arrays, N = batch_size except for the last."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected an integer >= 1, got {batch_size!r}")
    batch: list[np.ndarray] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == batch_size:
            yield np.stack(batch)
            batch = []
    if batch:
        yield np.stack(batch)


class VideoReader:
    """Frames of a video file, decoded one at a time.

    ```
    with VideoReader("driving.mp4") as video:
        fps = video.info.fps
        for frame in video:          # (H, W, 3) uint8 RGB
            ...
    ```
    Each iteration decodes from the start of the file. Memory stays constant whatever the
    video's length. Raises MediaError (see `probe_video`) on construction, and while iterating
    if the data turns out to be truncated or corrupt (naming the frame index), or the frame size
    changes mid-stream.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.info = probe_video(path)
        self.path = Path(path)
        self._iterations: weakref.WeakSet[Any] = weakref.WeakSet()
        self._closed = False

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop any iteration in progress and release the file."""
        self._closed = True
        for iteration in list(self._iterations):
            iteration.close()

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._start(self._frames())

    def planes(self) -> Iterator[PlanarFrame]:
        """The frames as their decoded planes (`PlanarFrame`: Y' and chroma, no conversion to RGB,
        which costs more than decoding), upright, one at a time; otherwise as iterating the
        reader (a frame of another size is letterboxed, then given as luma only)."""
        return self._start(self._planes())

    def _start(self, iteration: Iterator) -> Iterator:
        """A new pass over the file, closed by `close` (the generator has not run yet)."""
        if self._closed:
            raise ValueError(f"{self.path}: the video reader is closed")
        self._iterations.add(iteration)
        return iteration

    def _decoded(self, convert: Callable[[Any], Any]) -> Iterator[Any]:
        """One decoding pass: each frame as `convert` makes it of the decoded frame; the file
        checked for truncation at the end, MediaError if it has no frames."""
        av = import_av()
        count = 0
        with open_input(av, self.path) as container:
            stream = video_stream(av, container, self.path)
            stream.thread_type = "AUTO"  # frame threads: a few frames in flight, not the video
            span = Span(self.info.fps)
            for frame in decode_frames(av, container, stream, self.path, span, convert=convert):
                yield frame
                count += 1
            if count > 0:
                check_complete(container, stream, span, count, self.path)
        if count == 0:
            raise media_error(self.path, "the video has no frames")

    def _planes(self) -> Iterator[PlanarFrame]:
        with contextlib.closing(self._decoded(lambda frame: frame)) as decoded_frames:
            for decoded in decoded_frames:
                planar = frame_to_planes(decoded)
                if planar.y.shape != (self.info.height, self.info.width):  # joined clips
                    rgb = _letterbox(frame_to_rgb(decoded), self.info.width, self.info.height)
                    planar = planes_of_rgb(rgb)
                yield planar

    def _frames(self) -> Iterator[np.ndarray]:
        expected = (self.info.height, self.info.width, 3)
        resized = 0
        with contextlib.closing(self._decoded(frame_to_rgb)) as frames:
            for count, frame in enumerate(frames):
                if frame.shape != expected:  # joined clips (MPEG-TS, Matroska) may change size
                    if not resized:
                        logger.warning("%s: frame %d is %dx%d px but the video started at %dx%d: "
                                       "frames of another size are scaled to fit, with black "
                                       "bars", self.path, count, frame.shape[1], frame.shape[0],
                                       expected[1], expected[0])
                    frame = _letterbox(frame, expected[1], expected[0])
                    resized += 1
                yield frame

    def iter_batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """Frames in batches: (N, H, W, 3) uint8 RGB, N = batch_size except for the last."""
        return batched(self, batch_size)

