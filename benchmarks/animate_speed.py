"""End-to-end speed of `reenact animate`: frames/s as a user sees it, whole runs in fresh processes.

Each variant runs `reenact animate` twice, on the first N and the first 2N driving frames; the
difference of the two wall times is the cost of N frames without the fixed start-up (imports,
loading the checkpoint, the source's face analysis, opening files), so

  steady fps = N / (t(2N) - t(N))      and      run fps = 2N / t(2N)   (everything included).

Defaults: the README's inputs (samples/astronaut.png, 512x512, and samples/interview.mp4, 256x256
at 25 fps; `python samples/make_samples.py` writes the portrait), the bundled default checkpoint,
2 threads. Variants: default options, --fast-conv, --precision bf16, and --detect-every 1 (the
face detector on every driving frame, as before face following).

Usage: python benchmarks/animate_speed.py [--source IMAGE] [--driving VIDEO] [--frames N]
           [--threads 2] [--checkpoint default] [--variants default fast-conv bf16 detect-every-1]
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
    "fast-conv": ["--fast-conv"],
    "bf16": ["--precision", "bf16"],
    "detect-every-1": ["--detect-every", "1"],
}


def timed_run(source: Path, driving: Path, frames: int, extra: list[str], threads: int,
              checkpoint: str, workdir: Path) -> float:
    """Wall seconds of one `reenact animate` process rendering `frames` driving frames."""
    output = workdir / f"out-{frames}-{len(list(workdir.iterdir()))}.mp4"
    command = [sys.executable, "-c", _CLI, "animate", "-q", "--source", str(source),
               "--driving", str(driving), "-o", str(output), "--max-frames", str(frames),
               "--threads", str(threads), "--checkpoint", checkpoint, *extra]
    environment = dict(os.environ, OMP_NUM_THREADS=str(threads))
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=environment)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr.strip()}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REPO / "samples" / "astronaut.png")
    parser.add_argument("--driving", type=Path, default=REPO / "samples" / "interview.mp4")
    parser.add_argument("--frames", type=int, default=40, help="N (default 40; runs N and 2N)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    for path in (args.source, args.driving):
        if not path.is_file():
            print(f"animate_speed: {path} does not exist (python samples/make_samples.py writes "
                  "the sample portrait)", file=sys.stderr)
            return 2
    if args.frames < 1 or args.threads < 1:
        print("animate_speed: --frames and --threads must be >= 1", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants:
            extra = VARIANTS[name]
            short = timed_run(args.source, args.driving, args.frames, extra, args.threads,
                              args.checkpoint, Path(tmp))
            long = timed_run(args.source, args.driving, 2 * args.frames, extra, args.threads,
                             args.checkpoint, Path(tmp))
            steady = args.frames / max(long - short, 1e-9)
            rows.append((name, short, long, steady, 2 * args.frames / long))
            logger.info("%s: %.1f s / %.1f s", name, short, long)
    print(f"\n`reenact animate` end to end: {args.source.name} -> {args.driving.name}, "
          f"{args.threads} threads, checkpoint {args.checkpoint}\n")
    print(f"| variant | t({args.frames} frames) s | t({2 * args.frames} frames) s | steady fps | "
          "run fps (start-up included) |")
    print("|---|---|---|---|---|")
    for name, short, long, steady, overall in rows:
        print(f"| {name} | {short:.1f} | {long:.1f} | {steady:.2f} | {overall:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
