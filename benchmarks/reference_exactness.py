"""reenact against the reference FOMM code itself: speed ratio and output error per path.

Given a checkout of github.com/AliaksandrSiarohin/first-order-model (`--reference DIR`; fetched for
the benchmark, never part of this project), this imports the reference's own `modules/` and its
`demo.py` (`load_checkpoints`, `make_animation` with relative motion and adapted movement scale),
runs them and reenact on the same weights and the same frames, and prints per path: seconds per
frame, speed ratio to the reference's demo loop, and max abs difference / PSNR / the share of
output values off by more than 0.5/255, all against the reference's own output frames. The row
"reference, other threads" is the reference run again with 1 thread (2 if --threads is 1): how far
the reference moves from itself when only the order of its sums changes, the floor below which no
other path can be expected to land.

Weights: by default a random vox-256 model (the reference's `config/vox-256.yaml`; reenact's
initialization, seed 0, then every tensor perturbed so that jacobians and BatchNorm statistics are
not identity), written as a reference-format `.pth.tar` through the converter's key map and loaded
by both sides from that file. `--checkpoint X.pth.tar --config X.yaml` uses given weights instead
(e.g. the tiny reference checkpoint, for a quick run). Inputs: a smooth random source and driving
frames that are it shifted a little each frame, as in benchmarks/inference_speed.py.

The reference calls `grid_sample` without `align_corners`, which on today's torch means False, so
reenact's model is loaded with align_corners=False here (the released checkpoints need True; that
is a separate, documented trap).

Shims, applied at import time in this process only (the checkout is never edited): stub modules for
`ffmpeg` (demo.py imports it for --audio only) and for `frames_dataset` and `logger` (animate.py
imports them for its training-time animation loop; normalize_kp needs neither), and demo.py's
`tqdm` replaced by a pass-through so no progress bar is drawn inside the timed loop. With
`cpu=True` the demo makes no `.cuda()` call and no DataParallel wrapper; `sync_batchnorm` imports
as is (in eval mode it is plain BatchNorm).

Timing: both sides do a whole animation (source keypoints, initial driving keypoints, then every
frame), after one warm-up animation of 2 frames; --rounds interleaves the reference and the paths
and keeps each one's best time.

Usage: python benchmarks/reference_exactness.py --reference /tmp/fomm-ref [--frames 8]
           [--threads 2] [--rounds 1] [--batch 1] [--paths ...] [--checkpoint X --config Y]
           [--json OUT]
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import sys
import tempfile
import time
import types
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

# the same synthetic frames as the speed benchmark (a script's folder is first on sys.path)
from inference_speed import synthetic_clip

logger = logging.getLogger("reference_exactness")

EXACT = 1e-4
OFF_BY = 0.5 / 255  # more than this changes a uint8 pixel after rounding (at most, one level)
REQUIRED = ("modules/generator.py", "modules/keypoint_detector.py", "demo.py", "animate.py",
            "sync_batchnorm/__init__.py", "config/vox-256.yaml")
# module -> names the reference imports from it; placeholders, never called by the demo path
STUBS = {"ffmpeg": (), "frames_dataset": ("PairedDataset",), "logger": ("Logger", "Visualizer")}
PATHS: dict[str, dict] = {
    "fp32": {"kind": "torch", "precision": "fp32", "channels_last": False},
    "fp32-cl": {"kind": "torch", "precision": "fp32", "channels_last": True},
    "fast-conv": {"kind": "torch", "precision": "fp32", "channels_last": True, "fast_conv": True},
    "bf16-cl": {"kind": "torch", "precision": "bf16", "channels_last": True},
    "onnx": {"kind": "onnx", "optimization": "all"},
}


class ReferenceCodeError(RuntimeError):
    """The --reference directory is not a usable checkout of the reference code."""


@dataclass(frozen=True)
class Reference:
    """The reference's own callables, imported from a checkout."""

    directory: Path
    kp_detector_class: type
    generator_class: type
    load_checkpoints: Callable
    make_animation: Callable


@dataclass(frozen=True)
class Exactness:
    max_abs_diff: float
    psnr_db: float
    share_off: float  # share of values with |diff| > OFF_BY


@dataclass(frozen=True)
class Row:
    path: str
    seconds_per_frame: float
    speed_ratio: float
    max_abs_diff: float
    psnr_db: float
    share_off: float


