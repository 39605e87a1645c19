"""Driving faces that leave the frame: the last pose from before the face reached the edge is held
until it is whole again, and nothing is warped from a cut face's garbage keypoints (issue 17,
item 5)."""

from __future__ import annotations

import numpy as np
from conftest import make_clip, write_video
from speech_fixtures import face_landmarks

from reenact.api import create_model
from reenact.engine import TorchBackend
from reenact.io import write_image
from reenact.pipelines.animate import animate
from reenact.pipelines.animate_options import AnimateOptions
from reenact.pipelines.driving_track import PreparedSource, face_is_whole, track_driving
from reenact.preprocess.crop import CropBox
from reenact.preprocess.face import Face

WIDTH, HEIGHT = 160, 128
# the face's centre x per driving frame: whole, then sliding out of the right edge (cut from
# frame 4, gone in 7-8), back whole from frame 9
CENTRES = [60, 64, 68, 72, 145, 150, 158, None, None, 72, 68, 64]


def _face(cx: float, cy: float, size: float) -> Face:
    points = face_landmarks(cx, cy, size)
    low, high = points.min(axis=0), points.max(axis=0)
    return Face((*low, *high), 1.0, points)


class ScheduledAnalyzer:
    """A whole face in the (square) source; in driving frame i, a face at CENTRES[i]."""

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[Face]:
        height, width = image.shape[:2]
        if width == height:  # the source portrait
            return [_face(width / 2, height / 2, width / 2)]
        centre = CENTRES[self.calls % len(CENTRES)]
        self.calls += 1
        return [] if centre is None else [_face(centre, HEIGHT / 2, 50)]


def test_face_is_whole_until_it_is_cut_by_an_edge():
    assert face_is_whole(_face(80, 64, 50), WIDTH, HEIGHT)
    assert face_is_whole(_face(130, 64, 50), WIDTH, HEIGHT)  # near the edge, but whole
    assert face_is_whole(_face(140, 64, 50), WIDTH, HEIGHT)  # its jaw grazes the right edge
    assert face_is_whole(_face(141, 64, 50), WIDTH, HEIGHT)  # 3% of its size past it
    assert not face_is_whole(_face(145, 64, 50), WIDTH, HEIGHT)  # 13% of it past the edge
    assert not face_is_whole(_face(80, 10, 50), WIDTH, HEIGHT)  # its brows past the top edge


def test_track_holds_the_last_whole_frame():
    frames = [np.zeros((HEIGHT, WIDTH, 3), np.uint8)] * len(CENTRES)
    source = PreparedSource(image=np.zeros((96, 96, 3), np.uint8), box=CropBox(48, 48, 96),
                            crop=np.zeros((64, 64, 3), np.uint8), landmarks=None)
    track = track_driving(frames, 25.0, source.landmarks, AnimateOptions(), ScheduledAnalyzer())
    assert track.frame_indices() == [0, 1, 2, 3, 3, 3, 3, 3, 3, 9, 10, 11]
    assert all(track.boxes[i] == track.boxes[3] for i in range(4, 9))


def test_a_video_that_starts_with_a_cut_face_holds_the_first_whole_one():
    frames = [np.zeros((HEIGHT, WIDTH, 3), np.uint8)] * 6
    analyzer = ScheduledAnalyzer()
    analyzer.calls = 5  # frames 0-3 show CENTRES[5:9]: cut, cut, none, none; then whole
    source = PreparedSource(image=np.zeros((96, 96, 3), np.uint8), box=CropBox(48, 48, 96),
                            crop=np.zeros((64, 64, 3), np.uint8), landmarks=None)
    track = track_driving(frames, 25.0, source.landmarks, AnimateOptions(), analyzer)
    assert track.frame_indices() == [4, 4, 4, 4, 4, 5]


def test_animate_never_crops_a_cut_face(tmp_path, monkeypatch, caplog):
    frames = np.stack([make_clip(WIDTH, 1, seed=i)[0][:HEIGHT] for i in range(len(CENTRES))])
    driving = write_video(tmp_path / "driving.mp4", frames)
    source = write_image(tmp_path / "photo.png", make_clip(96, 1, seed=99)[0])
    detected: list[np.ndarray] = []
    detect = TorchBackend.detect

    def recording(self, crops, *args, **kwargs):
        detected.extend(np.asarray(crops))
        return detect(self, crops, *args, **kwargs)

    monkeypatch.setattr(TorchBackend, "detect", recording)
    backend = TorchBackend(create_model("tiny-64", seed=0), device="cpu")
    result = animate(source, driving, tmp_path / "out.mp4", backend=backend,
                     options=AnimateOptions(crop_only=True, batch_size=4),
                     analyzer=ScheduledAnalyzer(), progress=False)
    assert result.num_frames == len(CENTRES)
    assert "the face is missing or cut by the frame's edge in 5 of 12 frames" in caplog.text
    driving_crops = detected[-len(CENTRES):]  # after the source's own
    for held in range(4, 9):
        assert np.array_equal(driving_crops[held], driving_crops[3])
    assert not np.array_equal(driving_crops[9], driving_crops[3])
