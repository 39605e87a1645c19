"""Video in and out, streamed one frame at a time (PyAV, imported lazily).

Conventions:
- a frame is a (H, W, 3) uint8 RGB numpy array, upright (a container rotation is applied on read);
  a batch is (N, H, W, 3);
- the frame rate is an exact `fractions.Fraction` (30000/1001, never 29.97) and the writer uses a
  time base of 1/fps, so frame i is shown at exactly i/fps seconds and nothing drifts;
- frames are delivered in presentation order, one per coded frame. Timestamps are not used to
  drop or repeat frames, so a variable-frame-rate file is read as if it ran at its average rate
  (its duration, and so its sync with its audio, is kept).

Memory does not grow with the video's length: the reader decodes lazily and the writer encodes,
and interleaves the carried audio, as frames arrive (on a thread of its own, a few frames behind
the caller). Written files appear only when complete (see `reenact.io.atomic`).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import queue
import threading
import weakref
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from reenact.io.atomic import AtomicOutput, check_atomic_output, check_output_directory
from reenact.io.audio import TEXT_FORMATS, default_audio_stream
from reenact.io.errors import check_input_file, media_error

if TYPE_CHECKING:
    from reenact.provenance.marking import FrameMarker
    from reenact.provenance.record import Provenance

logger = logging.getLogger(__name__)

MAX_FPS = 1000
MAX_VIDEO_SIDE = 8192
DEFAULT_CRF = 18
# encoders tried in order; the PyPI wheels of PyAV ship libx264
_VIDEO_ENCODERS = ("libx264", "libopenh264", "mpeg4")
_WRITER_SUFFIXES = (".mp4", ".m4v")
# edit lists and track durations are stored in the movie timescale (1/1000 s by default): 90 kHz
# holds the frame times of 23.976-60 fps exactly, so durations do not depend on the encoder's
# B-frame choices (which decide the initial delay the edit list removes)
_MP4_OPTIONS = {"movflags": "+faststart", "movie_timescale": "90000"}
# sample rates the AAC encoder accepts; anything else is resampled to _FALLBACK_AUDIO_RATE
_AAC_SAMPLE_RATES = frozenset({96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000,
                               12000, 11025, 8000, 7350})
_FALLBACK_AUDIO_RATE = 48000
_AAC_FRAME_SIZE = 1024
_AUDIO_BIT_RATE_PER_CHANNEL = 96_000
# AVCOL_SPC/PRI/TRC_BT709 and AVCOL_RANGE_MPEG: the tags of what the writer encodes
_BT709 = 1
_LIMITED_RANGE = 1
# a nominal and an average frame rate closer than this describe the same constant-rate video
_SAME_RATE_TOLERANCE = 0.01
_MAX_TOP_LEVEL_BOXES = 100_000
# frames the video writer's encoding thread may fall behind by: a few absorb the jitter between a
# frame's rendering and its encoding; a bound keeps memory flat when encoding is the slower
_QUEUED_FRAMES = 3



def _import_av() -> ModuleType:
    try:
        import av
    except ImportError as error:
        raise ImportError("reading and writing video needs PyAV: pip install av") from error
    return av


def _reason(error: BaseException) -> str:
    """ffmpeg's own words for an error, without the errno and file name PyAV adds."""
    return getattr(error, "strerror", None) or str(error)


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


# ---------------------------------------------------------------------------------------- reading

def _iso_truncation(path: Path) -> str | None:
    """If `path` is an MP4/MOV file cut short, say how; None if it is not, or is not MP4/MOV.

    Walks the top-level boxes only: a box that runs past the end of the file, or a file without
    its 'moov' index, is what an interrupted download, copy or recording leaves behind.
    """
    size = path.stat().st_size
    kinds = set()
    with open(path, "rb") as handle:
        offset = 0
        for _ in range(_MAX_TOP_LEVEL_BOXES):
            if offset >= size:
                break
            handle.seek(offset)
            header = handle.read(16)
            kind = header[4:8]
            if len(header) < 8 or not (kind.isascii() and kind.isalnum()):
                return None
            if offset == 0 and kind != b"ftyp":
                return None
            box_size = int.from_bytes(header[:4], "big")
            if box_size == 1 and len(header) == 16:  # 64-bit size follows the type
                box_size = int.from_bytes(header[8:16], "big")
            elif box_size == 0:  # the box runs to the end of the file by definition
                box_size = size - offset
            if box_size < 8:
                return None
            kinds.add(kind)
            if offset + box_size > size:
                return (f"its '{kind.decode()}' box runs to byte {offset + box_size}, "
                        f"but the file ends at byte {size}")
            offset += box_size
    if kinds and b"moov" not in kinds and b"moof" not in kinds:
        return "it has no 'moov' index; the recording or export was not finished"
    return None


