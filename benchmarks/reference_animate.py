"""`reenact animate` against the reference FOMM demo, end to end, on the same vox-256 weights.

Both sides run as whole fresh processes on the same files, as a user runs them: the reference's own
`demo.py` (its `__main__`: read the image and the video, resize, `load_checkpoints`,
`make_animation` with --relative --adapt_scale --cpu, `mimsave`) from a checkout given with
`--reference DIR` (fetched for the benchmark, never part of this project), and `reenact animate`
on the same weights converted with `reenact convert`. Printed per variant: median wall seconds and
CPU seconds (user + sys) over interleaved rounds, the speed ratio to the reference (median of the
per-round ratios), and the PSNR / max abs difference of its decoded output frames against the
reference's frames (the reference's frames as `make_animation` returned them, before encoding; the
reference's own decoded video is a row too: the codec's share of any difference).

Variants: `default` (`reenact animate` with default options: face crop and following, keypoint
smoothing, the full-resolution compositor, watermark, `--fast-conv`; this makes a different picture
from the reference by design), `default --no-fast-conv`, `reference-equivalent` (`--crop none
--crop-only --kp-smoothing 0`: the reference's framing and model output, so its PSNR says how
exactly we compute the reference's frames), `default, spinning OpenMP threads` (GOMP_SPINCOUNT at
libgomp's default, so the CLI keeps its hands off the wait policy), `reference demo, sleeping
OpenMP threads` (the reference with OMP_WAIT_POLICY=PASSIVE, as reenact's CLI sets it: how much of
the ratio is that setting), and with --baseline-src another checkout's `reenact animate` (before /
after). The last table compares frames before the watermark and the encoder, in process.

Weights: a random vox-256 model (the reference's `config/vox-256.yaml`) with BatchNorm calibrated
on the benchmark's frames and every tensor perturbed (`reference_exactness.write_random_checkpoint`),
so that its output has texture like a trained model's; the released weights are not available here.
Inputs: scikit-image's astronaut portrait at 256x256 and the first --frames frames of
samples/interview.mp4 (256x256, 25 fps): both already at the model's size, so the reference's
resize changes nothing and both sides see the same pixels.

Shims in the reference's process only (the checkout is never edited): stub modules `ffmpeg`,
`frames_dataset`, `logger` (imported, unused by the demo), and imageio's `get_reader` / `mimsave`
backed by PyAV (imageio's ffmpeg plugin and binary are not installed here; PyAV decodes and encodes
with the same libavcodec): H.264 (libx264, yuv420p, CRF 23), and `mimsave` also keeps the frames
it was given for the comparison.

Usage: python benchmarks/reference_animate.py --reference /tmp/fomm-ref [--frames 24] [--rounds 3]
           [--threads 2] [--variants default reference-equivalent ...] [--baseline-src DIR]
           [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
logger = logging.getLogger("reference_animate")

# the reference demo's process: shims, then demo.py run as __main__ with the given argv
REFERENCE_DEMO = r"""
import runpy, sys, types
import av, imageio, numpy as np

directory, frames_out, *argv = sys.argv[1:]
for name, attributes in {"ffmpeg": (), "frames_dataset": ("PairedDataset",),
                         "logger": ("Logger", "Visualizer")}.items():
    stub = types.ModuleType(name)
    for attribute in attributes:
        setattr(stub, attribute, None)
    sys.modules[name] = stub

class Reader:
    def __init__(self, path):
        self.container = av.open(path)
        self.stream = self.container.streams.video[0]
    def get_meta_data(self):
        return {"fps": float(self.stream.average_rate)}
    def __iter__(self):
        for frame in self.container.decode(self.stream):
            yield frame.to_ndarray(format="rgb24")
    def close(self):
        self.container.close()

def mimsave(path, frames, fps):
    np.save(frames_out, np.stack(frames))
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt, stream.options = "yuv420p", {"crf": "23"}
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())

