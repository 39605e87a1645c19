"""Pass 1b: FaceMesh read in every driving frame mends the brows where dlib misreads them and puts
its lid openings beside the landmarks, follows the face from frame to frame, and leaves frames
without a face alone."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.pipelines.driving_mesh import AGREE_WITHIN, MISREAD_FROM, carried_brows, mesh_track
from reenact.pipelines.driving_track import DrivingTrack
from reenact.preprocess.brows import mesh_brows
from reenact.preprocess.crop import CropBox
from reenact.preprocess.face_mesh import MeshReading, eye_openings

BROWS = list(range(17, 27))  # dlib's brow points


def face() -> np.ndarray:
    """(68, 2) points with the outer eye corners 100 px apart."""
    points = np.random.default_rng(1).uniform(0, 200, (68, 2))
    points[36], points[45] = (50.0, 100.0), (150.0, 100.0)
    return points


class FakeReader:
    """Stands in for FaceMeshReader: `meshes` in turn wherever a frame is not black."""

    def __init__(self, meshes: list[np.ndarray]) -> None:
        self.meshes = meshes
        self.calls: list[bool] = []  # whether each read was placed from the frame before

    def read(self, image, landmarks, previous=None):
        self.calls.append(previous is not None)
        mesh = self.meshes[min(len(self.calls), len(self.meshes)) - 1]
        return None if not image.any() else MeshReading(mesh, 10.0)


def test_a_brow_dlib_reads_near_facemeshs_change_stays_dlibs() -> None:
    points = face()
    mesh = np.random.default_rng(2).uniform(0, 200, (68, 2))  # FaceMesh's brows in dlib's order
    near = mesh + (0.0, -0.5 * AGREE_WITHIN * 100)  # FaceMesh: the brows rose within dlib's noise
    np.testing.assert_array_equal(carried_brows(points, points, near, mesh), points)


def test_a_brow_far_from_facemeshs_change_follows_facemesh() -> None:
    points = face()
    mesh = np.random.default_rng(2).uniform(0, 200, (68, 2))
    raised = mesh + (0.0, -2 * MISREAD_FROM * 100)  # risen further than dlib's noise
    out = carried_brows(points, points, raised, mesh)
    np.testing.assert_allclose(out[BROWS], points[BROWS] + (0.0, -2 * MISREAD_FROM * 100))
    np.testing.assert_array_equal(np.delete(out, BROWS, axis=0), np.delete(points, BROWS, axis=0))
    between = mesh.copy()
    between[17:22] += (0.0, -(AGREE_WITHIN + MISREAD_FROM) / 2 * 100)  # one brow, half way
    out = carried_brows(points, points, between, mesh)
    np.testing.assert_allclose(out[17:22], points[17:22] + (0.0, -(AGREE_WITHIN + MISREAD_FROM) / 4
                                                               * 100))
    np.testing.assert_array_equal(out[22:27], points[22:27])


def test_lids_are_read_and_misread_brows_mended_in_each_frame_with_a_face() -> None:
    rng = np.random.default_rng(0)
    mesh = rng.uniform(0, 100, (468, 2))
    raised = mesh.copy()
    brow_points = [70, 63, 105, 66, 107, 336, 296, 334, 293, 300, 46, 53, 52, 65, 55, 285, 295,
                   282, 283, 276]
    raised[brow_points] += (0.0, -20.0)  # FaceMesh: both brows 0.2 eye widths up
    points = face()
    frame, black = np.full((16, 16, 3), 90, np.uint8), np.zeros((16, 16, 3), np.uint8)
    track = DrivingTrack(boxes=[CropBox(8, 8, 16)] * 5,
                         landmarks=[points, points, None, points, points])
    reader = FakeReader([mesh, raised, raised, raised])
    read = mesh_track([frame, frame, frame, black, frame], track, reader, brows=True, eyes=True)
    assert reader.calls == [False, True, False, False]  # followed; placed anew after a gap
    np.testing.assert_array_equal(read.landmarks[0], points)  # where motion starts: dlib's
    for index in (1, 4):  # dlib reads the brows where they were: FaceMesh's rise is carried
        np.testing.assert_allclose(read.landmarks[index][BROWS], points[BROWS] + (0.0, -20.0))
        np.testing.assert_allclose(read.eye_openings[index], eye_openings(raised))
    np.testing.assert_allclose(read.eye_openings[0], eye_openings(mesh))
    assert read.landmarks[2] is None and np.isnan(read.eye_openings[2]).all()
    assert read.landmarks[3] is points and np.isnan(read.eye_openings[3]).all()  # no mesh there
    assert track.eye_openings is None and track.landmarks[1] is points  # the input is unchanged
    eyes_only = mesh_track([frame] * 5, track, FakeReader([raised]), brows=False, eyes=True)
    assert eyes_only.landmarks is track.landmarks and eyes_only.eye_openings is not None
    assert mesh_track([frame] * 5, track, reader, brows=False, eyes=False) is track
    assert np.allclose(mesh_brows(points, raised)[BROWS], mesh_brows(points, mesh)[BROWS]
                       + (0.0, -20.0))


def test_one_frame_per_track_frame() -> None:
    track = DrivingTrack(boxes=[CropBox(8, 8, 16)] * 3, landmarks=[np.zeros((68, 2))] * 3)
    frame = np.full((16, 16, 3), 90, np.uint8)
    with pytest.raises(ValueError, match=r"frames: expected one per track frame \(3\), got 2"):
        mesh_track([frame] * 2, track, FakeReader([np.zeros((468, 2))]), brows=True, eyes=False)


def test_facemesh_reads_the_brows_of_models_anchored_on_them_and_the_drawn_lids() -> None:
    from reenact.api import create_model
    from reenact.engine import TorchBackend
    from reenact.pipelines.animate_options import AnimateOptions
    from reenact.pipelines.driving_mesh import mesh_reading

    anchored = TorchBackend(create_model("tiny-face-64", seed=0), device="cpu")
    assert mesh_reading(anchored, AnimateOptions()) == (True, True)
    assert mesh_reading(anchored, AnimateOptions(expressions="dlib")) == (False, False)
    assert mesh_reading(anchored, AnimateOptions(crop="none")) == (False, False)  # no landmarks
    assert mesh_reading(anchored, AnimateOptions(eyes="model")) == (True, False)
    assert mesh_reading(anchored, AnimateOptions(render="crop")) == (True, False)
    assert mesh_reading(anchored, AnimateOptions(relative=False)) == (True, False)
    free = TorchBackend(create_model("tiny-64", seed=0), device="cpu")
    assert mesh_reading(free, AnimateOptions()) == (False, True)
    with pytest.raises(ValueError, match="expressions: expected one of facemesh, dlib, got 'mesh'"):
        AnimateOptions(expressions="mesh")