def _open_input(av: ModuleType, path: Path, *, kind: str = "a video file") -> Any:
    """An input container, or MediaError saying why the file cannot be opened."""
    try:
        # absolute: a relative name with a colon ("take:1.mp4") would read as a protocol
        container = av.open(str(path.absolute()), metadata_errors="replace")
    except av.error.InvalidDataError:
        truncation = _iso_truncation(path)
        if truncation is not None:
            raise media_error(path, f"video file is truncated or corrupt ({truncation})") from None
        raise media_error(path, f"not {kind} (unrecognized or corrupt data)") from None
    except (av.error.FFmpegError, OSError) as error:
        raise media_error(path, f"cannot open the file ({_reason(error)})") from None
    if container.format.name in TEXT_FORMATS:
        container.close()
        raise media_error(path, f"not {kind} (it is a text file)")
    return container


def _is_still_image_format(format_name: str) -> bool:
    return format_name == "image2" or format_name.endswith("_pipe")


def _moving_picture_streams(av: ModuleType, container: Any) -> list[Any]:
    """The video streams that are not cover art (an attached picture of an audio file)."""
    cover_art = av.stream.Disposition.attached_pic
    return [s for s in container.streams.video if not s.disposition & cover_art]


def _video_stream(av: ModuleType, container: Any, path: Path) -> Any:
    """The first video stream that is not cover art, or MediaError."""
    if _is_still_image_format(container.format.name):
        raise media_error(path, "is a still image, not a video (read it with read_image)")
    streams = _moving_picture_streams(av, container)
    if not streams:
        detail = "only cover art" if container.streams.video else "no video stream"
        raise media_error(path, f"not a video file ({detail})")
    return streams[0]


def _indexed_truncation(stream: Any, path: Path) -> tuple[int, int] | None:
    """(frames present, frames indexed) if the container's index points past the end of the file.

    Only containers with a full per-frame index (MP4/MOV) can tell; for others this is None.
    """
    entries = getattr(stream, "index_entries", None)  # PyAV >= 17
    if not entries:
        return None
    size = path.stat().st_size
    first_missing: int | None = None
    total = 0
    for entry in entries:
        if entry.size <= 0 or entry.pos < 0:  # a sparse or lazily built index: cannot judge
            return None
        if entry.is_discard:  # outside the edit list: never shown
            continue
        if first_missing is None and entry.pos + entry.size > size:
            first_missing = total
        total += 1
    return None if first_missing is None else (first_missing, total)


def _frame_to_rgb(frame: Any) -> np.ndarray:
    """A decoded frame -> (H, W, 3) uint8 RGB, converted with the frame's own colorspace and
    range, then turned upright by the container's rotation (counterclockwise degrees)."""
    rgb = frame.to_ndarray(format="rgb24")
    turns = round((getattr(frame, "rotation", 0) or 0) / 90) % 4
    if turns:
        rgb = np.rot90(rgb, k=turns)  # counterclockwise quarter turns
    return np.ascontiguousarray(rgb)


def _decode_rgb(av: ModuleType, container: Any, stream: Any, path: Path,
                span: _Span | None = None) -> Iterator[np.ndarray]:
    """Frames of `stream` as (H, W, 3) uint8 RGB; MediaError naming the frame on bad data.

    A damaged packet is an error, except in MPEG-TS (made to survive damage, and joined files
    flag their seams as damaged) where only a damaged last packet (a cut-off file) is.
    span: if given, follows the times the frames cover.
    """
    tolerant = container.format.name in _DAMAGE_TOLERANT_FORMATS
    index = damaged = 0
    held = None  # a damaged MPEG-TS packet, decoded once another packet shows it is not the last

    def decoded(packet: Any) -> Iterator[np.ndarray]:
        for frame in packet.decode():
            if span is not None:
                span.add(frame)
            yield _frame_to_rgb(frame)

    try:
        for packet in container.demux(stream):
            if held is not None and packet.size:
                for rgb in decoded(held):
                    yield rgb
                    index += 1
                held = None
            if packet.is_corrupt and packet.size and tolerant:
                held, damaged = packet, damaged + 1
                continue
            if packet.is_corrupt or held is not None:  # held: the damaged packet was the last
                raise media_error(path, f"video is truncated or corrupt at frame {index} "
                                        f"(incomplete packet data)")
            for rgb in decoded(packet):
                yield rgb
                index += 1
    except av.error.FFmpegError as error:
        raise media_error(path, f"video is truncated or corrupt at frame {index} "
                                f"({_reason(error)})") from None
    except IndexError:  # PyAV meets a stream that appeared mid-file (a new MPEG-TS program)
        raise media_error(path, f"the video's streams change after frame {index} (files with "
                                f"different stream layouts joined together); only its first "
                                f"{index} frames can be read: remux it into one stream first") \
            from None
    if damaged:
        logger.warning("%s: %d damaged packet(s) decoded anyway (joined MPEG-TS files, or "
                       "transmission errors): some frames may show artifacts", path, damaged)


