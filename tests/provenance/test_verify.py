"""`reenact verify`: exit codes 0 / 1 / 2, what it reports, videos re-encoded elsewhere, images."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from provenance_clips import decode, downscale, encode, textured
from reenact.cli import main
from reenact.provenance.manifest import manifest_path, write_manifest
from reenact.provenance.record import Provenance
from reenact.provenance.verify import verify_file
from reenact.provenance.writers import MarkedVideoWriter, write_marked_image

FRAMES = textured(30, 240, 320)


@pytest.fixture(scope="module")
def marked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Provenance]:
    """A 1.2 s video written by reenact, with its manifest."""
    path = tmp_path_factory.mktemp("marked") / "made.mp4"
    provenance = Provenance.new(model={"name": "tiny-64"})
    with MarkedVideoWriter(path, 25, 320, 240, provenance=provenance) as writer:
        writer.write_batch(np.stack(FRAMES))
    write_manifest(path, provenance)
    return path, provenance


@pytest.fixture(scope="module")
def unmarked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("unmarked") / "camera.mp4"
    path.write_bytes(encode(FRAMES, crf=18))
    return path


def run(args: list[object], capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> tuple[int, str, list[str]]:
    caplog.clear()
    code = main(["verify", *map(str, args)])
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    return code, capsys.readouterr().out, errors


def test_marked_video(marked: tuple[Path, Provenance], capsys: pytest.CaptureFixture[str],
                      caplog: pytest.LogCaptureFixture) -> None:
    path, provenance = marked
    code, out, errors = run([path], capsys, caplog)
    assert code == 0 and not errors
    assert f"{path}: MARKED as synthetic (made by reenact)" in out
    assert f"watermark: format 1, reenact 0.1.0, run {provenance.run_id[:4]}" in out
    assert f"metadata: says synthetic, reenact 0.1.0, model tiny-64, run {provenance.run_id}" in out
    assert f"manifest: run {provenance.run_id}, model tiny-64" in out
    assert "sha256 matches" in out


def test_unmarked_video(unmarked: Path, capsys: pytest.CaptureFixture[str],
                        caplog: pytest.LogCaptureFixture) -> None:
    code, out, errors = run([unmarked], capsys, caplog)
    assert code == 1 and not errors
    assert f"{unmarked}: NOT marked: no reenact watermark found" in out
    assert "watermark: none found (30 frames read)" in out
    assert "manifest: none (camera.mp4.reenact.json not found)" in out


def test_reencoded_elsewhere_keeps_the_watermark(marked: tuple[Path, Provenance],
                                                 tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    path, provenance = marked
    copy = tmp_path / "shared.mp4"  # downscaled and re-encoded: no tags, no manifest
    copy.write_bytes(encode(downscale(decode(path), 0.5), crf=23))
    code, out, _ = run([copy], capsys, caplog)
    assert code == 0
    assert f"run {provenance.run_id[:4]}" in out
    assert "metadata: no reenact tags" in out and "manifest: none" in out


def test_edited_file_and_json(marked: tuple[Path, Provenance], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str],
                              caplog: pytest.LogCaptureFixture) -> None:
    path, provenance = marked
    copy = tmp_path / path.name
    copy.write_bytes(path.read_bytes() + b"\0")  # changed after it was written
    manifest_path(copy).write_bytes(manifest_path(path).read_bytes())
    code, out, _ = run([copy, "--json"], capsys, caplog)
    assert code == 0
    [report] = json.loads(out)
    assert report["marked"] is True and report["kind"] == "video"
    assert report["watermark"]["payload"]["run_id"] == provenance.run_id[:4]
    assert report["output_sha256_matches"] is False
    assert report["metadata_fields"]["model"] == "tiny-64"
    assert report["manifest"]["run_id"] == provenance.run_id


def test_errors_exit_2_with_one_line(marked: tuple[Path, Provenance], unmarked: Path,
                                     tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "notes.txt").write_text("not a video\n")
    cases = [(tmp_path / "missing.mp4", "missing.mp4: file not found"),
             (tmp_path / "notes.txt", "notes.txt: not a video file"),
             (tmp_path, "is a directory")]
    for path, message in cases:
        code, _, errors = run([path], capsys, caplog)
        assert code == 2 and len(errors) == 1 and "\n" not in errors[0]
        assert message in errors[0], errors[0]
    # several files: an error outranks "not marked", which outranks "marked"
    assert run([marked[0], unmarked], capsys, caplog)[0] == 1
    assert run([marked[0], tmp_path / "missing.mp4", unmarked], capsys, caplog)[0] == 2


def test_images(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                caplog: pytest.LogCaptureFixture) -> None:
    frame = FRAMES[0]
    write_marked_image(tmp_path / "made.png", frame)
    Image.fromarray(frame).save(tmp_path / "photo.png")
    code, out, _ = run([tmp_path / "made.png"], capsys, caplog)
    assert code == 0 and "MARKED" in out and "metadata: says synthetic" in out
    code, out, _ = run([tmp_path / "photo.png"], capsys, caplog)
    assert code == 1 and "watermark: none found (1 frame read)" in out


def test_clips_of_an_edited_video(marked: tuple[Path, Provenance], tmp_path: Path) -> None:
    # 1.2 s of reenact output followed by 2 s of camera footage: the marked clip still tells
    frames = decode(marked[0]) + textured(50, 240, 320, seed=9)
    path = tmp_path / "edit.mp4"
    path.write_bytes(encode(frames, crf=20))
    result = verify_file(path)
    assert result.marked and result.detection.payload == marked[1].payload()
    # reading stops at the first look (after one clip) that finds the mark: the rest is not read
    assert [clip.detection.present for clip in result.clips] == [True]
    assert result.detection.frames < len(frames)
    with av.open(str(path)) as container:
        assert "comment" not in container.metadata


def test_verify_imports_neither_torch_nor_scipy(marked: tuple[Path, Provenance], unmarked: Path,
                                               tmp_path: Path) -> None:
    import subprocess
    import sys

    # a file named like an image but holding a video: the reader is chosen by content; the
    # unmarked file makes the tiled layer search every hypothesis
    renamed = tmp_path / "looks_like.png"
    renamed.write_bytes(marked[0].read_bytes())
    code = ("import sys; from reenact.cli import main; code = main(['verify', *sys.argv[1:]]); "
            "print('torch' in sys.modules, 'scipy' in sys.modules, code)")
    result = subprocess.run([sys.executable, "-c", code, str(renamed), str(unmarked)],
                            capture_output=True, text=True, check=True)
    assert result.stdout.split()[-3:] == ["False", "False", "1"], result.stdout + result.stderr


def canvas(frame: np.ndarray, scale: float = 0.8, colour: int = 24) -> np.ndarray:
    """A screen recording's imitation: the frame scaled into a grey canvas of its own size."""
    height, width = frame.shape[:2]
    size = (round(width * scale) // 2 * 2, round(height * scale) // 2 * 2)
    out = np.full_like(frame, colour)
    top, left = (height - size[1]) // 3, (width - size[0]) // 2
    out[top:top + size[1], left:left + size[0]] = np.asarray(
        Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR))
    return out


