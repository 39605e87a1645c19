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


def test_louder_speech_opens_wider_about_the_speechs_median_level():
    from reenact.pipelines.audio_motion import LOUDNESS_RANGE, loudness_factor

    level = np.array([-100.0] * 3 + [-30.0] * 6 + [-20.0] * 6 + [-10.0] * 6 + [-100.0] * 3)
    voice = (level > -60).astype(np.float64)
    factor = loudness_factor(level, voice, gain=0.3)
    assert factor.dtype == np.float32 and factor.shape == level.shape
    # the median speech level (-20 dB) keeps the motion; 10 dB either way +-30%
    assert np.allclose(factor[11:13], 1.0)
    assert np.allclose(factor[5:7], 0.7) and np.allclose(factor[17:19], 1.3)
    # silence reads no lower than 20 dB under the median: its neighbour is pulled by 5 dB at most
    assert factor[3] == pytest.approx(1 + 0.3 * (0.75 * -10 + 0.25 * -20) / 10)
    assert factor[0] == LOUDNESS_RANGE[0]
    assert np.all(np.diff(factor[3:20]) >= -1e-6)  # louder never opens less
    # nothing to measure, or no gain: the motion as it is
    assert np.array_equal(loudness_factor(level, np.zeros_like(voice)), np.ones(24, np.float32))
    assert np.array_equal(loudness_factor(level, voice, gain=0.0), np.ones(24, np.float32))
    with pytest.raises(ValueError, match="two"):
        loudness_factor(level, voice[:-1])


def test_talk_scales_its_speech_motion_by_loudness_and_dub_does_not(tiny_model):
    from reenact.pipelines import audio_motion

    checkpoint = tiny_audio_checkpoint(tiny_model)
    samples = speech_like(2.0, seed=3)
    samples[16000:] *= 3.0  # the second second ~9.5 dB louder
    clip = AudioClip(samples, 16000)
    count = 50
    plain, gate = audio_motion.speech_motion(clip, checkpoint, checkpoint.fps, count,
                                             device=torch.device("cpu"))
    loud, loud_gate = audio_motion.speech_motion(clip, checkpoint, checkpoint.fps, count,
                                                 device=torch.device("cpu"),
                                                 loudness_gain=audio_motion.LOUDNESS_GAIN)
    assert np.array_equal(gate, loud_gate)
    ratio = np.linalg.norm(loud, axis=1) / np.maximum(np.linalg.norm(plain, axis=1), 1e-9)
    speaking = gate > 0.5
    quiet, louder = ratio[:25][speaking[:25]], ratio[25:][speaking[25:]]
    assert quiet.size and louder.size and np.median(louder) > np.median(quiet) * 1.2
