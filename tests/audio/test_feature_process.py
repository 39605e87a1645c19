import argparse
import logging
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from reenact.audio.feature_process import FeatureProcess
from reenact.audio.features import AudioFeatureConfig, clip_features
from reenact.audio.phones import DECODER_RATE, decode_phones
from reenact.audio.recognition import speech_phones
from reenact.io.audio import AudioClip, load_audio

from speech_fixtures import speech_like

CONFIG = AudioFeatureConfig()
SPEECH = Path(__file__).resolve().parents[2] / "audio" / "en.wav"  # the project's own sample


def _clip(seconds: float = 1.5, seed: int = 0) -> AudioClip:
    return AudioClip(speech_like(seconds, CONFIG.sample_rate, seed=seed), CONFIG.sample_rate)


def test_child_computes_the_same_bits_and_raises_the_same_errors():
    clips = [_clip(seed=0), _clip(0.7, seed=1)]
    with FeatureProcess(start=True) as features_of:
        child = features_of._process
        assert child is not None and child.poll() is None
        for clip in clips:
            got = features_of(clip, CONFIG)
            expected = clip_features(clip, CONFIG)
            assert got.dtype == expected.dtype and np.array_equal(got, expected)
        wrong_rate = AudioClip(clips[0].samples, 8000)
        with pytest.raises(ValueError) as in_process:
            clip_features(wrong_rate, CONFIG)
        with pytest.raises(ValueError) as from_child:
            features_of(wrong_rate, CONFIG)
        assert str(from_child.value) == str(in_process.value)
        assert features_of(clips[1], CONFIG).shape == expected.shape  # still serving after an error
    assert child.poll() is not None, "the child ended with the context"


def test_a_dead_child_falls_back_to_this_process(caplog):
    clip = _clip()
    with FeatureProcess(start=True) as features_of:
        child = features_of._process
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        with caplog.at_level(logging.WARNING, logger="reenact.audio.feature_process"):
            got = features_of(clip, CONFIG)
        assert np.array_equal(got, clip_features(clip, CONFIG))
        assert "computing the features here" in caplog.text
        assert features_of._process is None


def test_no_child_where_librosa_is_already_imported():
    clip_features(_clip(0.2), CONFIG)  # imports librosa here
    with FeatureProcess() as features_of:
        assert features_of._process is None
        assert np.array_equal(features_of(_clip(), CONFIG), clip_features(_clip(), CONFIG))


def test_an_error_in_the_caller_ends_the_child():
    with pytest.raises(RuntimeError, match="boom"), FeatureProcess(start=True) as features_of:
        child = features_of._process
        raise RuntimeError("boom")
    assert child.poll() is not None


def test_commands_start_no_child_while_models_are_reused(monkeypatch):
    import sys

    from reenact.cli.backend import feature_process, reuse_models

    args = argparse.Namespace(audio=str(SPEECH), phones=True, transcript=None, words=True)
    monkeypatch.delitem(sys.modules, "librosa", raising=False)  # as in a fresh process
    with reuse_models(), feature_process(args) as features_of:  # reenact batch: one import serves all
        assert features_of._process is None
    with feature_process(args) as features_of:  # one command: librosa imported during start-up
        assert features_of._process is not None and features_of._phones_pending
    args.transcript = "words"  # phones aligned to a transcript: none decoded ahead
    with feature_process(args) as features_of:
        assert features_of._process is not None and not features_of._phones_pending


def test_the_child_decodes_the_named_audio_and_its_phones_serve_the_same_samples_only():
    pytest.importorskip("pocketsphinx", reason="the phone decoder (pocketsphinx) is not installed")
    clip = load_audio(SPEECH, DECODER_RATE)
    other = AudioClip(clip.samples[: clip.num_samples // 2].copy(), DECODER_RATE)
    with FeatureProcess(start=True, phones_from=SPEECH) as process:
        assert process.phones(clip) == speech_phones(clip)  # its words' where recognised
        assert process._phones is not None, "the child's phones were used"
        assert process.phones(other) == speech_phones(other)  # other samples: found here
        features = process(_clip(), CONFIG)  # features still served after the phones
        assert np.array_equal(features, clip_features(_clip(), CONFIG))
    with FeatureProcess(start=True, phones_from=SPEECH, words=False) as process:
        assert process.phones(clip) == decode_phones(clip)  # heard
        assert process._phones is not None


def test_phones_the_child_cannot_read_are_decoded_here(tmp_path):
    pytest.importorskip("pocketsphinx", reason="the phone decoder (pocketsphinx) is not installed")
    clip = load_audio(SPEECH, DECODER_RATE)
    with FeatureProcess(start=True, phones_from=tmp_path / "missing.wav") as process:
        assert process.phones(clip) == speech_phones(clip)
        assert process._phones is None
        assert np.array_equal(process(_clip(), CONFIG), clip_features(_clip(), CONFIG))
