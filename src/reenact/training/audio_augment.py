"""Other voices and other rooms for the audio model's training windows (`train-audio --augment`).

A few minutes of speech from a few dozen speakers teach a small model their voices: on speech in a
language or voice it never heard, its mouth can follow the wrong cues (measured: the bundled model's
opening correlated -0.4 with loudness on German). Each training sequence is heard as another
speaker in another room, on the log-mel windows themselves:

- vocal tract: the mel axis stretched by a factor in `WARP_RANGE` (a longer or shorter tract moves
  every formant by about one factor; on the mel scale that is close to a stretch of its axis);
- microphone and room: a spectral tilt of up to +-`TILT_DB` dB from the lowest to the highest band;
- background noise, in `NOISE_SHARE` of the sequences: a floor `NOISE_BELOW_DB` dB under the loud
  frames (with +-2 dB of colour per band), added as power.

The level jitter of `sample_batch` (`gain_jitter_db`) stays separate. Measured on held-out speakers
(see docs/training.md).
"""

from __future__ import annotations

import numpy as np

WARP_RANGE = (0.85, 1.18)
TILT_DB = 6.0
NOISE_SHARE = 0.5
NOISE_BELOW_DB = (15.0, 45.0)
WARP_SHARE = 0.8


def warp_mel_axis(windows: np.ndarray, factor: float) -> np.ndarray:
    """(..., M) log-mel -> the same with band m reading band m / factor (linear between bands,
    the edge bands held): factor > 1 moves the spectrum up, as a shorter vocal tract does."""
    bands = windows.shape[-1]
    source = np.clip(np.arange(bands) / factor, 0, bands - 1)
    low = np.floor(source).astype(np.int64)
    high = np.minimum(low + 1, bands - 1)
    weight = (source - low).astype(windows.dtype)
    return windows[..., low] * (1 - weight) + windows[..., high] * weight


def add_noise_floor(windows: np.ndarray, floor_db: np.ndarray) -> np.ndarray:
    """(..., M) log-mel dB with noise of (M,) `floor_db` added as power."""
    return 10 * np.log10(10 ** (windows / 10) + 10 ** (floor_db / 10))


def augment_windows(windows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(T, W, M) float32 log-mel windows of one training sequence -> the same heard as another
    speaker in another room (see the module docstring); float32."""
    if windows.ndim != 3:
        raise ValueError(f"windows: expected (T, W, M), got shape {windows.shape}")
    bands = windows.shape[-1]
    out = windows.astype(np.float64)
    if rng.random() < WARP_SHARE:
        out = warp_mel_axis(out, float(rng.uniform(*WARP_RANGE)))
    out = out + float(rng.uniform(-TILT_DB, TILT_DB)) * np.linspace(-1, 1, bands)
    if rng.random() < NOISE_SHARE and out.size:
        loud = float(np.percentile(out.max(axis=-1), 95))
        floor = loud - float(rng.uniform(*NOISE_BELOW_DB)) + 2 * rng.standard_normal(bands)
        out = add_noise_floor(out, floor)
    return out.astype(np.float32)
