"""Every command against bad inputs and faults, the way a new user meets them.

Each case runs `python -m reenact.cli ...` in a fresh directory of generated inputs (tiny
random-weight models, generated pictures, clips and sounds: nothing is downloaded and ../shared is
not needed) and reports, per case: the exit code (and whether it is the expected one), the error
line, whether a traceback was printed, the files left behind (anything new that is not an
expected output: temporary files, staging directories, partial outputs, outputs of a failed run)
and whether any input (or an earlier output) was modified. Faults are injected too: SIGTERM and
SIGHUP mid-render, a full disk (a file size limit) mid-render, an earlier output that a failing
run must keep.

Usage: python benchmarks/bad_inputs.py [--only SUBSTRING] [--json report.json] [--keep DIR]
Exit code 0 when there is no traceback, nothing left behind, no input modified and every exit code
is the expected one; 1 otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np

logger = logging.getLogger("bad_inputs")

REPO = Path(__file__).resolve().parents[1]
TRACEBACK = "Traceback (most recent call last)"
# a reference (FOMM) yaml of the tiny-64 preset: what `convert` reads
TINY_FOMM_YAML = """\
dataset_params:
  frame_shape: [64, 64, 3]
model_params:
  common_params: {num_kp: 4, num_channels: 3, estimate_jacobian: true}
  kp_detector_params: {temperature: 0.1, block_expansion: 4, max_features: 16, scale_factor: 0.5,
                       num_blocks: 3}
  generator_params:
    block_expansion: 4
    max_features: 16
    num_down_blocks: 2
    num_bottleneck_blocks: 1
    estimate_occlusion_map: true
    dense_motion_params: {block_expansion: 4, max_features: 16, num_blocks: 3, scale_factor: 0.5}
"""


# ------------------------------------------------------------------------------- generated inputs

def texture(height: int, width: int, seed: int) -> np.ndarray:
    """(H, W, 3) uint8: smooth colours and stripes, no face."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width] / max(height, width)
    phase = rng.uniform(0, 6, 3)
    image = 0.5 + 0.4 * np.sin(9 * xs[..., None] + 5 * ys[..., None] + phase)
    return (image * 255).astype(np.uint8)


def write_clip(path: Path, frames: int, size: int = 64, *, audio: Path | None = None) -> Path:
    """A marked clip, as reenact writes them (some cases verify it)."""
    from reenact.provenance.writers import MarkedVideoWriter

    with MarkedVideoWriter(path, Fraction(25), size, size, audio_from=audio) as writer:
        for index in range(frames):
            writer.write(np.roll(texture(size, size, 0), index, axis=1))
    return path


def write_encoded(path: Path, frames: int, size: int = 64, *, fmt: str | None = None,
                  codec: str = "libx264") -> Path:
    """A clip written by PyAV in any container (mkv, webm, ts), unmarked."""
    import av

    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=25)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            image = np.roll(texture(size, size, 1), index, axis=0)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def write_speech(path: Path, seconds: float = 1.0) -> Path:
    from reenact.io.audio import AudioClip, write_wav

    rate = 16000
    t = np.arange(round(seconds * rate)) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)
    samples = (0.3 * envelope * np.sin(2 * np.pi * 180 * t)).astype(np.float32)
    return write_wav(path, AudioClip(samples, rate))


def write_aiff_claiming_hours(path: Path) -> Path:
    """A 1 s AIFF whose header says 2**31 frames (37 hours at 16 kHz)."""
    import struct

    import av

    with av.open(str(path), "w", format="aiff") as container:
        stream = container.add_stream("pcm_s16be", rate=16000, layout="mono")
        tone = (np.sin(np.arange(16000) / 10) * 10000).astype(np.int16)[None]
        frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    data = bytearray(path.read_bytes())
    comm = data.find(b"COMM")
    data[comm + 10:comm + 14] = struct.pack(">I", 0x7FFFFFFF)
    path.write_bytes(bytes(data))
    return path


def write_image(path: Path, width: int = 96, height: int = 96, seed: int = 3) -> Path:
    from PIL import Image

    Image.fromarray(texture(height, width, seed)).save(path)
    return path


