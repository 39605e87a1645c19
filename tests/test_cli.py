import json
import logging
import subprocess
import sys

import numpy as np
import pytest

from conftest import FOMM, MEDIA, require, write_reference_checkpoint
from reenact.cli import main
from reenact.io import probe_video


def test_init_info_presets(tmp_path, capsys):
    assert main(["-q", "init", "--preset", "tiny-64", "-o", str(tmp_path / "t")]) == 0
    assert main(["info", str(tmp_path / "t")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["metadata"]["preset"] == "tiny-64" and info["numel"]["generator"] > 0
    assert main(["presets"]) == 0
    assert "vox-256" in capsys.readouterr().out


def test_convert_refuses_existing_output(tmp_path, caplog):
    (tmp_path / "out").mkdir()
    code = main(["convert", str(FOMM / "tiny-a.pth.tar"), "--config", str(FOMM / "tiny-a.yaml"),
                 "-o", str(tmp_path / "out")])
    assert code == 2
    assert "already exists (use --overwrite to replace it)" in caplog.text


def test_convert_missing_input(tmp_path, caplog):
    caplog.set_level(logging.ERROR)
    _, config = write_reference_checkpoint(tmp_path / "reference")
    code = main(["convert", str(tmp_path / "nope.pth.tar"), "--config", str(config),
                 "-o", str(tmp_path / "out")])
    assert code == 2
    assert "nope.pth.tar: checkpoint file not found" in caplog.text
    assert not (tmp_path / "out").exists()


def test_console_script_reports_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "reenact.cli", "convert", str(tmp_path / "x.pth.tar"),
                             "--config", str(tmp_path / "x.yaml"), "-o", str(tmp_path / "o")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"ERROR reenact: {tmp_path / 'x.yaml'}: config file not found"]


def test_export_onnx_and_animate_with_onnx_backend(tmp_path, caplog):
    pytest.importorskip("onnxruntime")
    caplog.set_level(logging.INFO)
    export = tmp_path / "onnx"
    assert main(["export-onnx", "--preset", "tiny-64", "-o", str(export)]) == 0
    assert "onnxruntime vs torch, max abs difference: keypoint_detector" in caplog.text
    assert json.loads((export / "export.json").read_text())["metadata"]["preset"] == "tiny-64"
    caplog.clear()
    assert main(["export-onnx", "--preset", "tiny-64", "-o", str(export)]) == 2
    assert "already exists (use --overwrite to replace it)" in caplog.text
    assert main(["-q", "export-onnx", "--preset", "tiny-64", "-o", str(export), "--overwrite",
                 "--no-verify"]) == 0

    media = ["--source", str(require(MEDIA / "portraits" / "woman_smiling.png")), "--driving",
             str(require(MEDIA / "driving" / "lp_d12.mp4")), "--crop", "none", "--crop-only",
             "--max-frames", "8", "--backend", "onnx", "--threads", "1"]
    assert main(["animate", "-q", *media, "--checkpoint", str(export), "-o", str(tmp_path / "a.mp4")]) == 0
    assert probe_video(tmp_path / "a.mp4").num_frames == 8
    # a checkpoint that is not an export is exported for the run
    assert main(["-q", "init", "--preset", "tiny-64", "-o", str(tmp_path / "tiny")]) == 0
    assert main(["animate", "-q", *media, "--checkpoint", str(tmp_path / "tiny"), "--onnx-optimization",
                 "basic", "-o", str(tmp_path / "b.mp4")]) == 0
    assert probe_video(tmp_path / "b.mp4").num_frames == 8


@pytest.mark.parametrize("args, message", [
    (["export-onnx", "-o", "x"], "give either a CHECKPOINT or --preset NAME (random weights)"),
    (["export-onnx", "default", "--preset", "tiny-64", "-o", "x"], "give either a CHECKPOINT or --preset"),
    (["animate", "--backend", "onnx", "--precision", "bf16"], "--precision and --channels-last apply to "
                                                              "--backend torch"),
    (["animate", "--backend", "onnx", "--channels-last"], "--precision and --channels-last apply to"),
    (["animate", "--backend", "onnx", "--device", "cuda"], "--backend onnx runs on the CPU; got --device cuda"),
    (["animate", "--onnx-optimization", "all"], "--onnx-optimization applies to --backend onnx"),
])
def test_backend_and_export_usage_errors(tmp_path, caplog, args, message):
    if args[0] == "animate":
        args = [*args, "--source", "s.png", "--driving", "d.mp4", "-o", str(tmp_path / "o.mp4")]
    caplog.set_level(logging.ERROR)
    assert main(args) == 2
    assert message in caplog.text
    assert list(tmp_path.iterdir()) == []


# -- issue 17, item 1: --overwrite never deletes what reenact did not write -----------------------


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_overwrite_refuses_a_checkpoint_directory_holding_other_files(tmp_path, caplog):
    caplog.set_level(logging.ERROR)
    reference, config = write_reference_checkpoint(tmp_path / "work")
    assert main(["-q", "init", "--preset", "tiny-64", "-o", str(tmp_path / "work")]) == 2
    # the user's own files next to a checkpoint: the converter's input and a video
    output = tmp_path / "work"
    assert main(["-q", "init", "--preset", "tiny-64", "-o", str(tmp_path / "ckpt")]) == 0
    for name in ("config.json", "index.json"):
        (output / name).write_bytes((tmp_path / "ckpt" / name).read_bytes())
    (output / "talk.mp4").write_bytes(b"not really a video")
    before = _tree(tmp_path)
    caplog.clear()
    assert main(["convert", str(reference), "--config", str(config), "-o", str(output),
                 "--overwrite"]) == 2
    assert "holds files that are not part of a reenact checkpoint (talk.mp4, tiny-64.pth.tar, " \
           "tiny-64.yaml); refusing to replace it" in caplog.text
    assert main(["init", "--preset", "tiny-64", "-o", str(output), "--overwrite"]) == 2
    assert _tree(tmp_path) == before
    # a checkpoint directory holding only checkpoint files is replaced, with nothing left aside
    assert main(["-q", "init", "--preset", "tiny-64", "--seed", "1", "-o", str(tmp_path / "ckpt"),
                 "--overwrite"]) == 0
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["metadata"]["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt", "work"]


def test_export_overwrite_refuses_an_export_directory_holding_other_files(tmp_path, caplog):
    pytest.importorskip("onnxruntime")
    caplog.set_level(logging.ERROR)
    export = tmp_path / "onnx"
    assert main(["-q", "export-onnx", "--preset", "tiny-64", "-o", str(export), "--no-verify"]) == 0
    (export / "notes.txt").write_text("mine")
    before = _tree(tmp_path)
    assert main(["-q", "export-onnx", "--preset", "tiny-64", "-o", str(export), "--overwrite",
                 "--no-verify"]) == 2
    assert "holds files that are not part of an ONNX export (notes.txt)" in caplog.text
    assert _tree(tmp_path) == before


# -- issue 17, item 2: a caught termination leaves no temp file and no output ---------------------


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_termination_mid_render_leaves_nothing(tmp_path, name):
    import signal
    import time

    from conftest import make_clip, write_video
    from reenact.io import write_image

    if signal.getsignal(getattr(signal, name)) is signal.SIG_IGN:  # the child inherits it
        pytest.skip(f"{name} is ignored in this session (e.g. under nohup), so the CLI keeps it ignored")
    write_video(tmp_path / "driving.mp4", np.concatenate([make_clip(64, 50, seed=s) for s in range(40)]))
    write_image(tmp_path / "photo.png", make_clip(96, 1, seed=1)[0])
    assert main(["-q", "init", "--preset", "tiny-64", "-o", str(tmp_path / "tiny")]) == 0
    before = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "out" / "animated.mp4"
    out.parent.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "reenact.cli", "animate", "-q", "--source", str(tmp_path / "photo.png"),
         "--driving", str(tmp_path / "driving.mp4"), "--crop", "none", "--checkpoint",
         str(tmp_path / "tiny"), "--batch-size", "1", "--threads", "1", "-o", str(out)],
        stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(out.parent.iterdir()) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # until the render has started writing its temporary file
    assert process.poll() is None, "finished before it could be stopped"
    time.sleep(0.3)
    process.send_signal(getattr(signal, name))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + getattr(signal, name)
    assert stderr.strip().splitlines() == [f"ERROR reenact: terminated ({name})"]
    assert list(out.parent.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "out"])


