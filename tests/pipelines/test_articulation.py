from __future__ import annotations

import numpy as np
import pytest
import torch

from reenact.containers import Keypoints
from reenact.pipelines.articulation import (
    DRAWN_OPENING_GAIN,
    DRAWN_OPENING_GAIN_PHONES,
    SPEECH_LANDMARKS,
    close_lips,
    drawn_opening,
    open_mouth,
    opening_motion,
    reexpress_opening,
    shut_mouth,
    silence_opening,
    speech_opening,
    speech_target,
    uncrossed,
)
from reenact.point_geometry import apply_affine
from reenact.preprocess.anchors import DEFAULT_ANCHORS, TEMPLATE, anchor_keypoints, pixels_to_normalized
from reenact.preprocess.expressions import RIGID_LANDMARKS, interocular_distance, mouth_opening
from speech_fixtures import face_landmarks, tiny_audio_checkpoint

SIZE = 128


def template_pixels() -> np.ndarray:
    return (TEMPLATE + 1) / 2 * (SIZE - 1) + 0.5


def test_open_mouth_grows_the_inner_lip_gap_by_the_opening() -> None:
    points = template_pixels()
    opened = open_mouth(points, 0.1)
    assert mouth_opening(opened) - mouth_opening(points) == pytest.approx(0.1, abs=2e-3)
    assert (opened[8, 1] - points[8, 1]) > 0  # the chin drops
    assert (opened[62, 1] - points[62, 1]) < 0  # the upper lip rises
    assert np.array_equal(opened[17:48], points[17:48])  # brows, nose, eyes stay
    with pytest.raises(ValueError, match="landmarks"):
        open_mouth(points[:60], 0.1)


def test_a_tilted_head_opens_along_its_own_down() -> None:
    face = face_landmarks(200.0, 200.0, 160.0)
    turn = np.array([[np.cos(0.4), -np.sin(0.4), 0.0], [np.sin(0.4), np.cos(0.4), 0.0]])
    np.testing.assert_allclose(open_mouth(apply_affine(turn, face), 0.3),
                               apply_affine(turn, open_mouth(face, 0.3)), atol=1e-9)


def test_shut_mouth_undoes_an_opening_with_the_chin() -> None:
    """An open face shut and opened again by its own opening is itself: the lower lip and chin
    come back to where they were, not 0.8 of the gap lower."""
    face = face_landmarks(200.0, 200.0, 160.0, mouth_open=0.3)
    shut = shut_mouth(face)
    assert mouth_opening(shut) == pytest.approx(0.0, abs=1e-9)
    assert shut[8, 1] < face[8, 1] - 0.2 * interocular_distance(face)  # the chin rose
    np.testing.assert_allclose(open_mouth(shut, float(mouth_opening(face))), face, atol=1e-6)


def test_opening_motion_moves_only_the_mouth_anchors_and_is_linear() -> None:
    points = template_pixels()
    num_anchors, num_kp = len(DEFAULT_ANCHORS), len(DEFAULT_ANCHORS) + 3
    anchors = anchor_keypoints(torch.from_numpy(pixels_to_normalized(points, SIZE))[None].float())
    free = Keypoints(torch.rand(1, 3, 2) - 0.5, torch.eye(2).expand(1, 3, 2, 2).clone())
    kp = Keypoints(torch.cat([anchors.value, free.value], 1), torch.cat([anchors.jacobian, free.jacobian], 1))
    motion = opening_motion(kp, points, DEFAULT_ANCHORS, SIZE).reshape(num_kp, 6)
    assert motion[num_anchors:].abs().max() == 0  # free keypoints stay
    moved = {name for name, row in zip(DEFAULT_ANCHORS, motion[:num_anchors]) if row.abs().max() > 1e-6}
    assert {"lower_lip", "chin"} <= moved and not moved & {"brow_left", "brow_right", "nose"}
    lower = DEFAULT_ANCHORS.index("lower_lip")
    # per unit of opening the lower lip drops 0.8 interocular distances (in normalized units)
    expected = 0.8 * interocular_distance(points) * 2 / (SIZE - 1)
    assert float(motion[lower, 1]) == pytest.approx(expected, rel=1e-4)


