"""Blinks and head sway of an idle face."""

from fractions import Fraction

import numpy as np
import pytest

from reenact.config import ConfigError
from reenact.idle_motion import IdleMotionConfig, blink_curve, frame_times, head_sway


def test_blinks_come_at_random_intervals_of_2_to_6_seconds():
    fps = Fraction(25)
    closure = blink_curve(25 * 120, fps, np.random.default_rng(0))
    times = frame_times(closure.size, fps)
    middle = closure[1:-1]
    peaks = times[1:-1][(middle >= closure[:-2]) & (middle > closure[2:]) & (middle > 0.9)]
    gaps = np.diff(peaks)
    assert 20 <= peaks.size <= 60 and gaps.min() >= 1.9 and gaps.max() <= 6.1
    assert closure.min() == 0 and closure.max() <= 1


def test_sway_is_small_smooth_and_seeded():
    fps = Fraction(30)
    angle, shift, scale = head_sway(300, fps, np.random.default_rng(1))
    again = head_sway(300, fps, np.random.default_rng(1))
    assert np.array_equal(angle, again[0]) and np.array_equal(shift, again[1])
    assert np.abs(np.degrees(angle)).max() <= 2.0 + 1e-9 and np.abs(shift).max() <= 0.012 + 1e-9
    assert np.abs(np.diff(angle)).max() < 0.01  # no jumps between frames
    assert np.abs(scale - 1).max() <= 0.012 + 1e-9


def test_config_errors():
    with pytest.raises(ConfigError, match="blink_interval_s"):
        IdleMotionConfig(blink_interval_s=(3.0, 1.0))