def _children(pid: int) -> list[int]:
    from pathlib import Path

    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # the parent's pid, after the state
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_termination_during_start_up_ends_the_audio_feature_process(tmp_path):
    import os
    import signal
    import time

    from conftest import make_clip
    from reenact.io import write_image
    from speech_fixtures import write_speech

    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        pytest.skip("SIGTERM is ignored in this session (e.g. under nohup)")
    write_image(tmp_path / "photo.png", make_clip(96, 1, seed=1)[0])
    write_speech(tmp_path / "speech.wav", 2.0)
    process = subprocess.Popen(
        [sys.executable, "-m", "reenact.cli", "talk", "-q", "--source", str(tmp_path / "photo.png"),
         "--audio", str(tmp_path / "speech.wav"), "--crop", "none", "-o", str(tmp_path / "out.mp4")],
        stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    children = []
    while not children and process.poll() is None and time.monotonic() < deadline:
        children = _children(process.pid)
        time.sleep(0.01)
    assert children, "talk started no audio feature process"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM
    assert stderr.strip().splitlines() == ["ERROR reenact: terminated (SIGTERM)"]
    for pid in children:
        assert not os.path.exists(f"/proc/{pid}"), "the feature process outlived the command"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png", "speech.wav"]


# -- issue 17, item 8: one line naming the file and the problem, exit code 2, no traceback --------


def _one_line_error(args):
    result = subprocess.run([sys.executable, "-m", "reenact.cli", "-q", *map(str, args)],
                            capture_output=True, text=True, timeout=300)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_yaml_nested_thousands_deep(tmp_path):
    reference, _ = write_reference_checkpoint(tmp_path)
    (tmp_path / "deep.yaml").write_text("model_params:\n  x: " + "[" * 20000 + "]" * 20000 + "\n")
    line = _one_line_error(["convert", reference, "--config", tmp_path / "deep.yaml",
                            "-o", tmp_path / "out"])
    assert line.endswith("deep.yaml: not a model config (yaml nested too deeply)")
    assert not (tmp_path / "out").exists()


def test_yaml_subnormal_scale_factor(tmp_path):
    from conftest import TINY_FOMM_YAML

    reference, _ = write_reference_checkpoint(tmp_path)
    (tmp_path / "tiny.yaml").write_text(TINY_FOMM_YAML.replace("scale_factor: 0.5\n", "scale_factor: 1e-320\n", 1))
    line = _one_line_error(["convert", reference, "--config", tmp_path / "tiny.yaml",
                            "-o", tmp_path / "out"])
    assert line.endswith("tiny.yaml: a number in the model config is out of range (scale factors "
                         "are 1 or 1/n for an integer n: 1, 0.5, 0.25, ...) (cannot convert float "
                         "infinity to integer)")


@pytest.mark.parametrize("command", [
    ["animate", "--source", "s.png", "--driving", "d.mp4", "-o", "o.mp4"],
    ["talk", "--source", "s.png", "--audio", "a.wav", "-o", "o.mp4"],
    ["dub", "--video", "v.mp4", "--audio", "a.wav", "-o", "o.mp4"],
    ["train", "--data", "d", "-o", "run"],
    ["evaluate", "default", "--data", "d"],
])
def test_zero_threads(tmp_path, command):
    assert _one_line_error([*command, "--threads", "0"]) == \
        "ERROR reenact: --threads: expected an integer >= 1, got 0"


def test_quiet_before_the_command_is_kept(monkeypatch, capsys):
    """`reenact -q animate ...` showed progress bars: the subcommand reset the -q given before it."""
    levels = []
    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: levels.append(kwargs["level"]))
    for argv in (["-q", "presets"], ["presets", "-q"], ["presets"], ["-v", "presets"]):
        assert main(argv) == 0
    assert levels == [logging.WARNING, logging.WARNING, logging.INFO, logging.DEBUG]