def compare(output: np.ndarray, reference: np.ndarray) -> Exactness:
    """Error of `output` against `reference`, both float in [0, 1] of the same shape."""
    if output.shape != reference.shape:
        raise ValueError(f"output: expected shape {reference.shape}, got {output.shape}")
    diff = np.abs(output.astype(np.float64) - reference.astype(np.float64))
    mse = float(np.mean(diff ** 2))
    return Exactness(max_abs_diff=float(diff.max()),
                     psnr_db=math.inf if mse == 0 else 10 * math.log10(1 / mse),
                     share_off=float(np.mean(diff > OFF_BY)))


def output_spread(frames: np.ndarray) -> tuple[float, float]:
    """(std of all values, mean |frame - previous frame|) of (N, ...) frames: is there anything to
    get wrong? A flat output makes every path look exact."""
    change = float(np.abs(np.diff(frames, axis=0)).mean()) if len(frames) > 1 else 0.0
    return float(frames.std()), change


def load_reference(directory: str | Path) -> Reference:
    """Import the reference's modules and demo from `directory`, with the shims the docstring lists."""
    root = Path(directory).resolve()
    missing = [name for name in REQUIRED if not (root / name).is_file()]
    if missing:
        raise ReferenceCodeError(
            f"--reference {directory}: not a checkout of AliaksandrSiarohin/first-order-model "
            f"(missing {', '.join(missing)})")
    for name, attributes in STUBS.items():
        if name not in sys.modules:
            stub = types.ModuleType(name, "reference_exactness stub")
            for attribute in attributes:
                setattr(stub, attribute, None)
            sys.modules[name] = stub
    sys.path.insert(0, str(root))
    try:
        demo = importlib.import_module("demo")
        generator = importlib.import_module("modules.generator")
        keypoint_detector = importlib.import_module("modules.keypoint_detector")
    finally:
        sys.path.remove(str(root))
    demo.tqdm = lambda iterable, **_: iterable  # no progress bar inside the timed loop
    return Reference(root, keypoint_detector.KPDetector, generator.OcclusionAwareGenerator,
                     demo.load_checkpoints, demo.make_animation)


def perturbed(tensor: torch.Tensor, key: str, generator: torch.Generator) -> torch.Tensor:
    """A random weight moved off its initial value: jacobian head off identity, BN stats off 0/1."""
    if not tensor.is_floating_point():
        return tensor
    noise = torch.randn(tensor.shape, generator=generator)
    if key.endswith("running_var"):
        return tensor * torch.exp(0.2 * noise)
    spread = float(tensor.std()) if tensor.numel() > 1 and float(tensor.std()) > 0 else 0.05
    return tensor + 0.1 * spread * noise


def calibrate_batchnorm(model, source: np.ndarray, driving: np.ndarray) -> None:
    """Set every BatchNorm's running statistics to those of these frames (one train-mode pass).

    A freshly initialized vox-256 keeps its activations far from unit scale, and its output is a
    flat grey that no frame changes (std 0.002): every path then looks exact. Calibrated, the random
    model's keypoints follow the frames and its output has texture, as a trained model's does.
    """
    from reenact.engine.frames import frames_to_tensor

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = 1.0  # running statistics := this batch's
    cpu = torch.device("cpu")
    images = frames_to_tensor(np.concatenate([source[None], driving]), cpu)
    model.train()
    with torch.no_grad():
        kp = model.detect(images)
        model.render(model.encode_source(images[:1]), _first(kp), kp)
    model.eval()


def _first(kp):
    from reenact.containers import Keypoints

    return Keypoints(kp.value[:1], None if kp.jacobian is None else kp.jacobian[:1])