def write_data_dir(root: Path) -> Path:
    """A prepared training data directory (what `prepare-data` writes) of two 64 px clips."""
    root.mkdir()
    clips = []
    for index in range(2):
        name = f"clip-{index:05d}.npy"
        frames = np.stack([np.roll(texture(64, 64, index), t, axis=1) for t in range(6)])
        np.save(root / name, frames)
        clips.append({"file": name, "video": f"generated{index}.mp4", "start": 0, "frames": 6,
                      "box": [32, 32, 64]})
    (root / "index.json").write_text(json.dumps({"format": "reenact-training-data",
                                                 "image_size": 64, "source": "generated",
                                                 "clips": clips}))
    return root


class _Payload:
    """What a malicious checkpoint carries: unpickling it would create a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def make_assets(root: Path) -> dict[str, Path]:
    """The inputs the cases share (they are checked for modification after every case)."""
    import torch

    from reenact.api import create_model
    from reenact.checkpoint import save_checkpoint
    from reenact.checkpoint.audio_format import save_audio_checkpoint, untrained_audio_checkpoint

    root.mkdir(parents=True)
    assets = {"root": root}
    assets["tiny"] = save_checkpoint(create_model("tiny-64", seed=0), root / "tiny")
    assets["audio_model"] = save_audio_checkpoint(untrained_audio_checkpoint(num_kp=4),
                                                  root / "audio-model")
    assets["photo"] = write_image(root / "photo.png")
    assets["speech"] = write_speech(root / "speech.wav")
    assets["driving"] = write_clip(root / "driving.mp4", 25, audio=assets["speech"])
    assets["long"] = write_clip(root / "long.mp4", 1500)
    assets["mkv"] = write_encoded(root / "clip.mkv", 100)
    assets["yaml"] = root / "tiny.yaml"
    assets["yaml"].write_text(TINY_FOMM_YAML)
    assets["garbage"] = root / "garbage.bin"
    assets["garbage"].write_bytes(bytes(range(256)) * 40)
    assets["data"] = write_data_dir(root / "data")
    assets["pickle"] = root / "evil.pth.tar"
    torch.save({"kp_detector": {}, "generator": {}, "epoch": _Payload(root / "PWNED")},
               assets["pickle"])
    return assets


# -------------------------------------------------------------------------------------- the cases

@dataclasses.dataclass
class Case:
    """One run: `args(dir, assets)` after `setup(dir, assets)`; expected exit code; expected outputs
    (relative to the case directory, only for a run that should succeed); an optional fault."""

    name: str
    command: str
    args: Callable[[Path, dict], list]
    expect: int = 2
    setup: Callable[[Path, dict], None] | None = None
    outputs: tuple[str, ...] = ()
    fault: str | None = None  # "SIGTERM", "SIGHUP" (sent once rendering has started), "full-disk"
    timeout: float = 300  # seconds, then the run is killed (and reported as such)


def _animate(*extra):
    def args(d, a):
        return ["animate", "--source", a["photo"], "--driving", a["driving"], "--checkpoint",
                a["tiny"], "--crop", "none", "-o", d / "out.mp4", *extra]
    return args


def _with(base, **replace):
    """`base`'s arguments with the values of some options replaced (callables get (d, a))."""
    def args(d, a):
        out = [str(x) for x in base(d, a)]
        for option, value in replace.items():
            flag = "--" + option.replace("_", "-") if option != "o" else "-o"
            value = value(d, a) if callable(value) else value
            out[out.index(flag) + 1] = str(value)
        return out
    return args


def _talk(*extra):
    def args(d, a):
        return ["talk", "--source", a["photo"], "--audio", a["speech"], "--checkpoint", a["tiny"],
                "--audio-checkpoint", a["audio_model"], "--crop", "none", "-o", d / "out.mp4",
                *extra]
    return args


def _dub(*extra):
    def args(d, a):
        return ["dub", "--video", a["driving"], "--audio", a["speech"], "--checkpoint", a["tiny"],
                "--audio-checkpoint", a["audio_model"], "-o", d / "out.mp4", *extra]
    return args


def _write(name, data):
    def setup(d, a):
        (d / name).write_bytes(data(d, a) if callable(data) else data)
    return setup


def _copy_checkpoint(edit_config=None, edit_index=None):
    def setup(d, a):
        shutil.copytree(a["tiny"], d / "ckpt")
        for file, edit in (("config.json", edit_config), ("index.json", edit_index)):
            if edit is not None:
                data = json.loads((d / "ckpt" / file).read_text())
                edit(data)
                (d / "ckpt" / file).write_text(json.dumps(data))
    return setup


