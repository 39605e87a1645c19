"""Per-clip and pooled scores, the report, the contact sheet."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from reenact.evaluation.report import format_face_report
from reenact.evaluation.scores import (
    ClipRecord,
    FaceSeries,
    MEAN_SCORES,
    MethodFrames,
    SeriesRecorder,
    measure_face,
    method_scores,
    series_record,
    summarize_records,
)
from reenact.evaluation.sheet import SheetRow, Tile, contact_sheet, pick_frames
from speech_fixtures import face_landmarks


def series(mouth: np.ndarray) -> FaceSeries:
    return FaceSeries(mouth_interior=mouth, mouth_opening=mouth, lips_mesh=0.8 * mouth,
                      eye_ratio=np.cos(mouth),
                      eye_mesh=np.cos(mouth), gaze_mesh=np.sin(3 * mouth),
                      yaw=np.sin(mouth), roll=np.cos(2 * mouth))


def method(mouth: np.ndarray, l1: float) -> MethodFrames:
    count = len(mouth)
    return MethodFrames(face=series(mouth), l1=np.full(count, l1), psnr=np.full(count, 30.0),
                        mouth_l1=np.full(count, 0.03), mouth_ssim=np.full(count, 0.8),
                        akd=np.full(count, 2.0), akd_mesh=np.full(count, 2.5),
                        sharpness=np.full(count, 0.5), sharpness_face=np.full(count, 0.4),
                        identity=np.where(np.arange(count) % 4 == 0, 0.2, np.nan),
                        identity_frame=np.where(np.arange(count) % 4 == 0, 0.15, np.nan))


def record(driver_mouth: np.ndarray, model_mouth: np.ndarray, name: str = "a.mp4") -> ClipRecord:
    return ClipRecord(clip=name, source=f"{name}[0]", kind="self", frames=len(driver_mouth),
                      driver=series(driver_mouth), driver_identity=np.full(len(driver_mouth), 0.1),
                      methods={"model": method(model_mouth, 0.02), "warp": method(driver_mouth, 0.01)})


def test_clip_scores_compare_each_method_with_the_driver() -> None:
    driver = np.sin(np.linspace(0, 6, 40)) + 1
    scores = method_scores([record(driver, 0.5 * driver)], "model")
    assert scores["mouth_r"] == pytest.approx(1.0) and scores["mouth_amp"] == pytest.approx(0.5)
    assert scores["lips_amp"] == pytest.approx(0.5) and scores["l1"] == pytest.approx(0.02)
    assert scores["identity"] == pytest.approx(0.2) and scores["noface"] == 0
    assert scores["sharpness"] == pytest.approx(0.5) and scores["sharpness_face"] == pytest.approx(0.4)
    warp = method_scores([record(driver, 0.5 * driver)], "warp")
    assert warp["mouth_amp"] == pytest.approx(1.0) and warp["eye_r"] == pytest.approx(1.0)


def test_pooled_scores_centre_each_clip_first() -> None:
    driver = np.sin(np.linspace(0, 6, 40))
    # the output follows each clip's motion, at an offset that differs between clips
    records = [record(driver, driver + 5, "a"), record(driver + 1, driver - 3, "b")]
    pooled = method_scores(records, "model")
    assert pooled["mouth_r"] == pytest.approx(1.0) and pooled["mouth_amp"] == pytest.approx(1.0)
    summary = summarize_records(records)
    assert [clip["clip"] for clip in summary["clips"]] == ["a", "b"]
    assert summary["pooled"]["self"]["frames"] == 80 and "cross" not in summary["pooled"]
    pooled_driver = summary["pooled"]["self"]["driver"]  # both clips' driver series, centred
    assert pooled_driver["mouth_sd"] == pytest.approx(float(np.std(driver - driver.mean())))
    assert pooled_driver["identity"] == pytest.approx(0.1)
    json.dumps(summary)
    with pytest.raises(ValueError, match="no clip could be evaluated"):
        summarize_records([])


def test_missing_faces_are_nan_and_counted() -> None:
    recorder = SeriesRecorder()
    recorder.add(measure_face(np.zeros((8, 8, 3), np.uint8), None))
    recorder.add({"l1": 0.5})
    faces = recorder.face_series()
    assert np.isnan(faces.mouth_opening).all() and recorder.array("l1")[1] == 0.5
    assert np.isnan(recorder.array("l1")[0]) and np.isnan(recorder.array("akd")).all()
    frames = MethodFrames(face=faces, **{name: recorder.array(name) for name in MEAN_SCORES})
    assert frames.noface == 2


def test_report_and_series_dump() -> None:
    driver = np.sin(np.linspace(0, 6, 20))
    clip = record(driver, np.full(20, 0.3))  # a still output: r undefined, amplitude 0
    summary = summarize_records([clip])
    report = format_face_report(summary)
    assert "### Self-reenactment" in report and "**pooled** (1 clips)" in report
    model_row = next(line for line in report.splitlines() if line.startswith("| a.mp4 | model"))
    cells = [cell.strip() for cell in model_row.strip("|").split("|")]
    header = [cell.strip() for cell in report.splitlines()[2].strip("|").split("|")]
    assert cells[2] == "20" and cells[header.index("mouth r")] == "-"
    assert cells[header.index("mouth amp")] == "0.00"
    assert cells[header.index("AKD")] == "2.00" and cells[header.index("AKD (mesh)")] == "2.50"
    assert any(line.startswith("|  | warp |") for line in report.splitlines())
    assert cells[header.index("ident")] == "0.200" and cells[header.index("ident now")] == "0.150"
    assert summary["clips"][0]["model"]["mouth_r"] is None  # strict JSON: no NaN
    json.dumps(summary, allow_nan=False)
    dumped = series_record(clip)
    assert dumped["model"]["identity"][1] is None and len(dumped["driver"]["mouth_interior"]) == 20
    json.dumps(dumped)


def test_measure_face_on_template_landmarks() -> None:
    image = np.full((120, 120, 3), 150, np.uint8)
    values = measure_face(image, face_landmarks(60, 60, 80, mouth_open=0.3))
    assert values["mouth_opening"] == pytest.approx(0.3) and values["yaw"] == pytest.approx(0.0, abs=1e-9)
    assert values["mouth_interior"] == pytest.approx(0.0)  # a flat image shows no interior
    assert all(math.isnan(v) for v in measure_face(image, None).values())


def test_contact_sheet_layout_and_frame_choice() -> None:
    tile = Tile(np.full((40, 40, 3), 200, np.uint8), face_landmarks(20, 20, 20))
    rows = [SheetRow("a.mp4", [(3, {"driving": tile, "model": tile, "warp": tile}),
                               (9, {"driving": tile, "model": tile})])]
    sheet = contact_sheet(rows, 40)
    assert sheet.shape == (14 + 14 + 40, 2 * 120 + 4, 3) and sheet.dtype == np.uint8
    assert (sheet[28:68, 240 + 4 + 80:] != 200).all()  # the missing warp tile stays background
    with pytest.raises(ValueError, match="rows: expected at least one clip"):
        contact_sheet([], 40)
    mouth, eyes, yaw = np.zeros(60), np.ones(60), np.zeros(60)
    mouth[10], eyes[40], yaw[11] = 1.0, 0.0, 1.0  # the turn is too close to the mouth frame
    assert pick_frames(mouth, eyes, yaw, 3) == [10, 30, 40]
