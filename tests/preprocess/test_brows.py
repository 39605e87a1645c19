"""The brows read by FaceMesh: placed between its brow edges as dlib places them on a face at rest,
and raised where a raised brow is (a shared clip on which dlib reads the raised brows low)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import MEDIA, require
from reenact.preprocess.brows import (
    BROW_DEPTH,
    LEFT_BROW,
    LEFT_BROW_LOWER,
    LEFT_BROW_UPPER,
    RIGHT_BROW,
    RIGHT_BROW_LOWER,
    RIGHT_BROW_UPPER,
    mesh_brows,
)
from reenact.checkpoint.face_mesh import load_face_mesh
from reenact.preprocess.face_mesh import FaceMeshReader

BROWS = list(range(17, 27))


@pytest.fixture(scope="module")
def reader() -> FaceMeshReader:
    return FaceMeshReader(load_face_mesh())


def brow_height(landmarks: np.ndarray) -> float:
    """How far the brows sit above the eye corners (which a brow's rise does not move), in
    interocular distances."""
    corners = landmarks[[36, 39, 42, 45]]
    return float((corners[:, 1].mean() - landmarks[BROWS, 1].mean())
                 / np.linalg.norm(landmarks[45] - landmarks[36]))


def test_each_brow_point_lies_between_the_meshs_brow_edges() -> None:
    rng = np.random.default_rng(0)
    landmarks = rng.uniform(0, 200, (68, 2))
    mesh = rng.uniform(0, 200, (468, 2))
    out = mesh_brows(landmarks, mesh)
    for brow, upper, lower in ((RIGHT_BROW, RIGHT_BROW_UPPER, RIGHT_BROW_LOWER),
                               (LEFT_BROW, LEFT_BROW_UPPER, LEFT_BROW_LOWER)):
        for point, top, bottom, depth in zip(brow, upper, lower, BROW_DEPTH):
            np.testing.assert_allclose(out[point], mesh[top] + depth * (mesh[bottom] - mesh[top]))
    others = [i for i in range(68) if i not in BROWS]
    np.testing.assert_array_equal(out[others], landmarks[others])
    assert not np.shares_memory(out, landmarks)


def test_the_outer_ends_pair_with_the_outer_ends() -> None:
    """dlib's 17 and 26 are the brows' outer ends, 21 and 22 the inner ones (by the nose)."""
    assert RIGHT_BROW[0] == 17 and LEFT_BROW[0] == 26
    assert RIGHT_BROW[-1] == 21 and LEFT_BROW[-1] == 22


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="mesh: expected a finite"):
        mesh_brows(np.zeros((68, 2)), np.zeros((68, 2)))
    with pytest.raises(ValueError, match="landmarks"):
        mesh_brows(np.zeros((5, 2)), np.zeros((468, 2)))


def read_brows(reader: FaceMeshReader, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    return mesh_brows(landmarks, reader.read(image, landmarks).points)


def test_on_a_face_at_rest_the_brows_are_where_dlib_reads_them(reader, astronaut) -> None:
    image, landmarks = astronaut
    read = read_brows(reader, image, landmarks)
    iod = np.linalg.norm(landmarks[45] - landmarks[36])
    distance = np.linalg.norm(read[BROWS] - landmarks[BROWS], axis=1)
    assert distance.mean() < 0.08 * iod and distance.max() < 0.15 * iod
    others = [i for i in range(68) if i not in BROWS]
    np.testing.assert_array_equal(read[others], landmarks[others])


def test_a_raised_brow_dlib_reads_low_is_read_raised(reader) -> None:
    """Shared driving clip lp_d10: from frame 0 (at rest) to frame 33 the driver raises her brows
    high. dlib's brow points drop toward the eyes (0.32 -> 0.17 interocular distances above the
    eye corners: onto the skin under the brow); FaceMesh's rise with the brows (0.31 -> 0.36)."""
    clip = require(MEDIA / "driving" / "lp_d10.mp4")
    pytest.importorskip("dlib")
    from reenact.io.video_reader import VideoReader
    from reenact.preprocess.face import create_face_analyzer, find_face

    analyzer = create_face_analyzer("dlib")
    frames = {}
    with VideoReader(clip) as video:
        for index, frame in enumerate(video):
            if index in (0, 33):
                frames[index] = frame
            if index == 33:
                break
    dlib_points = {index: find_face(analyzer, frame).landmarks for index, frame in frames.items()}
    ours = {index: read_brows(reader, frames[index], points)
            for index, points in dlib_points.items()}
    assert brow_height(dlib_points[33]) < brow_height(dlib_points[0]) - 0.1  # dlib's fault
    assert brow_height(ours[33]) > brow_height(ours[0]) + 0.03
