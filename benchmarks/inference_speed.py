"""Inference speed of the motion model: frames/s, exactness and GFLOP/s of each way of running it.

Random weights (speed does not depend on them), synthetic 256x256 frames, a fixed thread count.
Every path runs the same driving frames the way `animate` does (detect -> relative keypoints ->
render) and is compared with the reference-equivalent path:

  reference      fp32 eager, one frame at a time, the source re-encoded for every frame inside
                 model.forward (as the reference demo's generator does; like the demo, the source
                 keypoints are detected once)
  torch-fp32     TorchBackend: cached source encoding, inference mode, batches of --batch frames
  torch-fp32-cl  the same in channels-last memory order
  torch-bf16     bf16 autocast (only where the CPU has native bf16), contiguous / -cl channels-last
  torch-fp32-fast  TorchBackend(fast_conv=True): fp32 with fewer FLOPs (reenact.engine.fast_conv:
                 Winograd F(4x4) / F(2x2) 3x3 convolutions, BatchNorm and upsampling folded into
                 convolutions, prepacked oneDNN weights), channels-last
  onnx-basic     OnnxBackend, onnxruntime with basic graph optimizations
  onnx-all       OnnxBackend, all optimizations (fusions, NCHWc layouts)

Columns: frames/s, speedup over the reference, max |out - reference| and PSNR (outputs in [0, 1];
exact means <= 1e-4), and GFLOP/s achieved (the frame's convolution and matmul FLOPs, counted by
torch.utils.flop_counter, times frames/s; torch-fp32-fast computes fewer than that count of direct
convolutions, so its figure can pass the CPU's peak). The uint8 conversion of the output is left out.

Usage: python benchmarks/inference_speed.py [--presets vox-256 fast-256] [--frames 16]
           [--batch 1 8] [--threads 2] [--paths ...] [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from reenact.api import create_model
from reenact.containers import Keypoints
from reenact.engine import Backend, OnnxBackend, TorchBackend, bf16_supported
from reenact.engine.frames import frames_to_tensor
from reenact.export import export_onnx
from reenact.geometry import normalize_keypoints
from reenact.models import MotionModel

logger = logging.getLogger("inference_speed")

REAL_TIME_FPS = 25
EXACT = 1e-4
# name -> how to build the backend (None: the reference path, no backend)
PATHS: dict[str, dict | None] = {
    "reference": None,
    "torch-fp32": {"kind": "torch", "precision": "fp32", "channels_last": False},
    "torch-fp32-cl": {"kind": "torch", "precision": "fp32", "channels_last": True},
    "torch-bf16": {"kind": "torch", "precision": "bf16", "channels_last": False},
    "torch-bf16-cl": {"kind": "torch", "precision": "bf16", "channels_last": True},
    "torch-fp32-fast": {"kind": "torch", "precision": "fp32", "channels_last": True,
                        "fast_conv": True},
    "onnx-basic": {"kind": "onnx", "optimization": "basic"},
    "onnx-all": {"kind": "onnx", "optimization": "all"},
}


@dataclass(frozen=True)
class Row:
    preset: str
    path: str
    batch: int
    frames_per_s: float
    speedup: float
    max_abs_diff: float
    psnr_db: float
    gflop_per_s: float


@dataclass(frozen=True)
class Cost:
    """GFLOP of one frame's parts (batch 1), convolutions and matrix products only."""

    detect: float
    encode: float
    render: float

    @property
    def frame(self) -> float:  # what a backend does per driving frame
        return self.detect + self.render

    @property
    def reference_frame(self) -> float:  # plus the source encoding, redone every frame
        return self.detect + self.encode + self.render


def count_gflop(model: MotionModel) -> Cost:
    size = model.config.image_size
    image = torch.rand(1, 3, size, size)
    with torch.no_grad():
        kp, source = model.detect(image), model.encode_source(image)

    def gflop(function: Callable[[], object]) -> float:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            function()
        return counter.get_total_flops() / 1e9

    return Cost(detect=gflop(lambda: model.detect(image)),
                encode=gflop(lambda: model.encode_source(image)),
                render=gflop(lambda: model.render(source, kp, kp)))