def test_reexpress_opening_keeps_the_coefficients() -> None:
    fitted = torch.tensor([1.0, 2.0, 0.0])
    geometric = torch.tensor([0.0, 0.5, 1.0])
    motion = np.array([[0.5, 1.0, 0.0], [0.0, 0.0, 0.0], [-1.0, -2.0, 0.0]], np.float32)
    out = reexpress_opening(motion, fitted, geometric)
    np.testing.assert_allclose(out, [[0.0, 0.25, 0.5], [0, 0, 0], [0.0, -0.5, -1.0]], atol=1e-7)
    assert not reexpress_opening(motion, torch.zeros(3), geometric).any()


def test_close_lips_meets_the_inner_lips_and_keeps_the_rest() -> None:
    points = face_landmarks(64, 64, 80, mouth_open=0.3)
    closed = close_lips(points)
    assert mouth_opening(closed) == pytest.approx(0.0, abs=1e-12)
    assert np.array_equal(closed[:60], points[:60]) and np.array_equal(closed[[60, 64]], points[[60, 64]])
    np.testing.assert_allclose(closed[62], (points[62] + points[66]) / 2)


def test_uncrossed_parts_crossed_inner_lips_to_the_photos_own_along_the_faces_down() -> None:
    """Pairs whose lower inner-lip point is above the upper one are moved apart, equally, until
    they meet (no rest given) or cross as much as the photo's own rest lips do (scaled by the
    interocular distances); parted pairs stay; a tilted head's crossing is read along its own
    down, not the image's."""
    points = face_landmarks(200.0, 200.0, 160.0, mouth_open=0.05)
    crossed = points.copy()
    crossed[[61, 62]] += (0.0, 6.0)  # two upper inner points pushed below their lower ones
    fixed = uncrossed(crossed)
    for upper, lower in ((61, 67), (62, 66)):
        assert fixed[lower, 1] - fixed[upper, 1] == pytest.approx(0.0, abs=1e-9)
        np.testing.assert_allclose(fixed[[upper, lower]].mean(axis=0),
                                   crossed[[upper, lower]].mean(axis=0), atol=1e-9)
    assert np.array_equal(fixed[[63, 65]], crossed[[63, 65]])  # still parted: untouched
    assert np.array_equal(np.delete(fixed, [61, 62, 66, 67], axis=0),
                          np.delete(crossed, [61, 62, 66, 67], axis=0))
    assert np.array_equal(uncrossed(points), points)
    turn = np.array([[np.cos(1.2), -np.sin(1.2), 0.0], [np.sin(1.2), np.cos(1.2), 0.0]])
    np.testing.assert_allclose(uncrossed(apply_affine(turn, crossed)), apply_affine(turn, fixed),
                               atol=1e-9)
    rest = points.copy()
    rest[62] += (0.0, 3.0)  # the photo's own (dlib) reading: crossed by 3 px minus its gap
    own = rest[66, 1] - rest[62, 1]
    assert own < 0
    assert np.array_equal(uncrossed(rest, rest), rest)  # the photo itself is left as read
    bigger = apply_affine(np.array([[2.0, 0.0, 5.0], [0.0, 2.0, -3.0]]), rest)
    assert np.array_equal(uncrossed(bigger, rest), bigger)  # the same, twice the size
    assert uncrossed(crossed, rest)[66, 1] - uncrossed(crossed, rest)[62, 1] == pytest.approx(own)


