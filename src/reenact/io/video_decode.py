"""Opening a video file and decoding its frames: the container, its video stream, frames as upright
RGB, and the checks that tell a damaged or truncated file from a good one (PyAV, imported lazily).

Shared by `reenact.io.video_probe` (which describes a file from its headers and first frame),
`reenact.io.video_reader` (which streams its frames) and `reenact.io.audio_mux` (which opens the
file whose audio a written video carries).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from reenact.io.audio import TEXT_FORMATS
from reenact.io.errors import media_error

logger = logging.getLogger(__name__)

_MAX_TOP_LEVEL_BOXES = 100_000


def import_av() -> ModuleType:
    try:
        import av
    except ImportError as error:
        raise ImportError("reading and writing video needs PyAV: pip install av") from error
    return av


def reason(error: BaseException) -> str:
    """ffmpeg's own words for an error, without the errno and file name PyAV adds."""
    return getattr(error, "strerror", None) or str(error)


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


def open_input(av: ModuleType, path: Path, *, kind: str = "a video file") -> Any:
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
        raise media_error(path, f"cannot open the file ({reason(error)})") from None
    if container.format.name in TEXT_FORMATS:
        container.close()
        raise media_error(path, f"not {kind} (it is a text file)")
    return container


def _is_still_image_format(format_name: str) -> bool:
    return format_name == "image2" or format_name.endswith("_pipe")


def moving_picture_streams(av: ModuleType, container: Any) -> list[Any]:
    """The video streams that are not cover art (an attached picture of an audio file)."""
    cover_art = av.stream.Disposition.attached_pic
    return [s for s in container.streams.video if not s.disposition & cover_art]


def video_stream(av: ModuleType, container: Any, path: Path) -> Any:
    """The first video stream that is not cover art, or MediaError."""
    if _is_still_image_format(container.format.name):
        raise media_error(path, "is a still image, not a video (read it with read_image)")
    streams = moving_picture_streams(av, container)
    if not streams:
        detail = "only cover art" if container.streams.video else "no video stream"
        raise media_error(path, f"not a video file ({detail})")
    return streams[0]


def indexed_truncation(stream: Any, path: Path) -> tuple[int, int] | None:
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


def frame_to_rgb(frame: Any) -> np.ndarray:
    """A decoded frame -> (H, W, 3) uint8 RGB, converted with the frame's own colorspace and
    range, then turned upright by the container's rotation (counterclockwise degrees)."""
    rgb = frame.to_ndarray(format="rgb24")
    turns = round((getattr(frame, "rotation", 0) or 0) / 90) % 4
    if turns:
        rgb = np.rot90(rgb, k=turns)  # counterclockwise quarter turns
    return np.ascontiguousarray(rgb)


# BT.709 luma weights of R, G, B: what `PlanarFrame.luma_709` gives
_LUMA_709 = np.array([0.2126, 0.7152, 0.0722])
# 8-bit planar Y'CbCr layouts: Y', Cb, Cr are planes 0, 1, 2
_PLANAR_YUV8 = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p",
                          "yuv440p", "yuvj440p", "yuv411p", "yuv410p"})
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG
# (Kr, Kb) of each AVCOL_SPC matrix; others (and unspecified) are decoded as BT.601, as swscale
# (and so `frame_to_rgb`) does
BT709_MATRIX = (0.2126, 0.0722)
_MATRICES = {1: BT709_MATRIX, 4: (0.30, 0.11), 7: (0.212, 0.087), 9: (0.2627, 0.0593),
             10: (0.2627, 0.0593)}
_BT601 = (0.299, 0.114)


