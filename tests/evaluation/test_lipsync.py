"""The lip-sync scores on synthetic mouths and speech with known answers."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from reenact.evaluation.lipsync import (
    SpeechTrack,
    closure_at_onsets,
    closure_depths,
    lagged_correlations,
    real_closure_onsets,
    score_lipsync,
    shut_f1,
    shut_frame_counts,
    shut_level,
    speech_mask,
)
from reenact.evaluation.measures import pearson
from reenact.evaluation.mouth_track import MouthTrack
from reenact.evaluation.word_timing import parse_grid_align
from reenact.io.audio import AudioClip

FPS = Fraction(25)


def syllables(frames: int, seed: int) -> np.ndarray:
    """(frames,) smooth positive envelope, a few frames per syllable."""
    rng = np.random.default_rng(seed)
    return np.convolve(rng.uniform(0, 1, frames), np.hanning(5), mode="same") + 0.05


def sentence(frames: int = 150, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(loudness dBFS, speech bool): silence, a sentence of syllables, silence."""
    speech = np.zeros(frames, bool)
    speech[25:frames - 25] = True
    level = syllables(frames, seed)
    loudness = np.where(speech, -40 + 20 * level / level.max(), -80.0)
    return loudness, speech


@pytest.mark.parametrize("lag", [-2, -1, 0, 1, 2])
def test_a_gap_that_follows_the_loudness_is_found_at_its_lag(lag: int) -> None:
    loudness, speech = sentence()
    gap = np.roll(loudness - loudness.min(), lag) / 100  # the mouth `lag` frames after the sound
    r = lagged_correlations(gap, loudness, speech, max_lag=2)
    assert int(np.nanargmax(r)) - 2 == lag
    assert np.nanmax(r) > 0.99


def test_shuffled_audio_gives_a_low_r() -> None:
    loudness, speech = sentence(seed=1)
    gap = (loudness - loudness.min()) / 100
    shuffled = loudness.copy()
    inside = np.flatnonzero(speech)
    shuffled[inside] = np.random.default_rng(3).permutation(loudness[inside])
    assert np.nanmax(lagged_correlations(gap, loudness, speech)) > 0.99
    assert np.nanmax(np.abs(lagged_correlations(gap, shuffled, speech))) < 0.3


def test_the_silence_speech_silence_shape_does_not_count() -> None:
    loudness, speech = sentence(seed=2)
    # a mouth shut in the pauses and open at random in the sentence: the whole clip correlates
    # with the loudness, the syllables do not
    gap = np.where(speech, 0.1 + 0.1 * np.random.default_rng(4).uniform(size=speech.size), 0.0)
    assert pearson(gap, loudness) > 0.7
    assert np.nanmax(lagged_correlations(gap, loudness, speech)) < 0.3


def test_speech_mask_bridges_short_pauses_only() -> None:
    level = np.full(100, -90.0)
    level[10:30] = -20.0  # a word
    level[33:50] = -20.0  # 3 silent frames (0.12 s): a stop closure, inside speech
    level[70:90] = -20.0  # after 20 silent frames (0.8 s): a pause, outside
    mask = speech_mask(level, FPS)
    expected = np.zeros(100, bool)
    expected[10:50] = expected[70:90] = True
    np.testing.assert_array_equal(mask, expected)
    assert not speech_mask(level, FPS, max_pause_s=Fraction(0))[30:33].any()


def test_frames_without_a_face_or_too_few_frames_are_left_out() -> None:
    loudness, speech = sentence(seed=5)
    gap = (loudness - loudness.min()) / 100
    gap[40:60] = np.nan
    assert np.nanmax(lagged_correlations(gap, loudness, speech)) > 0.99
    few = np.zeros_like(speech)
    few[30:39] = True  # 9 frames: under MIN_SPEECH_FRAMES
    assert np.isnan(lagged_correlations(gap, loudness, few)).all()
    with pytest.raises(ValueError, match=r"mouth, loudness, frames: expected \(T,\) series of one "
                                         r"length, got \(150,\), \(149,\), \(150,\)"):
        lagged_correlations(gap, loudness[1:], speech)


ALIGN = """0 20000 sil
20000 28000 bin
28000 35000 blue
35000 41000 at
41000 50000 please
50000 75000 sil
"""


