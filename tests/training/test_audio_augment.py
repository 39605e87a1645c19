"""Speaker and room augmentation of training windows: what each change does to a log-mel."""

import numpy as np
import pytest

from reenact.training.audio_augment import (
    NOISE_BELOW_DB,
    TILT_DB,
    add_noise_floor,
    augment_windows,
    warp_mel_axis,
)


def formant_windows(peak=30, frames=6, window=5, bands=80):
    """(T, W, M) log-mel dB: -80 everywhere but a -20 dB peak at band `peak`."""
    out = np.full((frames, window, bands), -80.0, np.float32)
    out[..., peak] = -20
    return out


def test_a_warp_moves_a_formant_by_its_factor_and_factor_one_changes_nothing():
    windows = formant_windows(peak=30)
    assert np.array_equal(warp_mel_axis(windows, 1.0), windows)
    up, down = warp_mel_axis(windows, 1.1), warp_mel_axis(windows, 0.9)
    assert int(np.argmax(up[0, 0])) == 33 and int(np.argmax(down[0, 0])) == 27
    assert up.shape == windows.shape and up.dtype == windows.dtype


def test_a_noise_floor_fills_the_quiet_bands_and_leaves_the_loud_ones():
    windows = formant_windows()
    noisy = add_noise_floor(windows, np.full(80, -50.0))
    assert np.allclose(noisy[..., 0], -50, atol=0.01)  # -80 dB under -50 dB of noise
    assert np.allclose(noisy[..., 30], -20, atol=0.01)  # the peak is 30 dB above the noise


def test_augmented_windows_keep_shape_stay_finite_and_follow_the_seed():
    rng_windows = np.random.default_rng(0).uniform(-90, -10, (12, 17, 80)).astype(np.float32)
    first = augment_windows(rng_windows, np.random.default_rng(5))
    again = augment_windows(rng_windows, np.random.default_rng(5))
    other = augment_windows(rng_windows, np.random.default_rng(6))
    assert first.shape == rng_windows.shape and first.dtype == np.float32
    assert np.isfinite(first).all() and np.array_equal(first, again)
    assert not np.array_equal(first, other) and not np.array_equal(first, rng_windows)


def test_augmentation_stays_within_its_ranges():
    """A flat spectrum (every band -30 dB) comes back tilted by at most TILT_DB at the ends and
    raised by at most the noisiest floor's share; never lowered by more than the tilt."""
    flat = np.full((4, 3, 80), -30.0, np.float32)
    loudest_noise = 10 * np.log10(1 + 10 ** ((-NOISE_BELOW_DB[0] + 2 * 4) / 10))
    for seed in range(50):
        out = augment_windows(flat, np.random.default_rng(seed))
        assert out.min() >= -30 - TILT_DB - 1e-4
        assert out.max() <= -30 + TILT_DB + loudest_noise + 1e-4


def test_windows_must_be_one_sequence():
    with pytest.raises(ValueError, match="windows"):
        augment_windows(np.zeros((17, 80), np.float32), np.random.default_rng(0))
