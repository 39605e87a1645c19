"""Lip-sync scoring without a learned model: mouth opening (landmarks) against the audio's energy.

For a video with speech:
- mouth opening per frame: the inner-lip gap over the interocular distance
  (`reenact.preprocess.expressions.mouth_opening`), NaN where no face is found;
- audio energy per frame: RMS level in dBFS of the samples shown with the frame, floored 50 dB
  below the loud level (so that silence depth does not dominate);
- for each offset k in [-max_offset, max_offset], the Pearson correlation of opening[t] with
  energy[t - k] over the frames where both exist (the same frames t for every k, leaving out the
  first and last max_offset frames, when the clip has enough) (`speech_only`: and audio frame t - k is voiced;
  by default the pauses count too, so that a mouth closed in silence and open in speech is in
  sync even when the syllables are not resolved). k > 0: the mouth moves k frames after the sound
  (video late), k < 0: before it (video early). Real clips are not always at 0: in the GRID
  samples the lips part up to ~8 frames before the voice starts.

Reported (`SyncScore`):
- offset: the k of the highest correlation; on real talking clips of 3-10 s, 0 to +-1 frame in
  10 of 17 of ../shared/media's, up to +-13 in the rest (several near-equal peaks at the syllable
  rate): a coarse measure on short clips;
- correlation: that highest correlation;
- confidence: highest minus median correlation over all offsets. The analogue of SyncNet's
  confidence (median minus minimum audio-visual distance): high when one alignment stands out,
  near 0 when the mouth is unrelated to the audio;
- silence_opening: mean mouth opening on silent frames, as a fraction of the video's opening range
  (5th to 95th percentile); near 0 when the mouth is closed in pauses.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from reenact.audio.activity import VoiceActivityConfig, voiced
from reenact.audio.features import frame_energy_db

logger = logging.getLogger(__name__)

DEFAULT_MAX_OFFSET = 15
ENERGY_RANGE_DB = 50.0
MIN_PAIRS = 8
SCORE_SAMPLE_RATE = 16000


@dataclass(frozen=True)
class SyncScore:
    offset: int
    correlation: float
    confidence: float
    silence_opening: float
    num_frames: int
    face_frames: int
    correlations: np.ndarray  # (2 * max_offset + 1,) per offset, -max_offset first


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < MIN_PAIRS:
        return math.nan
    a, b = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 1e-12 else math.nan


def _shifted(values: np.ndarray, k: int) -> np.ndarray:
    """values[t - k] at index t (NaN where t - k is outside)."""
    out = np.full(values.shape, np.nan)
    if k >= 0:
        out[k:] = values[:values.size - k]
    else:
        out[:k] = values[-k:]
    return out


def offset_correlations(mouth: np.ndarray, energy: np.ndarray, max_offset: int,
                        voiced_mask: np.ndarray | None = None) -> np.ndarray:
    """(2 max_offset + 1,) correlation of mouth[t] with energy[t - k], k = -max_offset..max_offset,
    over the t where both exist (and audio frame t - k is voiced, when `voiced_mask` is given)."""
    mouth = np.asarray(mouth, dtype=np.float64)
    energy = np.asarray(energy, dtype=np.float64)
    if mouth.shape != energy.shape or mouth.ndim != 1:
        raise ValueError(f"mouth, energy: expected two (T,) arrays, got {mouth.shape} and "
                         f"{energy.shape}")
    if voiced_mask is not None:
        energy = np.where(voiced_mask, energy, np.nan)
    # every offset is scored on the same video frames, those with audio at all offsets (when the
    # clip is long enough): with the overlap shrinking as |k| grows, the far offsets would be
    # scored on fewer frames and win by chance more often
    if mouth.size - 2 * max_offset >= 2 * MIN_PAIRS:
        common = np.zeros(mouth.size, bool)
        common[max_offset:mouth.size - max_offset] = True
        mouth = np.where(common, mouth, np.nan)
    out = np.full(2 * max_offset + 1, np.nan)
    for slot, k in enumerate(range(-max_offset, max_offset + 1)):
        shifted = _shifted(energy, k)
        valid = np.isfinite(mouth) & np.isfinite(shifted)
        out[slot] = _pearson(mouth[valid], shifted[valid])
    return out


def silence_opening(mouth: np.ndarray, silent: np.ndarray) -> float:
    """Mean opening on silent frames, relative to the 5th-95th percentile range of the opening."""
    known = np.isfinite(mouth)
    if not (known & silent).any() or known.sum() < 2:
        return math.nan
    low, high = np.percentile(mouth[known], [5, 95])
    spread = max(float(high - low), 1e-6)
    return float((mouth[known & silent].mean() - low) / spread)


def score_sync(mouth: np.ndarray, energy_db: np.ndarray, *, max_offset: int = DEFAULT_MAX_OFFSET,
               activity: VoiceActivityConfig | None = None, speech_only: bool = False) -> SyncScore:
    """Score per-frame mouth opening (T,) (NaN = no face) against per-frame energy (T,) in dBFS.

    speech_only: correlate over voiced audio frames only (syllable-level sync); by default all
    frames count, so a mouth that is closed in the pauses and open in speech scores as in sync.
    """
    if isinstance(max_offset, bool) or not isinstance(max_offset, int) or max_offset < 0:
        raise ValueError(f"max_offset: expected an integer >= 0, got {max_offset!r}")
    energy_db = np.asarray(energy_db, dtype=np.float64)
    mouth = np.asarray(mouth, dtype=np.float64)
    loud = float(np.percentile(energy_db, 95)) if energy_db.size else 0.0
    floored = np.maximum(energy_db, loud - ENERGY_RANGE_DB)
    silent = ~voiced(energy_db, activity)
    correlations = offset_correlations(mouth, floored, max_offset,
                                       voiced_mask=~silent if speech_only else None)
    finite = np.isfinite(correlations)
    if finite.any():
        best = int(np.nanargmax(correlations))
        correlation = float(correlations[best])
        confidence = correlation - float(np.median(correlations[finite]))
        offset = best - max_offset
    else:
        offset, correlation, confidence = 0, math.nan, math.nan
    return SyncScore(offset=offset, correlation=correlation, confidence=confidence,
                     silence_opening=silence_opening(mouth, silent), num_frames=int(mouth.size),
                     face_frames=int(np.isfinite(mouth).sum()), correlations=correlations)


def video_mouth_opening(path: str | os.PathLike, analyzer) -> tuple[np.ndarray, Fraction]:
    """(T,) mouth opening per frame of a video (NaN where no face), and its fps."""
    from reenact.io import VideoReader
    from reenact.preprocess.expressions import mouth_opening

    values = []
    with VideoReader(path) as reader:
        fps = reader.info.fps
        for frame in reader:
            faces = analyzer.detect(frame)
            landmarks = faces[0].landmarks if faces else None
            values.append(float(mouth_opening(landmarks)) if landmarks is not None else math.nan)
    return np.asarray(values), fps


def score_video(path: str | os.PathLike, analyzer, *, max_offset: int = DEFAULT_MAX_OFFSET,
                activity: VoiceActivityConfig | None = None) -> SyncScore:
    """Score a video file against its own audio track."""
    from reenact.io.audio import load_audio

    mouth, fps = video_mouth_opening(path, analyzer)
    clip = load_audio(Path(path), SCORE_SAMPLE_RATE)
    energy = frame_energy_db(clip, fps, mouth.size)
    return score_sync(mouth, energy, max_offset=max_offset, activity=activity)
