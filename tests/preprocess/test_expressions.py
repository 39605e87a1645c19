"""Expression measurements from 68 landmarks, and the face track."""

import numpy as np
import pytest
from speech_fixtures import FakeAnalyzer, face_landmarks, synthetic_frames

from reenact.preprocess.expressions import (
    eye_aspect_ratio,
    eye_closure,
    face_down,
    interocular_distance,
    mouth_opening,
    mouth_width,
)
from reenact.preprocess.face_track import track_face


def test_measures_are_scale_free_and_follow_the_face():
    closed = face_landmarks(100, 100, 80)
    assert mouth_opening(closed) == pytest.approx(0, abs=1e-9)
    open_ = face_landmarks(100, 100, 80, mouth_open=0.3)
    assert mouth_opening(open_) == pytest.approx(0.3, rel=1e-6)
    assert mouth_opening(face_landmarks(10, 50, 300, mouth_open=0.3)) == pytest.approx(0.3, rel=1e-6)
    assert interocular_distance(open_) == pytest.approx(0.7 * 40)
    assert mouth_width(open_) == pytest.approx(0.6 / 0.7, rel=1e-6)
    both = np.stack([closed, face_landmarks(100, 100, 80, eye_open=0.0)])
    ratio = eye_aspect_ratio(both)
    assert ratio.shape == (2,) and ratio[0] > 0.2 and ratio[1] == pytest.approx(0, abs=1e-9)
    assert eye_closure(ratio, ratio[0]).tolist() == pytest.approx([0, 1])
    with pytest.raises(ValueError, match=r"landmarks: expected \(\.\.\., 68, 2\)"):
        mouth_opening(np.zeros((5, 2)))


def test_face_down_is_square_to_the_eye_line_toward_the_mouth():
    face = face_landmarks(100, 100, 80)
    np.testing.assert_allclose(face_down(face), [0.0, 1.0], atol=1e-12)
    angle = 0.3  # turned clockwise in the image (y down)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    tilted = (face - 100) @ turn.T + 100
    np.testing.assert_allclose(face_down(tilted), turn @ [0.0, 1.0], atol=1e-12)
    assert face_down(np.stack([face, tilted])).shape == (2, 2)


def test_face_track_fills_boxes_and_flags_faceless_frames():
    frames = synthetic_frames(5, no_face={1, 2})
    track = track_face(frames, 25, FakeAnalyzer((40.0, 20.0, 88.0, 76.0)))
    assert track.found.tolist() == [True, False, False, True, True]
    assert track.landmarks[1] is None and len(track.boxes) == 5
    assert np.isnan(track.landmark_array()[2]).all()