# -- issue 19: OpenMP threads that sleep at once on a shared CPU ---------------------------------


@pytest.mark.parametrize("environment, expected", [
    ({}, "PASSIVE"),  # sleeping OpenMP threads: no spinning for a descheduled sibling
    ({"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE"),  # the user's choice stands
    ({"GOMP_SPINCOUNT": "300000"}, None),
])
def test_the_cli_prefers_sleeping_openmp_threads(environment, expected):
    import os

    code = ("import os; from reenact.cli.main import _prefer_sleeping_threads; "
            "_prefer_sleeping_threads(); print(os.environ.get('OMP_WAIT_POLICY'))")
    clean = {k: v for k, v in os.environ.items()
             if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**clean, **environment}, check=True)
    assert result.stdout.strip() == str(expected)


def test_the_wait_policy_is_left_alone_once_torch_is_loaded(monkeypatch):
    import os

    from reenact.cli.main import _prefer_sleeping_threads

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    for name in ("GOMP_SPINCOUNT", "KMP_BLOCKTIME"):
        monkeypatch.delenv(name, raising=False)
    import torch  # noqa: F401  (loaded: its OpenMP runtime has read the environment already)

    _prefer_sleeping_threads()
    assert "OMP_WAIT_POLICY" not in os.environ


# -- issue 19: the fastest exact path by default --------------------------------------------------