def _half(path_key):
    return lambda d, a: a[path_key].read_bytes()[: a[path_key].stat().st_size // 2]


def _fifo(d, a):
    os.mkfifo(d / "pipe.mp4")


def _foreign_checkpoint_dir(d, a):
    shutil.copytree(a["tiny"], d / "out")
    shutil.copy(a["yaml"], d / "out" / "vox-256.yaml")
    (d / "out" / "talk.mp4").write_bytes(b"my own video")


def _earlier_output(d, a):
    (d / "out.mp4").write_bytes(b"an earlier output that a failed run must keep")
    (d / "out.mp4.reenact.json").write_text("{}")


def _zero_frame_mkv(d, a):
    import av

    with av.open(str(d / "empty.mkv"), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width = video.height = 64
        video.pix_fmt = "yuv420p"
        audio = container.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 4096), np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate = 16000
        for packet in [*audio.encode(frame), *audio.encode(None)]:
            container.mux(packet)


def _wide_video(d, a):
    import av

    with av.open(str(d / "wide.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 8200, 16, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 8200, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)


def _joined_ts(d, a):
    first, second = write_encoded(d / "a.ts", 30, 48, fmt="mpegts"), write_encoded(
        d / "b.ts", 30, 64, fmt="mpegts")
    (d / "joined.ts").write_bytes(first.read_bytes() + second.read_bytes())
    first.unlink()
    second.unlink()


def _run_dir(state=None, config=None):
    def setup(d, a):
        (d / "run").mkdir()
        if state is not None:
            (d / "run" / "state.pt").write_bytes(state)
        if config is not None:
            (d / "run" / "train_config.json").write_text(config)
    return setup


def _trained_run(state):
    """A run directory trained for one step, whose state.pt is then replaced or cut."""
    def setup(d, a):
        subprocess.run([sys.executable, "-m", "reenact.cli", "-q",
                        *map(str, _train("--steps", "1")(d, a))], check=True)
        path = d / "run" / "state.pt"
        path.write_bytes(state(path.read_bytes()) if callable(state) else state)
    return setup


def _export(d, a):
    subprocess.run([sys.executable, "-m", "reenact.cli", "-q", "export-onnx", "--preset", "tiny-64",
                    "-o", str(d / "onnx"), "--no-verify"], check=True)
    (d / "onnx" / "notes.txt").write_text("mine")


def _train(*extra):
    return lambda d, a: ["train", "--data", a["data"], "-o", d / "run", "--preset", "tiny-64",
                         "--batch-size", "2", "--log-every", "1", *extra]


def _convert(checkpoint, config, *extra):
    return lambda d, a: ["convert", checkpoint(d, a), "--config", config(d, a), "-o", d / "out",
                         *extra]


def _evaluate(*extra):
    return lambda d, a: ["evaluate", a["tiny"], "--data", d / "videos", *extra]


def _videos(*names_and_data):
    def setup(d, a):
        (d / "videos").mkdir()
        for name, data in names_and_data:
            (d / "videos" / name).write_bytes(data(d, a) if callable(data) else data)
    return setup


ASSET = lambda key: lambda d, a: a[key]  # noqa: E731
HERE = lambda name: lambda d, a: d / name  # noqa: E731
DEEP_YAML = "model_params:\n  x: " + "[" * 20000 + "]" * 20000 + "\n"
DEEP_JSON = "[" * 100000 + "]" * 100000


def _yaml_with(old, new):
    return lambda d, a: TINY_FOMM_YAML.replace(old, new, 1).encode()


CASES: list[Case] = [
    # animate: inputs
    Case("missing source", "animate", _with(_animate(), source=HERE("nope.png"))),
    Case("missing driving", "animate", _with(_animate(), driving=HERE("nope.mp4"))),
    Case("source is a directory", "animate", _with(_animate(), source=HERE("."))),
    Case("source is a text file", "animate", _with(_animate(), source=HERE("notes.png")),
         setup=_write("notes.png", b"hello, not a picture\n")),
    Case("driving is a picture", "animate", _with(_animate(), driving=ASSET("photo"))),
    Case("driving is garbage", "animate", _with(_animate(), driving=ASSET("garbage"))),
    Case("driving MP4 cut in half", "animate", _with(_animate(), driving=HERE("cut.mp4")),
         setup=_write("cut.mp4", _half("driving"))),
    Case("driving MKV cut in half", "animate", _with(_animate(), driving=HERE("cut.mkv")),
         setup=_write("cut.mkv", _half("mkv"))),
    Case("driving MKV without frames", "animate", _with(_animate(), driving=HERE("empty.mkv")),
         setup=_zero_frame_mkv),
    Case("driving is a pipe", "animate", _with(_animate(), driving=HERE("pipe.mp4")),
         setup=_fifo),
    Case("source is HEIC", "animate", _with(_animate(), source=HERE("IMG_0001.HEIC")),
         setup=_write("IMG_0001.HEIC", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
                      + bytes(300))),
    Case("source 40x30 px", "animate", _with(_animate(), source=HERE("tiny.png")),
         setup=lambda d, a: write_image(d / "tiny.png", 40, 30) and None),
    Case("source 9000x64 px", "animate", _with(_animate(), source=HERE("huge.png")),
         setup=lambda d, a: write_image(d / "huge.png", 9000, 64) and None),
    Case("source without a face (--crop face)", "animate",
         lambda d, a: [x for x in _animate()(d, a) if x not in ("--crop", "none")]),
    Case("driving MPEG-TS files joined (control)", "animate",
         _with(_animate(), driving=HERE("joined.ts")), setup=_joined_ts, expect=0,
         outputs=("out.mp4", "out.mp4.reenact.json")),
    # animate: outputs
    Case("output is the driving video", "animate",
         _with(_animate(), driving=HERE("drive.mp4"), o=HERE("drive.mp4")),
         setup=lambda d, a: shutil.copy(a["driving"], d / "drive.mp4") and None),
    Case("output directory missing", "animate", _with(_animate(), o=HERE("no/out.mp4"))),
    Case("output named .avi", "animate", _with(_animate(), o=HERE("out.avi"))),
    Case("output is a directory", "animate", _with(_animate(), o=HERE("folder")),
         setup=lambda d, a: (d / "folder").mkdir()),
    Case("manifest name taken by a directory", "animate", _animate(),
         setup=lambda d, a: (d / "out.mp4.reenact.json").mkdir()),
    Case("manifest name is the source", "animate",
         _with(_animate(), source=HERE("out.mp4.reenact.json")),
         setup=lambda d, a: shutil.copy(a["photo"], d / "out.mp4.reenact.json") and None),
    Case("output name too long for its manifest", "animate",
         _with(_animate(), o=lambda d, a: d / ("x" * (os.pathconf(d, "PC_NAME_MAX") - 22)
                                                + ".mp4"))),
    Case("failing run keeps an earlier output", "animate",
         _with(_animate(), driving=HERE("cut.mkv")),
         setup=lambda d, a: (_earlier_output(d, a), _write("cut.mkv", _half("mkv"))(d, a))
         and None),
    Case("valid run (control)", "animate", _animate("--max-frames", "8"), expect=0,
         outputs=("out.mp4", "out.mp4.reenact.json")),
    # animate: options
    Case("--threads 0", "animate", _animate("--threads", "0")),
    Case("--batch-size 0", "animate", _animate("--batch-size", "0")),
    Case("--max-frames 0", "animate", _animate("--max-frames", "0")),
    Case("--kp-smoothing 1.5", "animate", _animate("--kp-smoothing", "1.5")),
    Case("--face-index -1", "animate", _animate("--face-index", "-1")),
    Case("--max-size 10", "animate", _animate("--max-size", "10")),
    Case("--label on two lines", "animate", _animate("--label", "two\nlines")),
    Case("--label no font can draw", "animate", _animate("--label", "AI 𐀀")),
    Case("--label of 200 characters", "animate", _animate("--label", "x" * 200)),
    Case("--backend onnx --precision bf16", "animate",
         _animate("--backend", "onnx", "--precision", "bf16")),
    Case("--device cuda:7", "animate", _animate("--device", "cuda:7")),
    # animate: models
    Case("--checkpoint missing", "animate", _with(_animate(), checkpoint=HERE("nope"))),
    Case("--checkpoint config.json garbage", "animate", _with(_animate(), checkpoint=HERE("ckpt")),
         setup=lambda d, a: (_copy_checkpoint()(d, a),
                             (d / "ckpt" / "config.json").write_bytes(b"\xff\x00garbage")) and None),
    Case("--checkpoint config.json nested 100000 deep", "animate",
         _with(_animate(), checkpoint=HERE("ckpt")),
         setup=lambda d, a: (_copy_checkpoint()(d, a),
                             (d / "ckpt" / "config.json").write_text(DEEP_JSON)) and None),
    Case("--checkpoint index entry not an object", "animate",
         _with(_animate(), checkpoint=HERE("ckpt")),
         setup=_copy_checkpoint(edit_index=lambda i: i["components"].update(generator="x"))),
    Case("--checkpoint scale_factor 1e-320", "animate", _with(_animate(), checkpoint=HERE("ckpt")),
         setup=_copy_checkpoint(edit_config=lambda c: c["model"]["dense_motion"].update(
             scale_factor=1e-320))),
    Case("--checkpoint absurd architecture", "animate", _with(_animate(), checkpoint=HERE("ckpt")),
         setup=_copy_checkpoint(edit_config=lambda c: c["model"]["generator"].update(
             block_expansion=100000, max_features=1000000))),
    Case("--checkpoint weights file changed", "animate", _with(_animate(), checkpoint=HERE("ckpt")),
         setup=lambda d, a: (_copy_checkpoint()(d, a), (d / "ckpt" / "generator.safetensors")
                             .write_bytes(b"x" * 100)) and None),
    # animate: faults
    Case("SIGTERM mid-render", "animate",
         _with(_animate("--batch-size", "1", "--threads", "1"), driving=ASSET("long")),
         expect=128 + signal.SIGTERM, fault="SIGTERM"),
    Case("SIGHUP mid-render", "animate",
         _with(_animate("--batch-size", "1", "--threads", "1"), driving=ASSET("long")),
         expect=128 + signal.SIGHUP, fault="SIGHUP"),
    Case("disk full mid-render, earlier output kept", "animate",
         _with(_animate("--max-frames", "300"), driving=ASSET("long")), setup=_earlier_output,
         fault="full-disk"),
    # talk
    Case("talk: audio missing", "talk", _with(_talk(), audio=HERE("nope.wav"))),
    Case("talk: audio is garbage", "talk", _with(_talk(), audio=ASSET("garbage"))),
    Case("talk: audio is a picture", "talk", _with(_talk(), audio=ASSET("photo"))),
    Case("talk: audio of 0 s", "talk", _with(_talk(), audio=HERE("empty.wav")),
         setup=lambda d, a: write_speech(d / "empty.wav", 0) and None),
    Case("talk: AIFF header claiming 37 hours (control)", "talk",
         _with(_talk(), audio=HERE("claims.aiff")),
         setup=lambda d, a: write_aiff_claiming_hours(d / "claims.aiff") and None, expect=0,
         outputs=("out.mp4", "out.mp4.reenact.json")),
    Case("talk: --fps 0", "talk", _talk("--fps", "0")),
    Case("talk: --mouth-scale 100", "talk", _talk("--mouth-scale", "100")),
    Case("talk: --threads 0", "talk", _talk("--threads", "0")),
    Case("talk: audio checkpoint missing", "talk", _with(_talk(), audio_checkpoint=HERE("nope"))),
    Case("talk: audio checkpoint absurd size", "talk",
         _with(_talk(), audio_checkpoint=HERE("audio")),
         setup=lambda d, a: (shutil.copytree(a["audio_model"], d / "audio"), (d / "audio" /
                             "config.json").write_text((d / "audio" / "config.json").read_text()
                                                       .replace('"hidden_size": 192',
                                                                '"hidden_size": 10000000')))
         and None),
    Case("talk: output named .mov", "talk", _with(_talk(), o=HERE("out.mov"))),
    Case("talk: driving is a pipe", "talk", _talk("--driving", "pipe.mp4"), setup=_fifo),
    # dub
    Case("dub: video missing", "dub", _with(_dub(), video=HERE("nope.mp4"))),
    Case("dub: video is audio only", "dub", _with(_dub(), video=ASSET("speech"))),
    Case("dub: video 8200 px wide", "dub", _with(_dub(), video=HERE("wide.mp4")),
         setup=_wide_video),
    Case("dub: audio is garbage", "dub", _with(_dub(), audio=ASSET("garbage"))),
    Case("dub: --length-policy bogus", "dub", _dub("--length-policy", "bogus")),
    Case("dub: output is the audio", "dub", _with(_dub(), audio=HERE("speech.wav"),
                                                  o=HERE("speech.wav")),
         setup=lambda d, a: shutil.copy(a["speech"], d / "speech.wav") and None),
    Case("dub: no face in any frame (control)", "dub", _dub(), expect=0,
         outputs=("out.mp4", "out.mp4.reenact.json")),
    # convert
    Case("convert: checkpoint missing", "convert", _convert(HERE("nope.pth.tar"), ASSET("yaml"))),
    Case("convert: checkpoint is garbage", "convert", _convert(ASSET("garbage"), ASSET("yaml"))),
    Case("convert: pickle that runs code", "convert", _convert(ASSET("pickle"), ASSET("yaml"))),
    Case("convert: yaml missing", "convert", _convert(ASSET("pickle"), HERE("nope.yaml"))),
    Case("convert: yaml nested 20000 deep", "convert", _convert(ASSET("pickle"), HERE("deep.yaml")),
         setup=_write("deep.yaml", DEEP_YAML.encode())),
    Case("convert: yaml scale_factor 1e-320", "convert", _convert(ASSET("pickle"), HERE("t.yaml")),
         setup=_write("t.yaml", _yaml_with("scale_factor: 0.5,", "scale_factor: 1e-320,"))),
    Case("convert: yaml of an absurd architecture", "convert",
         _convert(ASSET("pickle"), HERE("t.yaml")),
         setup=_write("t.yaml", lambda d, a: TINY_FOMM_YAML.replace(
             "block_expansion: 4\n", "block_expansion: 100000\n").replace(
             "max_features: 16\n", "max_features: 1000000000\n").encode())),
    Case("convert: yaml is a list", "convert", _convert(ASSET("pickle"), HERE("t.yaml")),
         setup=_write("t.yaml", b"- 1\n- 2\n")),
    Case("convert: yaml of binary garbage", "convert", _convert(ASSET("pickle"), ASSET("garbage"))),
    Case("convert: --overwrite a folder holding the user's files", "convert",
         _convert(HERE("out/vox.pth.tar"), HERE("out/vox-256.yaml"), "--overwrite"),
         setup=lambda d, a: (_foreign_checkpoint_dir(d, a),
                             shutil.copy(a["pickle"], d / "out" / "vox.pth.tar")) and None),
    Case("convert: output is the input", "convert",
         lambda d, a: ["convert", d / "in.pth.tar", "--config", a["yaml"], "-o", d / "in.pth.tar",
                       "--overwrite"],
         setup=lambda d, a: shutil.copy(a["pickle"], d / "in.pth.tar") and None),
    # init
    Case("init: unknown preset", "init", lambda d, a: ["init", "--preset", "huge", "-o", d / "out"]),
    Case("init: --overwrite a checkpoint folder with other files", "init",
         lambda d, a: ["init", "--preset", "tiny-64", "-o", d / "out", "--overwrite"],
         setup=_foreign_checkpoint_dir),
    Case("init: --overwrite a folder of photos", "init",
         lambda d, a: ["init", "--preset", "tiny-64", "-o", d / "photos", "--overwrite"],
         setup=lambda d, a: ((d / "photos").mkdir(), shutil.copy(a["photo"], d / "photos"))
         and None),
    Case("init: output under a file", "init",
         lambda d, a: ["init", "--preset", "tiny-64", "-o", d / "file" / "out"],
         setup=_write("file", b"x")),
    # train
    Case("train: --data missing", "train", _with(_train(), data=HERE("nope"))),
    Case("train: --data not prepared", "train", _with(_train(), data=HERE(".")),),
    Case("train: data index.json garbage", "train", _with(_train(), data=HERE("data")),
         setup=lambda d, a: (shutil.copytree(a["data"], d / "data"),
                             (d / "data" / "index.json").write_bytes(b"\x00garbage")) and None),
    Case("train: --steps 0", "train", _train("--steps", "0"), timeout=120),
    Case("train: --lr inf", "train", _train("--lr", "inf", "--steps", "1"), timeout=120),
    Case("train: --threads 0", "train", _train("--threads", "0")),
    Case("train: run with a garbage state.pt", "train", _train("--steps", "2"),
         setup=_trained_run(state=b"\x80\x04garbage")),
    Case("train: run with a truncated state.pt", "train", _train("--steps", "2"),
         setup=_trained_run(state=lambda data: data[: len(data) // 2])),
    Case("train: run with a malformed train_config.json", "train", _train("--steps", "1"),
         setup=_run_dir(config="{not json")),
    # prepare-data
    Case("prepare-data: folder missing", "prepare-data",
         lambda d, a: ["prepare-data", d / "nope", "-o", d / "data"]),
    Case("prepare-data: only unreadable videos", "prepare-data",
         lambda d, a: ["prepare-data", d / "videos", "-o", d / "data", "--size", "64"],
         setup=_videos(("a.mp4", b"garbage"), ("b.mkv", _half("mkv")))),
    Case("prepare-data: unreadable and faceless videos", "prepare-data",
         lambda d, a: ["prepare-data", d / "videos", "-o", d / "data", "--size", "64"],
         setup=_videos(("a.mp4", b"garbage"), ("b.mp4", lambda d, a: a["driving"].read_bytes()))),
    Case("prepare-data: output exists", "prepare-data",
         lambda d, a: ["prepare-data", d / "videos", "-o", d / "videos"],
         setup=_videos(("b.mp4", lambda d, a: a["driving"].read_bytes()))),
    # evaluate
    Case("evaluate: data missing", "evaluate", _evaluate()),
    Case("evaluate: checkpoint missing", "evaluate",
         lambda d, a: ["evaluate", d / "nope", "--data", d / "videos"],
         setup=_videos(("b.mp4", lambda d, a: a["driving"].read_bytes()))),
    Case("evaluate: only garbage videos", "evaluate", _evaluate(),
         setup=_videos(("a.mp4", b"garbage"))),
    Case("evaluate: --json in a missing folder", "evaluate",
         _evaluate("--json", "no/where.json"),
         setup=_videos(("b.mp4", lambda d, a: a["driving"].read_bytes()))),
    Case("evaluate: --threads 0", "evaluate", _evaluate("--threads", "0"),
         setup=_videos(("b.mp4", lambda d, a: a["driving"].read_bytes()))),
    # verify
    Case("verify: file missing", "verify", lambda d, a: ["verify", d / "nope.mp4"]),
    Case("verify: garbage file", "verify", lambda d, a: ["verify", a["garbage"]]),
    Case("verify: unmarked video", "verify", lambda d, a: ["verify", a["mkv"]], expect=1),
    Case("verify: MKV cut in half", "verify", lambda d, a: ["verify", d / "cut.mkv"],
         setup=_write("cut.mkv", _half("mkv"))),
    Case("verify: manifest of garbage next to a marked video", "verify",
         lambda d, a: ["verify", d / "v.mp4"],
         setup=lambda d, a: (shutil.copy(a["driving"], d / "v.mp4"),
                             (d / "v.mp4.reenact.json").write_bytes(b"\x00{")) and None,
         expect=0),
    Case("verify: a directory", "verify", lambda d, a: ["verify", d]),
    # export-onnx
    Case("export-onnx: neither checkpoint nor preset", "export-onnx",
         lambda d, a: ["export-onnx", "-o", d / "onnx"]),
    Case("export-onnx: --opset 12", "export-onnx",
         lambda d, a: ["export-onnx", "--preset", "tiny-64", "--opset", "12", "-o", d / "onnx"]),
    Case("export-onnx: unknown preset", "export-onnx",
         lambda d, a: ["export-onnx", "--preset", "huge", "-o", d / "onnx"]),
    Case("export-onnx: --overwrite an export holding other files", "export-onnx",
         lambda d, a: ["export-onnx", "--preset", "tiny-64", "-o", d / "onnx", "--overwrite"],
         setup=_export),
    Case("export-onnx: --overwrite a checkpoint", "export-onnx",
         lambda d, a: ["export-onnx", a["tiny"], "-o", d / "ckpt", "--overwrite"],
         setup=_copy_checkpoint()),
    Case("export-onnx: output folder missing", "export-onnx",
         lambda d, a: ["export-onnx", "--preset", "tiny-64", "-o", d / "no" / "onnx"]),
    Case("export-onnx: checkpoint is garbage", "export-onnx",
         lambda d, a: ["export-onnx", a["garbage"], "-o", d / "onnx"]),
]


# ------------------------------------------------------------------------------------- the runner

def snapshot(root: Path) -> dict[str, str]:
    """Every entry under `root` (hidden ones too) -> sha256 of a file, "dir" or "other"."""
    entries = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            entries[key] = "other"
        elif path.is_dir():
            entries[key] = "dir"
        else:
            try:
                entries[key] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                entries[key] = "unreadable"
    return entries


def _limit_file_size() -> None:  # in the child: a full disk after 20 kB of any file
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes then fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def run_case(case: Case, directory: Path, assets: dict) -> dict:
    directory.mkdir(parents=True)
    if case.setup is not None:
        case.setup(directory, assets)
    before, assets_before = snapshot(directory), snapshot(assets["root"])
    argv = [sys.executable, "-m", "reenact.cli", "-q", *map(str, case.args(directory, assets))]
    started = time.monotonic()
    process = subprocess.Popen(argv, cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, stdin=subprocess.DEVNULL,
                               preexec_fn=_limit_file_size if case.fault == "full-disk" else None)
    if case.fault in ("SIGTERM", "SIGHUP"):
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline and not any(
                ".partial-" in p.name for p in directory.iterdir()):
            time.sleep(0.02)
        time.sleep(0.5)  # well into the render
        process.send_signal(getattr(signal, case.fault))
    timed_out = False
    try:
        stdout, stderr = process.communicate(timeout=case.timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        timed_out = True
    seconds = time.monotonic() - started
    for path in directory.rglob("*"):  # let the checks below read what a case made read-only
        if path.is_dir() and not path.is_symlink():
            os.chmod(path, 0o755)
    after, assets_after = snapshot(directory), snapshot(assets["root"])
    expected_outputs = set(case.outputs) if process.returncode == 0 else set()
    left = sorted(name for name in set(after) - set(before) if name not in expected_outputs)
    modified = sorted(name for name, digest in before.items() if after.get(name) != digest)
    modified += sorted(f"assets/{name}" for name, digest in assets_before.items()
                       if assets_after.get(name) != digest)
    lines = [line for line in stderr.splitlines() if line.strip()]
    message = next((line for line in lines if line.startswith(("ERROR", "reenact"))
                    or ": error:" in line), "")
    message = message or next((line for line in lines if line.startswith("WARNING")), "")
    if timed_out:
        message = f"(killed after {case.timeout:g} s) {message}"
    return {"case": case.name, "command": case.command, "exit": process.returncode,
            "expected": case.expect, "ok_exit": process.returncode == case.expect,
            "message": message, "traceback": TRACEBACK in stderr, "left_behind": left,
            "inputs_modified": modified, "seconds": round(seconds, 1), "stderr": stderr[-2000:]}


def report(results: list[dict]) -> str:
    rows = [f"{'#':>3} {'command':12} {'case':52} {'exit':>8} {'tb':>3} {'left':>4} {'mod':>4}  "
            f"first error line"]
    for number, result in enumerate(results, 1):
        exit_text = f"{result['exit']}" + ("" if result["ok_exit"] else f"!={result['expected']}")
        rows.append(f"{number:>3} {result['command']:12} {result['case'][:52]:52} {exit_text:>8} "
                    f"{'yes' if result['traceback'] else 'no':>3} {len(result['left_behind']):>4} "
                    f"{len(result['inputs_modified']):>4}  {result['message'][:150]}")
        for name in result["left_behind"]:
            rows.append(f"{'':>8} left behind: {name}")
        for name in result["inputs_modified"]:
            rows.append(f"{'':>8} modified: {name}")
    commands = sorted({r["command"] for r in results})
    rows.append("")
    rows.append(f"{len(results)} cases over {len(commands)} commands ({', '.join(commands)}): "
                f"{sum(r['traceback'] for r in results)} tracebacks, "
                f"{sum(bool(r['left_behind']) for r in results)} with files left behind, "
                f"{sum(bool(r['inputs_modified']) for r in results)} with inputs modified, "
                f"{sum(not r['ok_exit'] for r in results)} unexpected exit codes")
    return "\n".join(rows) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="run the cases whose name or command contains this")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", type=Path, help="work in this (new) directory and keep it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cases = [c for c in CASES if not args.only or args.only in c.name or args.only in c.command]
    work = args.keep or Path(tempfile.mkdtemp(prefix="reenact-bad-inputs-"))
    try:
        logger.info("generating inputs in %s", work)
        assets = make_assets(work / "assets")
        results = []
        for number, case in enumerate(cases, 1):
            result = run_case(case, work / f"{number:03d}", assets)
            logger.info("%3d/%d %-12s %-52s exit %s %.1f s", number, len(cases), case.command,
                        case.name[:52], result["exit"], result["seconds"])
            results.append(result)
    finally:
        if args.keep is None:
            for path in work.rglob("*"):
                if path.is_dir() and not path.is_symlink():
                    os.chmod(path, 0o755)
            shutil.rmtree(work, ignore_errors=True)
    sys.stdout.write(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    bad = [r for r in results if r["traceback"] or r["left_behind"] or r["inputs_modified"]
           or not r["ok_exit"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