def write_random_checkpoint(reference: Reference, config: Path, target: Path, seed: int,
                            frames: tuple[np.ndarray, np.ndarray]) -> None:
    """reenact's random init (seed), BatchNorm calibrated on `frames` (source, driving), every
    tensor perturbed, saved in the reference layout via the converter's key map."""
    import yaml

    from reenact.checkpoint.fomm import read_fomm_yaml, remap_fomm_state
    from reenact.models import MotionModel

    params = yaml.safe_load(config.read_text())["model_params"]
    common = params["common_params"]
    reference_keys = {
        "kp_detector": reference.kp_detector_class(**params["kp_detector_params"], **common),
        "generator": reference.generator_class(**params["generator_params"], **common)}
    located = remap_fomm_state({entry: {key: (entry, key) for key in module.state_dict()}
                                for entry, module in reference_keys.items()})
    torch.manual_seed(seed)
    model = MotionModel(read_fomm_yaml(config, align_corners=False))
    calibrate_batchnorm(model, *frames)
    noise = torch.Generator().manual_seed(seed)
    state: dict[str, dict[str, torch.Tensor]] = {"kp_detector": {}, "generator": {}}
    for component, keys in located.items():
        ours = getattr(model, component).state_dict()
        for our_key, (entry, key) in keys.items():
            state[entry][key] = perturbed(ours[our_key], key, noise)
    torch.save(state, target)


def as_float_frames(frames: np.ndarray) -> list[np.ndarray]:
    """(N, S, S, 3) uint8 -> what the demo passes make_animation: (S, S, 3) floats in [0, 1]."""
    return [frame.astype(np.float32) / np.float32(255) for frame in frames]


def run_reference(reference: Reference, generator, kp_detector, source: np.ndarray,
                  driving: np.ndarray) -> tuple[float, np.ndarray]:
    """The demo's make_animation (relative, adapt scale, cpu); (seconds, (N, 3, S, S) output)."""
    source_float, driving_float = as_float_frames(source[None])[0], as_float_frames(driving)
    started = time.perf_counter()
    frames = reference.make_animation(source_float, driving_float, generator, kp_detector,
                                      relative=True, adapt_movement_scale=True, cpu=True)
    seconds = time.perf_counter() - started
    return seconds, np.stack(frames).transpose(0, 3, 1, 2)


def run_ours(backend, source: np.ndarray, driving: np.ndarray,
             batch: int) -> tuple[float, np.ndarray]:
    """The same animation through a reenact backend; (seconds, (N, 3, S, S) output)."""
    from reenact.geometry import normalize_keypoints

    started = time.perf_counter()
    kp_source, encoded = backend.detect(source[None]), backend.encode_source(source)
    kp_initial = backend.detect(driving[:1])
    outputs = []
    for start in range(0, len(driving), batch):
        kp_driving = backend.detect(driving[start:start + batch])
        kp = normalize_keypoints(kp_source, kp_driving, kp_initial, relative_movement=True,
                                 relative_jacobian=True, adapt_movement_scale=True)
        prediction = backend.predict(encoded, kp_source, kp)
        outputs.append(prediction.float().numpy() if isinstance(prediction, torch.Tensor)
                       else prediction)
    return time.perf_counter() - started, np.concatenate(outputs)


def make_backend(name: str, checkpoint: Path, config: Path, export_dir: Path, threads: int):
    import copy

    from reenact.checkpoint.fomm import load_fomm_checkpoint
    from reenact.engine import OnnxBackend, TorchBackend
    from reenact.export import export_onnx

    spec = PATHS[name]
    model = load_fomm_checkpoint(checkpoint, config, align_corners=False)
    if spec["kind"] == "torch":
        return TorchBackend(copy.deepcopy(model), device="cpu", precision=spec["precision"],
                            channels_last=spec["channels_last"],
                            fast_conv=spec.get("fast_conv", False))
    if not (export_dir / "config.json").exists():
        export_onnx(model, export_dir)
    return OnnxBackend(export_dir, threads=threads, optimization=spec["optimization"])