@dataclass(frozen=True)
class PlanarFrame:
    """A decoded frame's planes, without the colour conversion (which costs more than decoding).

    y: (H, W) uint8 Y' as decoded; chroma: (Cb, Cr), each (h, w) uint8 at its own (subsampled)
    resolution, or None for a frame that is not 8-bit Y'CbCr (y is then the rounded BT.709 luma
    of its RGB, full range); full_range: whether y spans 0-255 (else 16-235); matrix: (Kr, Kb)
    of the Y'CbCr matrix the frame is decoded with.
    """

    y: np.ndarray
    chroma: tuple[np.ndarray, np.ndarray] | None
    full_range: bool
    matrix: tuple[float, float]

    def luma_709(self, y: np.ndarray, cb: np.ndarray | None = None,
                 cr: np.ndarray | None = None) -> np.ndarray:
        """Full-range [0, 255] BT.709-weighted luma of the frame's RGB, from its planes or from
        any linear reduction of them to one shape (an average, a resize: the conversion is
        affine, so it commutes with them; swscale's clipping of RGB aside). Without chroma,
        from Y' alone: exact for a BT.709 matrix, a slightly different luma for others."""
        scale, offset = (1.0, 0.0) if self.full_range else (255 / 219, 16.0)
        luma = (np.asarray(y, dtype=np.float64) - offset) * scale
        if cb is None or cr is None:
            return luma
        chroma_scale = 1.0 if self.full_range else 255 / 224
        to_cb, to_cr = _luma_709_of(*self.matrix)
        return luma + chroma_scale * (to_cb * (np.asarray(cb, dtype=np.float64) - 128)
                                      + to_cr * (np.asarray(cr, dtype=np.float64) - 128))


def _luma_709_of(kr: float, kb: float) -> tuple[float, float]:
    """(a, b): BT.709 luma of the RGB a Y'CbCr matrix (kr, kb) decodes to = Y' + a Cb + b Cr
    (all full range, chroma centred on 0)."""
    kg = 1 - kr - kb
    red_cr, blue_cb = 2 * (1 - kr), 2 * (1 - kb)
    green_cb, green_cr = -kb * blue_cb / kg, -kr * red_cr / kg
    return (float(_LUMA_709[1] * green_cb + _LUMA_709[2] * blue_cb),
            float(_LUMA_709[0] * red_cr + _LUMA_709[1] * green_cr))


def planes_of_rgb(rgb: np.ndarray) -> PlanarFrame:
    """(H, W, 3) uint8 RGB -> a PlanarFrame of its BT.709 luma alone."""
    luma = np.rint(rgb.astype(np.float32) @ _LUMA_709.astype(np.float32)).astype(np.uint8)
    return PlanarFrame(luma, None, True, BT709_MATRIX)


def frame_to_planes(frame: Any) -> PlanarFrame:
    """A decoded frame -> its `PlanarFrame`, turned upright by the container's rotation."""
    name = frame.format.name
    if name not in _PLANAR_YUV8:
        return planes_of_rgb(frame_to_rgb(frame))
    turns = round((getattr(frame, "rotation", 0) or 0) / 90) % 4
    planes = []
    for plane in frame.planes[:3]:
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        values = rows[:, :plane.width]
        # counterclockwise quarter turns; a copy: the decoder reuses its buffers
        planes.append(np.ascontiguousarray(np.rot90(values, k=turns) if turns else values))
    full = name.startswith("yuvj") or frame.color_range == _FULL_RANGE
    return PlanarFrame(planes[0], (planes[1], planes[2]), full,
                       _MATRICES.get(frame.colorspace, _BT601))


def decode_rgb(av: ModuleType, container: Any, stream: Any, path: Path,
               span: Span | None = None) -> Iterator[np.ndarray]:
    """Frames of `stream` as (H, W, 3) uint8 RGB; see `decode_frames`."""
    return decode_frames(av, container, stream, path, span, convert=frame_to_rgb)


def decode_frames(av: ModuleType, container: Any, stream: Any, path: Path,
                  span: Span | None = None, *,
                  convert: Callable[[Any], np.ndarray]) -> Iterator[np.ndarray]:
    """Frames of `stream`, each as `convert` makes it of a decoded frame (`frame_to_rgb`,
    `frame_to_planes`); MediaError naming the frame on bad data.

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
            yield convert(frame)

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
                                f"({reason(error)})") from None
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


class Span:
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


def check_complete(container: Any, stream: Any, span: Span, count: int, path: Path) -> None:
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

