"""Audio in: the default audio track (the one flagged default, else the first) of any file PyAV
reads (wav, mp3, m4a, flac, ogg, mp4, mkv, ...), decoded to mono float32 at a requested sample rate.

Conventions:
- a clip is `AudioClip(samples, sample_rate)`: samples (N,) float32, nominally in [-1, 1];
- channels are downmixed and the rate converted by libswresample (PyAV's `AudioResampler`), which
  compensates its own filter delay: sample k of the output is at k / sample_rate seconds;
- decoding and resampling stay with PyAV, not librosa (which computes the log-mel features): PyAV
  reads every container ffmpeg does (mp4, mkv, m4a, ...; librosa's soundfile does not), resamples
  while it decodes (no whole clip at the source rate in memory), and the bundled audio checkpoint
  was trained on libswresample's output: librosa's soxr_hq differs from it by up to 5 dB in the
  2-7.6 kHz mel bands of 44.1 kHz speech (0.1 dB below 1 kHz), a change of the features;
- t = 0 is the start of a file's first video frame when it has one (as `VideoWriter(audio_from=)`
  aligns carried audio), else the start of its audio; a late audio start is filled with silence.

A clip of 10 minutes at 16 kHz is 38 MB: clips are held whole; what grows with the length beyond
that (spectrogram frames, per-video-frame windows) is computed in chunks by `reenact.audio.features`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from reenact.io.errors import check_input_file, media_error

logger = logging.getLogger(__name__)

# demuxers that render text files (.txt, .nfo, ...) as "video": never a user's media
TEXT_FORMATS = frozenset({"tty", "bin", "xbin", "adf", "idf"})
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384_000
# what is reserved up front from a stream's declared duration: headers can claim hours that the
# file does not hold (an AIFF header of 2**31 frames asked for 24 GiB); longer clips grow as read
_MAX_RESERVED_SECONDS = 600


def _import_av() -> ModuleType:
    try:
        import av
    except ImportError as error:
        raise ImportError("reading audio needs PyAV: pip install av") from error
    return av


def check_sample_rate(sample_rate: object, name: str = "sample_rate") -> int:
    """`sample_rate` as an int, or ValueError naming `name`."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) \
            or not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise ValueError(f"{name}: expected an integer in [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}] Hz, "
                         f"got {sample_rate!r}")
    return int(sample_rate)


@dataclass(frozen=True, eq=False)
class AudioClip:
    """Mono audio. samples: (N,) float32; sample_rate: Hz. Equality is identity (numpy field)."""

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        check_sample_rate(self.sample_rate)
        samples = self.samples
        if not isinstance(samples, np.ndarray) or samples.ndim != 1 or samples.dtype != np.float32:
            raise ValueError(f"samples: expected a (N,) float32 array, got "
                             f"{getattr(samples, 'shape', type(samples).__name__)} "
                             f"{getattr(samples, 'dtype', '')}")

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate


def _open(av: ModuleType, path: Path) -> Any:
    try:
        # absolute: a relative name with a colon ("take:1.wav") would read as a protocol
        container = av.open(str(path.absolute()), metadata_errors="replace")
    except av.error.InvalidDataError:
        raise media_error(path, "not an audio or video file (unrecognized or corrupt data)") from None
    except (av.error.FFmpegError, OSError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise media_error(path, f"cannot open the file ({reason})") from None
    if container.format.name in TEXT_FORMATS:
        container.close()
        raise media_error(path, "not an audio or video file (it is a text file)")
    return container


def default_audio_stream(av: ModuleType, container: Any) -> Any | None:
    """The audio track a player would play: the one flagged default, else the first; None if the
    container has no audio."""
    streams = list(container.streams.audio)
    flagged = [s for s in streams if s.disposition & av.stream.Disposition.default]
    return (flagged or streams or [None])[0]


def _first_video_start(av: ModuleType, container: Any) -> float | None:
    cover_art = av.stream.Disposition.attached_pic
    for stream in container.streams.video:
        if not stream.disposition & cover_art and stream.start_time is not None and stream.time_base:
            return float(stream.start_time * stream.time_base)
    return None


class _Samples:
    """A growing float32 buffer: reserved from the stream's duration, doubled when it runs out,
    so that collecting a clip does not hold it twice (a list of chunks plus their concatenation)."""

    def __init__(self, expected: int) -> None:
        self.data = np.empty(max(expected, 1 << 14), np.float32)
        self.size = 0

    def append(self, chunk: np.ndarray) -> None:
        if self.size + chunk.size > self.data.size:
            grown = np.empty(max(2 * self.data.size, self.size + chunk.size), np.float32)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size:self.size + chunk.size] = chunk
        self.size += chunk.size

    def result(self) -> np.ndarray:
        return self.data[: self.size] if self.size > 0.9 * self.data.size \
            else self.data[: self.size].copy()


