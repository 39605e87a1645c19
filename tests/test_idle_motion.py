"""Blinks, head sway and glances of an idle face."""

from fractions import Fraction

import numpy as np
import pytest

from reenact.config import ConfigError
from reenact.idle_motion import (
    IdleMotionConfig,
    blink_curve,
    frame_times,
    glance_curve,
    head_sway,
)


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


def test_glances_are_held_aside_now_and_then_and_seeded():
    fps = Fraction(25)
    gaze = glance_curve(25 * 120, fps, np.random.default_rng(2))
    assert np.array_equal(gaze, glance_curve(25 * 120, fps, np.random.default_rng(2)))
    aside = np.abs(gaze) > 1e-9
    starts = np.flatnonzero(aside[1:] & ~aside[:-1]) + 1
    ends = np.flatnonzero(aside[:-1] & ~aside[1:]) + 1
    assert 8 <= starts.size <= 40  # one every 3-8 s, held 0.4-1.5 s, over two minutes
    held = (ends - starts[:ends.size]) / 25
    assert held.min() >= 0.4 and held.max() <= 1.5 + 2 * 0.08 + 0.05
    assert np.abs(gaze).max() <= 0.2 + 1e-9 and (gaze > 0.05).any() and (gaze < -0.05).any()
    assert np.abs(np.diff(gaze)).max() <= 0.2  # a quick move, not a jump past the target
    still = glance_curve(250, fps, np.random.default_rng(2), IdleMotionConfig(glance_amount=0.0))
    assert np.array_equal(still, np.zeros(250))


def test_config_errors():
    with pytest.raises(ConfigError, match="blink_interval_s"):
        IdleMotionConfig(blink_interval_s=(3.0, 1.0))
    with pytest.raises(ConfigError, match="glance_hold_s"):
        IdleMotionConfig(glance_hold_s=(0.0, 1.0))
    with pytest.raises(ConfigError, match="glance_amount"):
        IdleMotionConfig(glance_amount=-0.1)
