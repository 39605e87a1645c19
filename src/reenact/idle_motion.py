"""The motion of a face that is alive but not speaking: blinks, a slight, slow head sway and now
and then a glance aside.

All are drawn from a seeded generator, so a seed gives the same video every time, and both are
functions of time in seconds, so they look the same at any frame rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from reenact.config import ConfigError

_SWAY_COMPONENTS = 3  # sinusoids summed per channel: irregular, yet smooth


@dataclass(frozen=True)
class IdleMotionConfig:
    """blink_interval_s: (min, max) seconds between blinks, drawn uniformly.
    blink_duration_s: eyes closing and opening again.
    head_rotation_deg, head_shift, head_scale: peak in-plane turn (degrees), shift (normalized image
        units, 2 = the crop's width) and relative zoom of the sway; 0 turns that part off.
    head_frequency_hz: (min, max) frequencies of the sway's sinusoids.
    glance_interval_s: (min, max) seconds between glances (from one's end to the next's start);
    glance_hold_s: (min, max) seconds a glance is held; glance_move_s: the eyes' move there and
        back; glance_amount: the furthest glance, in half eye lengths along the eyes (what
        `reenact.postprocess.eyelids` moves the irises by; 0 turns glances off).
    """

    blink_interval_s: tuple[float, float] = (2.0, 6.0)
    blink_duration_s: float = 0.25
    head_rotation_deg: float = 2.0
    head_shift: float = 0.012
    head_scale: float = 0.012
    head_frequency_hz: tuple[float, float] = (0.05, 0.3)
    glance_interval_s: tuple[float, float] = (3.0, 8.0)
    glance_hold_s: tuple[float, float] = (0.4, 1.5)
    glance_move_s: float = 0.08
    glance_amount: float = 0.2

    def __post_init__(self) -> None:
        for key in ("blink_interval_s", "head_frequency_hz", "glance_interval_s", "glance_hold_s"):
            low, high = getattr(self, key)
            if not 0 < low <= high:
                raise ConfigError(f"IdleMotionConfig.{key}: expected 0 < min <= max, got "
                                  f"{getattr(self, key)!r}")
        for key in ("blink_duration_s", "glance_move_s"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"IdleMotionConfig.{key}: expected a number > 0, got "
                                  f"{getattr(self, key)!r}")
        for key in ("head_rotation_deg", "head_shift", "head_scale", "glance_amount"):
            if not getattr(self, key) >= 0:
                raise ConfigError(f"IdleMotionConfig.{key}: expected a number >= 0, got "
                                  f"{getattr(self, key)!r}")


def frame_times(num_frames: int, fps: Fraction) -> np.ndarray:
    """(T,) the time of each frame's centre, (i + 0.5) / fps seconds."""
    return (np.arange(num_frames) + 0.5) / float(fps)


def blink_curve(num_frames: int, fps: Fraction, rng: np.random.Generator,
                config: IdleMotionConfig | None = None) -> np.ndarray:
    """(T,) eye closure in [0, 1] per frame: raised-cosine blinks at random intervals."""
    config = config or IdleMotionConfig()
    times = frame_times(num_frames, fps)
    closure = np.zeros(num_frames)
    low, high = config.blink_interval_s
    moment = rng.uniform(0.5 * low, high)  # the first blink comes sooner on average
    end = times[-1] if num_frames else 0.0
    half = config.blink_duration_s / 2
    while moment - half <= end:
        phase = np.clip((times - moment) / half, -1, 1)
        closure = np.maximum(closure, 0.5 * (1 + np.cos(math.pi * phase)))
        moment += rng.uniform(low, high)
    return closure


def _sway(times: np.ndarray, rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """(T,) a smooth random signal with peak magnitude about 1."""
    frequencies = rng.uniform(low, high, _SWAY_COMPONENTS)
    phases = rng.uniform(0, 2 * math.pi, _SWAY_COMPONENTS)
    weights = rng.uniform(0.5, 1.0, _SWAY_COMPONENTS)
    waves = np.sin(2 * math.pi * frequencies[:, None] * times[None] + phases[:, None])
    return (weights[:, None] * waves).sum(axis=0) / weights.sum()


def head_sway(num_frames: int, fps: Fraction, rng: np.random.Generator,
              config: IdleMotionConfig | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: rotation (T,) radians, shift (T, 2) normalized units, scale (T,) around 1."""
    config = config or IdleMotionConfig()
    times = frame_times(num_frames, fps)
    low, high = config.head_frequency_hz
    angle = math.radians(config.head_rotation_deg) * _sway(times, rng, low, high)
    shift = config.head_shift * np.stack([_sway(times, rng, low, high),
                                          _sway(times, rng, low, high)], axis=1)
    scale = 1 + config.head_scale * _sway(times, rng, low, high)
    return angle, shift, scale


def _rise(times: np.ndarray, start: float, stop: float) -> np.ndarray:
    """(T,) 0 before `start`, 1 after `stop`, a raised cosine between."""
    return 0.5 * (1 - np.cos(math.pi * np.clip((times - start) / (stop - start), 0, 1)))


def glance_curve(num_frames: int, fps: Fraction, rng: np.random.Generator,
                 config: IdleMotionConfig | None = None) -> np.ndarray:
    """(T,) the irises' shift along the eyes per frame, in half eye lengths (+ toward the image's
    right): 0, looking ahead, but now and then a glance to one side (half to all of
    `glance_amount`), held and back, at random intervals."""
    config = config or IdleMotionConfig()
    times = frame_times(num_frames, fps)
    gaze = np.zeros(num_frames)
    low, high = config.glance_interval_s
    move = config.glance_move_s
    moment = rng.uniform(low, high)
    end = times[-1] if num_frames else 0.0
    while moment <= end:
        hold = rng.uniform(*config.glance_hold_s)
        target = rng.choice((-1.0, 1.0)) * rng.uniform(0.5, 1.0) * config.glance_amount
        there = _rise(times, moment, moment + move)
        back = _rise(times, moment + move + hold, moment + 2 * move + hold)
        gaze += target * there * (1 - back)
        moment += 2 * move + hold + rng.uniform(low, high)
    return gaze
