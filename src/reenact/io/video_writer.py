"""Writing a video: (H, W, 3) uint8 RGB frames to an H.264 MP4, with a carried audio track,
encoded on a thread of its own and committed atomically (`VideoWriter`); and the checks that an
output path is safe to write.

The writer knows nothing of what reenact marks its outputs with: it takes container tags and two
frame filters, which `reenact.provenance.writers.MarkedVideoWriter` fills in.
"""

from __future__ import annotations

import contextlib
import logging
import os
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import numpy as np

from reenact.io.atomic import AtomicOutput, check_atomic_output, check_output_directory
from reenact.io.audio_mux import AudioCarry
from reenact.io.background import BackgroundWork
from reenact.io.errors import check_input_file, media_error
from reenact.io.video_decode import import_av
from reenact.io.video_probe import MAX_FPS

logger = logging.getLogger(__name__)

MAX_VIDEO_SIDE = 8192
DEFAULT_CRF = 18
# encoders tried in order; the PyPI wheels of PyAV ship libx264
_VIDEO_ENCODERS = ("libx264", "libopenh264", "mpeg4")
_WRITER_SUFFIXES = (".mp4", ".m4v")
# edit lists and track durations are stored in the movie timescale (1/1000 s by default): 90 kHz
# holds the frame times of 23.976-60 fps exactly, so durations do not depend on the encoder's
# B-frame choices (which decide the initial delay the edit list removes)
_MP4_OPTIONS = {"movflags": "+faststart", "movie_timescale": "90000"}
# AVCOL_SPC/PRI/TRC_BT709 and AVCOL_RANGE_MPEG: the tags of what the writer encodes
_BT709 = 1
_LIMITED_RANGE = 1
# frames the video writer's encoding thread may fall behind by: a few absorb the jitter between a
# frame's rendering and its encoding; a bound keeps memory flat when encoding is the slower
_QUEUED_FRAMES = 3


def check_output_path(output: str | os.PathLike[str],
                      inputs: Sequence[str | os.PathLike[str] | None]) -> Path:
    """`output` as a Path, after checking that writing it is safe and possible.

    Raises MediaError if it is (or, through links, resolves to) one of `inputs` ("would
    overwrite an input"), is a directory, or its directory is missing or not writable.
    `None` entries of `inputs` are ignored.
    """
    target = check_output_directory(output)
    resolved = target.resolve()
    for item in inputs:
        if item is None:
            continue
        source = Path(item)
        same = resolved == source.resolve()
        if not same and target.exists() and source.exists():
            same = os.path.samefile(target, source)  # hard links, case-insensitive file systems
        if same:
            raise media_error(target, f"would overwrite an input ({source})")
    return target


def check_video_suffix(path: Path) -> Path:
    """`path`, if its extension is one the video writer writes (.mp4, .m4v); else ValueError."""
    if path.suffix.lower() not in _WRITER_SUFFIXES:
        raise ValueError(f"{path}: videos are written as MP4; use a "
                         f"{' or '.join(_WRITER_SUFFIXES)} file name")
    return path


def check_video_output(output: str | os.PathLike[str],
                       inputs: Sequence[str | os.PathLike[str] | None]) -> Path:
    """`check_output_path`, an extension the video writer writes and a name that leaves room
    for the temporary file's: what a pipeline checks before any work, so that a bad output name
    is reported first."""
    return check_atomic_output(check_video_suffix(check_output_path(output, inputs)))


def _check_fps(fps: object) -> Fraction:
    if isinstance(fps, float):
        raise ValueError(f"fps: expected an exact fractions.Fraction or int (e.g. "
                         f"Fraction(30000, 1001) for 29.97), got the float {fps!r}")
    if isinstance(fps, bool) or not isinstance(fps, (int, Fraction)) or not 0 < fps <= MAX_FPS:
        raise ValueError(f"fps: expected a Fraction or int in (0, {MAX_FPS}], got {fps!r}")
    return Fraction(fps)