def markdown(rows: list[Row]) -> str:
    lines = ["| path | s/frame | speed vs reference | max abs diff | PSNR (dB) | values off > 0.5/255 |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        exact = " (exact)" if r.max_abs_diff <= EXACT else ""
        lines.append(f"| {r.path} | {r.seconds_per_frame:.3f} | {r.speed_ratio:.2f}x | "
                     f"{r.max_abs_diff:.1e}{exact} | {r.psnr_db:.1f} | {100 * r.share_off:.2f}% |")
    return "\n".join(lines) + "\n"


def benchmark(args: argparse.Namespace, reference: Reference, work: Path) -> list[Row]:
    import yaml

    from reenact.engine import bf16_supported

    checkpoint, config = args.checkpoint, args.config or reference.directory / "config" / "vox-256.yaml"
    size = yaml.safe_load(config.read_text())["dataset_params"]["frame_shape"][0]
    source, driving = synthetic_clip(size, args.frames)
    if checkpoint is None:
        checkpoint = work / "random-vox-256.pth.tar"
        write_random_checkpoint(reference, config, checkpoint, args.seed, (source, driving))
    generator, kp_detector = reference.load_checkpoints(str(config), str(checkpoint), cpu=True)
    paths = [p for p in args.paths
             if PATHS[p].get("precision") != "bf16" or bf16_supported(torch.device("cpu"))]
    skipped = sorted(set(args.paths) - set(paths))
    if skipped:
        logger.warning("skipped (no native bf16 on this CPU): %s", ", ".join(skipped))
    backends = {p: make_backend(p, checkpoint, config, work / "onnx", args.threads) for p in paths}
    run_reference(reference, generator, kp_detector, source, driving[:2])  # warm-up
    for backend in backends.values():
        run_ours(backend, source, driving[:2], args.batch)
    best: dict[str, float] = {}
    outputs: dict[str, np.ndarray] = {}
    for round_index in range(args.rounds):
        seconds, output = run_reference(reference, generator, kp_detector, source, driving)
        best["reference"] = min(seconds, best.get("reference", math.inf))
        outputs.setdefault("reference", output)
        for name, backend in backends.items():
            seconds, output = run_ours(backend, source, driving, args.batch)
            best[name] = min(seconds, best.get(name, math.inf))
            outputs.setdefault(name, output)
        logger.info("round %d: %s", round_index + 1,
                    ", ".join(f"{k} {v / len(driving):.3f} s/frame" for k, v in best.items()))
    # the reference against itself: another thread count sums in another order (the noise floor)
    torch.set_num_threads(1 if args.threads > 1 else 2)
    seconds, outputs["reference, other threads"] = run_reference(reference, generator, kp_detector,
                                                                 source, driving)
    best["reference, other threads"] = seconds
    torch.set_num_threads(args.threads)
    spread = output_spread(outputs["reference"])
    logger.info("reference output: std %.3f, mean frame-to-frame change %.3f (near 0: a flat "
                "output, where every path looks exact)", *spread)
    rows = []
    for name in ["reference", "reference, other threads", *backends]:
        error = compare(outputs[name], outputs["reference"])
        rows.append(Row(name, best[name] / len(driving), best["reference"] / best[name],
                        error.max_abs_diff, error.psnr_db, error.share_off))
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--reference", type=Path, required=True,
                        help="a checkout of AliaksandrSiarohin/first-order-model")
    parser.add_argument("--checkpoint", type=Path, help="reference-format .pth.tar (default: random)")
    parser.add_argument("--config", type=Path,
                        help="its yaml (default: the reference's config/vox-256.yaml)")
    parser.add_argument("--frames", type=int, default=8, help="driving frames (default 8)")
    parser.add_argument("--batch", type=int, default=1, help="reenact's batch size (default 1)")
    parser.add_argument("--threads", type=int, default=2, help="torch/onnxruntime threads (default 2)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved timed rounds (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="random weights' seed (default 0)")
    parser.add_argument("--paths", nargs="+", choices=list(PATHS), default=list(PATHS))
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    if args.checkpoint is not None and args.config is None:
        parser.error("--checkpoint needs --config (its yaml)")
    if min(args.frames, args.batch, args.threads, args.rounds) < 1:
        parser.error("--frames, --batch, --threads and --rounds must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        reference = load_reference(args.reference)
    except ReferenceCodeError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    torch.set_num_threads(args.threads)  # the one process-wide setting, as the CLI does
    with tempfile.TemporaryDirectory(prefix="reenact-exactness-") as temp:
        rows = benchmark(args, reference, Path(temp))
    sys.stdout.write(markdown(rows))
    if args.json:
        environment = {"torch": torch.__version__, "threads": args.threads, "frames": args.frames,
                       "batch": args.batch, "rounds": args.rounds,
                       "checkpoint": str(args.checkpoint or f"random vox-256, seed {args.seed}")}
        data = {"environment": environment,
                "rows": [{k: (None if v == math.inf else v) for k, v in asdict(r).items()}
                         for r in rows]}
        args.json.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
