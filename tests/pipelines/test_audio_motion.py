"""The audio model run over a clip: frame count, chunking and lookahead."""

import dataclasses
from fractions import Fraction

import numpy as np
import pytest
import torch
from speech_fixtures import speech_like, tiny_audio_checkpoint

from reenact.audio.features import FrameWindows, clip_features, num_video_frames
from reenact.io.audio import AudioClip
from reenact.models.audio_to_motion import AudioToMotion
from reenact.pipelines.audio_motion import model_motion


def with_lookahead(checkpoint, lookahead):
    """The same weights, read with `lookahead` frames of lag."""
    config = dataclasses.replace(checkpoint.model.config, lookahead=lookahead)
    model = AudioToMotion(config)
    model.load_state_dict(checkpoint.model.state_dict())
    return dataclasses.replace(checkpoint, model=model.eval())


@pytest.mark.parametrize("lookahead", [0, 3])
def test_lookahead_frame_t_is_the_models_step_t_plus_lookahead(tiny_model, lookahead):
    checkpoint = with_lookahead(tiny_audio_checkpoint(tiny_model), lookahead)
    clip = AudioClip(speech_like(1.0, seed=1), 16000)
    count = num_video_frames(clip.num_samples, clip.sample_rate, checkpoint.fps)
    motion = model_motion(clip, checkpoint, device=torch.device("cpu"))
    assert motion.shape == (count, checkpoint.model.config.motion_features)
    # one pass over the frames and `lookahead` more (silence past the end), its first steps dropped
    windows = FrameWindows(clip_features(clip, checkpoint.features), checkpoint.fps,
                           checkpoint.features, count + lookahead).windows(0, count + lookahead)
    with torch.no_grad():
        expected, _ = checkpoint.model.forward_flat(torch.from_numpy(windows)[None])
    assert np.allclose(motion, expected[0, lookahead:].numpy(), atol=1e-6)
    # chunked runs carry the state across chunks: the same frames
    chunked = model_motion(clip, checkpoint, device=torch.device("cpu"), chunk_frames=4)
    assert np.allclose(chunked, motion, atol=1e-5)


def test_the_phones_scale_the_speech_motion_frame_by_frame(tiny_model, monkeypatch):
    from reenact.pipelines import audio_motion

    checkpoint = tiny_audio_checkpoint(tiny_model)
    clip = AudioClip(speech_like(1.0, seed=2), 16000)
    count = 25
    factor = np.ones(count, np.float32)
    factor[10:13] = 0.0  # a p: shut
    factor[9] = factor[13] = 0.5
    factor[20:] = 1.5  # an open vowel
    monkeypatch.setattr(audio_motion, "phone_factor",
                        lambda clip_, fps, frames, transcript, phones_of, words: factor[:frames])
    loud, gate = audio_motion.speech_motion(clip, checkpoint, checkpoint.fps, count,
                                            device=torch.device("cpu"))
    shaped, shaped_gate = audio_motion.speech_motion(clip, checkpoint, checkpoint.fps, count,
                                                     device=torch.device("cpu"), phones=True)
    assert np.array_equal(gate, shaped_gate)
    assert np.abs(loud[10:13]).max() > 0 and not shaped[10:13].any()
    assert np.allclose(shaped[[9, 13]], 0.5 * loud[[9, 13]])
    assert np.allclose(shaped[20:], 1.5 * loud[20:])
    keep = np.r_[0:9, 14:20]
    assert np.array_equal(shaped[keep], loud[keep])


def test_without_the_phone_decoder_the_phones_warn_once_and_leave_the_motion(monkeypatch, caplog):
    import reenact.audio.phones as phones
    import reenact.audio.recognition as recognition
    from reenact.pipelines import audio_motion

    def unavailable(clip, words):
        raise phones.PhonesUnavailable("the phone decoder needs the pocketsphinx package")

    monkeypatch.setattr(recognition, "speech_phones", unavailable)
    monkeypatch.setattr(audio_motion, "_warned_no_phones", False)
    clip = AudioClip(speech_like(0.5, seed=3, sample_rate=22050), 22050)  # resampled first
    with caplog.at_level("WARNING", logger="reenact.pipelines.audio_motion"):
        first = audio_motion.phone_factor(clip, Fraction(25), 12)
        second = audio_motion.phone_factor(clip, Fraction(25), 12)
    assert first.shape == (12,) and (first == 1).all() and (second == 1).all()
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == ["the mouth follows loudness alone (no lips shut on p, b and m): the phone "
                        "decoder needs the pocketsphinx package"]


def test_a_transcript_places_the_phones_instead_of_the_decoder(monkeypatch):
    import reenact.audio.phones as phones
    import reenact.audio.recognition as recognition
    import reenact.audio.transcript as transcript
    from reenact.pipelines import audio_motion

    asked = []
    placed = [phones.PhoneSegment("SIL", 0.0, 0.2), phones.PhoneSegment("B", 0.2, 0.28),
              phones.PhoneSegment("AA", 0.28, 0.6)]

    def aligned(clip, text):
        asked.append((clip.sample_rate, text))
        return placed

    def decoder(*args):
        raise AssertionError("the phone decoder ran although the words were given")

    monkeypatch.setattr(transcript, "aligned_phones", aligned)
    monkeypatch.setattr(recognition, "speech_phones", decoder)
    clip = AudioClip(speech_like(0.6, seed=3, sample_rate=22050), 22050)  # resampled first
    factor = audio_motion.phone_factor(clip, Fraction(25), 15, "bob")
    assert asked == [(16000, "bob")]
    cues = phones.segment_cues(placed, Fraction(25), 15)
    assert np.array_equal(factor, cues.mouth_factor)
    assert not factor[5:7].any() and factor[4] > 0 and factor[7] > 0  # centres 0.22, 0.26 s in B
