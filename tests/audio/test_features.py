"""Log-mel features aligned to video frames: counts, alignment, chunking, parity, laziness."""

import math
import tracemalloc
from fractions import Fraction

import numpy as np
import pytest

from reenact.audio.features import (
    SILENCE_DB,
    AudioFeatureConfig,
    FrameWindows,
    frame_energy_db,
    iter_log_mel,
    log_mel,
    mel_centres,
    mel_filterbank,
    normalize_level,
    num_mel_frames,
    num_video_frames,
)
from reenact.config import ConfigError, config_from_dict, config_to_dict
from reenact.io.audio import AudioClip

CONFIG = AudioFeatureConfig()


@pytest.mark.parametrize("samples, rate, fps", [
    (48000, 16000, Fraction(25)), (48001, 16000, Fraction(25)), (16000 * 7 + 5, 16000, Fraction(30000, 1001)),
    (1, 16000, Fraction(25)), (44100 * 3, 44100, Fraction(24)), (12345, 16000, Fraction(60))])
def test_frame_count_is_ceil_of_duration_times_fps(samples, rate, fps):
    assert num_video_frames(samples, rate, fps) == math.ceil(Fraction(samples, rate) * fps)


def test_four_mel_frames_per_video_frame_at_25_fps_16_khz():
    assert CONFIG.mel_frames_per_video_frame(Fraction(25)) == 4
    centres = mel_centres(100, Fraction(25), CONFIG)
    assert centres[0] == 2  # frame 0's centre, 20 ms, is mel frame 2
    assert set(np.diff(centres)) == {4}


def test_centres_follow_frame_times_at_ntsc_rate():
    fps = Fraction(30000, 1001)
    centres = mel_centres(1000, fps, CONFIG)
    times = (np.arange(1000) + 0.5) / float(fps)
    hop_s = CONFIG.hop / CONFIG.sample_rate
    assert np.abs(centres * hop_s - times).max() <= 0.5 * hop_s


def test_mel_frame_count_and_chunking_do_not_change_values():
    signal = np.random.default_rng(0).standard_normal(16000 + 77).astype(np.float32) * 0.1
    whole = log_mel(signal, CONFIG, chunk_frames=10_000)
    assert whole.shape == (num_mel_frames(signal.size, CONFIG), CONFIG.n_mels) == (1 + 16077 // 160, 80)
    assert np.allclose(whole, log_mel(signal, CONFIG, chunk_frames=7), atol=1e-4)  # BLAS blocking


def test_tone_lands_in_the_mel_band_of_its_frequency():
    rate = CONFIG.sample_rate
    tone = np.sin(2 * np.pi * 1000 * np.arange(rate) / rate).astype(np.float32)
    mel = log_mel(tone, CONFIG)
    band = int(np.argmax(mel[50]))
    filters = mel_filterbank(CONFIG)
    bin_1k = round(1000 * CONFIG.n_fft / rate)
    assert band == int(np.argmax(filters[:, bin_1k]))


def test_matches_librosa():
    librosa = pytest.importorskip("librosa")
    signal = np.random.default_rng(1).standard_normal(8000).astype(np.float32) * 0.1
    reference = librosa.feature.melspectrogram(
        y=signal, sr=16000, n_fft=512, hop_length=160, win_length=400, n_mels=80, fmin=55,
        fmax=7600, center=True, pad_mode="constant", power=2.0)
    expected = 10 * np.log10(np.maximum(reference, 1e-10)).T
    assert np.abs(log_mel(signal, CONFIG) - expected).max() < 1e-3


def test_windows_are_centred_and_padded_with_silence():
    mel = np.arange(40 * 80, dtype=np.float32).reshape(40, 80)
    windows = FrameWindows(mel, Fraction(25), CONFIG, num_frames=10)
    out = windows.windows(0, 10)
    assert out.shape == (10, CONFIG.window_frames, 80) and out.dtype == np.float32
    # frame 0 is centred on mel frame 2: context 8 reaches 6 frames before the start
    assert (out[0, :6] == SILENCE_DB).all()
    assert np.array_equal(out[0, 6:], mel[0:11])
    assert np.array_equal(out[3, 8], mel[14])  # frame 3's centre: mel frame 4 * 3 + 2
    assert (out[9, -1] == SILENCE_DB).all()  # 38 + 8 = 46 is past the end
    batches = list(windows.iter_batches(4))
    assert [start for start, _ in batches] == [0, 4, 8]
    assert np.array_equal(np.concatenate([b for _, b in batches]), out)


def test_ten_minutes_stream_with_flat_memory():
    """10 min at 16 kHz (38 MB of samples): STFT chunks and windows never hold the whole clip's
    frames; peak extra memory stays a few MB whatever the length."""
    samples = np.zeros(16000 * 600, np.float32)
    samples[::97] = 0.1
    tracemalloc.start()
    try:
        count = 0
        for block in iter_log_mel(samples, CONFIG, chunk_frames=500):
            count += block.shape[0]
        stft_peak = tracemalloc.get_traced_memory()[1]
        mel = np.zeros((count, CONFIG.n_mels), np.float32)  # 19 MB, held by design
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        windows = FrameWindows(mel, Fraction(25), CONFIG, num_video_frames(samples.size, 16000, Fraction(25)))
        frames = sum(batch.shape[0] for _, batch in windows.iter_batches(250))
        window_peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert count == 1 + samples.size // 160 and frames == 15000
    assert stft_peak < 12 << 20  # a whole-clip STFT would be > 200 MB
    assert window_peak < 8 << 20  # all windows at once would be 82 MB


def test_level_normalization_and_energy():
    rate = 16000
    tone = (0.01 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    clip = normalize_level(AudioClip(tone, rate), CONFIG)
    level = 20 * np.log10(np.sqrt((clip.samples ** 2).mean()))
    assert level == pytest.approx(CONFIG.target_level_db, abs=0.5)
    silent = normalize_level(AudioClip(np.zeros(rate, np.float32), rate), CONFIG)
    assert not silent.samples.any()
    energy = frame_energy_db(AudioClip(tone, rate), Fraction(25))
    assert energy.shape == (25,)
    assert np.allclose(energy, 20 * np.log10(0.01 / np.sqrt(2)), atol=0.2)
    assert frame_energy_db(AudioClip(tone, rate), Fraction(25), 30)[-1] == pytest.approx(SILENCE_DB)


def test_config_round_trip_and_errors():
    assert config_from_dict(AudioFeatureConfig, config_to_dict(CONFIG)) == CONFIG
    with pytest.raises(ConfigError, match="AudioFeatureConfig: unknown key.*hop_length"):
        config_from_dict(AudioFeatureConfig, {"hop_length": 160})
    with pytest.raises(ConfigError, match="AudioFeatureConfig.win: expected at most n_fft"):
        AudioFeatureConfig(win=1024)
    with pytest.raises(ConfigError, match="AudioFeatureConfig.fmax"):
        AudioFeatureConfig(fmax=9000)
    with pytest.raises(ValueError, match="fps: expected a Fraction or int"):
        num_video_frames(100, 16000, 29.97)
    with pytest.raises(ValueError, match="mel: expected \\(T, 80\\)"):
        FrameWindows(np.zeros((5, 40), np.float32), Fraction(25), CONFIG, 1)