# containers whose packets may be damaged in transport and still decode (the decoder conceals)
_DAMAGE_TOLERANT_FORMATS = frozenset({"mpegts"})


# ISO media (MP4, MOV) index every frame: their truncation is found exactly by `probe_video`
_ISO_FORMATS = frozenset({"mov", "mp4", "m4a", "3gp", "3g2", "mj2"})
# a video whose frames end this much before its declared duration was cut short: more than what
# rounding, a last frame's own length or a trailing audio packet explain (in frame periods, and
# as a share of the duration)
_TRUNCATION_FRAMES = 3
_TRUNCATION_SHARE = 0.02


def _declared_duration(container: Any, stream: Any) -> float | None:
    """The video stream's length in seconds as its headers state it, or None if they do not:
    the stream's duration, its DURATION tag (Matroska / WebM), or the container's when the video
    is its only stream (a container's duration also covers a longer audio track)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = (stream.metadata or {}).get("DURATION") or (stream.metadata or {}).get("duration")
    if tag:
        try:
            hours, minutes, seconds = str(tag).split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        except ValueError:
            pass
    if container.duration and len(container.streams) == 1:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return None


class _Span:
    """The times decoded frames cover: from the first frame's start to the last one's end."""

    def __init__(self, fps: Fraction) -> None:
        self.period = 1 / float(fps)
        self.start: float | None = None
        self.end: float | None = None

    def add(self, frame: Any) -> None:
        if frame.time is None:
            return
        length = float(frame.duration * frame.time_base) if frame.duration and frame.time_base \
            else self.period
        self.start = frame.time if self.start is None else min(self.start, frame.time)
        self.end = frame.time + length if self.end is None else max(self.end, frame.time + length)

    @property
    def seconds(self) -> float | None:
        return None if self.start is None or self.end is None else self.end - self.start


def _check_complete(container: Any, stream: Any, span: _Span, count: int, path: Path) -> None:
    """MediaError if the frames read end well before the duration the headers declare: a
    Matroska, WebM, MPEG-TS, ... file cut short (an interrupted download, copy or recording)
    is read without a decoding error, only shorter."""
    if container.format.name.split(",")[0] in _ISO_FORMATS:
        return
    declared, covered = _declared_duration(container, stream), span.seconds
    if declared is None or covered is None:
        return
    missing = declared - covered
    if missing > max(_TRUNCATION_FRAMES * span.period, _TRUNCATION_SHARE * declared):
        raise media_error(path, f"video is truncated: {count} frames ({covered:.2f} s) could be "
                                f"read, but its header says it lasts {declared:.2f} s; the file was "
                                f"cut short (an interrupted download, copy or recording). Repair or "
                                f"re-download it, or read only the first {count} frames")


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
    audio = default_audio_stream(_import_av(), container)
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
    av = _import_av()
    with _open_input(av, path) as container:
        stream = _video_stream(av, container, path)
        truncation = _indexed_truncation(stream, path)
        if truncation is not None:
            present, total = truncation
            raise media_error(path, f"video is truncated or corrupt at frame {present} (the file "
                                    f"ends before the data of frame {present}; {present} of "
                                    f"{total} frames are present)")
        first = next(_decode_rgb(av, container, stream, path), None)
        if first is None:
            raise media_error(path, "the video has no frames")
        return _video_info(container, stream, first, path)


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
        if self._closed:
            raise ValueError(f"{self.path}: the video reader is closed")
        frames = self._frames()
        self._iterations.add(frames)
        return frames

    def _frames(self) -> Iterator[np.ndarray]:
        av = _import_av()
        expected = (self.info.height, self.info.width, 3)
        count = 0
        with _open_input(av, self.path) as container:
            stream = _video_stream(av, container, self.path)
            stream.thread_type = "AUTO"  # frame threads: a few frames in flight, not the video
            span = _Span(self.info.fps)
            resized = 0
            for frame in _decode_rgb(av, container, stream, self.path, span):
                if frame.shape != expected:  # joined clips (MPEG-TS, Matroska) may change size
                    if not resized:
                        logger.warning("%s: frame %d is %dx%d px but the video started at %dx%d: "
                                       "frames of another size are scaled to fit, with black "
                                       "bars", self.path, count, frame.shape[1], frame.shape[0],
                                       expected[1], expected[0])
                    frame = _letterbox(frame, expected[1], expected[0])
                    resized += 1
                yield frame
                count += 1
            if count > 0:
                _check_complete(container, stream, span, count, self.path)
        if count == 0:
            raise media_error(self.path, "the video has no frames")

    def iter_batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """Frames in batches: (N, H, W, 3) uint8 RGB, N = batch_size except for the last."""
        return batched(self, batch_size)


# ---------------------------------------------------------------------------------------- writing

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


def _timeline_origin(av: ModuleType, container: Any, audio: Any) -> float:
    """The source time (s) that becomes t = 0 of the output: the first video frame's, if any."""
    for stream in (*_moving_picture_streams(av, container), audio):
        if stream.start_time is not None and stream.time_base:
            return float(stream.start_time * stream.time_base)
    return 0.0


