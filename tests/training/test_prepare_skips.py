"""prepare-data skips the videos it cannot read instead of aborting (issue 17, item 7)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from conftest import make_clip, write_video

from reenact.cli import main


class MiddleFace:
    """A face in the middle of every frame (prepare-data's plumbing without dlib)."""

    def detect(self, image: np.ndarray):
        from reenact.preprocess.face import Face

        height, width = image.shape[:2]
        return [Face((width * 0.35, height * 0.3, width * 0.65, height * 0.7), 1.0)]


@pytest.fixture
def videos(tmp_path, monkeypatch):
    import reenact.preprocess.face as face

    monkeypatch.setattr(face, "create_face_analyzer", lambda backend: MiddleFace())
    root = tmp_path / "videos"
    root.mkdir()
    return root


def prepare(videos, output, caplog):
    caplog.set_level(logging.INFO)
    return main(["prepare-data", "-q", str(videos), "-o", str(output), "--size", "64",
                 "--run-seconds", "0.4"])


def test_unreadable_videos_are_skipped_and_listed(tmp_path, videos, caplog):
    write_video(videos / "a.mp4", make_clip(64, 20, seed=0))
    write_video(videos / "c.mp4", make_clip(64, 20, seed=1))
    (videos / "b.mp4").write_bytes(b"\x00not a video" * 100)
    whole = write_video(tmp_path / "d.mp4", make_clip(64, 20, seed=2)).read_bytes()
    (videos / "d.mp4").write_bytes(whole[: len(whole) // 2])  # truncated
    output = tmp_path / "data"
    assert prepare(videos, output, caplog) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith(
        f"skipped 2 of 4 videos that could not be read (listed in {output / 'skipped-videos.tsv'})")
    listed = (output / "skipped-videos.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in listed] == [str(videos / "b.mp4"), str(videos / "d.mp4")]
    assert "not a video file" in listed[0] and "truncated" in listed[1]
    index = json.loads((output / "index.json").read_text())
    assert {clip["video"] for clip in index["clips"]} == {"a.mp4", "c.mp4"}
    assert [item["video"] for item in index["skipped"]] == [str(videos / "b.mp4"),
                                                           str(videos / "d.mp4")]
    assert sorted(p.name for p in output.iterdir() if p.name.startswith("clip-")) == sorted(
        name for clip in index["clips"] for name in (clip["file"], clip["landmarks"]))


def test_nothing_usable_is_an_error(tmp_path, videos, caplog):
    (videos / "b.mp4").write_bytes(b"\x00not a video" * 100)
    (videos / "e.mkv").write_bytes(b"garbage")
    assert prepare(videos, tmp_path / "data", caplog) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [f"{videos}: none of the 2 videos could be read ({videos / 'b.mp4'}: not a "
                      f"video file (unrecognized or corrupt data), ...)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["videos"]


def test_a_garbage_index_is_named(tmp_path):
    from reenact.training.data import FrameDataset

    (tmp_path / "index.json").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match=r"index.json: not valid JSON \(.*\); prepare the data "
                                         r"again with `reenact prepare-data`"):
        FrameDataset(tmp_path)


# -- a damaged run directory is a one-line error naming the file (issue 17, item 8) --------------


def _train(data_dir, run, steps):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "reenact.cli", "-q", "train", "--data", str(data_dir),
                           "-o", str(run), "--preset", "tiny-64", "--batch-size", "2", "--steps",
                           str(steps)], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("damage, message", [
    (lambda run: (run / "state.pt").write_bytes(b"\x80\x04garbage"), "state.pt: not a readable training state"),
    (lambda run: (run / "state.pt").write_bytes((run / "state.pt").read_bytes()[:5000]),
     "state.pt: not a readable training state"),
    (lambda run: (run / "train_config.json").write_text("{not json"), "train_config.json: not valid JSON"),
    (lambda run: (run / "train_config.json").write_text("[1, 2]"), "train_config.json: not a training config"),
])
def test_damaged_run_directory(tmp_path, data_dir, damage, message):
    run = tmp_path / "run"
    assert _train(data_dir, run, 1).returncode == 0
    damage(run)
    result = _train(data_dir, run, 2)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1 and message in lines[0]
