"""Pass 1 of animate in a second process: the same result as in this one, its errors raised here
with their type and message, its log records passed on, and no torch imported there."""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import write_video

from reenact.io import VideoReader, write_image
from reenact.pipelines.animate_options import AnimateOptions
from reenact.pipelines.driving_track import run_face_pass
from reenact.pipelines.face_pass_process import FacePassError, FacePassProcess
from reenact.preprocess.face import NoFaceError

INTERVIEW = Path(__file__).resolve().parents[2] / "samples" / "interview.mp4"  # a real face


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, Path]:
    """(a portrait: the interview's frame 20, a 16-frame driving video: the interview's first)."""
    root = tmp_path_factory.mktemp("face-pass")
    with VideoReader(INTERVIEW) as reader:
        frames = list(itertools.islice(reader, 24))
    photo = write_image(root / "photo.png", frames[20])
    return photo, write_video(root / "driving.mp4", np.stack(frames[:16]))


def test_the_pass_in_its_own_process_gives_what_it_gives_here(clip) -> None:
    source, driving = clip
    options = AnimateOptions(find_best_frame=True, detect_every=4)
    here = run_face_pass(source, driving, options)
    with FacePassProcess(source, driving, options) as faces:
        there = faces.result(progress=False)
        assert faces.result(progress=False) is there  # asked twice, waited for once
    assert there.track.best_index == here.track.best_index is not None
    assert np.array_equal(there.best_frame, here.best_frame)
    assert np.array_equal(there.source.image, here.source.image)
    assert there.source.box == here.source.box and there.info == here.info
    np.testing.assert_array_equal(there.source.landmarks, here.source.landmarks)
    assert there.track.boxes == here.track.boxes and len(there.track.boxes) == 16
    for a, b in zip(there.track.landmarks, here.track.landmarks, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.array(there.track.teeth), np.array(here.track.teeth))
    assert len(there.track.pale) == 16  # read with the teeth, for the drawn mouth's start
    np.testing.assert_array_equal(np.array(there.track.pale), np.array(here.track.pale))


def test_an_error_there_is_raised_here_as_itself(tmp_path, clip) -> None:
    source, driving = clip
    blank = write_image(tmp_path / "blank.png", np.full((96, 96, 3), 128, np.uint8))
    with pytest.raises(NoFaceError) as here:
        run_face_pass(blank, driving, AnimateOptions())
    with FacePassProcess(blank, driving, AnimateOptions()) as faces, \
            pytest.raises(NoFaceError) as there:
        faces.result(progress=False)
    assert str(there.value) == str(here.value) and "no face found" in str(there.value)

    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("not a video")
    with pytest.raises(ValueError) as here:
        run_face_pass(source, not_a_video, AnimateOptions())
    with FacePassProcess(source, not_a_video, AnimateOptions()) as faces, \
            pytest.raises(ValueError) as there:
        faces.result(progress=False)
    assert str(there.value) == str(here.value)


def test_its_warnings_are_logged_here(tmp_path, clip, caplog) -> None:
    source, driving = clip
    with VideoReader(driving) as reader:
        frames = list(reader)
    frames[5:8] = [np.full_like(frames[0], 128)] * 3  # no face in three frames
    gap = write_video(tmp_path / "gap.mp4", np.stack(frames))
    with caplog.at_level(logging.WARNING, logger="reenact"), \
            FacePassProcess(source, gap, AnimateOptions()) as faces:
        track = faces.result(progress=False).track
    assert track.frame_indices()[5:8] == [4, 4, 4]  # held
    assert "the face is missing or cut by the frame's edge in 3 of 16 frames" in caplog.text
    assert any(record.name == "reenact.pipelines.driving_track" for record in caplog.records)


def test_a_process_that_dies_is_reported_and_one_still_running_is_ended(clip) -> None:
    source, driving = clip
    faces = FacePassProcess(source, driving, AnimateOptions())
    faces._process.kill()
    with pytest.raises(FacePassError, match="stopped unexpectedly"):
        faces.result(progress=False)
    faces.close()

    with FacePassProcess(source, driving, AnimateOptions()) as running:
        process = running._process
    assert process.poll() is not None  # leaving the block ended it


def test_the_pass_imports_no_torch() -> None:
    code = ("import sys, reenact.pipelines.face_pass_process; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_animate_refuses_a_pass_started_for_other_inputs(tmp_path, clip) -> None:
    from reenact.engine import TorchBackend
    from reenact.api import create_model
    from reenact.pipelines.animate import animate

    source, driving = clip
    backend = TorchBackend(create_model("tiny-64", seed=0), device="cpu")
    with FacePassProcess(source, driving, AnimateOptions()) as faces, \
            pytest.raises(ValueError, match="other inputs or options"):
        animate(source, driving, tmp_path / "out.mp4", backend=backend,
                options=AnimateOptions(detect_every=2), faces=faces, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_animate_follows_the_faces_itself_when_the_process_died(tmp_path, clip, caplog) -> None:
    from reenact.engine import TorchBackend
    from reenact.api import create_model
    from reenact.pipelines.animate import animate

    source, driving = clip
    backend = TorchBackend(create_model("tiny-64", seed=0), device="cpu")
    options = AnimateOptions(max_frames=4)
    with FacePassProcess(source, driving, options) as faces, \
            caplog.at_level(logging.WARNING, logger="reenact"):
        faces._process.kill()
        result = animate(source, driving, tmp_path / "out.mp4", backend=backend, options=options,
                         faces=faces, progress=False)
    assert result.num_frames == 4 and (tmp_path / "out.mp4").exists()
    assert "stopped unexpectedly" in caplog.text and "in this process instead" in caplog.text


def test_an_error_that_cannot_travel_keeps_its_message_and_kind() -> None:
    from reenact.pipelines.face_pass_process import _portable

    class LocalValueError(ValueError):  # a local class: pickle cannot find it
        pass

    class LocalBug(RuntimeError):
        pass

    plain = NoFaceError("photo.png: no face found")
    assert _portable(plain) is plain
    value = _portable(LocalValueError("bad frame size"))
    assert type(value) is ValueError and str(value) == "bad frame size"
    bug = _portable(LocalBug("unexpected"))
    assert isinstance(bug, FacePassError) and "LocalBug: unexpected" in str(bug)


def test_the_child_searches_the_parents_module_path(clip, monkeypatch, tmp_path) -> None:
    import reenact.pipelines.face_pass_process as module

    source, driving = clip
    monkeypatch.syspath_prepend(str(tmp_path))  # as a script that put a folder on sys.path
    started = []
    popen = subprocess.Popen

    def recording(*args, **kwargs):
        started.append(kwargs["env"]["PYTHONPATH"].split(os.pathsep))
        return popen(*args, **kwargs)

    monkeypatch.setattr(module.subprocess, "Popen", recording)
    with FacePassProcess(source, driving, AnimateOptions(max_frames=2)) as faces:
        assert len(faces.result(progress=False).track.boxes) == 2
    assert started[0][0] == str(tmp_path) and started[0] == [p for p in sys.path if p]