imageio.get_reader, imageio.mimsave = Reader, mimsave
sys.path.insert(0, directory)
sys.argv = [directory + "/demo.py", *argv]
runpy.run_path(directory + "/demo.py", run_name="__main__")
"""

_CLI = "import sys; from reenact.cli import main; sys.exit(main(sys.argv[1:]))"

EQUIVALENT = ["--crop", "none", "--crop-only", "--kp-smoothing", "0"]
# GOMP_SPINCOUNT at libgomp's own default keeps the CLI from choosing OMP_WAIT_POLICY=PASSIVE
SPINNING = {"GOMP_SPINCOUNT": "300000"}
VARIANTS: dict[str, tuple[list[str] | None, dict[str, str]]] = {
    "default": ([], {}),
    "default --no-fast-conv": (["--no-fast-conv"], {}),
    "default --mouth model": (["--mouth", "model"], {}),
    "reference-equivalent": (EQUIVALENT, {}),
    "default, spinning OpenMP threads": ([], SPINNING),
    "reference demo, sleeping OpenMP threads": (None, {"OMP_WAIT_POLICY": "PASSIVE"}),
}


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float  # user + sys of the process


@dataclass(frozen=True)
class Row:
    variant: str
    wall_s: float
    cpu_s: float
    speed_vs_reference: float
    psnr_db: float
    max_abs_diff: float


def timed(command: list[str], environment: dict[str, str]) -> Timing:
    """Run `command` to completion; its wall and CPU seconds. Raises with its stderr on failure."""
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=environment)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            stderr.seek(0)
            raise RuntimeError(f"{' '.join(command[:4])} ... failed:\n{stderr.read().decode()[-3000:]}")
    return Timing(wall, usage.ru_utime + usage.ru_stime)


def decode(path: Path) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB frames of a video."""
    import av

    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def psnr(output: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(PSNR dB, max abs diff) of uint8 frames against uint8 reference frames, values in [0, 1]."""
    if output.shape != reference.shape:
        raise ValueError(f"output: expected frames of shape {reference.shape}, got {output.shape}")
    diff = np.abs(output.astype(np.float64) - reference.astype(np.float64)) / 255
    mse = float(np.mean(diff ** 2))
    return (math.inf if mse == 0 else 10 * math.log10(1 / mse)), float(diff.max())


def write_inputs(work: Path, frames: int) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """The 256x256 source portrait and an N-frame driving clip; also their pixels."""
    import av
    from PIL import Image
    from skimage import data

    source = np.asarray(Image.fromarray(data.astronaut()).resize((256, 256), Image.Resampling.LANCZOS))
    source_path = work / "source.png"
    Image.fromarray(source).save(source_path)
    driving = decode(REPO / "samples" / "interview.mp4")[:frames]
    if len(driving) < frames:
        raise ValueError(f"--frames: samples/interview.mp4 has only {len(driving)} frames")
    driving_path = work / "driving.mp4"
    with av.open(str(driving_path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 256, 256, "yuv420p"
        stream.options = {"crf": "12"}
        for image in driving:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return source_path, driving_path, source, decode(driving_path)


def write_weights(reference_dir: Path, work: Path, source: np.ndarray,
                  driving: np.ndarray) -> tuple[Path, Path, Path]:
    """(reference .pth.tar, its yaml, the reenact checkpoint directory converted from it)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from reference_exactness import load_reference, write_random_checkpoint

    config = reference_dir / "config" / "vox-256.yaml"
    pth = work / "vox-256-random.pth.tar"
    write_random_checkpoint(load_reference(reference_dir), config, pth, 0, (source, driving))
    directory = work / "vox-256-random"
    subprocess.run([sys.executable, "-c", _CLI, "convert", str(pth), "--config", str(config), "-o",
                    str(directory), "--align-corners", "false", "-q"], check=True)
    return pth, config, directory


def pipeline_frames(checkpoint: Path, source_path: Path, driving: np.ndarray,
                    fast_conv: bool) -> np.ndarray:
    """(N, S, S, 3) uint8: what `reenact animate --crop none --crop-only --kp-smoothing 0` renders,
    before the watermark and the encoder (the library's own pass 1 and pass 2, in process)."""
    from reenact.checkpoint import load_checkpoint
    from reenact.engine import TorchBackend
    from reenact.io import read_image
    from reenact.pipelines.animate import animate_frames
    from reenact.pipelines.animate_options import AnimateOptions
    from reenact.pipelines.driving_track import prepare_source, track_driving

    options = AnimateOptions(crop="none", crop_only=True, kp_smoothing=0.0)
    backend = TorchBackend(load_checkpoint(checkpoint), "cpu", fast_conv=fast_conv)
    source = prepare_source(read_image(source_path), backend.image_size, options, None)
    track = track_driving(iter(driving), 25.0, source.landmarks, options, None)
    return np.stack(list(animate_frames(source, iter(driving), track, backend, options)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True,
                        help="a checkout of AliaksandrSiarohin/first-order-model")
    parser.add_argument("--frames", type=int, default=24, help="driving frames (default 24)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--baseline-src", type=Path,
                        help="also run `reenact animate` (default options) from this src folder, "
                             "e.g. another checkout's, as the row 'default, baseline'")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    sys.path.insert(0, str(REPO / "src"))  # this checkout's reenact, as in the timed processes
    if not (args.reference / "demo.py").is_file():
        print(f"reference_animate: {args.reference} is not a checkout of first-order-model",
              file=sys.stderr)
        return 2
    if min(args.frames, args.rounds, args.threads) < 1:
        print("reference_animate: --frames, --rounds and --threads must be >= 1", file=sys.stderr)
        return 2
    environment = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
                       PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    with tempfile.TemporaryDirectory(prefix="reenact-vs-demo-") as temp:
        work = Path(temp)
        source_path, driving_path, source, driving = write_inputs(work, args.frames)
        pth, config, checkpoint = write_weights(args.reference, work, source, driving)
        reference_frames = work / "reference-frames.npy"

        def reference_command(result: Path, frames: Path) -> list[str]:
            return [sys.executable, "-c", REFERENCE_DEMO, str(args.reference.resolve()), str(frames),
                    "--config", str(config), "--checkpoint", str(pth), "--source_image",
                    str(source_path), "--driving_video", str(driving_path), "--result_video",
                    str(result), "--relative", "--adapt_scale", "--cpu"]

        commands = {"reference demo": (reference_command(work / "reference.mp4", reference_frames),
                                       environment)}
        for name in args.variants:
            extra, variables = VARIANTS[name]
            output = work / f"{len(commands)}.mp4"
            command = reference_command(output, work / f"{len(commands)}.npy") if extra is None else \
                [sys.executable, "-c", _CLI, "animate", "-q", "--source", str(source_path),
                 "--driving", str(driving_path), "-o", str(output), "--checkpoint", str(checkpoint),
                 "--threads", str(args.threads), *extra]
            commands[name] = (command, {**environment, **variables})
        if args.baseline_src is not None:
            output = work / f"{len(commands)}.mp4"
            commands["default, baseline"] = (
                [sys.executable, "-c", _CLI, "animate", "-q", "--source", str(source_path), "--driving",
                 str(driving_path), "-o", str(output), "--checkpoint", str(checkpoint), "--threads",
                 str(args.threads)], {**environment, "PYTHONPATH": str(args.baseline_src.resolve())})
        timings: dict[str, list[Timing]] = {name: [] for name in commands}
        for round_index in range(args.rounds):
            for index, (name, (command, variables)) in enumerate(commands.items()):
                if index > 0:  # reenact refuses to overwrite a file: one output per round
                    (work / f"{index}.mp4").unlink(missing_ok=True)
                    (work / f"{index}.mp4.reenact.json").unlink(missing_ok=True)
                timings[name].append(timed(command, variables))
                logger.info("round %d: %s %.1f s wall, %.1f s CPU", round_index + 1, name,
                            timings[name][-1].wall, timings[name][-1].cpu)
        expected = np.load(reference_frames)
        rows = []
        for index, name in enumerate(commands):
            output = work / "reference.mp4" if index == 0 else work / f"{index}.mp4"
            quality = psnr(decode(output), expected)
            ratios = [r.wall / t.wall for r, t in zip(timings["reference demo"], timings[name])]
            rows.append(Row(name, statistics.median(t.wall for t in timings[name]),
                            statistics.median(t.cpu for t in timings[name]),
                            statistics.median(ratios), *quality))
        print(f"\nEnd to end, {args.frames} frames 256x256, vox-256 random calibrated weights, "
              f"{args.threads} threads, {args.rounds} interleaved rounds (medians)\n")
        print("| variant | wall s | CPU s (user+sys) | speed vs reference demo | PSNR vs reference "
              "frames (dB) | max abs diff |")
        print("|---|---|---|---|---|---|")
        for row in rows:
            print(f"| {row.variant} | {row.wall_s:.1f} | {row.cpu_s:.1f} | "
                  f"{row.speed_vs_reference:.2f}x | {row.psnr_db:.1f} | {row.max_abs_diff:.3f} |",
                  flush=True)
        unencoded = {f"reference-equivalent{'' if fast else ' --no-fast-conv'}, before watermark "
                     "and encoder": psnr(pipeline_frames(checkpoint, source_path, driving, fast),
                                         expected)
                     for fast in (True, False)}
    print("\n| frames compared with the reference's (same weights, in process) | PSNR (dB) | max abs diff |")
    print("|---|---|---|")
    for name, (value, largest) in unencoded.items():
        print(f"| {name} | {value:.1f} | {largest:.4f} |")
    if args.json:
        args.json.write_text(json.dumps({"frames": args.frames, "threads": args.threads,
                                         "rounds": args.rounds,
                                         "rows": [asdict(row) for row in rows],
                                         "unencoded_psnr_db": {k: v[0] for k, v in unencoded.items()}},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
