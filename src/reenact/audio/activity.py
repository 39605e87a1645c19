"""Energy-based voice activity per video frame: where speech is, and a soft gate for mouth motion.

A frame is voiced when its RMS level is above an absolute floor (digital silence and hiss stay
silent whatever the gain), a level relative to the clip's loud frames (room noise between words
stays silent) and, in a noisy recording, the clip's noise level plus a margin (GRID's room noise
sits only 25-30 dB under its speech: the relative level alone called 99% of one 3-s clip voiced,
its half second of silence at each end included). The gate ramps from 0 to 1 over `ramp_db` above that threshold and is held open
`hold_frames` around voiced frames, so that lips part just before a plosive and close after the
last syllable instead of snapping shut.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reenact.config import ConfigError


@dataclass(frozen=True)
class VoiceActivityConfig:
    """floor_db: absolute level (dBFS) below which a frame is silent.
    relative_db: a frame more than this below the clip's loud level (95th percentile) is silent.
    ramp_db: the gate rises from 0 to 1 over this many dB above the threshold.
    hold_frames: the gate is the maximum over +-hold_frames frames.
    noise_margin_db: a frame less than this above the clip's noise level (the 10th percentile of
        its frame levels) is silent...
    speech_range_db: ...unless it is within this of the loud level: continuous speech, whose 10th
        percentile is its own quiet syllables, keeps them.
    """

    floor_db: float = -55.0
    relative_db: float = 30.0
    ramp_db: float = 6.0
    hold_frames: int = 2
    noise_margin_db: float = 10.0
    speech_range_db: float = 15.0

    def __post_init__(self) -> None:
        for key in ("floor_db", "relative_db", "ramp_db", "noise_margin_db", "speech_range_db"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                raise ConfigError(f"VoiceActivityConfig.{key}: expected a finite number, got "
                                  f"{value!r}")
        if self.ramp_db <= 0 or self.relative_db <= 0:
            raise ConfigError(f"VoiceActivityConfig: ramp_db and relative_db must be > 0, got "
                              f"{self.ramp_db!r}, {self.relative_db!r}")
        if isinstance(self.hold_frames, bool) or not isinstance(self.hold_frames, int) \
                or self.hold_frames < 0:
            raise ConfigError(f"VoiceActivityConfig.hold_frames: expected an integer >= 0, got "
                              f"{self.hold_frames!r}")


def voice_threshold_db(energy_db: np.ndarray, config: VoiceActivityConfig) -> float:
    """The level (dBFS) above which a frame of this clip counts as voiced."""
    if energy_db.size == 0:
        return config.floor_db
    loud = float(np.percentile(energy_db, 95))
    noise = float(np.percentile(energy_db, 10))
    above_noise = min(noise + config.noise_margin_db, loud - config.speech_range_db)
    return max(config.floor_db, loud - config.relative_db, above_noise)


def voice_gate(energy_db: np.ndarray, config: VoiceActivityConfig | None = None) -> np.ndarray:
    """(T,) float64 in [0, 1] from (T,) per-frame levels in dBFS: 0 in silence, 1 in speech."""
    config = config or VoiceActivityConfig()
    energy_db = np.asarray(energy_db, dtype=np.float64)
    if energy_db.ndim != 1:
        raise ValueError(f"energy_db: expected a (T,) array, got shape {energy_db.shape}")
    threshold = voice_threshold_db(energy_db, config)
    t = np.clip((energy_db - threshold) / config.ramp_db, 0.0, 1.0)
    gate = t * t * (3 - 2 * t)  # smoothstep
    if config.hold_frames and gate.size:
        hold = config.hold_frames
        padded = np.pad(gate, hold)
        windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * hold + 1)  # (T, 2h+1)
        gate = windows.max(axis=1)
    return gate


def voiced(energy_db: np.ndarray, config: VoiceActivityConfig | None = None) -> np.ndarray:
    """(T,) bool: frames above the voice threshold (no ramp, no hold)."""
    config = config or VoiceActivityConfig()
    energy_db = np.asarray(energy_db, dtype=np.float64)
    return energy_db > voice_threshold_db(energy_db, config)
