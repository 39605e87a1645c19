from __future__ import annotations

import os
from pathlib import Path

import pytest

from reenact.io.tree import files_under


def test_files_are_found_through_linked_folders_once(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "deep").mkdir(parents=True)
    for name in ("a.mp4", "deep/B.MP4", "notes.txt"):
        (elsewhere / name).write_bytes(b"x")
    root = tmp_path / "root"
    root.mkdir()
    (root / "c.mpg").write_bytes(b"x")
    (root / "folder.mp4").mkdir()  # a directory named like a video is not one
    os.symlink(elsewhere, root / "linked")
    os.symlink(elsewhere, root / "again")  # the same folder twice: read once
    os.symlink(root, elsewhere / "loop")  # a cycle ends
    os.symlink(tmp_path / "gone.mp4", root / "dangling.mp4")
    found = files_under(root, (".mp4", ".mpg"))
    assert found == sorted(found) and all(p.is_relative_to(root) for p in found)
    assert sorted(p.name for p in found) == ["B.MP4", "a.mp4", "c.mpg"]  # each file once
    assert len({os.path.realpath(p) for p in found}) == 3
    assert files_under(root, (".wav",)) == []


def test_prepare_data_finds_videos_in_linked_folders(tmp_path: Path) -> None:
    from reenact.preprocess.clip import find_videos

    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "clip.mp4").write_bytes(b"x")
    (tmp_path / "data").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "data" / "set")
    assert [p.name for p in find_videos(tmp_path / "data")] == ["clip.mp4"]
    (tmp_path / "empty").mkdir()
    os.symlink(tmp_path / "empty", tmp_path / "data2")
    with pytest.raises(ValueError, match="no video files found"):
        find_videos(tmp_path / "data2")