def test_the_dct_layer_reads_inside_a_canvas(marked: tuple[Path, Provenance],
                                            unmarked: Path, tmp_path: Path) -> None:
    # the frame scaled by 0.8 into a canvas: the DCT layer reads the content rectangle, whose
    # canonical image is the marked frame's own once the canvas is cut off
    path, provenance = marked
    copy = tmp_path / "screen.mp4"
    copy.write_bytes(encode([canvas(frame) for frame in decode(path)], crf=23))
    result = verify_file(copy)
    assert result.marked and result.detection.payload == provenance.payload()
    assert result.layer == "dct"
    assert result.transform == "cutting borders (content 256x192 at 32,16 of 320x240)"
    plain = verify_file(path)
    assert result.detection.false_alarm > plain.detection.false_alarm  # the rectangle's tests
    other = tmp_path / "camera_screen.mp4"
    other.write_bytes(encode([canvas(frame) for frame in decode(unmarked)], crf=23))
    assert not verify_file(other).marked


def test_a_marked_image_in_a_letterbox(tmp_path: Path) -> None:
    write_marked_image(tmp_path / "made.png", FRAMES[0])
    marked = np.asarray(Image.open(tmp_path / "made.png").convert("RGB"))
    Image.fromarray(canvas(marked)).save(tmp_path / "screen.png")
    result = verify_file(tmp_path / "screen.png")
    assert result.marked and result.layer == "dct"
    assert result.transform == "cutting borders (content 256x192 at 32,16 of 320x240)"


def test_the_tiled_layer_reads_a_long_video_up_to_its_frame_cap(unmarked: Path, tmp_path: Path,
                                                                monkeypatch) -> None:
    # 8.4 s of camera footage at 25 fps: the tiled layer reads every 3rd frame, 70 in all, but
    # stops at the cap; the DCT layer still reads every frame
    import reenact.provenance.verify as verify
    from reenact.provenance.watermark.tile_detect import TileDetector

    path = tmp_path / "long.mp4"
    path.write_bytes(encode(textured(210, 240, 320, seed=4), crf=20))
    added, searched = [], []
    add, detect = TileDetector.add_luma, TileDetector.detection

    def counted_add(self, luma):
        added.append(1)
        return add(self, luma)

    def counted_detect(self, *, tests=1):
        searched.append((self.frames, tests))
        return detect(self, tests=tests)

    monkeypatch.setattr(TileDetector, "add_luma", counted_add)
    monkeypatch.setattr(TileDetector, "detection", counted_detect)
    monkeypatch.setattr(verify, "_TILED_MAX_FRAMES", 5)
    result = verify_file(path)
    assert not result.marked and result.detection.frames == 210
    assert len(added) == 5
    # the look after 1 clip (2 s: 17 frames if uncapped), none after 4 (8 s: no new frames), the
    # end's and the joint decode with the DCT layer's bits: one search of the 5 frames, each look
    # a test
    assert searched == [(5, 1), (5, 2), (5, 3)]