def _check_side(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= MAX_VIDEO_SIDE:
        raise ValueError(f"{name}: expected an integer in [2, {MAX_VIDEO_SIDE}], got {value!r}")
    if value % 2:
        raise ValueError(f"{name}: H.264 yuv420p needs an even {name}, got {value}; crop or pad "
                         f"the frames by one pixel")
    return value


def _check_crf(crf: object) -> int:
    if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 51:
        raise ValueError(f"crf: expected an integer in [0, 51] (lower is better quality), "
                         f"got {crf!r}")
    return crf


def _video_encoder(av: ModuleType) -> str:
    for name in _VIDEO_ENCODERS:
        try:
            av.codec.Codec(name, "w")
        except (av.error.FFmpegError, ValueError):
            continue
        if name != _VIDEO_ENCODERS[0]:
            logger.warning("%s is not available in this PyAV build; encoding with %s",
                           _VIDEO_ENCODERS[0], name)
        return name
    raise RuntimeError(f"this PyAV build has none of the video encoders {_VIDEO_ENCODERS}; "
                       f"reinstall it with: pip install --force-reinstall av")


def _add_video_stream(av: ModuleType, container: Any, fps: Fraction, width: int, height: int,
                      crf: int) -> Any:
    encoder = _video_encoder(av)
    stream = container.add_stream(encoder, rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    # one tick per frame: frame i has pts i and is shown at exactly i / fps
    stream.time_base = stream.codec_context.time_base = 1 / fps
    context = stream.codec_context
    context.colorspace = context.color_primaries = context.color_trc = _BT709
    context.color_range = _LIMITED_RANGE
    if encoder == "libx264":
        context.options = {"crf": str(crf), "preset": "medium"}
    else:
        # no CRF outside x264: a generous bit rate for the frame size
        context.bit_rate = int(width * height * float(fps) * 0.2)
    return stream


FrameFilter = Callable[[np.ndarray], np.ndarray]


class _FrameEncoder:
    """What happens to each frame on the writer's encoding thread: the RGB filter, BT.709
    limited-range Y'CbCr, the luma filter on the Y' plane, H.264, and the audio up to the frame's
    end, all muxed in that order. Holds no reference to the VideoWriter (see BackgroundWork)."""

    def __init__(self, av: ModuleType, container: Any, video: Any, audio: AudioCarry | None,
                 fps: Fraction, rgb_filter: FrameFilter | None,
                 luma_filter: FrameFilter | None) -> None:
        self._av = av
        self._rgb_filter = rgb_filter
        self._luma_filter = luma_filter
        self._container = container
        self._video = video
        self._audio = audio
        self._fps = fps
        self.frames = 0  # frames encoded so far

    def _mux(self, packets: Iterable[Any]) -> None:
        for packet in packets:
            self._container.mux(packet)

    def _audio_samples_at(self, frames: int) -> int:
        """Output audio samples that fit in the first `frames` video frames (rounded down)."""
        assert self._audio is not None
        return int(frames * self._audio.rate / self._fps)

    def encode(self, frame: np.ndarray) -> None:
        """Encode one (H, W, 3) uint8 RGB frame (C-contiguous, the writer's own copy)."""
        if self._rgb_filter is not None:
            frame = self._rgb_filter(frame)
        av_frame = self._av.VideoFrame.from_ndarray(frame, format="rgb24")
        # BT.709 limited range, matching the tags set on the stream
        yuv = av_frame.reformat(format="yuv420p", dst_colorspace="ITU709",
                                dst_color_range="MPEG")
        if self._luma_filter is not None:
            self._filter_luma(yuv, self._luma_filter)
        yuv.pts = self.frames
        self._mux(self._video.encode(yuv))
        self.frames += 1
        if self._audio is not None:
            self._mux(self._audio.pump(self._audio_samples_at(self.frames)))

    @staticmethod
    def _filter_luma(yuv: Any, luma_filter: FrameFilter) -> None:
        """Replace the Y' plane, in place, by what `luma_filter` makes of it."""
        plane = yuv.planes[0]
        height, width = yuv.height, yuv.width
        rows = np.frombuffer(plane, dtype=np.uint8, count=height * plane.line_size)
        luma = rows.reshape(height, plane.line_size)[:, :width]
        luma[...] = luma_filter(np.ascontiguousarray(luma))

    def finish(self) -> None:
        """Flush the encoders, the rest of the audio, and close the file."""
        self._mux(self._video.encode(None))
        if self._audio is not None:
            total = round(self.frames * self._audio.rate / self._fps)
            self._mux(self._audio.finish(total))
            self._audio.close()
        self._container.close()


class VideoWriter:
    """Write (H, W, 3) uint8 RGB frames to an H.264 (yuv420p) MP4, optionally with audio.

    ```
    with VideoWriter("out.mp4", info.fps, 256, 256, audio_from="driving.mp4") as writer:
        for frame in frames:
            writer.write(frame)
    ```
    The file is written to `.NAME.partial-XXXXXXXX.mp4` in the target's directory and renamed to
    `path` only by a clean `close()` / `__exit__`; on any exception, KeyboardInterrupt included,
    the partial file is deleted and no output exists. An existing file at `path` is replaced
    (use `check_output_path` first to protect inputs).

    Frames are filtered, converted and encoded on a background thread, up to _QUEUED_FRAMES
    behind `write` (which copies each frame), so that this work overlaps the caller's next frame
    instead of adding to it. An error there is raised by the next `write`
    or by `close`, and the file is then discarded as for any other exception.

    fps: exact frame rate (a Fraction or int; floats are refused as inexact); the time base is
        1/fps, so frame i is at exactly i/fps s.
    width, height: even (yuv420p halves the chroma planes).
    audio_from: a file whose default audio track is carried over, re-encoded to AAC, aligned so
        that the source's first video frame (or its audio start) is t = 0, and cut at the
        video's end. A file without audio is logged at INFO and the output has no audio.
    crf: x264 constant rate factor, 0 (lossless) - 51; 18 is visually near lossless.
    metadata: MP4 tags (key -> text) of the container.
    rgb_filter: (H, W, 3) uint8 RGB -> the same, applied to each frame before the colour
        conversion (on the encoding thread).
    luma_filter: (H, W) uint8 limited-range BT.709 Y' -> the same, applied to each frame's luma
        plane after the colour conversion (a third of the data of RGB; chroma is left alone).
    commit: False leaves the finished file under its temporary name after `close()`, for the
        caller to commit together with other outputs (`reenact.io.atomic.commit_together` on
        `output`); it is deleted like a partial file if that never happens.
    """

    def __init__(self, path: str | os.PathLike[str], fps: Fraction | int, width: int,
                 height: int, *, audio_from: str | os.PathLike[str] | None = None,
                 crf: int = DEFAULT_CRF, metadata: Mapping[str, str] | None = None,
                 rgb_filter: FrameFilter | None = None, luma_filter: FrameFilter | None = None,
                 commit: bool = True) -> None:
        self.fps = _check_fps(fps)
        self.width = _check_side("width", width)
        self.height = _check_side("height", height)
        crf = _check_crf(crf)
        target = check_video_suffix(check_output_directory(path))
        audio_source = None if audio_from is None else check_input_file(audio_from,
                                                                         what="audio source")
        av = import_av()
        self.path = target
        self.frames_written = 0  # accepted by write(); encoded by close() at the latest
        self._output = AtomicOutput(target)
        self._commit = commit
        self._finished = False  # every frame encoded and the file closed
        self._container: Any = None
        self._audio: AudioCarry | None = None
        self._work: BackgroundWork | None = None
        try:
            self._container = av.open(str(self._output.temp_path.absolute()), "w", format="mp4",
                                      container_options=_MP4_OPTIONS)
            self._container.metadata.update(metadata or {})
            video = _add_video_stream(av, self._container, self.fps, width, height, crf)
            if audio_source is not None:
                self._audio = AudioCarry.open(av, audio_source, self._container)
        except BaseException:
            self._abort()
            raise
        self._encoder = _FrameEncoder(av, self._container, video, self._audio, self.fps,
                                      rgb_filter, luma_filter)
        self._work = BackgroundWork(self._encoder.encode, _QUEUED_FRAMES,
                                    name=f"reenact-video-writer:{target.name}")
        # dropped without close() or an exception: end the thread (AtomicOutput removes the file)
        weakref.finalize(self, self._work.stop_soon)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()

    @property
    def closed(self) -> bool:
        return self._output.finished or self._finished

    @property
    def output(self) -> AtomicOutput:
        """The file being written: under its temporary name until committed."""
        return self._output

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"{self.path}: the video writer is closed")

    def _check_frames(self, name: str, frames: object, ndim: int) -> np.ndarray:
        expected = "(H, W, 3)" if ndim == 3 else "(N, H, W, 3)"
        if not isinstance(frames, np.ndarray):
            raise ValueError(f"{name}: expected a numpy array {expected} uint8 RGB, "
                             f"got {type(frames).__name__}")
        if (frames.ndim != ndim or frames.shape[-3:] != (self.height, self.width, 3)
                or frames.dtype != np.uint8):
            raise ValueError(f"{name}: expected {expected} uint8 RGB with H={self.height}, "
                             f"W={self.width}, got shape {tuple(frames.shape)} "
                             f"dtype {frames.dtype}")
        return frames

    def _submit(self, frame: np.ndarray) -> None:
        assert self._work is not None  # set up by __init__
        # a copy: the caller may reuse its array as soon as write() returns
        self._work.submit(np.array(frame, order="C"))
        self.frames_written += 1

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame."""
        self._check_open()
        self._submit(self._check_frames("frame", frame, 3))

    def write_batch(self, frames: np.ndarray) -> None:
        """Append (N, H, W, 3) uint8 RGB frames."""
        self._check_open()
        for frame in self._check_frames("frames", frames, 4):
            self._submit(frame)

    def close(self) -> Path:
        """Finish the file and move it into place; returns `path`. Safe to call twice.

        Raises MediaError (and leaves no file) if no frame was written.
        """
        if self._output.committed or self._finished:
            return self.path
        self._check_open()
        try:
            if self.frames_written == 0:
                raise media_error(self.path, "no frames were written; nothing was saved")
            assert self._work is not None  # set up by __init__
            self._work.finish()  # every frame encoded, or what went wrong with one
            self._encoder.finish()
        except BaseException:
            self._abort()
            raise
        self._finished = True
        if self._commit:
            self._output.commit()
        logger.info("%s %s: %d frames at %s fps%s", "wrote" if self._commit else "encoded",
                    self.path, self.frames_written, self.fps,
                    " with audio" if self._audio is not None else "")
        return self.path

    def _abort(self) -> None:
        """Drop everything written so far: close the files, delete the partial output."""
        if self._work is not None:  # first: its thread may be using the files
            self._work.stop()
        if self._audio is not None:
            with contextlib.suppress(Exception):
                self._audio.close()
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
        self._output.discard()
