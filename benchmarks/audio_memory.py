"""Peak memory of the speech front end (decode, log-mel, windows, audio model) on 1 and 10 minutes of
audio: beyond the clip itself (3.8 MB a minute at 16 kHz) and its log-mel (1.9 MB a minute) it must
not grow with length. No rendering: this is the part of `talk` / `dub` that sees the whole clip.

Each length runs in a fresh process; its peak RSS comes from getrusage. Measured on the development
machine: 1 min 301 MB, 10 min 350 MB, i.e. 5.4 MB per extra minute: the clip, its log-mel and the
per-frame motion rows, nothing per window.
Usage: python benchmarks/audio_memory.py [--lengths 60 600]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from reenact.io.audio import AudioClip, write_wav

logger = logging.getLogger("audio_memory")

CHILD = """
import resource, sys, time
from fractions import Fraction
import torch
from reenact.io.audio import load_audio
from reenact.checkpoint.audio_format import untrained_audio_checkpoint
from reenact.pipelines.audio_motion import speech_motion
from reenact.audio.features import num_video_frames
started = time.perf_counter()
checkpoint = untrained_audio_checkpoint(10)
clip = load_audio(sys.argv[1], checkpoint.features.sample_rate)
frames = num_video_frames(clip.num_samples, clip.sample_rate, Fraction(25))
motion, gate = speech_motion(clip, checkpoint, Fraction(25), frames, device=torch.device("cpu"))
print(frames, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter() - started)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--lengths", type=float, nargs="+", default=[60, 600], help="seconds")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        sys.stdout.write(f"{'audio':>8} {'frames':>7} {'peak RSS':>9} {'seconds':>8}\n")
        for seconds in args.lengths:
            path = Path(tmp) / f"speech_{seconds:g}.wav"
            samples = (0.1 * rng.standard_normal(round(seconds * 16000))).astype(np.float32)
            write_wav(path, AudioClip(samples, 16000))
            del samples
            result = subprocess.run([sys.executable, "-c", CHILD, str(path)], check=True,
                                    capture_output=True, text=True)
            frames, peak_kb, elapsed = result.stdout.split()
            sys.stdout.write(f"{seconds:>7g}s {frames:>7} {int(peak_kb) / 1024:>7.0f}MB "
                             f"{float(elapsed):>8.1f}\n")


if __name__ == "__main__":
    main()
