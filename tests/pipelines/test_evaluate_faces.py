"""Face evaluation through the animate pipeline: generated clips with a fake face analyzer, and the
CLI on real media (skipped without ../shared)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from conftest import MEDIA, require
from reenact.api import create_model
from reenact.checkpoint import save_checkpoint
from reenact.cli import main
from reenact.engine import TorchBackend
from reenact.evaluation.facemesh import mediapipe_available
from reenact.io import VideoWriter, read_image, write_image
from reenact.pipelines.animate_options import AnimateOptions
from reenact.pipelines.evaluate import (
    FaceEvaluationOptions,
    collect_files,
    evaluate_cross_identity,
    evaluate_self_reenactment,
)
from speech_fixtures import FakeAnalyzer, synthetic_frames

BOX = (40.0, 20.0, 88.0, 76.0)  # where FakeAnalyzer puts the face in a 96x128 frame


class FakeDescriber:
    """A 'descriptor': the mean colour of the face's landmark box, scaled to about unit size."""

    def describe(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        (x0, y0), (x1, y1) = landmarks.min(axis=0).astype(int), landmarks.max(axis=0).astype(int)
        return image[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0) / 255


@pytest.fixture(scope="module")
def backend() -> TorchBackend:
    return TorchBackend(create_model("tiny-64", seed=0), device="cpu")


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clips" / "talk.mp4"
    path.parent.mkdir()
    with VideoWriter(path, 25, 128, 96) as writer:
        for frame in synthetic_frames(7, (96, 128), no_face={5}):
            writer.write(frame)
    return path


def options(**kwargs) -> FaceEvaluationOptions:
    return FaceEvaluationOptions(animate=AnimateOptions(batch_size=3), identity_every=4, **kwargs)


def test_self_reenactment_records_model_and_warp(backend, clip) -> None:
    videos = collect_files([clip.parent], (".mp4",), "videos")
    assert videos == [("clips/talk.mp4", clip)]
    [result] = evaluate_self_reenactment(videos, backend, options(sheet_frames=2),
                                         analyzer=FakeAnalyzer(BOX), describer=FakeDescriber(),
                                         progress=False)
    record = result.record
    assert record.kind == "self" and record.frames == 7 and set(record.methods) == {"model", "warp"}
    warp, model = record.methods["warp"], record.methods["model"]
    assert warp.l1[0] == 0.0 and warp.psnr[0] == 100.0  # frame 0 warped onto itself
    assert warp.sharpness[0] == pytest.approx(1.0) and warp.sharpness_face[0] == pytest.approx(1.0)
    assert np.isfinite(model.l1).all() and model.l1.max() > 0
    assert np.isnan(record.driver.mouth_opening[5])  # no face in that driving frame
    assert np.isnan(model.akd[5]) and np.isfinite(model.akd[4])
    assert np.isfinite(model.identity[[0, 4]]).all() and np.isnan(model.identity[[1, 2, 3, 5, 6]]).all()
    # against the driving frame of the same time: where both faces were described
    assert np.isfinite(model.identity_frame[[0, 4]]).all()
    assert np.isnan(model.identity_frame[[1, 2, 3, 5, 6]]).all()
    assert result.sheet is not None and len(result.sheet.frames) == 2
    assert set(result.sheet.frames[0][1]) == {"driving", "model", "warp"}


def test_cross_identity_pairs_every_portrait_with_every_clip(backend, clip, tmp_path) -> None:
    portrait = tmp_path / "portrait.png"
    write_image(portrait, synthetic_frames(1, (96, 128), seed=3)[0])
    results = list(evaluate_cross_identity([("portrait.png", portrait)], [("talk.mp4", clip)],
                                           backend, options(max_frames=4),
                                           analyzer=FakeAnalyzer(BOX), describer=FakeDescriber(),
                                           progress=False))
    [result] = results
    assert result.record.kind == "cross" and result.record.frames == 4
    assert result.record.source == "portrait.png" and result.sheet is None
    model = result.record.methods["model"]
    assert np.isnan(model.l1).all() and np.isfinite(model.sharpness).all()
    assert np.isfinite(model.sharpness_face).all()


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="max_frames: expected None or an integer >= 2"):
        FaceEvaluationOptions(max_frames=1)
    with pytest.raises(ValueError, match="identity_every: expected an integer >= 1"):
        FaceEvaluationOptions(identity_every=0)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    save_checkpoint(create_model("tiny-64", seed=0), path)
    return path


