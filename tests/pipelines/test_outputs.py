"""A run's outputs (video + manifest) appear together or not at all, an earlier output survives a
failed run, no input is ever overwritten, and what can be checked is checked before rendering
(issue 17, item 3 and the late output-name errors of item 9)."""

from __future__ import annotations

import logging
import os

import pytest
from conftest import make_clip, write_video
from speech_fixtures import tiny_audio_checkpoint, write_speech

from reenact.api import create_model
from reenact.checkpoint import save_checkpoint
from reenact.checkpoint.audio_format import save_audio_checkpoint
from reenact.cli import main
from reenact.io import write_image
from reenact.provenance import read_manifest


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    motion = create_model("tiny-64", seed=0)
    save_checkpoint(motion, root / "motion")
    save_audio_checkpoint(tiny_audio_checkpoint(motion), root / "audio")
    write_image(root / "photo.png", make_clip(96, 1, seed=3)[0])
    write_video(root / "driving.mp4", make_clip(64, 12, seed=0))
    write_speech(root / "speech.wav", 0.5)
    return root


def animate_args(media, output, *extra):
    return ["animate", "-q", "--source", str(media / "photo.png"), "--driving",
            str(media / "driving.mp4"), "--checkpoint", str(media / "motion"), "--crop", "none",
            "-o", str(output), *map(str, extra)]


def talk_args(media, output):
    return ["talk", "-q", "--source", str(media / "photo.png"), "--audio", str(media / "speech.wav"),
            "--checkpoint", str(media / "motion"), "--audio-checkpoint", str(media / "audio"),
            "--crop", "none", "-o", str(output)]


