"""End-to-end speed of `reenact animate` (or `talk`, `dub`): frames/s as a user sees it, whole runs
in fresh processes.

Each variant runs the command twice, on the first N and the first 2N driving frames; the
difference of the two wall times is the cost of N frames without the fixed start-up (imports,
loading the checkpoint, the source's face analysis, opening files), so

  steady fps = N / (t(2N) - t(N))      and      run fps = 2N / t(2N)   (everything included).

Defaults: the README's inputs (samples/astronaut.png, 512x512, and samples/interview.mp4, 256x256
at 25 fps; `python samples/make_samples.py` writes the portrait), the bundled default checkpoint,
2 threads. --portrait-side 256 runs on the portrait resized to 256x256 (the "256 px" case).
Variants: default options (which include --fast-conv on the CPU), --no-fast-conv, --precision bf16,
--detect-every 1 (the face detector on every driving frame, as before face following),
--mouth model (animate without its drawn mouth) and --expressions dlib (without FaceMesh's
reading of the brows and lids in every driving frame). CPU
seconds (user + sys) are printed beside wall seconds: on a shared machine they move less.

--command talk: `reenact talk --source PORTRAIT --audio SPEECH` (default audio/en.wav, 4.7 s:
--frames up to 59 at 25 fps); --command dub: `reenact dub --video DRIVING --audio SPEECH`. Real
time is 25 frames/s.

--model-only also times the model alone, in this process, as `animate`'s pass 2 calls it: the
backend the CLI builds with default options, keypoints and `render_with_motion` (frames,
deformation, source weight) for batches of --batch-size driving crops, best of 3 rounds.

Usage: python benchmarks/animate_speed.py [--command animate|talk|dub] [--audio SPEECH]
           [--source IMAGE] [--driving VIDEO] [--frames N]
           [--threads 2] [--checkpoint default] [--portrait-side N] [--model-only]
           [--variants default no-fast-conv bf16 detect-every-1]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
logger = logging.getLogger("animate_speed")

_CLI = "import sys; from reenact.cli import main; sys.exit(main(sys.argv[1:]))"

VARIANTS: dict[str, list[str]] = {
    "default": [],
    "no-fast-conv": ["--no-fast-conv"],
    "bf16": ["--precision", "bf16"],
    "detect-every-1": ["--detect-every", "1"],
    "mouth-model": ["--mouth", "model"],
    "expressions-dlib": ["--expressions", "dlib"],
}


def inputs(command: str, source: Path, driving: Path, audio: Path) -> list[str]:
    """The input options of `command`."""
    if command == "talk":
        return ["--source", str(source), "--audio", str(audio)]
    if command == "dub":
        return ["--video", str(driving), "--audio", str(audio)]
    return ["--source", str(source), "--driving", str(driving)]


def timed_run(command_inputs: list[str], frames: int, extra: list[str], threads: int,
              checkpoint: str, workdir: Path, command_name: str = "animate") -> tuple[float, float]:
    """(wall, CPU user + sys) seconds of one `reenact COMMAND` process rendering `frames` output
    frames from `command_inputs` (`inputs`)."""
    output = workdir / f"out-{frames}-{len(list(workdir.iterdir()))}.mp4"
    command = [sys.executable, "-c", _CLI, command_name, "-q", *command_inputs,
               "-o", str(output), "--max-frames", str(frames),
               "--threads", str(threads), "--checkpoint", checkpoint, *extra]
    environment = dict(os.environ, OMP_NUM_THREADS=str(threads),  # this checkout's reenact
                       PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=environment)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            stderr.seek(0)
            raise RuntimeError(f"{' '.join(command)} failed:\n{stderr.read().decode().strip()}")
    return seconds, usage.ru_utime + usage.ru_stime


def model_only(checkpoint: str, driving: Path, threads: int, batch: int,
               frames: int) -> tuple[float, float]:
    """(frames/s wall, frames/s of CPU time) of the model alone as pass 2 runs it (see module)."""
    import numpy as np
    import torch

    from reenact.cli.backend import build_backend
    from reenact.cli.parser import build_parser
    from reenact.io import VideoReader
    from reenact.preprocess.crop import crop_image

    torch.set_num_threads(threads)  # after main() chose the CLI's OpenMP wait policy
    args = build_parser().parse_args(["animate", "--source", "-", "--driving", str(driving), "-o",
                                      "-", "--checkpoint", checkpoint, "--device", "cpu"])
    backend = build_backend(args)
    size = backend.image_size
    with VideoReader(driving) as reader:
        crops = [crop_image(frame, center_box(frame), size)
                 for frame, _ in zip(reader, range(frames))]
    crops = np.stack(crops)
    kp_source, encoded = backend.detect(crops[:1]), backend.encode_source(crops[0])
    backend.render_with_motion(encoded, kp_source, backend.detect(crops[:batch]))  # warm-up
    best_wall = best_cpu = float("inf")
    for _ in range(3):
        started, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(crops), batch):
            backend.render_with_motion(encoded, kp_source, backend.detect(crops[start:start + batch]))
        best_wall = min(best_wall, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return len(crops) / best_wall, len(crops) / best_cpu


def center_box(frame):
    from reenact.pipelines.driving_track import center_box as box

    return box(frame.shape[1], frame.shape[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--command", choices=("animate", "talk", "dub"), default="animate")
    parser.add_argument("--audio", type=Path, default=REPO / "audio" / "en.wav",
                        help="talk's and dub's speech (default audio/en.wav)")
    parser.add_argument("--source", type=Path, default=REPO / "samples" / "astronaut.png")
    parser.add_argument("--driving", type=Path, default=REPO / "samples" / "interview.mp4")
    parser.add_argument("--frames", type=int, default=40, help="N (default 40; runs N and 2N)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--variants", nargs="*", choices=list(VARIANTS), default=list(VARIANTS),
                        help="end-to-end variants (none: --model-only alone)")
    parser.add_argument("--portrait-side", type=int,
                        help="resize the portrait to this many pixels square first (e.g. 256)")
    parser.add_argument("--model-only", action="store_true",
                        help="also time the model alone in this process (see module)")
    parser.add_argument("--batch-size", type=int, default=8, help="--model-only's batch (default 8)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    if args.model_only:  # the model in this process runs as under the CLI (before torch loads)
        from reenact.cli.main import _prefer_sleeping_threads

        _prefer_sleeping_threads()
    for path in (args.source, args.driving, args.audio):
        if not path.is_file():
            print(f"animate_speed: {path} does not exist (python samples/make_samples.py writes "
                  "the sample portrait)", file=sys.stderr)
            return 2
    if args.frames < 1 or args.threads < 1:
        print("animate_speed: --frames and --threads must be >= 1", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        source = args.source
        if args.portrait_side:
            from PIL import Image

            source = Path(tmp) / f"portrait-{args.portrait_side}.png"
            with Image.open(args.source) as image:
                image.convert("RGB").resize((args.portrait_side,) * 2,
                                            Image.Resampling.LANCZOS).save(source)
        command_inputs = inputs(args.command, source, args.driving, args.audio)
        for name in args.variants:
            extra = VARIANTS[name]
            if args.command != "animate" and name in ("detect-every-1", "mouth-model"):
                continue  # animate options (talk's --mouth means the same, dub's does not)
            short, short_cpu = timed_run(command_inputs, args.frames, extra, args.threads,
                                         args.checkpoint, Path(tmp), args.command)
            long, long_cpu = timed_run(command_inputs, 2 * args.frames, extra, args.threads,
                                       args.checkpoint, Path(tmp), args.command)
            steady = args.frames / max(long - short, 1e-9)
            rows.append((name, short, long, steady, 2 * args.frames / long, long_cpu,
                         args.frames / max(long_cpu - short_cpu, 1e-9)))
            logger.info("%s: %.1f s / %.1f s (CPU %.1f s / %.1f s)", name, short, long, short_cpu,
                        long_cpu)
        size = "x".join(map(str, _image_size(source)))
    if rows:
        _print_table(args, size, rows)
    if args.model_only:
        wall, cpu = model_only(args.checkpoint, args.driving, args.threads, args.batch_size,
                               2 * args.frames)
        print(f"\nmodel only (keypoints + render_with_motion, batch {args.batch_size}, "
              f"{2 * args.frames} frames, best of 3): {wall:.1f} frames/s wall, {cpu:.1f} "
              "frames/s of CPU time")
    return 0


def _print_table(args: argparse.Namespace, size: str, rows: list[tuple]) -> None:
    inputs_text = {"animate": f"{args.source.name} ({size}) -> {args.driving.name}",
                   "talk": f"{args.source.name} ({size}) speaking {args.audio.name}",
                   "dub": f"{args.driving.name} dubbed with {args.audio.name}"}[args.command]
    print(f"\n`reenact {args.command}` end to end: {inputs_text}, {args.threads} threads, "
          f"checkpoint {args.checkpoint}\n")
    print(f"| variant | t({args.frames} frames) s | t({2 * args.frames} frames) s | steady fps | "
          f"run fps (start-up included) | CPU s ({2 * args.frames} frames) | steady fps of CPU time |")
    print("|---|---|---|---|---|---|---|")
    for name, short, long, steady, overall, cpu, steady_cpu in rows:
        print(f"| {name} | {short:.1f} | {long:.1f} | {steady:.2f} | {overall:.2f} | {cpu:.1f} | "
              f"{steady_cpu:.2f} |")


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


if __name__ == "__main__":
    sys.exit(main())