class _AudioCarry:
    """Re-encodes the default audio track of `source` (`default_audio_stream`) to AAC into
    `container`, sample-aligned.

    Output sample k is the source's sample at `origin + k / rate`, where origin is the start of
    the source's first video frame (or of its audio, for an audio-only file): silence fills a
    late start, samples before origin are dropped. Encoding is driven by `pump(until)`, so the
    audio is interleaved with the video as the video is written.
    """

    def __init__(self, av: ModuleType, source: Path, input_container: Any, container: Any) -> None:
        self.source = source
        self._av = av
        self._input = input_container
        audio = default_audio_stream(av, input_container)
        source_rate = audio.codec_context.sample_rate
        self.rate = source_rate if source_rate in _AAC_SAMPLE_RATES else _FALLBACK_AUDIO_RATE
        self.channels = 1 if audio.codec_context.layout.nb_channels == 1 else 2
        self.layout = "mono" if self.channels == 1 else "stereo"
        self._stream = container.add_stream("aac", rate=self.rate, layout=self.layout)
        self._stream.bit_rate = _AUDIO_BIT_RATE_PER_CHANNEL * self.channels
        self._stream.time_base = Fraction(1, self.rate)
        self._resampler = av.AudioResampler(format="fltp", layout=self.layout, rate=self.rate)
        self._origin = _timeline_origin(av, input_container, audio)
        self._chunks = self._source_samples(audio)
        self._pending: collections.deque[np.ndarray] = collections.deque()
        self._pending_samples = 0
        self._exhausted = False
        self.encoded = 0  # samples handed to the encoder so far

    @classmethod
    def open(cls, av: ModuleType, source: Path, container: Any) -> _AudioCarry | None:
        """The carrier of `source`'s audio, or None (logged) if it has no audio track."""
        input_container = _open_input(av, source, kind="an audio or video file")
        if not input_container.streams.audio:
            input_container.close()
            logger.info("%s has no audio track; writing video only", source)
            return None
        try:
            return cls(av, source, input_container, container)
        except BaseException:
            input_container.close()
            raise

    def _source_samples(self, audio: Any) -> Generator[np.ndarray, None, None]:
        """(C, n) float32 chunks at the output rate, starting at output t = 0."""
        av = self._av
        drop = 0
        first = True
        seconds = 0.0
        try:
            for packet in self._input.demux(audio):
                for frame in packet.decode():
                    if first:
                        first = False
                        start = frame.time if frame.time is not None else self._origin
                        lead = round((start - self._origin) * self.rate)
                        drop = max(0, -lead)
                        for begin in range(0, max(0, lead), self.rate):  # silence, 1 s at a time
                            yield np.zeros((self.channels, min(self.rate, lead - begin)),
                                           np.float32)
                    seconds = frame.time or seconds
                    for converted in self._resampler.resample(frame):
                        samples = converted.to_ndarray()  # (C, n) planar float32
                        skipped = min(drop, samples.shape[1])
                        drop -= skipped
                        if samples.shape[1] > skipped:
                            yield samples[:, skipped:]
            for converted in self._resampler.resample(None):  # the resampler's delay
                samples = converted.to_ndarray()
                skipped = min(drop, samples.shape[1])
                drop -= skipped
                if samples.shape[1] > skipped:
                    yield samples[:, skipped:]
        except av.error.FFmpegError as error:
            raise media_error(self.source, f"audio track is truncated or corrupt at "
                                           f"{seconds:.2f} s ({_reason(error)})") from None

    def _fill(self, needed: int) -> None:
        while self._pending_samples < needed and not self._exhausted:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._exhausted = True
                return
            self._pending.append(chunk)
            self._pending_samples += chunk.shape[1]

    def _take(self, count: int) -> np.ndarray:
        parts = []
        while count > 0:
            chunk = self._pending.popleft()
            if chunk.shape[1] > count:
                self._pending.appendleft(chunk[:, count:])
                chunk = chunk[:, :count]
            parts.append(chunk)
            count -= chunk.shape[1]
            self._pending_samples -= chunk.shape[1]
        return np.ascontiguousarray(np.concatenate(parts, axis=1))  # (C, count)

    def _encode(self, samples: np.ndarray | None) -> list[Any]:
        if samples is None:
            return self._stream.encode(None)
        frame = self._av.AudioFrame.from_ndarray(samples, format="fltp", layout=self.layout)
        frame.sample_rate = self.rate
        frame.time_base = Fraction(1, self.rate)
        frame.pts = self.encoded
        self.encoded += samples.shape[1]
        return self._stream.encode(frame)

    def pump(self, until: int) -> list[Any]:
        """Encode whole AAC frames up to output sample `until`; the packets to mux."""
        packets: list[Any] = []
        self._fill(until - self.encoded)
        while until - self.encoded >= _AAC_FRAME_SIZE and self._pending_samples >= _AAC_FRAME_SIZE:
            packets += self._encode(self._take(_AAC_FRAME_SIZE))
        return packets

    def finish(self, total: int) -> list[Any]:
        """Encode up to output sample `total` (or the end of the source), then flush."""
        packets = self.pump(total)
        remainder = min(total - self.encoded, self._pending_samples)
        if remainder > 0:
            packets += self._encode(self._take(remainder))  # AAC takes a short last frame
        packets += self._encode(None)
        if self.encoded < total:
            logger.info("%s: the audio ends %.2f s before the video", self.source,
                        (total - self.encoded) / self.rate)
        return packets

    def close(self) -> None:
        self._chunks.close()
        self._input.close()


