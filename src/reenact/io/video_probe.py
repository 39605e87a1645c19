"""What a video file holds, from its headers and first frame: `VideoInfo` and `probe_video`."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from reenact.io.audio import default_audio_stream
from reenact.io.errors import check_input_file, media_error
from reenact.io.video_decode import (
    decode_rgb,
    import_av,
    indexed_truncation,
    open_input,
    video_stream,
)

logger = logging.getLogger(__name__)

MAX_FPS = 1000
# a nominal and an average frame rate closer than this describe the same constant-rate video
_SAME_RATE_TOLERANCE = 0.01


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, as far as its headers and first frame tell.

    width, height: of the frames as read, i.e. after the container's rotation is applied.
    fps: exact frame rate; for a variable-frame-rate file, the average rate.
    num_frames: the container's frame count, or an estimate from the duration (None if neither
        is known); the reader may deliver a few frames more or fewer than an estimate.
    duration_s: of the video stream in seconds (None if unknown).
    has_audio, audio_sample_rate: whether there is an audio track, and its rate in Hz.
    """

    width: int
    height: int
    fps: Fraction
    num_frames: int | None
    duration_s: float | None
    has_audio: bool
    audio_sample_rate: int | None



def _frame_rate(stream: Any, path: Path) -> Fraction:
    """The nominal rate when the average agrees with it, else the average (variable rate)."""
    def usable(rate: Any) -> Fraction | None:
        return Fraction(rate) if rate is not None and 0 < rate <= MAX_FPS else None

    average, nominal = usable(stream.average_rate), usable(stream.guessed_rate)
    if average is not None and nominal is not None:
        if abs(average / nominal - 1) < _SAME_RATE_TOLERANCE:
            return nominal
        logger.info("%s: variable frame rate (nominal %s fps, average %s); frames are read in "
                    "order and timed at the average rate", path, nominal, average)
        return average
    if average is not None or nominal is not None:
        return average if average is not None else nominal  # type: ignore[return-value]
    raise media_error(path, "the video's frame rate is unknown")


def _video_info(container: Any, stream: Any, first_frame: np.ndarray, path: Path) -> VideoInfo:
    fps = _frame_rate(stream, path)
    duration_s: float | None = None
    if stream.duration and stream.time_base:
        duration_s = float(stream.duration * stream.time_base)
    elif container.duration:
        duration_s = container.duration / 1_000_000  # AV_TIME_BASE
    num_frames: int | None = stream.frames or None
    if num_frames is None and duration_s:
        num_frames = max(1, int(duration_s * fps + Fraction(1, 2)))
    if duration_s is None and num_frames:
        duration_s = float(num_frames / fps)
    audio = default_audio_stream(import_av(), container)
    audio_rate = (audio.codec_context.sample_rate or None) if audio is not None else None
    height, width = first_frame.shape[:2]
    return VideoInfo(width=width, height=height, fps=fps, num_frames=num_frames,
                     duration_s=duration_s, has_audio=audio is not None,
                     audio_sample_rate=audio_rate)


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Describe a video file from its headers and its first frame (which is decoded).

    Raises MediaError if the file is missing, a directory, not a video (no video stream, a
    still image, unreadable data), has no frames, or is an MP4/MOV whose data is cut short
    (the message names the first missing frame).
    """
    path = check_input_file(path, what="video")
    av = import_av()
    with open_input(av, path) as container:
        stream = video_stream(av, container, path)
        truncation = indexed_truncation(stream, path)
        if truncation is not None:
            present, total = truncation
            raise media_error(path, f"video is truncated or corrupt at frame {present} (the file "
                                    f"ends before the data of frame {present}; {present} of "
                                    f"{total} frames are present)")
        first = next(decode_rgb(av, container, stream, path), None)
        if first is None:
            raise media_error(path, "the video has no frames")
        return _video_info(container, stream, first, path)

