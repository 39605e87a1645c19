"""`reenact train` arguments: invalid values are one-line errors, a resumed run keeps its options."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from conftest import write_data_dir
from reenact.cli import main

TINY = ["--preset", "tiny-64", "--batch-size", "2", "--log-every", "1", "--checkpoint-every", "1",
        "--preview-every", "100"]


def train(data: Path, run: Path, *extra: str) -> int:
    return main(["-q", "train", "--data", str(data), "-o", str(run), *extra])


@pytest.mark.parametrize("steps", ["0", "-5"])
def test_steps_below_one_are_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                     steps: str) -> None:
    data = write_data_dir(tmp_path / "data")
    with caplog.at_level(logging.ERROR):
        assert train(data, tmp_path / "run", *TINY, "--steps", steps) == 2
    assert f"steps: expected an integer >= 1, got {steps}" in caplog.text
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("lr", ["inf", "nan", "0", "-1e-3"])
def test_learning_rate_must_be_finite_and_positive(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                   lr: str) -> None:
    data = write_data_dir(tmp_path / "data")
    with caplog.at_level(logging.ERROR):
        assert train(data, tmp_path / "run", *TINY, "--steps", "1", f"--lr={lr}") == 2
    assert "learning_rate: expected a finite number > 0" in caplog.text


def test_resume_refuses_changed_options_and_takes_more_steps(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    data, run = write_data_dir(tmp_path / "data"), tmp_path / "run"
    assert train(data, run, *TINY, "--steps", "1") == 0
    with caplog.at_level(logging.ERROR):
        assert train(data, run, "--steps", "2", "--batch-size", "4") == 2
    assert "--batch-size 4 differs from the run's 2" in caplog.text
    with caplog.at_level(logging.ERROR):
        assert train(data, run, "--steps", "2", "--lr", "1e-3") == 2
    assert "--lr 0.001 differs from the run's 0.0002" in caplog.text
    assert train(data, run, "--steps", "2", "--batch-size", "2") == 0  # the same value is fine
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2]


def test_contrast_pairs_and_face_parts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data, run = write_data_dir(tmp_path / "data"), tmp_path / "run"
    with caplog.at_level(logging.ERROR):
        assert train(data, run, *TINY, "--steps", "1", "--contrast-pairs", "1.5") == 2
    assert "contrast_pairs: expected a fraction in [0, 1], got 1.5" in caplog.text
    with caplog.at_level(logging.ERROR):
        assert train(data, run, *TINY, "--steps", "1", "--face-parts", "-1") == 2
    assert "--face-parts: expected a weight in [0, 1000], got -1.0" in caplog.text
    with caplog.at_level(logging.ERROR):  # this data has no landmarks
        assert train(data, run, *TINY, "--steps", "1", "--contrast-pairs", "0.5") == 2
    assert "--contrast-pairs: the data has no landmarks" in caplog.text
    assert train(data, tmp_path / "run2", *TINY, "--steps", "1", "--face-parts", "2") == 0
    saved = json.loads((tmp_path / "run2" / "train_config.json").read_text())
    assert saved["weights"]["face_parts"] == 2 and saved["contrast_pairs"] == 0


def test_landmark_flow(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from conftest import write_landmarks

    data, run = write_data_dir(tmp_path / "data"), tmp_path / "run"
    face = [*TINY[2:], "--preset", "tiny-face-64"]
    with caplog.at_level(logging.ERROR):
        assert train(data, run, *face, "--steps", "1", "--landmark-flow", "-1") == 2
    assert "--landmark-flow: expected a weight in [0, 1000], got -1.0" in caplog.text
    with caplog.at_level(logging.ERROR):  # this data has no landmarks yet
        assert train(data, run, *face, "--steps", "1", "--landmark-flow", "5") == 2
    assert "--landmark-flow: the data has no landmarks; prepare it again" in caplog.text
    write_landmarks(data, missing_every=1000)  # a face in every frame but the first
    with caplog.at_level(logging.ERROR):
        assert train(data, run, *TINY, "--steps", "1", "--landmark-flow", "5") == 2
    assert "--landmark-flow: preset tiny-64 has no keypoints anchored by landmarks" in caplog.text
    assert not run.exists()
    assert train(data, run, *face, "--steps", "1", "--landmark-flow", "5") == 0
    record = json.loads((run / "log.jsonl").read_text().splitlines()[0])
    assert record["losses"]["landmark_flow"] > 0
    assert json.loads((run / "train_config.json").read_text())["weights"]["landmark_flow"] == 5
    with caplog.at_level(logging.ERROR):  # a resumed run keeps its loss
        assert train(data, run, "--steps", "2", "--landmark-flow", "2") == 2
    assert "--landmark-flow 2.0 differs from the run's 5.0" in caplog.text
    assert train(data, run, "--steps", "2") == 0  # resumed with the run's own weight
    second = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    assert second["step"] == 2 and second["losses"]["landmark_flow"] > 0
