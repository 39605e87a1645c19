"""Per-frame mouth signals: their container, visibility, and a real clip (needs mediapipe)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from conftest import MEDIA, require
from reenact.evaluation.facemesh import mediapipe_available
from reenact.evaluation.mouth_track import INTERIOR_VISIBLE, TEETH_VISIBLE, MouthTrack, track_mouth


def test_mouth_track_checks_its_series() -> None:
    ok = np.zeros(5)
    with pytest.raises(ValueError, match=r"MouthTrack: expected \(T,\) series of one length"):
        MouthTrack(Fraction(25), ok, ok, np.zeros(4), ok)
    with pytest.raises(ValueError, match="MouthTrack.fps: expected a positive Fraction, got 0"):
        MouthTrack(Fraction(0), ok, ok, ok, ok)


def test_visibility_is_relative_to_the_clips_closed_level() -> None:
    floor = 0.02  # a sharp video's closed lips already read this much non-lip area
    interior = np.array([floor] * 10 + [floor + 2 * INTERIOR_VISIBLE] * 5 + [np.nan])
    teeth = np.array([0.0] * 12 + [2 * TEETH_VISIBLE] * 3 + [np.nan])
    mouth = MouthTrack(Fraction(25), np.zeros(16), interior, teeth, np.zeros(16))
    assert mouth.interior_closed_level() == pytest.approx(floor)
    np.testing.assert_array_equal(mouth.interior_shown()[:15], [0] * 10 + [1] * 5)
    np.testing.assert_array_equal(mouth.teeth_shown()[:15], [0] * 12 + [1] * 3)
    assert np.isnan(mouth.interior_shown()[15]) and np.isnan(mouth.teeth_shown()[15])
    # against another clip's closed level (a reference read at this clip's frames)
    assert mouth.interior_shown(closed_level=0.0)[:15].all()


@pytest.mark.skipif(not mediapipe_available(),
                    reason="mediapipe with the legacy FaceMesh is not installed")
def test_track_of_a_grid_clip_sees_closures_interior_and_teeth() -> None:
    from reenact.preprocess.face import create_face_analyzer
    from reenact.preprocess.face_follow import follower_for

    video = require(MEDIA / "talking" / "grid_pwij3p.mpg")
    mouth = track_mouth(video, follower_for(create_face_analyzer("dlib")), max_frames=60)
    assert mouth.num_frames == 60 and mouth.fps == 25
    assert np.isfinite(mouth.gap).all() and np.isfinite(mouth.interior).all()
    assert mouth.gap.min() < 0.02 < 0.15 < mouth.gap.max()
    assert np.corrcoef(mouth.gap, mouth.interior)[0, 1] > 0.5  # two signals, one mouth
    assert 0.1 < np.mean(mouth.teeth_shown()) < 0.9  # this speaker shows her teeth, not always
    # dlib's gap stays open where FaceMesh's closes
    assert mouth.dlib_opening[np.argmin(mouth.gap)] > mouth.gap.min()
    with pytest.raises(ValueError, match="max_frames: expected an integer >= 1 or None, got 0"):
        track_mouth(video, None, max_frames=0)