def snapshot(directory):
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def errors(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.fixture
def rendering(monkeypatch):
    """Counts frames rendered: a check that fails before any work renders none."""
    from reenact.engine.torch_backend import TorchBackend

    calls = []
    render = TorchBackend.render

    def counting(self, *args, **kwargs):
        calls.append(1)
        return render(self, *args, **kwargs)

    monkeypatch.setattr(TorchBackend, "render", counting)
    return calls


@pytest.mark.parametrize("command", ["animate", "talk"])
def test_manifest_name_taken_by_a_directory_fails_before_rendering(tmp_path, media, caplog,
                                                                  rendering, command):
    out = tmp_path / "out.mp4"
    (tmp_path / "out.mp4.reenact.json").mkdir()
    args = animate_args(media, out) if command == "animate" else talk_args(media, out)
    assert main(args) == 2
    assert errors(caplog) == [f"{tmp_path / 'out.mp4.reenact.json'}: is a directory; give a file "
                              f"name for the output"]
    assert not rendering and sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4.reenact.json"]


def test_manifest_never_overwrites_an_input(tmp_path, media, caplog, rendering):
    source = tmp_path / "out.mp4.reenact.json"  # an input that happens to have the manifest's name
    source.write_bytes((media / "photo.png").read_bytes())
    args = animate_args(media, tmp_path / "out.mp4")
    args[args.index("--source") + 1] = str(source)
    assert main(args) == 2
    assert "out.mp4.reenact.json: would overwrite an input" in errors(caplog)[0]
    assert source.read_bytes() == (media / "photo.png").read_bytes() and not rendering
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4.reenact.json"]


def test_too_long_a_manifest_name_fails_before_rendering(tmp_path, media, caplog, rendering):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    # the video's name and temporary name (+18 characters) fit; the manifest's temporary one does not
    out = tmp_path / ("x" * (limit - 18 - len(".mp4")) + ".mp4")
    assert main(animate_args(media, out)) == 2
    assert "File name too long" in errors(caplog)[0] and not rendering
    assert list(tmp_path.iterdir()) == []


def test_wrong_output_extension_fails_before_any_work(tmp_path, media, caplog, rendering, monkeypatch):
    import reenact.pipelines.animate as pipeline
    import reenact.pipelines.face_pass_process as face_pass

    monkeypatch.setattr(pipeline, "run_face_pass", lambda *a, **k: pytest.fail("tracked faces"))
    monkeypatch.setattr(face_pass.FacePassProcess, "__init__",
                        lambda *a, **k: pytest.fail("started the face pass"))
    assert main(animate_args(media, tmp_path / "out.avi")) == 2
    assert errors(caplog) == [f"{tmp_path / 'out.avi'}: videos are written as MP4; use a .mp4 or "
                              f".m4v file name"]
    assert list(tmp_path.iterdir()) == [] and not rendering


def test_a_failed_run_keeps_the_earlier_output_and_manifest(tmp_path, media, caplog, monkeypatch):
    out = tmp_path / "out.mp4"
    assert main(animate_args(media, out)) == 0
    before = snapshot(tmp_path)
    assert sorted(before) == ["out.mp4", "out.mp4.reenact.json"]

    import reenact.provenance.manifest as manifest

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(manifest, "build_manifest", full_disk)  # the manifest cannot be written
    assert main(animate_args(media, out, "--max-frames", 4)) == 2
    assert "No space left on device" in errors(caplog)[0]
    assert snapshot(tmp_path) == before  # no new video without its manifest, no temp files
    monkeypatch.undo()
    assert main(animate_args(media, out, "--max-frames", 4)) == 0
    assert read_manifest(out)["options"]["max_frames"] == 4


def test_the_manifest_rename_failing_puts_the_old_video_back(tmp_path, media, monkeypatch):
    out = tmp_path / "out.mp4"
    assert main(animate_args(media, out)) == 0
    before = snapshot(tmp_path)
    replace = os.replace

    def fail_on_manifest(source, destination):
        if str(destination).endswith(".reenact.json"):
            raise OSError(28, "No space left on device")
        return replace(source, destination)

    monkeypatch.setattr(os, "replace", fail_on_manifest)
    assert main(animate_args(media, out, "--max-frames", 4)) == 2
    assert snapshot(tmp_path) == before


def test_truncated_matroska_driving_fails_before_rendering(tmp_path, media, caplog, rendering):
    import av

    driving = tmp_path / "driving.mkv"
    with av.open(str(driving), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for frame in make_clip(64, 60, seed=0):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    driving.write_bytes(driving.read_bytes()[: driving.stat().st_size * 3 // 4])
    args = animate_args(media, tmp_path / "out.mp4")
    args[args.index("--driving") + 1] = str(driving)
    assert main(args) == 2
    assert "driving.mkv: video is truncated: " in errors(caplog)[0] and not rendering
    assert sorted(p.name for p in tmp_path.iterdir()) == ["driving.mkv"]
    caplog.clear()
    assert main([*args, "--max-frames", "20"]) == 0  # the frames that are there are usable


def test_dub_refuses_a_video_wider_than_it_can_write_before_any_work(tmp_path, media, caplog,
                                                                     monkeypatch):
    import av
    import numpy as np

    import reenact.pipelines.dub as pipeline

    monkeypatch.setattr(pipeline, "analyze_video", lambda *a, **k: pytest.fail("analyzed"))
    wide = tmp_path / "wide.mp4"
    with av.open(str(wide), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 8200, 16, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 8200, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    assert main(["dub", "-q", "--video", str(wide), "--audio", str(media / "speech.wav"),
                 "--checkpoint", str(media / "motion"), "--audio-checkpoint", str(media / "audio"),
                 "-o", str(tmp_path / "out.mp4")]) == 2
    assert errors(caplog) == [f"{wide}: is 8200x16 px; dub writes the video at its own size, at most "
                              f"8192 px per side: downscale it first"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wide.mp4"]


def test_a_label_no_font_can_draw_fails_before_any_work(tmp_path, media, caplog, rendering):
    assert main(animate_args(media, tmp_path / "out.mp4", "--label", "AI 𐀀")) == 2
    assert errors(caplog)[0].startswith("label: no font installed here has glyphs for '𐀀'")
    assert list(tmp_path.iterdir()) == [] and not rendering