def _decode(av: ModuleType, container: Any, stream: Any, resampler: Any, path: Path,
            sample_rate: int) -> np.ndarray:
    duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base \
        else 0.0
    duration = min(max(duration, 0.0), _MAX_RESERVED_SECONDS)
    samples = _Samples(int(duration * sample_rate * 1.01) + sample_rate // 10)
    seconds = 0.0
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                seconds = frame.time or seconds
                for converted in resampler.resample(frame):
                    samples.append(converted.to_ndarray().reshape(-1))
        for converted in resampler.resample(None):
            samples.append(converted.to_ndarray().reshape(-1))
    except av.error.FFmpegError as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise media_error(path, f"audio is truncated or corrupt at {seconds:.2f} s ({reason})") \
            from None
    return samples.result()


def _align(samples: np.ndarray, lead_seconds: float, sample_rate: int) -> np.ndarray:
    """Shift so that t = 0 is `lead_seconds` before the audio's start (negative: drop samples)."""
    lead = round(lead_seconds * sample_rate)
    if lead > 0:
        return np.concatenate([np.zeros(lead, np.float32), samples])
    return samples[-lead:]


def load_audio(path: str | os.PathLike[str], sample_rate: int) -> AudioClip:
    """The default audio track of `path` (see `default_audio_stream`), mono, resampled to
    `sample_rate` Hz.

    Raises MediaError (one line, naming the file) if the file is missing, unreadable, not a media
    file, has no audio track, is corrupt, or holds no samples (a 0-second clip).
    """
    sample_rate = check_sample_rate(sample_rate)
    path = check_input_file(path, what="audio file")
    av = _import_av()
    with _open(av, path) as container:
        stream = default_audio_stream(av, container)
        if stream is None:
            raise media_error(path, "has no audio track")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        samples = _decode(av, container, stream, resampler, path, sample_rate)
        video_start = _first_video_start(av, container)
        audio_start = (float(stream.start_time * stream.time_base)
                       if stream.start_time is not None and stream.time_base else 0.0)
    if video_start is not None:
        samples = _align(samples, audio_start - video_start, sample_rate)
    if samples.size == 0:
        raise media_error(path, "the audio is empty (0 s); nothing to animate")
    if not np.isfinite(samples).all():
        raise media_error(path, "the audio holds NaN or infinite samples")
    logger.debug("%s: %.2f s of audio at %d Hz", path, samples.size / sample_rate, sample_rate)
    return AudioClip(np.ascontiguousarray(samples), sample_rate)


def resample(samples: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """(N,) float32 mono at `sample_rate` -> (M,) float32 at `target_rate`, M ~ N * target / rate.

    The same libswresample conversion as `load_audio` (delay compensated), for in-memory signals.
    """
    sample_rate = check_sample_rate(sample_rate)
    target_rate = check_sample_rate(target_rate, "target_rate")
    if not isinstance(samples, np.ndarray) or samples.ndim != 1:
        raise ValueError(f"samples: expected a (N,) float array, got "
                         f"{getattr(samples, 'shape', type(samples).__name__)}")
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if sample_rate == target_rate or samples.size == 0:
        return samples.copy()
    av = _import_av()
    frame = av.AudioFrame.from_ndarray(samples[None], format="flt", layout="mono")
    frame.sample_rate = sample_rate
    frame.time_base = Fraction(1, sample_rate)
    frame.pts = 0
    resampler = av.AudioResampler(format="flt", layout="mono", rate=target_rate)
    converted = list(resampler.resample(frame)) + list(resampler.resample(None))
    return np.concatenate([f.to_ndarray().reshape(-1) for f in converted]).astype(np.float32)


def write_wav(path: str | os.PathLike[str], clip: AudioClip) -> Path:
    """Write `clip` as a 16-bit PCM mono WAV file, atomically (for samples and test fixtures)."""
    import wave

    from reenact.io.atomic import atomic_output

    pcm = np.clip(np.rint(clip.samples * 32767), -32768, 32767).astype("<i2")
    with atomic_output(path) as temp, wave.open(str(temp), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(clip.sample_rate)
        handle.writeframes(pcm.tobytes())
    return Path(path)