def test_closure_on_bilabial_onsets_from_word_timings() -> None:
    words = parse_grid_align(ALIGN)  # bin at frame 20, blue at 28, please at 41
    gap = 0.2 + 0.05 * np.sin(np.arange(75))
    gap[21] = 0.01  # closed a frame after "bin" starts
    gap[26] = 0.0  # two frames before "blue"
    gap[44] = 0.0  # three frames after "please": too late
    speech = SpeechTrack(FPS, np.full(75, -30.0), np.ones(75, bool), words)
    score = score_lipsync(track(gap), speech)
    assert score.onsets == 3
    assert score.closure_rate == pytest.approx(2 / 3)
    onsets = [20, 28, 41]
    assert closure_at_onsets(gap, onsets) == (2, 3)
    assert closure_at_onsets(gap, onsets, window=3) == (3, 3)
    assert closure_at_onsets(gap, onsets, closed_share=0.01) == (1, 3)  # only the 0.0 frames
    assert closure_at_onsets(gap, [80, -1]) == (0, 0)  # outside the clip: not scored
    no_words = score_lipsync(track(gap), SpeechTrack(FPS, np.full(75, -30.0), np.ones(75, bool)))
    assert no_words.onsets == 0 and math.isnan(no_words.closure_rate)
    # how near each onset the mouth comes to shut: its least gap within +-2 over its maximum
    largest = gap.max()
    depths = closure_depths(gap, onsets)
    np.testing.assert_allclose(depths, [0.01 / largest, 0.0, gap[39:44].min() / largest])
    assert score.closure_depth == pytest.approx(depths.mean())
    assert closure_depths(gap, [80, -1]).size == 0 and math.isnan(no_words.closure_depth)
    assert closure_depths(np.full(10, np.nan), [3]).size == 0


def track(gap: np.ndarray, *, interior: np.ndarray | None = None, teeth: np.ndarray | None = None,
          fps: Fraction = FPS) -> MouthTrack:
    gap = np.asarray(gap, dtype=np.float64)
    return MouthTrack(fps, gap, gap * 0.1 if interior is None else interior,
                      np.zeros_like(gap) if teeth is None else teeth, gap + 0.05)


def test_score_against_the_real_video_of_the_speech() -> None:
    loudness, speech = sentence(150, seed=6)
    real_gap = np.clip((loudness + 60) / 100, 0, None)
    teeth = np.where(real_gap > np.percentile(real_gap, 70), 0.01, 0.0)
    real = track(real_gap, teeth=teeth)
    # half the amplitude, teeth in every other frame the real one shows them
    output = track(real_gap * 0.5, teeth=np.where(np.arange(150) % 2 == 0, teeth, 0.0))
    score = score_lipsync(output, SpeechTrack(FPS, loudness, speech), real)
    assert score.gap_std_ratio == pytest.approx(0.5)
    assert score.teeth_recall == pytest.approx(0.5, abs=0.1)
    assert score.interior_recall == pytest.approx(1.0)  # the interior is 0.1 x the gap in both
    assert score.r_speech > 0.99 and score.lag == 0
    assert score.gap_interior_r == pytest.approx(1.0)
    assert score.speech_frames == 100 and score.face_frames == 150
    assert score.r_real == pytest.approx(1.0) and score.real_lag == 0
    alone = score_lipsync(output, SpeechTrack(FPS, loudness, speech))
    assert math.isnan(alone.gap_std_ratio) and math.isnan(alone.teeth_recall)
    assert math.isnan(alone.r_real)
    with pytest.raises(ValueError, match=r"speech: expected 150 frames at 25 fps \(the video's\), "
                                         r"got 149 at 25"):
        score_lipsync(output, SpeechTrack(FPS, loudness[1:], speech[1:]))


def test_a_reference_at_another_frame_rate_is_read_at_the_same_times() -> None:
    times_30 = (np.arange(90) + 0.5) / 30
    real = track(np.sin(2 * np.pi * times_30) + 1, fps=Fraction(30))  # 3 s at 30 fps
    times_25 = (np.arange(100) + 0.5) / 25  # 4 s at 25 fps: the last second has no reference
    resampled = real.at_frames_of(FPS, 100)
    assert resampled.fps == FPS and resampled.num_frames == 100
    assert np.isnan(resampled.gap[75:]).all()
    np.testing.assert_allclose(resampled.gap[:75], np.sin(2 * np.pi * times_25[:75]) + 1, atol=0.11)
    output = track(np.sin(2 * np.pi * times_25) + 1)
    loudness = np.full(100, -30.0)
    score = score_lipsync(output, SpeechTrack(FPS, loudness, np.ones(100, bool)), real)
    assert score.gap_std_ratio == pytest.approx(1.0, abs=0.03)


def test_speech_track_from_a_clip_floors_silence_and_marks_speech() -> None:
    rate = 16000
    t = np.arange(3 * rate) / rate
    samples = np.zeros_like(t, dtype=np.float32)
    talking = (t >= 1.0) & (t < 2.0)
    samples[talking] = (0.3 * np.sin(2 * np.pi * 220 * t[talking])).astype(np.float32)
    speech = SpeechTrack.from_clip(AudioClip(samples, rate), FPS, 80)
    assert speech.loudness.shape == (80,) and speech.speech.shape == (80,)
    np.testing.assert_array_equal(np.flatnonzero(speech.speech), np.arange(25, 50))
    loud = np.percentile(speech.loudness, 95)
    assert speech.loudness.min() == pytest.approx(loud - 40.0)  # digital silence, floored


