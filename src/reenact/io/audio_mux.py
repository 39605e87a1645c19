"""Carrying a file's audio into a video being written: re-encoded to AAC, sample-aligned with the
video's timeline, and interleaved with its frames as they are encoded (`AudioCarry`)."""

from __future__ import annotations

import collections
import logging
from collections.abc import Generator
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from reenact.io.audio import default_audio_stream
from reenact.io.errors import media_error
from reenact.io.video_decode import moving_picture_streams, open_input, reason

logger = logging.getLogger(__name__)

# sample rates the AAC encoder accepts; anything else is resampled to _FALLBACK_AUDIO_RATE
_AAC_SAMPLE_RATES = frozenset({96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000,
                               12000, 11025, 8000, 7350})
_FALLBACK_AUDIO_RATE = 48000
_AAC_FRAME_SIZE = 1024
_AUDIO_BIT_RATE_PER_CHANNEL = 96_000


def _timeline_origin(av: ModuleType, container: Any, audio: Any) -> float:
    """The source time (s) that becomes t = 0 of the output: the first video frame's, if any."""
    for stream in (*moving_picture_streams(av, container), audio):
        if stream.start_time is not None and stream.time_base:
            return float(stream.start_time * stream.time_base)
    return 0.0


class AudioCarry:
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
    def open(cls, av: ModuleType, source: Path, container: Any) -> AudioCarry | None:
        """The carrier of `source`'s audio, or None (logged) if it has no audio track."""
        input_container = open_input(av, source, kind="an audio or video file")
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
                                           f"{seconds:.2f} s ({reason(error)})") from None

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