@pytest.mark.parametrize("extra, expected", [
    ([], True),  # fp32 on the CPU: Winograd convolutions by default
    (["--no-fast-conv"], False),
    (["--fast-conv"], True),
])
def test_fast_conv_is_the_default_for_fp32_on_the_cpu(tmp_path, extra, expected):
    from reenact.cli.backend import build_backend
    from reenact.cli.parser import build_parser

    assert main(["-q", "init", "--preset", "tiny-64", "-o", str(tmp_path / "tiny")]) == 0
    args = build_parser().parse_args(["animate", "--source", "s.png", "--driving", "d.mp4", "-o",
                                      "o.mp4", "--checkpoint", str(tmp_path / "tiny"),
                                      "--device", "cpu", *extra])
    assert build_backend(args).fast_conv is expected


def test_fast_conv_is_off_by_default_where_it_does_not_apply(tmp_path, caplog):
    from reenact.cli.backend import use_fast_conv
    from reenact.cli.parser import build_parser

    common = ["animate", "--source", "s.png", "--driving", "d.mp4", "-o", "o.mp4", "--device", "cpu"]
    assert not use_fast_conv(build_parser().parse_args([*common, "--precision", "bf16"]))
    assert not use_fast_conv(build_parser().parse_args([*common, "--backend", "onnx"]))
    caplog.set_level(logging.ERROR)
    assert main([*common, "--backend", "onnx", "--fast-conv"]) == 2
    assert "--fast-conv applies to --backend torch" in caplog.text


def test_the_record_says_how_the_model_ran():
    from reenact.cli.backend import model_record
    from reenact.cli.parser import build_parser

    common = ["animate", "--source", "s.png", "--driving", "d.mp4", "-o", "o.mp4", "--device", "cpu"]
    record = model_record(build_parser().parse_args(common))
    assert (record["backend"], record["precision"], record["fast_conv"], record["channels_last"]) \
        == ("torch", "fp32", "true", "true")
    record = model_record(build_parser().parse_args([*common, "--no-fast-conv"]))
    assert (record["fast_conv"], record["channels_last"]) == ("false", "false")
    record = model_record(build_parser().parse_args([*common, "--backend", "onnx"]))
    assert record["backend"] == "onnx" and "fast_conv" not in record


@pytest.mark.parametrize("command", [
    ["talk", "--source", "s.png", "--audio", "a.wav", "-o", "o.mp4"],
    ["dub", "--video", "v.mp4", "--audio", "a.wav", "-o", "o.mp4"],
])
def test_the_phones_shape_the_mouth_unless_told_not_to(command):
    from reenact.cli.parser import build_parser

    parser = build_parser()
    assert parser.parse_args(command).phones is True
    assert parser.parse_args([*command, "--no-phones"]).phones is False
    assert parser.parse_args(command).transcript is None
    assert parser.parse_args([*command, "--transcript", "t.txt"]).transcript == "t.txt"
