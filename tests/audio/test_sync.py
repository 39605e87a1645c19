"""The lip-sync scorer on synthetic series with a known offset."""

from pathlib import Path

import numpy as np
import pytest
from conftest import MEDIA, require

from reenact.audio.sync import score_sync, score_video
from reenact.preprocess.face import create_face_analyzer


def envelope(frames, seed=0):
    rng = np.random.default_rng(seed)
    raw = np.convolve(rng.uniform(0, 1, frames), np.hanning(7), mode="same")
    raw[:15] = raw[-15:] = 0  # silence at both ends
    return raw


@pytest.mark.parametrize("shift", [-4, 0, 3, 7])
def test_finds_a_known_offset(shift):
    speech = envelope(200)
    energy = np.where(speech > 0.05, -60 + 45 * speech / speech.max(), -90.0)
    mouth = np.roll(speech, shift) * 0.3  # mouth k frames after the sound: offset +k
    score = score_sync(mouth, energy)
    assert score.offset == shift
    assert score.confidence > 0.3
    if shift == 0:
        assert score.silence_opening == pytest.approx(0, abs=0.05)


def test_unrelated_mouth_has_low_confidence():
    speech = envelope(200, seed=1)
    energy = np.where(speech > 0.05, -60 + 45 * speech / speech.max(), -90.0)
    synced = score_sync(speech, energy, speech_only=True)
    unrelated = score_sync(envelope(200, seed=2), energy, speech_only=True)
    assert unrelated.confidence < 0.5 * synced.confidence


def test_mouth_open_in_silence_is_reported():
    speech = envelope(200, seed=1)
    energy = np.where(speech > 0.05, -60 + 45 * speech / speech.max(), -90.0)
    mouth = speech.copy()
    mouth[:15] = mouth[-15:] = np.percentile(speech, 90)
    assert score_sync(mouth, energy).silence_opening > 0.7


def test_frames_without_face_are_left_out():
    speech = envelope(120)
    energy = -60 + 45 * speech / speech.max()
    mouth = speech.copy()
    mouth[40:60] = np.nan
    score = score_sync(mouth, energy, max_offset=5)
    assert score.offset == 0 and score.face_frames == 100 and score.correlations.shape == (11,)


def test_real_grid_clip():
    video = require(MEDIA / "talking" / "grid_bbaf2n.mpg")
    score = score_video(Path(video), create_face_analyzer("dlib"))
    assert score.face_frames == score.num_frames == 75
    assert abs(score.offset) <= 12  # these samples' lips lead their voice by up to ~8 frames
    assert score.confidence > 0.1
    assert score.silence_opening < 0.4


def test_sync_score_command(capsys):
    import json

    from reenact.cli import main

    video = require(MEDIA / "talking" / "grid_pwij3p.mpg")
    assert main(["sync-score", "-q", "--json", str(video)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["frames"] == 75 and set(rows[0]) >= {"offset", "confidence", "silence_opening"}
    assert main(["sync-score", "-q", str(video)]) == 0
    assert "grid_pwij3p.mpg" in capsys.readouterr().out