def test_speech_target_carries_the_rest_lips_to_the_frame_pose_and_opens_it() -> None:
    rest = face_landmarks(64, 64, 80, mouth_open=0.05)
    angle = np.deg2rad(10)
    pose = np.array([[np.cos(angle), -np.sin(angle), 20.0], [np.sin(angle), np.cos(angle), -6.0]])
    pose[:, :2] *= 1.3
    frame = apply_affine(pose, face_landmarks(64, 64, 80, mouth_open=0.4))  # old speech: wide open
    shut = speech_target(frame, rest, 0.0)
    lips = list(range(48, 68))
    np.testing.assert_allclose(shut[lips], apply_affine(pose, close_lips(rest))[lips], atol=1e-9)
    jaw = list(range(3, 14))  # the frame's own, its old opening taken back
    np.testing.assert_allclose(shut[jaw], shut_mouth(frame)[jaw], atol=1e-9)
    others = [i for i in range(68) if i not in SPEECH_LANDMARKS]
    assert np.array_equal(shut[others], frame[others])
    assert mouth_opening(speech_target(frame, rest, 0.25)) == pytest.approx(0.25, abs=1e-6)
    assert mouth_opening(speech_target(frame, rest, -1.0)) == pytest.approx(0.0, abs=1e-9)
    assert not set(RIGID_LANDMARKS) & set(SPEECH_LANDMARKS)


def test_speech_target_keeps_a_turned_heads_jaw_line() -> None:
    # a head turned aside: the far side of the face is foreshortened, which no similarity of a
    # frontal rest face reproduces; the target's jaw line must stay on the frame's face
    rest = face_landmarks(64, 64, 80, mouth_open=0.0)
    frame = rest.copy()
    centre = frame[27, 0]
    far = frame[:, 0] < centre
    frame[far, 0] = centre + 0.6 * (frame[far, 0] - centre)  # the far half 40% narrower
    target = speech_target(frame, rest, 0.0)
    jaw = list(range(3, 14))
    assert np.abs(target[jaw] - frame[jaw]).max() < 0.05 * interocular_distance(frame)
    opened = speech_target(frame, rest, 0.2)
    assert (opened[8, 1] - frame[8, 1]) == pytest.approx(0.8 * 0.2 * interocular_distance(frame),
                                                          rel=0.05)  # the chin drops with it


def test_speech_opening_reads_the_fitted_direction_and_drawn_opening_drops_the_silence_offset() -> None:
    from reenact.api import create_model

    checkpoint = tiny_audio_checkpoint(create_model("tiny-64", seed=0))
    fitted = checkpoint.directions.vector("mouth_open").numpy()
    motion = np.stack([0.3 * fitted, -0.1 * fitted, np.zeros_like(fitted)]).astype(np.float32)
    np.testing.assert_allclose(speech_opening(motion, checkpoint), [0.3, -0.1, 0.0], atol=1e-6)
    offset = silence_opening(checkpoint)
    assert np.isfinite(offset)
    gate = np.array([1.0, 1.0, 0.0], np.float32)
    expected = np.maximum([0.3 - offset, -0.1 - offset, 0.0], 0) * DRAWN_OPENING_GAIN
    np.testing.assert_allclose(drawn_opening(motion, gate, checkpoint), expected, atol=1e-6)


def test_a_phone_shaped_opening_takes_its_own_gain_only_where_the_decoder_shaped_it(monkeypatch) -> None:
    from reenact.api import create_model
    from reenact.pipelines import articulation

    checkpoint = tiny_audio_checkpoint(create_model("tiny-64", seed=0))
    fitted = checkpoint.directions.vector("mouth_open").numpy()
    motion = np.stack([0.3 * fitted, 0.5 * fitted]).astype(np.float32)
    gate = np.ones(2, np.float32)
    plain = drawn_opening(motion, gate, checkpoint)
    monkeypatch.setattr(articulation, "decoder_available", lambda: True)
    np.testing.assert_allclose(drawn_opening(motion, gate, checkpoint, phones=True),
                               plain * DRAWN_OPENING_GAIN_PHONES / DRAWN_OPENING_GAIN, rtol=1e-5)
    assert DRAWN_OPENING_GAIN_PHONES < DRAWN_OPENING_GAIN  # the phones' shaping varies more
    # no decoder: the motion was not shaped, so the plain gain stays
    monkeypatch.setattr(articulation, "decoder_available", lambda: False)
    np.testing.assert_allclose(drawn_opening(motion, gate, checkpoint, phones=True), plain)