def test_r_with_the_real_mouth_finds_a_late_mouth_and_is_low_for_another_sentence() -> None:
    """A mouth that opens where the real one does, a frame late, scores ~1 at lag +1; the real
    mouth of another sentence scores low: the control."""
    loudness, speech = sentence(150, seed=7)
    real_gap = syllables(150, seed=7)
    late = track(np.r_[real_gap[:1], real_gap[:-1]])
    score = score_lipsync(late, SpeechTrack(FPS, loudness, speech), track(real_gap))
    assert score.r_real > 0.99 and score.real_lag == 1
    other = score_lipsync(late, SpeechTrack(FPS, loudness, speech), track(syllables(150, seed=8)))
    assert abs(other.r_real) < 0.3


def test_real_closures_count_only_closings_inside_speech() -> None:
    speech = np.zeros(40, bool)
    speech[5:35] = True
    gap = np.full(40, 0.3)
    gap[:8] = 0.0  # shut before speaking and into its first frames: not a closing
    gap[15:18] = 0.01  # a closing inside speech
    gap[24] = np.nan  # no face: neither open nor closed
    gap[25:27] = 0.0  # after a frame without a face: not known to have been open
    gap[36:] = 0.0  # after speech
    assert real_closure_onsets(gap, speech) == [15]
    with pytest.raises(ValueError, match="one length"):
        real_closure_onsets(gap, speech[1:])


def test_closures_are_scored_where_the_real_mouth_closes() -> None:
    """A mouth that closes with the real one (a frame late) gets every closure; one that never
    closes gets none; the figure needs no word timings."""
    loudness, speech = sentence(150, seed=9)
    real_gap = np.full(150, 0.3)
    closings = [40, 70, 100]
    for t in closings:
        real_gap[t:t + 3] = 0.0
    late = track(np.r_[real_gap[:1], real_gap[:-1]])
    score = score_lipsync(late, SpeechTrack(FPS, loudness, speech), track(real_gap))
    assert score.real_closures == 3 and score.real_closure_rate == 1.0
    assert score.real_closure_depth == 0.0
    never = track(np.where(real_gap > 0, real_gap, 0.2))
    score = score_lipsync(never, SpeechTrack(FPS, loudness, speech), track(real_gap))
    assert score.real_closures == 3 and score.real_closure_rate == 0.0
    assert score.real_closure_depth == pytest.approx(0.2 / 0.3)  # two thirds open at each
    alone = score_lipsync(never, SpeechTrack(FPS, loudness, speech))
    assert alone.real_closures == 0 and math.isnan(alone.real_closure_rate)
    assert math.isnan(alone.real_closure_depth)


def test_shut_frames_agree_and_a_mouth_shut_too_often_loses_f1() -> None:
    """Meeting every closure is not enough: the F1 of shut frames counts the extra ones."""
    speech = np.zeros(40, bool)
    speech[5:35] = True
    real = np.full(40, 0.3)
    real[[10, 11, 20, 21]] = 0.0  # 4 shut speech frames
    real[0:5] = 0.0  # shut before speech: not counted
    exact = real.copy()
    assert shut_frame_counts(exact, real, speech) == (4, 4, 4)
    assert shut_f1(*shut_frame_counts(exact, real, speech)) == 1.0
    always = np.where(speech, 0.0, 0.3)
    always[30] = 0.3  # it opens once, so that its maximum is not 0
    both, output, real_count = shut_frame_counts(always, real, speech)
    assert (both, output, real_count) == (4, 29, 4)
    assert shut_f1(both, output, real_count) == pytest.approx(8 / 33)
    missing = real.copy()
    missing[20] = np.nan  # no face: the frame is not counted for either
    assert shut_frame_counts(missing, real, speech) == (3, 3, 3)
    assert math.isnan(shut_f1(0, 0, 0))
    with pytest.raises(ValueError, match="one length"):
        shut_frame_counts(real, real[1:], speech)


def test_the_score_carries_the_shut_frame_counts() -> None:
    loudness, speech = sentence(150, seed=9)
    real_gap = np.full(150, 0.3)
    real_gap[[40, 41, 70, 100]] = 0.0
    score = score_lipsync(track(real_gap), SpeechTrack(FPS, loudness, speech), track(real_gap))
    inside = int(speech[[40, 41, 70, 100]].sum())
    assert (score.shut_both, score.shut_output, score.shut_real) == (inside, inside, inside)
    alone = score_lipsync(track(real_gap), SpeechTrack(FPS, loudness, speech))
    assert (alone.shut_both, alone.shut_output, alone.shut_real) == (0, 0, 0)


def test_a_series_reads_shut_under_a_tenth_of_its_largest_finite_value():
    assert shut_level(np.array([0.2, np.nan, 1.0, 0.5])) == pytest.approx(0.1)
    assert shut_level(np.array([4.0, 2.0]), closed_share=0.25) == pytest.approx(1.0)
