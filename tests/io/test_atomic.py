"""reenact.io.atomic: directories replaced without deleting anything reenact did not write."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reenact.io.atomic import check_replaceable_directory, replace_directory

OWNED = frozenset({"config.json", "weights.bin"})


def _staging(root: Path, text: str) -> Path:
    staging = root / ".staging"
    staging.mkdir()
    (staging / "config.json").write_text(text)
    (staging / "weights.bin").write_text(text)
    return staging


def _replace(staging: Path, target: Path) -> None:
    replace_directory(staging, target, OWNED, marker="config.json", what="test output")


def test_replaces_a_directory_of_owned_files(tmp_path: Path) -> None:
    target = tmp_path / "out"
    _replace(_staging(tmp_path, "old"), target)
    _replace(_staging(tmp_path, "new"), target)
    assert (target / "weights.bin").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("foreign", ["video.mp4", "sub/notes.txt"])
def test_refuses_a_directory_with_foreign_entries(tmp_path: Path, foreign: str) -> None:
    target = tmp_path / "out"
    _replace(_staging(tmp_path, "old"), target)
    (target / foreign).parent.mkdir(exist_ok=True)
    (target / foreign).write_text("mine")
    with pytest.raises(ValueError, match=rf"out: holds files that are not part of a test output "
                                         rf"\({foreign.split('/')[0]}\); refusing to replace it"):
        _replace(_staging(tmp_path, "new"), target)
    assert (target / foreign).read_text() == "mine" and (target / "weights.bin").read_text() == "old"


def test_refuses_what_is_not_that_kind_of_output(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "file").write_text("x")
    for name in ("photos", "file"):
        with pytest.raises(ValueError, match=rf"{name}: exists and is not a test output"):
            check_replaceable_directory(tmp_path / name, OWNED, marker="config.json",
                                        what="test output")


def test_files_that_appear_during_the_swap_are_kept(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "out"
    _replace(_staging(tmp_path, "old"), target)
    real_replace = os.replace

    def replace_and_race(source, destination):  # someone saves a file just after the check
        if Path(destination).name == "out" and Path(source).name == "out":
            (Path(source) / "late.txt").write_text("mine")
        return real_replace(source, destination)

    monkeypatch.setattr(os, "replace", replace_and_race)
    _replace(_staging(tmp_path, "new"), target)
    kept = list(tmp_path.rglob("late.txt"))
    assert len(kept) == 1 and kept[0].read_text() == "mine"
    assert (target / "weights.bin").read_text() == "new"


def test_commit_together_is_all_or_nothing(tmp_path: Path, monkeypatch) -> None:
    from reenact.io.atomic import AtomicOutput, commit_together

    (tmp_path / "a.txt").write_text("old a")
    first, second = AtomicOutput(tmp_path / "a.txt"), AtomicOutput(tmp_path / "b.txt")
    first.temp_path.write_text("new a")
    second.temp_path.write_text("new b")
    real_replace = os.replace

    def fail_on_b(source, destination):
        if Path(destination).name == "b.txt":
            raise OSError(28, "No space left on device")
        return real_replace(source, destination)

    monkeypatch.setattr(os, "replace", fail_on_b)
    with pytest.raises(OSError, match="No space left"):
        commit_together([first, second])
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "old a"
    monkeypatch.undo()
    first, second = AtomicOutput(tmp_path / "a.txt"), AtomicOutput(tmp_path / "b.txt")
    first.temp_path.write_text("new a")
    second.temp_path.write_text("new b")
    assert commit_together([first, second]) == [tmp_path / "a.txt", tmp_path / "b.txt"]
    assert sorted(p.read_text() for p in tmp_path.iterdir()) == ["new a", "new b"]
