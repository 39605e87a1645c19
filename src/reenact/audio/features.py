"""Log-mel features aligned to video frames.

Time conventions (any frame rate, exact `Fraction` arithmetic):
- video frame i is shown during [i / fps, (i + 1) / fps); its time is the centre, (i + 0.5) / fps;
- a clip of N samples gives ceil(N * fps / sample_rate) video frames: the video covers the audio;
- mel frame m is centred on sample m * hop (a centred STFT over the zero-padded signal, librosa's
  `center=True, pad_mode="constant"`), so there are 1 + N // hop mel frames; librosa computes the
  STFT, the mel filterbank and the dB scale;
- the window of video frame i is the 2 * context + 1 mel frames centred on the mel frame nearest to
  its time; mel frames before the start or after the end read as silence (the log-mel of zeros).
  At 16 kHz, hop 160 (10 ms) and 25 fps, consecutive video frames are 4 mel frames apart.

Memory: the STFT is computed `chunk_frames` mel frames at a time, and windows are cut per batch of
video frames by `FrameWindows`, so only the clip and its (T_mel, n_mels) log-mel (1.9 MB a minute
at 80 mels) are held whole.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from types import ModuleType

import numpy as np

from reenact.config import ConfigError
from reenact.io.audio import AudioClip, check_sample_rate

# the log of zero power: 10 * log10(AMIN)
AMIN = 1e-10
SILENCE_DB = 10 * math.log10(AMIN)


def _fail(key: str, expected: str, value: object) -> None:
    raise ConfigError(f"AudioFeatureConfig.{key}: expected {expected}, got {value!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class AudioFeatureConfig:
    """What the audio model hears; stored with its checkpoint (`features` in config.json).

    sample_rate: Hz the audio is resampled to.
    n_fft, hop, win: STFT size, hop and Hann window length in samples (win <= n_fft).
    n_mels, fmin, fmax: the mel filterbank (Slaney scale and area normalization, librosa's default).
    context: mel frames on each side of a video frame's centre frame; a window is 2 * context + 1.
    target_level_db: the clip is scaled so that its loud frames (95th percentile of 10 ms RMS) sit
        at this level in dBFS, at most `max_gain_db` up; None leaves the level as it is.
    """

    sample_rate: int = 16000
    n_fft: int = 512
    hop: int = 160
    win: int = 400
    n_mels: int = 80
    fmin: float = 55.0
    fmax: float = 7600.0
    context: int = 8
    target_level_db: float | None = -20.0
    max_gain_db: float = 30.0

    def __post_init__(self) -> None:
        try:
            check_sample_rate(self.sample_rate)
        except ValueError:
            _fail("sample_rate", "an integer in [1000, 384000]", self.sample_rate)
        for key, minimum in (("n_fft", 16), ("hop", 1), ("win", 16), ("n_mels", 1), ("context", 0)):
            value = getattr(self, key)
            if not _is_int(value) or value < minimum:
                _fail(key, f"an integer >= {minimum}", value)
        if self.win > self.n_fft:
            _fail("win", f"at most n_fft ({self.n_fft})", self.win)
        if not _is_number(self.fmin) or self.fmin < 0:
            _fail("fmin", "a number >= 0", self.fmin)
        if not _is_number(self.fmax) or not self.fmin < self.fmax <= self.sample_rate / 2:
            _fail("fmax", f"a number in (fmin, sample_rate / 2 = {self.sample_rate / 2}]", self.fmax)
        if self.target_level_db is not None and (not _is_number(self.target_level_db)
                                                 or self.target_level_db > 0):
            _fail("target_level_db", "a level in dBFS <= 0, or null", self.target_level_db)
        if not _is_number(self.max_gain_db) or self.max_gain_db < 0:
            _fail("max_gain_db", "a number >= 0", self.max_gain_db)

    @property
    def window_frames(self) -> int:
        """Mel frames in one video frame's window."""
        return 2 * self.context + 1

    def mel_frames_per_video_frame(self, fps: Fraction) -> Fraction:
        return Fraction(self.sample_rate) / (self.hop * fps)


def check_fps(fps: object, name: str = "fps") -> Fraction:
    """An exact frame rate (Fraction or int in (0, 1000]); floats are refused as inexact."""
    if isinstance(fps, bool) or not isinstance(fps, (int, Fraction)) or not 0 < fps <= 1000:
        raise ValueError(f"{name}: expected a Fraction or int in (0, 1000] (e.g. Fraction(30000, "
                         f"1001) for 29.97), got {fps!r}")
    return Fraction(fps)


def num_video_frames(num_samples: int, sample_rate: int, fps: Fraction) -> int:
    """ceil(num_samples * fps / sample_rate): the frames of a video that covers the audio."""
    fps = check_fps(fps)
    numerator = num_samples * fps.numerator
    denominator = sample_rate * fps.denominator
    return -(-numerator // denominator)


def num_mel_frames(num_samples: int, config: AudioFeatureConfig) -> int:
    """1 + N // hop (centred frames)."""
    return 1 + num_samples // config.hop


def mel_centres(num_frames: int, fps: Fraction, config: AudioFeatureConfig,
                start: int = 0) -> np.ndarray:
    """(num_frames,) int64: the mel frame nearest to the time of video frames start.. start + n - 1."""
    fps = check_fps(fps)
    index = np.arange(start, start + num_frames, dtype=np.int64)
    # round((i + 0.5) / fps * sample_rate / hop), as exact integers: floor((2i + 1) a / b / 2 + 1/2)
    a = config.sample_rate * fps.denominator
    b = config.hop * fps.numerator
    return ((2 * index + 1) * a + b) // (2 * b)


# -- the spectrogram ----------------------------------------------------------------------------
# librosa computes it (STFT, Slaney mel filterbank, power in dB); the parameters below reproduce the
# features the bundled audio checkpoint was trained with (pinned by tests/audio/test_features_pin.py
# against the numpy implementation it replaced).


def _import_librosa() -> ModuleType:
    # imported on first use: librosa pulls numba, ~2 s of import that only the audio branch needs
    try:
        import librosa
    except ImportError as error:
        raise ImportError("audio features need librosa: pip install librosa") from error
    return librosa


@functools.lru_cache(maxsize=8)
def mel_filterbank(config: AudioFeatureConfig) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) float32 triangular filters on Slaney's mel scale (librosa
    `htk=False`), each scaled to unit area (`norm="slaney"`). Read-only (cached per config)."""
    filters = _import_librosa().filters.mel(
        sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels, fmin=config.fmin,
        fmax=config.fmax, htk=False, norm="slaney", dtype=np.float32)
    filters.flags.writeable = False
    return filters


def _segment(samples: np.ndarray, first: int, stop: int, config: AudioFeatureConfig) -> np.ndarray:
    """The samples under mel frames [first, stop): frame m spans [m hop - n_fft/2, m hop + n_fft/2),
    zeros outside the signal (librosa's `center=True, pad_mode="constant"`, cut per chunk)."""
    half = config.n_fft // 2
    begin, end = first * config.hop - half, (stop - 1) * config.hop + config.n_fft - half
    segment = np.zeros(end - begin, np.float32)
    lo, hi = max(begin, 0), min(end, samples.shape[0])
    if hi > lo:
        segment[lo - begin:hi - begin] = samples[lo:hi]
    return segment


def iter_log_mel(samples: np.ndarray, config: AudioFeatureConfig, chunk_frames: int = 1000, *,
                 gain: float = 1.0) -> Iterator[np.ndarray]:
    """Log-mel power in dB of `gain * samples`, (n, n_mels) float32 blocks of up to `chunk_frames`
    mel frames, in order (the gain is applied per block: no scaled copy of the clip)."""
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames: expected an integer >= 1, got {chunk_frames!r}")
    librosa = _import_librosa()
    filters = mel_filterbank(config)
    total = num_mel_frames(samples.shape[0], config)
    for first in range(0, total, chunk_frames):
        segment = _segment(samples, first, min(first + chunk_frames, total), config)
        segment *= np.float32(gain)
        # a periodic Hann window of `win` samples, zero-padded to n_fft and centred; the frames are
        # already padded, so center=False
        spectrum = librosa.stft(segment, n_fft=config.n_fft, hop_length=config.hop,
                                win_length=config.win, window="hann", center=False)  # (F, n)
        power = np.abs(spectrum) ** 2
        # in float64, rounded once to float32: a float32 product's bits depend on how many threads
        # BLAS splits it over (1 ulp here and there on AMD EPYC), and talk's feature process must
        # give this process's bits
        mel = (filters.astype(np.float64) @ power.astype(np.float64)).astype(np.float32)  # (n_mels, n)
        db = librosa.power_to_db(mel, ref=1.0, amin=AMIN, top_db=None)
        yield np.ascontiguousarray(db.T, dtype=np.float32)  # (n, n_mels)


def log_mel(samples: np.ndarray, config: AudioFeatureConfig, chunk_frames: int = 1000, *,
            gain: float = 1.0) -> np.ndarray:
    """(1 + N // hop, n_mels) float32 log-mel power in dB of (N,) float32 samples at the config's
    rate, times `gain`."""
    if not isinstance(samples, np.ndarray) or samples.ndim != 1:
        raise ValueError(f"samples: expected a (N,) float32 array, got "
                         f"{getattr(samples, 'shape', type(samples).__name__)}")
    out = np.empty((num_mel_frames(samples.shape[0], config), config.n_mels), np.float32)
    start = 0
    for block in iter_log_mel(samples, config, chunk_frames, gain=gain):
        out[start:start + block.shape[0]] = block
        start += block.shape[0]
    return out


# -- level --------------------------------------------------------------------------------------


def _block_power(samples: np.ndarray, bounds: np.ndarray, block: int = 1 << 20) -> np.ndarray:
    """Sum of squares of samples[bounds[i]:bounds[i + 1]] for each i, computed in slices of about
    `block` samples (no float64 copy of the clip). bounds: non-decreasing, within [0, N]."""
    power = np.zeros(max(bounds.size - 1, 0))
    first = 0
    while first < power.size:
        last = int(np.searchsorted(bounds, bounds[first] + block, side="right")) - 1
        last = min(max(last, first + 1), power.size)
        segment = samples[bounds[first]:bounds[last]].astype(np.float64)
        cumulative = np.concatenate([[0.0], np.cumsum(segment * segment)])
        local = bounds[first:last + 1] - bounds[first]
        power[first:last] = np.diff(cumulative[local])
        first = last
    return power


def rms_db(samples: np.ndarray, frame: int) -> np.ndarray:
    """RMS level in dBFS of consecutive `frame`-sample blocks (the last one may be short)."""
    count = -(-samples.shape[0] // frame)
    bounds = np.minimum(np.arange(count + 1, dtype=np.int64) * frame, samples.shape[0])
    power = _block_power(samples, bounds)
    return 10 * np.log10(np.maximum(power / np.maximum(np.diff(bounds), 1), AMIN))


def level_gain(clip: AudioClip, config: AudioFeatureConfig) -> float:
    """The factor that puts `clip`'s loud 10 ms frames at `config.target_level_db` (capped)."""
    if config.target_level_db is None or clip.num_samples == 0:
        return 1.0
    levels = rms_db(clip.samples, max(1, clip.sample_rate // 100))
    loud = float(np.percentile(levels, 95))
    return 10 ** (min(config.target_level_db - loud, config.max_gain_db) / 20)


def normalize_level(clip: AudioClip, config: AudioFeatureConfig) -> AudioClip:
    """`clip` scaled by `level_gain` (a copy)."""
    return AudioClip((clip.samples * np.float32(level_gain(clip, config))).astype(np.float32),
                     clip.sample_rate)


def frame_energy_db(clip: AudioClip, fps: Fraction, num_frames: int | None = None) -> np.ndarray:
    """(T,) float64 RMS level in dBFS of the samples shown with each video frame, [i/fps, (i+1)/fps);
    frames past the end of the clip read as silence. T defaults to ceil(duration * fps)."""
    fps = check_fps(fps)
    total = num_video_frames(clip.num_samples, clip.sample_rate, fps) if num_frames is None \
        else num_frames
    index = np.arange(total + 1, dtype=np.int64)
    bounds = (index * clip.sample_rate * fps.denominator) // fps.numerator  # sample of i / fps
    power = _block_power(clip.samples, np.minimum(bounds, clip.num_samples))
    lengths = np.maximum(bounds[1:] - bounds[:-1], 1)
    return 10 * np.log10(np.maximum(power / lengths, AMIN))


# -- windows per video frame --------------------------------------------------------------------


class FrameWindows:
    """The mel window of each video frame, cut on demand: `windows(start, stop)` is
    (stop - start, 2 * context + 1, n_mels) float32. Only the log-mel matrix is held.

    mel: (T_mel, n_mels) from `log_mel`; fps: the video's frame rate; num_frames: how many video
    frames (`num_video_frames(len(samples), sample_rate, fps)` covers the audio).
    """

    def __init__(self, mel: np.ndarray, fps: Fraction, config: AudioFeatureConfig,
                 num_frames: int) -> None:
        if not isinstance(mel, np.ndarray) or mel.ndim != 2 or mel.shape[1] != config.n_mels:
            raise ValueError(f"mel: expected (T, {config.n_mels}) log-mel frames, got "
                             f"{getattr(mel, 'shape', type(mel).__name__)}")
        self.mel = mel
        self.fps = check_fps(fps)
        self.config = config
        if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)) \
                or num_frames < 0:
            raise ValueError(f"num_frames: expected an integer >= 0, got {num_frames!r}")
        self.num_frames = int(num_frames)

    def __len__(self) -> int:
        return self.num_frames

    def windows(self, start: int, stop: int) -> np.ndarray:
        """(stop - start, 2 context + 1, n_mels) float32 windows of video frames [start, stop)."""
        if not 0 <= start <= stop:
            raise ValueError(f"start, stop: expected 0 <= start <= stop, got {start}, {stop}")
        context = self.config.context
        centres = mel_centres(stop - start, self.fps, self.config, start=start)  # (n,)
        index = centres[:, None] + np.arange(-context, context + 1)  # (n, W)
        inside = (index >= 0) & (index < self.mel.shape[0])
        out = self.mel[np.clip(index, 0, max(self.mel.shape[0] - 1, 0))]  # (n, W, n_mels)
        out[~inside] = SILENCE_DB
        return out.astype(np.float32, copy=False)

    def iter_batches(self, batch_frames: int) -> Iterator[tuple[int, np.ndarray]]:
        """(start, windows) for consecutive batches of at most `batch_frames` video frames."""
        if batch_frames < 1:
            raise ValueError(f"batch_frames: expected an integer >= 1, got {batch_frames!r}")
        for start in range(0, self.num_frames, batch_frames):
            yield start, self.windows(start, min(start + batch_frames, self.num_frames))


def clip_features(clip: AudioClip, config: AudioFeatureConfig) -> np.ndarray:
    """The log-mel of a clip at the config's rate, after level normalization."""
    if clip.sample_rate != config.sample_rate:
        raise ValueError(f"clip: expected audio at {config.sample_rate} Hz (the model's rate), got "
                         f"{clip.sample_rate} Hz; load it with load_audio(path, "
                         f"{config.sample_rate})")
    return log_mel(clip.samples, config, gain=level_gain(clip, config))
