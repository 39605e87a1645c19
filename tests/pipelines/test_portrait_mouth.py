"""talk's drawn mouth: the open-mouth reference, the head's pose from keypoints, the drawing."""

from __future__ import annotations

import numpy as np
import torch
from face_images import LIPS, MOUTH, drawn_face
from PIL import Image, ImageDraw

from reenact.containers import Keypoints
from reenact.pipelines.portrait_mouth import (
    OWN_OPENING,
    POSE_ANCHORS,
    REFERENCE_OPENING,
    open_reference,
    portrait_mouth,
)
from reenact.preprocess.anchors import DEFAULT_ANCHORS
from reenact.preprocess.crop import CropBox
from reenact.preprocess.expressions import mouth_opening

SIZE = 200
LUMA = np.array([0.299, 0.587, 0.114])


def closed_face():
    return drawn_face(SIZE, mouth_open=0.02, interior=False)


def dark(image: np.ndarray) -> np.ndarray:
    return np.abs(image.astype(int) - MOUTH).sum(axis=-1) < 90


def test_a_closed_mouth_is_opened_and_given_an_inside():
    image, landmarks = closed_face()
    reference, opened = open_reference(image, landmarks, side=SIZE)
    assert mouth_opening(opened) > REFERENCE_OPENING - 0.01
    assert not dark(image).any() and dark(reference).sum() > 100
    x0, x1 = int(opened[60, 0]), int(opened[64, 0])
    teeth_row = int(opened[62, 1]) + 3
    assert (reference[teeth_row, x0 + 8:x1 - 8].astype(float) @ LUMA).mean() > 120  # pale teeth
    assert np.array_equal(reference[:int(landmarks[33, 1]) - 10], image[:int(landmarks[33, 1]) - 10])


def test_an_open_mouth_is_its_own_reference():
    image, landmarks = drawn_face(SIZE, mouth_open=0.4)
    assert mouth_opening(landmarks) >= OWN_OPENING
    reference, opened = open_reference(image, landmarks, side=SIZE)
    assert reference is image and np.array_equal(opened, landmarks)


def anchored_keypoints(landmarks: np.ndarray, box: CropBox, size: int) -> Keypoints:
    """Keypoints of a face-anchored model: each anchor at its group's landmark centroid."""
    from reenact.preprocess.anchors import anchor_keypoints, pixels_to_normalized

    normalized = pixels_to_normalized(box.image_to_crop(landmarks, size), size)
    return anchor_keypoints(torch.from_numpy(normalized[None]).float(), DEFAULT_ANCHORS)


def test_the_head_pose_comes_from_the_eye_brow_and_nose_keypoints():
    image, landmarks = closed_face()
    box, size = CropBox(SIZE / 2, SIZE / 2, SIZE), 64
    mouth = portrait_mouth(image, landmarks, box, size, DEFAULT_ANCHORS)
    assert mouth is not None and len(mouth.pose_indices) == len(POSE_ANCHORS)
    kp_source = anchored_keypoints(landmarks, box, size)
    shifted = landmarks + (6.0, -4.0)
    shifted[48:68] += (0.0, 9.0)  # the mouth moving does not move the head
    kp_frame = anchored_keypoints(shifted, box, size)
    heads = mouth.frame_landmarks(kp_source, kp_frame)
    np.testing.assert_allclose(heads[0], landmarks + (6.0, -4.0), atol=1e-3)


def test_the_drawn_mouth_opens_with_the_speech_and_leaves_the_upper_face():
    image, landmarks = closed_face()
    box = CropBox(SIZE / 2, SIZE / 2, SIZE)
    mouth = portrait_mouth(image, landmarks, box, 64, DEFAULT_ANCHORS)
    closed = mouth.draw(image, landmarks, 0.0)
    half = mouth.draw(image, landmarks, 0.2)
    wide = mouth.draw(image, landmarks, 0.4)
    assert dark(closed).sum() <= 5
    assert 20 < dark(half).sum() < dark(wide).sum()
    above = int(landmarks[33, 1]) - 12  # above the nose's bottom: the mask's reach
    for drawn in (closed, half, wide):
        assert np.array_equal(drawn[:above], image[:above])


def test_a_model_without_pose_anchors_draws_nothing():
    image, landmarks = closed_face()
    assert portrait_mouth(image, landmarks, CropBox(100, 100, 200), 64, ()) is None
    assert portrait_mouth(image, landmarks, CropBox(100, 100, 200), 64, ("upper_lip",)) is None


def test_pressed_lips_on_a_bowed_lip_line_show_only_lips():
    """A bowed inner lip line turns the inside's triangles into slivers over the lips when they
    press together; drawn from a reference with teeth, those slivers showed a dotted line of
    them. The lips must win there."""
    image, landmarks = closed_face()
    bowed = landmarks.copy()
    bowed[[61, 63, 65, 67], 1] -= 2.0
    bowed[[62, 66], 1] -= 1.0
    mouth = portrait_mouth(image, bowed, CropBox(SIZE / 2, SIZE / 2, SIZE), 64, DEFAULT_ANCHORS)
    out = mouth.draw(image, bowed, 0.0)
    lips = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(lips).polygon([tuple(p) for p in bowed[48:60].tolist()], fill=255)
    luma = out.astype(float) @ LUMA
    off = np.abs(luma - float(np.array(LIPS) @ LUMA)) > 40
    assert off[np.asarray(lips) > 0].sum() == 0
