"""The web UI's handlers without a browser: bad input gives one line, a tiny model gives a marked,
verified video; the command binds 127.0.0.1 unless --share-lan, and loads the model once."""

from __future__ import annotations

import pytest
from speech_fixtures import synthetic_frames, tiny_audio_checkpoint, write_speech

from reenact.api import create_model
from reenact.checkpoint import save_checkpoint
from reenact.checkpoint.audio_format import save_audio_checkpoint
from reenact.cli import build_parser, main
from reenact.engine import TorchBackend
from reenact.io import VideoWriter, write_image
from reenact.provenance import read_manifest
from reenact.ui.handlers import Models, UiError, error_message, render_animate, render_talk


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Tiny motion and audio checkpoints, a 96x96 'portrait' (a face crop: crop none) and an
    8-frame driving clip."""
    root = tmp_path_factory.mktemp("ui")
    motion = create_model("tiny-64", seed=0)
    save_checkpoint(motion, root / "motion")
    save_audio_checkpoint(tiny_audio_checkpoint(motion), root / "audio")
    write_image(root / "photo.png", synthetic_frames(1, (96, 96))[0])
    with VideoWriter(root / "driving.mp4", 25, 96, 96) as writer:
        for frame in synthetic_frames(8, (96, 96)):
            writer.write(frame)
    write_speech(root / "speech.wav", 0.4)
    return root


@pytest.fixture(scope="module")
def models(files, tmp_path_factory):
    from reenact.checkpoint.audio_format import resolve_audio_checkpoint

    model = create_model("tiny-64", seed=0)
    backend = TorchBackend(model, device="cpu")
    audio = resolve_audio_checkpoint(files / "audio", num_kp=model.config.num_kp)
    return Models(backend=lambda: backend, speech=lambda: (backend, audio),
                  record=lambda: {"name": "tiny"}, speech_record=lambda: {"name": "tiny"},
                  workdir=tmp_path_factory.mktemp("outputs"))


def test_a_missing_upload_names_the_field(models, files):
    with pytest.raises(UiError, match=r"^portrait: upload a file first$"):
        render_animate(models, None, str(files / "driving.mp4"))
    with pytest.raises(UiError, match=r"^speech: upload a file first$"):
        render_talk(models, str(files / "photo.png"), "")


def test_bad_options_and_files_are_one_line(models, files, tmp_path):
    with pytest.raises(UiError, match=r"max frames: expected a whole number >= 0"):
        render_animate(models, str(files / "photo.png"), str(files / "driving.mp4"),
                       max_frames=2.5)
    text = tmp_path / "notes.png"
    text.write_text("not an image\nsecond line\n")
    with pytest.raises(ValueError) as caught:
        render_animate(models, str(text), str(files / "driving.mp4"), crop="none")
    message = error_message(caught.value)
    assert "notes.png" in message and "\n" not in message
    assert error_message(RuntimeError("first\nsecond")) == "first"
    assert error_message(RuntimeError()) == "RuntimeError"
    with pytest.raises(ValueError, match=r"cannot spell 'привет' in English phones"):
        render_talk(models, str(files / "photo.png"), str(files / "speech.wav"), crop="none",
                    transcript="bin привет")


def test_an_empty_transcript_box_means_none(models, files, monkeypatch):
    from reenact.pipelines import talk

    seen = []
    monkeypatch.setattr(talk, "talk", lambda *args, options, **kwargs: seen.append(options)
                        or (_ for _ in ()).throw(RuntimeError("stop")))
    for text in ("  \n", "bin blue"):
        with pytest.raises(RuntimeError, match="stop"):
            render_talk(models, str(files / "photo.png"), str(files / "speech.wav"),
                        transcript=text)
    assert [options.transcript for options in seen] == [None, "bin blue"]


def test_animate_gives_a_marked_verified_video(models, files):
    steps = []
    result = render_animate(models, str(files / "photo.png"), str(files / "driving.mp4"),
                            crop="none", eyes="lids", body="model", max_frames=5,
                            label="AI-generated",
                            progress=lambda fraction, text: steps.append(text))
    assert result.video.is_file() and result.marked
    assert result.files == [str(result.video), str(result.manifest)]
    manifest = read_manifest(result.video)
    assert manifest["run_id"] == result.run_id and manifest["label"] == "AI-generated"
    assert manifest["options"]["eyes"] == "lids" and manifest["options"]["body"] == "model"
    assert f"run `{result.run_id}`" in result.provenance
    assert "**AI-generated**" in result.provenance and "watermark found" in result.provenance
    assert steps == ["loading the model", "verifying the watermark"]


def test_talk_gives_a_marked_video(models, files):
    result = render_talk(models, str(files / "photo.png"), str(files / "speech.wav"), crop="none")
    assert result.marked and read_manifest(result.video)["run_id"] == result.run_id


def test_page_errors_are_gradio_errors_with_one_line(models):
    gr = pytest.importorskip("gradio")
    from reenact.ui.app import page_handler

    handle = page_handler(gr, render_animate, models, ["crop"])
    with pytest.raises(gr.Error) as caught:
        handle(None, None, "none", progress=lambda *args, **kwargs: None)
    assert caught.value.message == "portrait: upload a file first"


@pytest.mark.parametrize(("flags", "host"), [([], "127.0.0.1"), (["--share-lan"], "0.0.0.0")])
def test_the_command_binds_loads_once_and_launches(files, monkeypatch, flags, host):
    pytest.importorskip("gradio")
    import reenact.ui.app as app

    launched, built = {}, []
    monkeypatch.setattr(app, "launch", lambda page, **kwargs: launched.update(kwargs))
    real_build = app.build_app

    def build(models, samples):
        built.append(models.backend() is models.backend())  # loaded once, then reused
        return real_build(models, samples)

    monkeypatch.setattr(app, "build_app", build)
    assert main(["ui", "-q", "--checkpoint", str(files / "motion"), "--audio-checkpoint",
                 str(files / "audio"), "--port", "7999", *flags]) == 0
    assert launched["host"] == host and launched["port"] == 7999 and built == [True]


def test_port_must_be_a_port_number():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ui", "--port", "70000"])
    assert build_parser().parse_args(["ui"]).port == 7860