class _FrameEncoder:
    """What happens to each frame on the writer's encoding thread: the visible label, BT.709
    limited-range Y'CbCr, the watermark on the Y' plane, H.264, and the audio up to the frame's
    end, all muxed in that order. Holds no reference to the VideoWriter (see _BackgroundWork)."""

    def __init__(self, av: ModuleType, marker: FrameMarker, container: Any, video: Any,
                 audio: _AudioCarry | None, fps: Fraction) -> None:
        self._av = av
        self._marker = marker
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
        frame = self._marker.label(frame)
        av_frame = self._av.VideoFrame.from_ndarray(frame, format="rgb24")
        # BT.709 limited range, matching the tags set on the stream
        yuv = av_frame.reformat(format="yuv420p", dst_colorspace="ITU709",
                                dst_color_range="MPEG")
        self._watermark(yuv)
        yuv.pts = self.frames
        self._mux(self._video.encode(yuv))
        self.frames += 1
        if self._audio is not None:
            self._mux(self._audio.pump(self._audio_samples_at(self.frames)))

    def _watermark(self, yuv: Any) -> None:
        """Mark the Y' plane in place: the same as marking R, G and B, on a third of the data."""
        plane = yuv.planes[0]
        height, width = yuv.height, yuv.width
        rows = np.frombuffer(plane, dtype=np.uint8, count=height * plane.line_size)
        luma = rows.reshape(height, plane.line_size)[:, :width]
        luma[...] = self._marker.mark_luma_plane(np.ascontiguousarray(luma))

    def finish(self) -> None:
        """Flush the encoders, the rest of the audio, and close the file."""
        self._mux(self._video.encode(None))
        if self._audio is not None:
            total = round(self.frames * self._audio.rate / self._fps)
            self._mux(self._audio.finish(total))
            self._audio.close()
        self._container.close()


