"""Energy-based voice activity."""

import numpy as np
import pytest

from reenact.audio.activity import VoiceActivityConfig, voice_gate, voiced
from reenact.config import ConfigError


def test_silence_closes_speech_opens_and_hold_widens():
    energy = np.full(40, -100.0)
    energy[10:20] = -20
    gate = voice_gate(energy, VoiceActivityConfig(hold_frames=2))
    assert (gate[:8] == 0).all() and (gate[22:] == 0).all()
    assert (gate[8:22] == 1).all()
    assert voiced(energy).sum() == 10


def test_quiet_noise_is_silent_and_all_silence_stays_closed():
    assert not voice_gate(np.full(30, -100.0)).any()
    noise = np.full(30, -70.0)  # below the absolute floor
    assert not voice_gate(noise).any()
    room = np.r_[np.full(10, -45.0), np.full(10, -10.0)]  # 35 dB under the speech: a pause
    assert voice_gate(room, VoiceActivityConfig(hold_frames=0))[:10].max() == 0


def test_room_noise_close_under_the_speech_is_silent_but_quiet_syllables_are_not():
    rng = np.random.default_rng(0)
    # a GRID-like clip: room noise 25-30 dB under the speech before and after the sentence
    noise = -35 + rng.uniform(-4, 4, 50)
    sentence = np.tile([-8.0, -12.0, -20.0, -10.0], 10)  # syllables with 12-dB dips
    clip = np.r_[noise[:25], sentence, noise[25:]]
    assert not voiced(clip)[:25].any() and not voiced(clip)[-25:].any()
    assert voiced(clip)[25:65].all()
    continuous = np.tile([-8.0, -12.0, -21.0, -10.0], 20)  # no silence: the dips stay speech
    assert voiced(continuous).all()


def test_config_errors():
    with pytest.raises(ConfigError, match="VoiceActivityConfig.hold_frames"):
        VoiceActivityConfig(hold_frames=-1)
    with pytest.raises(ConfigError, match="VoiceActivityConfig.noise_margin_db"):
        VoiceActivityConfig(noise_margin_db=float("nan"))