def synthetic_clip(size: int, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random (S, S, 3) source and `count` driving frames: it, shifted a little each frame."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.random((1, 3, 16, 16), dtype=np.float32))
    image = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic",
                                            align_corners=False)
    source = (image.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    shifts = [(round(6 * math.sin(i / 3)), round(4 * math.cos(i / 4))) for i in range(count)]
    driving = np.stack([np.roll(source, shift, axis=(0, 1)) for shift in shifts])
    return source, driving


def relative(kp_source: Keypoints, kp_driving: Keypoints, kp_initial: Keypoints) -> Keypoints:
    return normalize_keypoints(kp_source, kp_driving, kp_initial, relative_movement=True,
                               relative_jacobian=True, adapt_movement_scale=True)


def run_reference(model: MotionModel, source: np.ndarray,
                  driving: np.ndarray) -> tuple[float, np.ndarray]:
    """The reference demo's loop: per frame, detect and model.forward (which encodes the source)."""
    cpu = torch.device("cpu")
    model = model.to(memory_format=torch.contiguous_format)
    source_tensor = frames_to_tensor(source[None], cpu)
    outputs = []
    with torch.no_grad():
        kp_source = model.detect(source_tensor)
        kp_initial = model.detect(frames_to_tensor(driving[:1], cpu))
        model(source_tensor, kp_source, kp_initial)  # warm-up
        started = time.perf_counter()
        for frame in driving:
            kp_driving = model.detect(frames_to_tensor(frame[None], cpu))
            kp = relative(kp_source, kp_driving, kp_initial)
            outputs.append(model(source_tensor, kp_source, kp).prediction)
        seconds = time.perf_counter() - started
    return seconds, torch.cat(outputs).numpy()


def run_backend(backend: Backend, source: np.ndarray, driving: np.ndarray,
                batch: int) -> tuple[float, np.ndarray]:
    """What animate_frames does per batch; the first batch is a warm-up, run again when timed."""
    kp_source, encoded = backend.detect(source[None]), backend.encode_source(source)
    kp_initial = backend.detect(driving[:1])

    def step(frames: np.ndarray) -> np.ndarray:
        kp = relative(kp_source, backend.detect(frames), kp_initial)
        prediction = backend.predict(encoded, kp_source, kp)
        return prediction.numpy() if isinstance(prediction, torch.Tensor) else prediction

    step(driving[:batch])
    started = time.perf_counter()
    outputs = [step(driving[start:start + batch]) for start in range(0, len(driving), batch)]
    return time.perf_counter() - started, np.concatenate(outputs)


def make_backend(spec: dict, model: MotionModel, export_dir: Path, threads: int):
    if spec["kind"] == "torch":
        return TorchBackend(copy.deepcopy(model), device="cpu", precision=spec["precision"],
                            channels_last=spec["channels_last"],
                            fast_conv=spec.get("fast_conv", False))
    return OnnxBackend(export_dir, threads=threads, optimization=spec["optimization"])


def psnr(output: np.ndarray, reference: np.ndarray) -> float:
    mse = float(np.mean((output.astype(np.float64) - reference) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def bench_preset(preset: str, args: argparse.Namespace, work: Path) -> tuple[list[Row], Cost]:
    model = create_model(preset, seed=0)
    cost = count_gflop(model)
    source, driving = synthetic_clip(model.config.image_size, args.frames)
    logger.info("%s: %.1f GFLOP per frame (detect %.1f, render %.1f; source encoding %.1f)", preset,
                cost.frame, cost.detect, cost.render, cost.encode)
    seconds, reference = run_reference(model, source, driving)
    reference_fps = len(driving) / seconds
    rows = [Row(preset, "reference", 1, reference_fps, 1.0, 0.0, math.inf,
                cost.reference_frame * reference_fps)]
    logger.info("%s reference: %.2f frames/s", preset, reference_fps)
    export_dir = work / preset
    if any(PATHS[p] and PATHS[p]["kind"] == "onnx" for p in args.paths):
        started = time.perf_counter()
        export_onnx(model, export_dir)
        logger.info("%s: exported to ONNX in %.1f s", preset, time.perf_counter() - started)
    for batch in args.batch:
        for path in args.paths:
            spec = PATHS[path]
            if spec is None:
                continue
            if spec.get("precision") == "bf16" and not bf16_supported(torch.device("cpu")):
                logger.warning("%s: skipped, this CPU has no native bf16", path)
                continue
            backend = make_backend(spec, model, export_dir, args.threads)
            seconds, outputs = run_backend(backend, source, driving, batch)
            fps = len(driving) / seconds
            row = Row(preset, path, batch, fps, fps / reference_fps,
                      float(np.abs(outputs - reference).max()), psnr(outputs, reference),
                      cost.frame * fps)
            logger.info("%s %s batch %d: %.2f frames/s, max diff %.1e", preset, path, batch, fps,
                        row.max_abs_diff)
            rows.append(row)
            del backend
    return rows, cost


def markdown(rows: list[Row], costs: dict[str, Cost], threads: int) -> str:
    lines = ["| preset | path | batch | frames/s | speedup | max abs diff | PSNR (dB) | GFLOP/s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        exact = " (exact)" if r.max_abs_diff <= EXACT else ""
        lines.append(f"| {r.preset} | {r.path} | {r.batch} | {r.frames_per_s:.2f} | "
                     f"{r.speedup:.2f}x | {r.max_abs_diff:.1e}{exact} | {r.psnr_db:.1f} | "
                     f"{r.gflop_per_s:.0f} |")
    header = ("| preset | GFLOP detect | GFLOP render | GFLOP source encoding | GFLOP per frame "
              "(detect + render) | reference per frame (+ encoding) |")
    lines += ["", header, "|---|---|---|---|---|---|"]
    for preset, c in costs.items():
        lines.append(f"| {preset} | {c.detect:.2f} | {c.render:.2f} | {c.encode:.2f} | {c.frame:.2f} | "
                     f"{c.reference_frame:.2f} |")
    for preset in costs:
        best = max((r for r in rows if r.preset == preset), key=lambda r: r.frames_per_s)
        verdict = "meets" if best.frames_per_s >= REAL_TIME_FPS else "misses"
        lines.append(f"\n{preset}: best {best.frames_per_s:.1f} frames/s ({best.path}, batch "
                     f"{best.batch}) on {threads} threads: {verdict} the {REAL_TIME_FPS} frames/s "
                     "real-time target.")
    return "\n".join(lines) + "\n"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["vox-256", "fast-256"])
    parser.add_argument("--frames", type=int, default=16, help="driving frames per path (default 16)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8], help="batch sizes (default 1 8)")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch and onnxruntime threads (default 2)")
    parser.add_argument("--paths", nargs="+", choices=list(PATHS), default=list(PATHS))
    parser.add_argument("--quick", action="store_true", help="4 frames, batches 1 and 4: a smoke run")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.batch = 4, [1, 4]
    if args.frames < 1 or min(args.batch) < 1 or args.threads < 1:
        parser.error("--frames, --batch and --threads must be >= 1")
    return args


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    torch.set_num_threads(args.threads)  # the one process-wide setting, as the CLI does
    rows: list[Row] = []
    costs: dict[str, Cost] = {}
    with tempfile.TemporaryDirectory(prefix="reenact-speed-") as temp:
        for preset in args.presets:
            preset_rows, costs[preset] = bench_preset(preset, args, Path(temp))
            rows += preset_rows
    sys.stdout.write(markdown(rows, costs, args.threads))
    if args.json:
        environment = {"torch": torch.__version__, "threads": args.threads, "frames": args.frames,
                       "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                       "bf16_native": bf16_supported(torch.device("cpu"))}
        rows_json = [{k: (None if v == math.inf else v) for k, v in asdict(r).items()} for r in rows]
        data = {"environment": environment, "rows": rows_json,  # PSNR None: identical outputs
                "gflop": {p: {**asdict(c), "frame": c.frame} for p, c in costs.items()}}
        args.json.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")


if __name__ == "__main__":
    main()
