"""Peak memory of `reenact animate` on a 10 s and a 60 s driving video: it must not grow with length.

Each run is a fresh `reenact animate` process; its peak RSS comes from getrusage of the child. The
driving videos loop a clip of ../shared/media (or any clip given with --clip).

Usage: python benchmarks/animate_memory.py [--clip VIDEO] [--source IMAGE] [--preset fast-256]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reenact.io import VideoReader, VideoWriter

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"
logger = logging.getLogger("animate_memory")


def looped_clip(clip: Path, seconds: float, output: Path) -> Path:
    """Write `seconds` of `clip` played forwards and backwards (no jump at the loop)."""
    with VideoReader(clip) as reader:
        info = reader.info
        frames = list(reader)
    cycle = frames + frames[::-1]
    count = round(seconds * float(info.fps))
    with VideoWriter(output, info.fps, info.width, info.height) as writer:
        for frame in itertools.islice(itertools.cycle(cycle), count):
            writer.write(frame)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--clip", type=Path, default=MEDIA / "driving" / "lp_d12.mp4")
    parser.add_argument("--source", type=Path, default=MEDIA / "portraits" / "girl_painting.jpg")
    parser.add_argument("--preset", default="fast-256")
    parser.add_argument("--lengths", type=float, nargs="+", default=[10, 60])
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        checkpoint = work / "model"
        subprocess.run([sys.executable, "-m", "reenact.cli", "-q", "init", "--preset", args.preset,
                        "-o", str(checkpoint)], check=True)
        rows = []
        for seconds in args.lengths:
            driving = looped_clip(args.clip, seconds, work / f"driving_{seconds:g}s.mp4")
            # one measuring process per length, so ru_maxrss is that run's own peak
            code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
                    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
            command = [sys.executable, "-m", "reenact.cli", "animate", "-q", "--source",
                       str(args.source), "--driving", str(driving), "-o", str(work / "out.mp4"),
                       "--checkpoint", str(checkpoint), "--threads", "2"]
            started = time.perf_counter()
            result = subprocess.run([sys.executable, "-c", code, *command], check=True,
                                    capture_output=True, text=True)
            wall = time.perf_counter() - started
            peak_mib = int(result.stdout.strip().splitlines()[-1]) / 1024
            (work / "out.mp4").unlink()
            rows.append((seconds, peak_mib, wall))
            logger.info("%5.0f s driving video: peak RSS %7.1f MiB, %6.1f s wall", seconds, peak_mib, wall)
    base = rows[0][1]
    print(f"\n| driving length | peak RSS (MiB) | vs {rows[0][0]:g} s | wall (s) |")
    print("|---|---|---|---|")
    for seconds, peak, wall in rows:
        print(f"| {seconds:g} s | {peak:.1f} | {100 * (peak / base - 1):+.1f}% | {wall:.1f} |")


if __name__ == "__main__":
    main()