class _BackgroundWork:
    """Calls `work(item)` on one daemon thread for each item submitted, in order; at most
    `depth` items wait, so a caller that produces faster than `work` consumes is held back.

    The first exception `work` raises is kept, raised in the caller's thread by the next
    `submit` or by `finish`, and the items after it are dropped unprocessed. The thread holds
    only this object and `work`: whoever owns it can still be garbage collected (and should call
    `stop_soon` from its finalizer).
    """

    _END = object()

    def __init__(self, work: Callable[[Any], None], depth: int, name: str) -> None:
        self._items: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stopping = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), name=name, daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[Any], None]) -> None:
        while not self._stopping.is_set():
            item = self._items.get()
            if item is self._END:
                return
            if self._error is not None:
                continue  # failed: keep taking items, so that no `submit` waits forever
            try:
                work(item)
            except BaseException as error:  # raised again in the caller's thread
                logger.debug("background work failed: %r", error)
                self._error = error

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, item: Any) -> None:
        """Queue `item`; raises what an earlier item's `work` raised."""
        self._raise_error()
        self._items.put(item)

    def finish(self) -> None:
        """Wait until every item submitted is done; raises what `work` raised, if anything."""
        self._items.put(self._END)
        self._thread.join()
        self._raise_error()

    def stop_soon(self) -> None:
        """Drop the items still waiting; the thread ends after the one in hand. Never blocks."""
        self._stopping.set()
        with contextlib.suppress(queue.Full):
            self._items.put_nowait(self._END)  # wakes a thread waiting for items

    def stop(self) -> None:
        """`stop_soon`, then wait for the thread to end."""
        self.stop_soon()
        self._thread.join()


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

    Frames are labelled, converted, watermarked and encoded on a background thread, up to
    _QUEUED_FRAMES behind `write` (which copies each frame), so that this work overlaps the
    caller's next frame instead of adding to it. An error there is raised by the next `write`
    or by `close`, and the file is then discarded as for any other exception.

    fps: exact frame rate (a Fraction or int; floats are refused as inexact); the time base is
        1/fps, so frame i is at exactly i/fps s.
    width, height: even (yuv420p halves the chroma planes).
    audio_from: a file whose default audio track is carried over, re-encoded to AAC, aligned so
        that the source's first video frame (or its audio start) is t = 0, and cut at the
        video's end. A file without audio is logged at INFO and the output has no audio.
    crf: x264 constant rate factor, 0 (lossless) - 51; 18 is visually near lossless.
    provenance: the run's record (`reenact.provenance.Provenance`); a fresh one (model unknown)
        if None. Every frame written carries its invisible watermark (and its visible label, if
        it has one), and the MP4 tags say the video is synthetic: there is no way to write an
        unmarked video with this class.
    commit: False leaves the finished file under its temporary name after `close()`, for the
        caller to commit together with other outputs (`reenact.io.atomic.commit_together` on
        `output`); it is deleted like a partial file if that never happens.
    """

    def __init__(self, path: str | os.PathLike[str], fps: Fraction | int, width: int,
                 height: int, *, audio_from: str | os.PathLike[str] | None = None,
                 crf: int = DEFAULT_CRF, provenance: Provenance | None = None,
                 commit: bool = True) -> None:
        self.fps = _check_fps(fps)
        self.width = _check_side("width", width)
        self.height = _check_side("height", height)
        crf = _check_crf(crf)
        target = check_video_suffix(check_output_directory(path))
        audio_source = None if audio_from is None else check_input_file(audio_from,
                                                                         what="audio source")
        av = _import_av()
        from reenact.provenance.marking import FrameMarker  # lazily: it imports reenact.io
        from reenact.provenance.record import Provenance

        self.provenance = provenance if provenance is not None else Provenance.new()
        self.path = target
        self.frames_written = 0  # accepted by write(); encoded by close() at the latest
        self._output = AtomicOutput(target)
        self._commit = commit
        self._finished = False  # every frame encoded and the file closed
        self._container: Any = None
        self._audio: _AudioCarry | None = None
        self._work: _BackgroundWork | None = None
        try:
            self._container = av.open(str(self._output.temp_path.absolute()), "w", format="mp4",
                                      container_options=_MP4_OPTIONS)
            self._container.metadata.update(self.provenance.container_metadata())
            video = _add_video_stream(av, self._container, self.fps, width, height, crf)
            if audio_source is not None:
                self._audio = _AudioCarry.open(av, audio_source, self._container)
        except BaseException:
            self._abort()
            raise
        self._encoder = _FrameEncoder(av, FrameMarker(self.provenance), self._container, video,
                                      self._audio, self.fps)
        self._work = _BackgroundWork(self._encoder.encode, _QUEUED_FRAMES,
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
