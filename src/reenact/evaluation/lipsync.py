"""Lip sync judged with a landmark model that sees the lips close, and with the pixels.

A video's mouth (`mouth_track.MouthTrack`) is scored against a speech clip (`SpeechTrack`) and,
where one exists, the real video of that speech (the reference, read at the same times):
- gap_std_ratio: std of FaceMesh's inner-lip gap over the reference's (frames where both have a
  face): 1 = the mouth moves as much as real speech, 0 = not at all;
- r_speech, lag: the Pearson r of the gap at frame t with the audio loudness (RMS level in dBFS) at
  frame t - lag, best over lag in [-max_lag, max_lag] (lag > 0: the mouth follows the sound), over
  speech frames only (`speech_mask`): a mouth that is shut in the pauses and open in the sentence
  scores nothing for that, only for following the syllables;
- interior_recall, teeth_recall: of the frames where the reference shows the mouth interior (teeth),
  the share where this video shows it too (`MouthTrack.interior_shown`, `teeth_shown`);
- closure_rate: of the words that start with the lips closed (p, b, m; from word timings), the share
  where the gap falls below `CLOSED_SHARE` of its maximum within +-`CLOSURE_WINDOW` frames of the
  word's onset; interior_closure_rate, the same read from the interior;
- real_closure_rate: the same test at the frames where the real mouth saying the same speech
  closes (`real_closure_onsets`: its gap falls below `CLOSED_SHARE` of its maximum inside speech,
  from a frame that was open): every clip with a reference has closures to judge, with or
  without word timings (most of a speaker's closures inside speech are p, b and m);
- closure_depth, real_closure_depth: at the same onsets (p/b/m words; the real mouth's closings),
  the mean over onsets of the gap's least value within +-`CLOSURE_WINDOW` frames, as a share of
  its maximum (`closure_depths`; 0 = shut, the rates' test is under `CLOSED_SHARE`): the rates
  count onsets either side of a threshold, and a mouth that nearly closes there flips with a
  pixel's noise (the watermark's payload moves them between runs of the same code); the depth
  says how near;
- shut_both, shut_output, shut_real: speech frames (both faces found) where the gap is below
  `CLOSED_SHARE` of its maximum in both videos, in this one, in the reference
  (`shut_frame_counts`); their F1 (`shut_f1`) also punishes a mouth that shuts too often, which
  the closure rates above do not: a mouth shut on every frame meets every closure;
- gap_interior_r: r between the gap and the interior over the frames where both exist: how far the
  two signals agree (on real speech 0.5-0.9; low when one of them sees motion the other does not);
- r_real, real_lag: the Pearson r of the gap with the reference's gap (the real mouth saying the
  same speech), best over the same lags and speech frames as r_speech: whether the mouth opens
  and closes where the real one does, syllable by syllable, which loudness only hints at.
Scoring the same video against other speech (a mismatched control) gives the floor each figure
must rise above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from reenact.audio.activity import VoiceActivityConfig, voiced
from reenact.audio.features import check_fps, frame_energy_db
from reenact.evaluation.measures import amplitude_ratio, pearson
from reenact.evaluation.mouth_track import MouthTrack
from reenact.evaluation.word_timing import Word, bilabial_onsets, onset_frame
from reenact.io.audio import AudioClip

DEFAULT_MAX_LAG = 2
MAX_PAUSE_S = Fraction(1, 5)  # silences inside speech up to this long count as speech
MIN_SPEECH_FRAMES = 10
# loudness more than this under the clip's loud frames (95th percentile) reads as that level: how
# deep a pause's silence is (digital zero or room hiss) says nothing about the mouth
LOUDNESS_RANGE_DB = 40.0
CLOSED_SHARE = 0.1
CLOSURE_WINDOW = 2


def _check_series(name: str, values: object) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a (T,) series, got shape {array.shape}")
    return array


def speech_mask(energy_db: np.ndarray, fps: Fraction, *,
                activity: VoiceActivityConfig | None = None,
                max_pause_s: Fraction = MAX_PAUSE_S) -> np.ndarray:
    """(T,) bool: the voiced frames (`reenact.audio.activity.voiced`), with the pauses between them
    up to `max_pause_s` long filled in (the silent closure of a p or t inside a word, where the lips
    shut, is part of speech). Silence before the first and after the last voiced frame stays out."""
    fps = check_fps(fps)
    mask = voiced(_check_series("energy_db", energy_db), activity).copy()
    longest = int(math.floor(Fraction(max_pause_s) * fps))
    index = np.flatnonzero(mask)
    for before, after in zip(index[:-1], index[1:]):
        if 1 < after - before <= longest + 1:
            mask[before:after] = True
    return mask


def lagged_correlations(mouth: np.ndarray, loudness: np.ndarray, frames: np.ndarray,
                        max_lag: int = DEFAULT_MAX_LAG) -> np.ndarray:
    """(2 max_lag + 1,) Pearson r of mouth[t] with loudness[t - lag], lag = -max_lag..max_lag, over
    the frames t in the bool mask `frames` (T,) where the mouth is finite and t - lag exists for
    every lag: the same frames at every lag, so that no lag wins by being scored on fewer. NaN
    with fewer than `MIN_SPEECH_FRAMES` such frames."""
    mouth, loudness = _check_series("mouth", mouth), _check_series("loudness", loudness)
    frames = np.asarray(frames, dtype=bool)
    if not mouth.shape == loudness.shape == frames.shape:
        raise ValueError(f"mouth, loudness, frames: expected (T,) series of one length, got "
                         f"{mouth.shape}, {loudness.shape}, {frames.shape}")
    if isinstance(max_lag, bool) or not isinstance(max_lag, int) or max_lag < 0:
        raise ValueError(f"max_lag: expected an integer >= 0, got {max_lag!r}")
    count = mouth.size
    keep = frames & np.isfinite(mouth)
    keep[:max_lag] = False
    keep[max(count - max_lag, 0):] = False
    t = np.flatnonzero(keep)
    out = np.full(2 * max_lag + 1, np.nan)
    if t.size < MIN_SPEECH_FRAMES:
        return out
    for slot, lag in enumerate(range(-max_lag, max_lag + 1)):
        out[slot] = pearson(mouth[t], loudness[t - lag])
    return out


def shut_level(series: np.ndarray, closed_share: float = CLOSED_SHARE) -> float:
    """The level under which a mouth series (with some finite value) reads as shut:
    `closed_share` x its largest finite value."""
    return closed_share * float(np.nanmax(series))


def _least_near(mouth: np.ndarray, onsets: list[int], window: int) -> list[float]:
    """Per onset frame that lies inside `mouth` with some finite value within +-`window` frames
    (a scored onset), the least of those values."""
    least = []
    for frame in onsets:
        if not 0 <= frame < mouth.size:
            continue
        near = mouth[max(frame - window, 0):frame + window + 1]
        if np.isfinite(near).any():
            least.append(float(np.nanmin(near)))
    return least


def closure_at_onsets(mouth: np.ndarray, onsets: list[int], *, closed_share: float = CLOSED_SHARE,
                      window: int = CLOSURE_WINDOW) -> tuple[int, int]:
    """(closed, scored): of the onset frames that lie inside the series, how many have the mouth
    below `closed_share` x its maximum (over the whole series) in some frame within +-`window`
    frames. An onset whose window holds no finite value is not scored."""
    mouth = _check_series("mouth", mouth)
    if not np.isfinite(mouth).any():
        return 0, 0
    threshold = shut_level(mouth, closed_share)
    least = _least_near(mouth, onsets, window)
    return sum(value < threshold for value in least), len(least)


def closure_depths(mouth: np.ndarray, onsets: list[int], *,
                   window: int = CLOSURE_WINDOW) -> np.ndarray:
    """Per scored onset (as `closure_at_onsets` scores them: inside the series, some finite value
    within +-`window` frames), the mouth's least value there over its maximum (over the whole
    series): 0 shut, 1 as open as it ever is. Empty where nothing is scored."""
    mouth = _check_series("mouth", mouth)
    if not np.isfinite(mouth).any() or not float(np.nanmax(mouth)) > 0:
        return np.zeros(0)
    largest = float(np.nanmax(mouth))
    return np.array([max(value, 0.0) / largest for value in _least_near(mouth, onsets, window)])


def _mean_depth(mouth: np.ndarray, onsets: list[int]) -> float:
    depths = closure_depths(mouth, onsets)
    return float(depths.mean()) if depths.size else math.nan


def real_closure_onsets(real_gap: np.ndarray, speech: np.ndarray, *,
                        closed_share: float = CLOSED_SHARE) -> list[int]:
    """The frames t where the real mouth closes inside speech: its gap below `closed_share` x its
    maximum at t but not at t - 1, with t - 1 and t both speech frames (a mouth shut before the
    first word does not count)."""
    gap = _check_series("real_gap", real_gap)
    speech = np.asarray(speech, dtype=bool)
    if gap.shape != speech.shape:
        raise ValueError(f"real_gap, speech: expected (T,) series of one length, got {gap.shape}, "
                         f"{speech.shape}")
    if not np.isfinite(gap).any():
        return []
    threshold = shut_level(gap, closed_share)
    closed = gap < threshold  # NaN compares False
    opened = gap >= threshold
    starts = closed[1:] & opened[:-1] & speech[1:] & speech[:-1]
    return [int(t) + 1 for t in np.flatnonzero(starts)]


def shut_frame_counts(gap: np.ndarray, real_gap: np.ndarray, speech: np.ndarray, *,
                      closed_share: float = CLOSED_SHARE) -> tuple[int, int, int]:
    """(both, output, real): of the speech frames where both series are finite, how many have both
    gaps below `closed_share` x their own maximum, how many the first, how many the second."""
    gap, real_gap = _check_series("gap", gap), _check_series("real_gap", real_gap)
    speech = np.asarray(speech, dtype=bool)
    if not gap.shape == real_gap.shape == speech.shape:
        raise ValueError(f"gap, real_gap, speech: expected (T,) series of one length, got "
                         f"{gap.shape}, {real_gap.shape}, {speech.shape}")
    known = speech & np.isfinite(gap) & np.isfinite(real_gap)
    if not known.any():
        return 0, 0, 0
    shut = known & (gap < shut_level(gap, closed_share))
    real_shut = known & (real_gap < shut_level(real_gap, closed_share))
    return int((shut & real_shut).sum()), int(shut.sum()), int(real_shut.sum())


def shut_f1(both: int, output: int, real: int) -> float:
    """F1 of shut frames from `shut_frame_counts` (pooled over clips if summed): 2 both / (output
    + real); NaN when neither shuts."""
    return 2 * both / (output + real) if output + real else math.nan


def _recall(shown: np.ndarray, reference_shown: np.ndarray) -> float:
    """Of the frames where the reference shows it (1), the share where `shown` is 1 (NaN frames
    of `shown` count as not shown; NaN when the reference never shows it)."""
    wanted = reference_shown == 1
    return float((shown[wanted] == 1).mean()) if wanted.any() else math.nan


@dataclass(frozen=True, eq=False)
class SpeechTrack:
    """A speech clip at a video's frames: loudness (T,) RMS level in dBFS of the samples shown with
    each frame, floored `LOUDNESS_RANGE_DB` under the clip's loud level; speech (T,) bool
    (`speech_mask`); and its words when timings exist."""

    fps: Fraction
    loudness: np.ndarray
    speech: np.ndarray
    words: tuple[Word, ...] | None = None

    @classmethod
    def from_clip(cls, clip: AudioClip, fps: Fraction, num_frames: int, *,
                  words: tuple[Word, ...] | None = None,
                  activity: VoiceActivityConfig | None = None) -> SpeechTrack:
        """The clip read at `num_frames` frames of `fps` (frames past its end read as silence)."""
        level = frame_energy_db(clip, fps, num_frames)
        loud = float(np.percentile(level, 95)) if level.size else 0.0
        loudness = np.maximum(level, loud - LOUDNESS_RANGE_DB)
        return cls(Fraction(fps), loudness, speech_mask(level, fps, activity=activity), words)


@dataclass(frozen=True)
class LipSyncScore:
    """See the module docstring. NaN where a figure cannot be computed (no reference, no speech
    frames with a face, no timed p/b/m onsets in the clip)."""

    num_frames: int
    face_frames: int
    speech_frames: int
    gap_std: float
    gap_std_ratio: float
    r_speech: float
    lag: int
    r_by_lag: tuple[float, ...]
    interior_share: float
    interior_recall: float
    teeth_share: float
    teeth_recall: float
    onsets: int
    closure_rate: float
    interior_closure_rate: float
    gap_interior_r: float
    r_real: float = math.nan
    real_lag: int = 0
    real_closures: int = 0
    real_closure_rate: float = math.nan
    shut_both: int = 0
    shut_output: int = 0
    shut_real: int = 0
    closure_depth: float = math.nan
    real_closure_depth: float = math.nan


def score_lipsync(mouth: MouthTrack, speech: SpeechTrack, reference: MouthTrack | None = None, *,
                  max_lag: int = DEFAULT_MAX_LAG) -> LipSyncScore:
    """Score `mouth` against `speech` (both at the same frames); `reference`, the real video of
    that speech at any frame rate, is read at `mouth`'s frames."""
    count = mouth.num_frames
    if speech.loudness.shape != (count,) or speech.fps != mouth.fps:
        raise ValueError(f"speech: expected {count} frames at {mouth.fps} fps (the video's), got "
                         f"{speech.loudness.shape[0]} at {speech.fps}")
    correlations = lagged_correlations(mouth.gap, speech.loudness, speech.speech, max_lag)
    if np.isfinite(correlations).any():
        best = int(np.nanargmax(correlations))
        r_speech, lag = float(correlations[best]), best - max_lag
    else:
        r_speech, lag = math.nan, 0
    interior_shown, teeth_shown = mouth.interior_shown(), mouth.teeth_shown()
    gap_std_ratio = interior_recall = teeth_recall = r_real = math.nan
    real_lag = real_closures = 0
    real_closure_rate = real_closure_depth = math.nan
    shut = (0, 0, 0)
    if reference is not None:
        real = reference.at_frames_of(mouth.fps, count)
        gap_std_ratio = amplitude_ratio(mouth.gap, real.gap)
        with_real = lagged_correlations(mouth.gap, real.gap, speech.speech, max_lag)
        if np.isfinite(with_real).any():
            best = int(np.nanargmax(with_real))
            r_real, real_lag = float(with_real[best]), best - max_lag
        interior_recall = _recall(interior_shown,
                                  real.interior_shown(reference.interior_closed_level()))
        teeth_recall = _recall(teeth_shown, real.teeth_shown())
        closings = real_closure_onsets(real.gap, speech.speech)
        real_closed, real_closures = closure_at_onsets(mouth.gap, closings)
        real_closure_rate = real_closed / real_closures if real_closures else math.nan
        real_closure_depth = _mean_depth(mouth.gap, closings)
        shut = shut_frame_counts(mouth.gap, real.gap, speech.speech)
    onsets = [onset_frame(word, mouth.fps) for word in bilabial_onsets(speech.words or ())]
    closed, scored = closure_at_onsets(mouth.gap, onsets)
    interior_closed, interior_scored = closure_at_onsets(mouth.interior, onsets)
    face = np.isfinite(mouth.gap)
    return LipSyncScore(
        num_frames=count, face_frames=int(face.sum()),
        speech_frames=int((speech.speech & face).sum()),
        gap_std=float(np.nanstd(mouth.gap)) if face.any() else math.nan,
        gap_std_ratio=gap_std_ratio, r_speech=r_speech, lag=lag,
        r_by_lag=tuple(float(v) for v in correlations),
        interior_share=_share(interior_shown), interior_recall=interior_recall,
        teeth_share=_share(teeth_shown), teeth_recall=teeth_recall, onsets=scored,
        closure_rate=closed / scored if scored else math.nan,
        interior_closure_rate=interior_closed / interior_scored if interior_scored else math.nan,
        gap_interior_r=pearson(mouth.gap, mouth.interior), r_real=r_real, real_lag=real_lag,
        real_closures=real_closures, real_closure_rate=real_closure_rate, shut_both=shut[0],
        shut_output=shut[1], shut_real=shut[2], closure_depth=_mean_depth(mouth.gap, onsets),
        real_closure_depth=real_closure_depth)


def _share(shown: np.ndarray) -> float:
    """Share of the frames with a face (finite) that show it."""
    known = np.isfinite(shown)
    return float(shown[known].mean()) if known.any() else math.nan

