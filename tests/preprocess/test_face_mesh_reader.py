"""FaceMesh read where dlib's 68 landmarks are known: on a real face it lands on dlib's eyes and
mouth, finds nothing on a blank picture, and (where mediapipe and the shared clips exist) follows
the lids and lips as MediaPipe's own FaceMesh does."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import MEDIA, require
from reenact.checkpoint.face_mesh import load_face_mesh
from reenact.preprocess.face_mesh import (
    INNER_LIP_PAIRS,
    LEFT_EYE_CORNERS,
    RIGHT_EYE_CORNERS,
    FaceMeshReader,
    check_mesh,
    eye_openings,
)


@pytest.fixture(scope="module")
def reader() -> FaceMeshReader:
    return FaceMeshReader(load_face_mesh())


def test_the_mesh_lands_on_the_face_dlib_found(reader, astronaut) -> None:
    image, landmarks = astronaut
    reading = reader.read(image, landmarks)
    assert reading is not None and reading.presence > 5
    points = reading.points
    iod = np.linalg.norm(landmarks[42:48].mean(axis=0) - landmarks[36:42].mean(axis=0))
    # outer eye corners: mesh 33 / 263, dlib 36 / 45
    assert np.linalg.norm(points[RIGHT_EYE_CORNERS[0]] - landmarks[36]) < 0.1 * iod
    assert np.linalg.norm(points[LEFT_EYE_CORNERS[1]] - landmarks[45]) < 0.1 * iod
    lips = points[[i for pair in INNER_LIP_PAIRS for i in pair]].mean(axis=0)
    assert np.linalg.norm(lips - landmarks[60:68].mean(axis=0)) < 0.1 * iod
    assert ((eye_openings(points) > 0.15) & (eye_openings(points) < 0.5)).all()


def test_a_picture_without_a_face_reads_none(reader, astronaut) -> None:
    image, landmarks = astronaut
    assert reader.read(np.full_like(image, 128), landmarks) is None


def test_mesh_points_are_checked() -> None:
    with pytest.raises(ValueError, match=r"points: expected a finite \(>= 468, 2\) array"):
        check_mesh(np.zeros((68, 2)))
    with pytest.raises(ValueError, match="points"):
        eye_openings(np.full((468, 2), np.nan))


def test_lids_and_lips_follow_mediapipes_face_mesh(reader) -> None:
    """On a shared driving clip whose eyes blink and widen, the lid openings read here follow
    MediaPipe's (legacy FaceMesh with refined landmarks) at r >= 0.85, the inner-lip gap at
    r >= 0.9: the same network, converted and placed by dlib's landmarks instead of its own
    detector."""
    clip = require(MEDIA / "driving" / "lp_d14.mp4")
    pytest.importorskip("dlib")
    from reenact.evaluation.facemesh import FaceMeshTracker, inner_lip_gap, mediapipe_available
    from reenact.io.video_reader import VideoReader
    from reenact.preprocess.face import create_face_analyzer
    from reenact.preprocess.face_follow import follower_for

    if not mediapipe_available():
        pytest.skip("mediapipe's legacy FaceMesh is not installed (pip install 'reenact[lipsync]')")
    analyzer = follower_for(create_face_analyzer("dlib"))
    ours, theirs = [], []
    with FaceMeshTracker() as mesh, VideoReader(clip) as video:
        for index, frame in enumerate(video):
            if index == 40:
                break
            faces, points = analyzer.detect(frame), mesh.landmarks(frame)
            reading = reader.read(frame, faces[0].landmarks) if faces else None
            if reading is None or points is None:
                continue
            gap = np.linalg.norm(reading.points[[a for a, _ in INNER_LIP_PAIRS]]
                                 - reading.points[[b for _, b in INNER_LIP_PAIRS]], axis=1).mean()
            ours.append([*eye_openings(reading.points), gap])
            theirs.append([*eye_openings(points[:468]), inner_lip_gap(points)])
    ours, theirs = np.array(ours), np.array(theirs)
    assert len(ours) >= 35
    for column, floor in ((0, 0.85), (1, 0.85), (2, 0.9)):
        assert np.corrcoef(ours[:, column], theirs[:, column])[0, 1] >= floor