def test_cli_self_and_cross_identity(tiny_checkpoint, tmp_path, capsys) -> None:
    video = require(MEDIA / "talking" / "grid_bbaf2n.mpg")
    portrait = require(MEDIA / "portraits" / "woman_smiling.png")
    scores, sheet = tmp_path / "scores.json", tmp_path / "sheet.png"
    assert main(["evaluate", "-q", str(tiny_checkpoint), "--data", str(video), "--portraits",
                 str(portrait), "--driving", str(video), "--max-frames", "3", "--json", str(scores),
                 "--sheet", str(sheet), "--sheet-frames", "2", "--identity-every", "3"]) == 0
    report = capsys.readouterr().out
    assert "### Self-reenactment" in report and "### Cross-identity" in report
    assert "| grid_bbaf2n.mpg | model | 3 |" in report
    assert "| woman_smiling.png x grid_bbaf2n.mpg | model | 3 |" in report
    summary = json.loads(scores.read_text())
    assert [clip["kind"] for clip in summary["clips"]] == ["self", "cross"]
    assert set(summary["pooled"]) == {"self", "cross"} and len(summary["series"]) == 2
    assert read_image(sheet).shape[0] == 14 + 2 * (14 + 128)
    # FaceMesh's lips and eyes: mediapipe's where installed, else the bundled port; gaze needs
    # mediapipe's irises
    assert "eye r (mesh)" in report and "lips r (mesh)" in report
    driver = summary["series"][0]["driver"]
    assert all(0.05 < value < 0.6 for value in driver["eye_mesh"])  # GRID's eyes stay open
    assert all(0 <= value < 0.2 for value in driver["lips_mesh"])  # lips shut before the sentence
    if not mediapipe_available():
        assert driver["gaze_mesh"] == [None] * 3
    # AKD read by FaceMesh too, in dlib's units: the warp of frame 0 onto itself is the photo
    warp_mesh = summary["series"][0]["warp"]["akd_mesh"]
    assert warp_mesh[0] < 0.5 and all(value is not None for value in warp_mesh)
    assert "AKD (mesh)" in report and summary["series"][1]["model"]["akd_mesh"] == [None] * 3
    assert "sharp -mouth" in report and summary["clips"][1]["model"]["sharpness_face"] > 0


@pytest.mark.parametrize(("flag", "fitted"), [([], False), (["--landmark-fit"], True)])
def test_cli_renders_with_or_without_the_landmark_fit(tiny_checkpoint, monkeypatch, flag,
                                                      fitted) -> None:
    import reenact.pipelines.evaluate as evaluation

    seen = []
    monkeypatch.setattr(evaluation, "evaluate_faces",
                        lambda backend, options, **kwargs: seen.append(options) or ({}, "report"))
    assert main(["evaluate", "-q", str(tiny_checkpoint), "--data", "clip.mp4", *flag]) == 0
    assert seen[0].animate.fit_landmarks is fitted


@pytest.mark.parametrize(("arguments", "message"), [
    ([], "nothing to evaluate: give --data"),
    (["--portraits", "x.png"], "--portraits and --driving go together"),
    (["--data", "nowhere"], "nowhere: no such file or directory"),
    (["--data", "nowhere", "--mode", "crops", "--sheet", "s.png"],
     "--portraits, --driving and --sheet apply to --mode faces"),
    (["--data", "nowhere", "--max-frames", "1"], "--max-frames: expected an integer >= 2"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tiny_checkpoint, arguments, message, caplog) -> None:
    caplog.set_level(logging.ERROR)
    assert main(["evaluate", "-q", str(tiny_checkpoint), *arguments]) == 2
    assert [record.getMessage() for record in caplog.records] == [
        next(r.getMessage() for r in caplog.records)]
    assert message in caplog.records[0].getMessage()
