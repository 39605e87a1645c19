"""The log-mel features the bundled audio checkpoint was trained with, pinned.

`reenact.audio.features` computes them with librosa since issue 20; before, a hand-written numpy
STFT did (commit e3f175d). That implementation is frozen below as the reference: the librosa
features must match it to float rounding on fixed synthetic signals, with the parameters in the
bundled checkpoint's config.json. If this test fails, the features changed: retrain the audio
checkpoint (or fix the librosa parameters), do not loosen the tolerance.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("librosa")

from reenact.audio.features import AudioFeatureConfig, log_mel, mel_filterbank  # noqa: E402
from reenact.checkpoint.audio_format import DEFAULT_AUDIO_CHECKPOINT  # noqa: E402
from reenact.config import config_from_dict  # noqa: E402

# max |difference| in dB allowed between librosa's features and the frozen reference: float32
# rounding (measured: 1.5e-5 dB over 20 s of signal); a feature change is dB-sized
TOLERANCE_DB = 1e-4


# -- the frozen reference: the numpy front end as of commit e3f175d (do not edit) ----------------

def _ref_hz_to_mel(hz):
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    log_step = math.log(6.4) / 27.0
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-9) / 1000.0) / log_step, linear)


def _ref_mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    log_step = math.log(6.4) / 27.0
    return np.where(mel >= 15.0, 1000.0 * np.exp(log_step * (mel - 15.0)), mel * (200.0 / 3))


def _ref_mel_filterbank(config):
    fft_freqs = np.linspace(0, config.sample_rate / 2, config.n_fft // 2 + 1)
    edges = _ref_mel_to_hz(np.linspace(_ref_hz_to_mel(config.fmin), _ref_hz_to_mel(config.fmax),
                                       config.n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def _ref_stft_window(config):
    n = np.arange(config.win)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / config.win)
    left = (config.n_fft - config.win) // 2
    return np.pad(hann, (left, config.n_fft - config.win - left))


def _ref_log_mel(samples, config, gain=1.0):
    half = config.n_fft // 2
    total = 1 + samples.shape[0] // config.hop
    padded = np.zeros((total - 1) * config.hop + config.n_fft, np.float32)
    length = min(samples.shape[0], padded.size - half)
    padded[half:half + length] = samples[:length]
    frames = np.lib.stride_tricks.sliding_window_view(padded, config.n_fft)[::config.hop][:total]
    window = (_ref_stft_window(config) * gain).astype(np.float32)
    spectrum = np.fft.rfft(frames * window, axis=1)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    mel = power.astype(np.float32) @ _ref_mel_filterbank(config).T
    return (10 * np.log10(np.maximum(mel, 1e-10))).astype(np.float32)

# -- end of the frozen reference ------------------------------------------------------------------


def _bundled_config() -> AudioFeatureConfig:
    config = json.loads((Path(DEFAULT_AUDIO_CHECKPOINT) / "config.json").read_text())
    return config_from_dict(AudioFeatureConfig, config["features"])


def _speechlike(seconds: float, rate: int, seed: int) -> np.ndarray:
    """Fixed synthetic signal: a gliding harmonic voice, amplitude-modulated, plus noise and a
    silent stretch (the -100 dB floor)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    pitch = 120 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 25))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    signal = 0.2 * envelope * voice + 0.01 * rng.standard_normal(t.size)
    signal[int(0.3 * rate):int(0.45 * rate)] = 0.0
    return signal.astype(np.float32)


def test_bundled_checkpoint_features_are_the_pinned_ones():
    config = _bundled_config()
    assert (config.sample_rate, config.n_fft, config.hop, config.win, config.n_mels) == \
        (16000, 512, 160, 400, 80)
    assert (config.fmin, config.fmax) == (55.0, 7600.0)


def test_mel_filterbank_matches_the_frozen_reference():
    config = _bundled_config()
    ours, reference = mel_filterbank(config), _ref_mel_filterbank(config)
    assert ours.shape == reference.shape == (80, 257)
    assert np.abs(ours - reference).max() <= 1e-6 * np.abs(reference).max()


@pytest.mark.parametrize("num_samples, gain, seed", [
    (16000, 1.0, 0), (16000 * 2 + 77, 3.5, 1), (161, 1.0, 2), (1, 1.0, 3), (12345, 0.01, 4)])
def test_log_mel_matches_the_frozen_reference(num_samples, gain, seed):
    config = _bundled_config()
    signal = _speechlike(max(num_samples / 16000, 1.0), 16000, seed)[:num_samples]
    ours = log_mel(signal, config, chunk_frames=37, gain=gain)
    reference = _ref_log_mel(signal, config, gain)
    assert ours.shape == reference.shape == (1 + num_samples // 160, 80)
    assert ours.dtype == np.float32
    assert np.abs(ours - reference).max() <= TOLERANCE_DB
