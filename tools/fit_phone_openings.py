"""Measure how far each phone opens a real mouth: the table `reenact.audio.phones.PHONE_OPENING`.

For every talking video given (or found in the folders given): the phone decoder's phones
(`reenact.audio.phones.decode_phones`), mediapipe FaceMesh's inner-lip gap per frame
(`reenact.evaluation.facemesh`, `pip install "reenact[lipsync]"`) over the clip's largest gap, and
the speech frames (`reenact.evaluation.lipsync.SpeechTrack`). Each phone's figure is the mean
relative gap of the speech frames whose centre it covers, over the mean of all speech frames: 1 is
an average frame of speech, under 1 a phone that opens the mouth less. Phones seen on fewer than
`--min-frames` frames are left out (the decoder's "+NSN+" noise and "+SPN+" non-speech fillers
included). Prints the table as a Python dict.

Never run it on ../shared/media/eval: the table is part of what talk and dub are judged by there.

    python tools/fit_phone_openings.py ../shared/media/talking ../shared/media/train-extra/* \
        --exclude grid_bbaf2n vr_3 ...   # the dev clips the table is judged on
"""

from __future__ import annotations

import argparse
import logging
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from reenact.audio.phones import decode_phones, frame_span
from reenact.evaluation.facemesh import FaceMeshTracker, inner_lip_gap
from reenact.evaluation.lipsync import SpeechTrack
from reenact.io import VideoReader, probe_video
from reenact.io.audio import load_audio
from reenact.training.audio_data import find_videos

logger = logging.getLogger("fit_phone_openings")


def videos(paths: list[Path], exclude: set[str], every: dict[str, int]) -> list[Path]:
    """The videos among `paths` (folders are listed, sorted), less those whose stem is excluded;
    a folder named in `every` keeps every n-th of its videos."""
    found = []
    for path in paths:
        if path.is_dir():
            found += find_videos(path)[::every.get(path.name, 1)]
        else:
            found.append(path)
    return [p for p in found if p.stem not in exclude and "eval" not in p.parts]


def clip_phones_and_gaps(path: Path, tracker: FaceMeshTracker) -> tuple[np.ndarray, np.ndarray]:
    """(labels (T,) object, relative gap (T,) with NaN off speech or without a face) at the
    video's own frames."""
    info = probe_video(path)
    fps = Fraction(info.fps)
    tracker.reset()
    gaps = []
    with VideoReader(path) as reader:
        for frame in reader:
            points = tracker.landmarks(frame)
            gaps.append(np.nan if points is None else inner_lip_gap(points))
    gaps = np.asarray(gaps, np.float64)
    clip = load_audio(path, 16000)
    speech = SpeechTrack.from_clip(clip, fps, len(gaps)).speech
    labels = np.full(len(gaps), "SIL", dtype=object)
    for segment in decode_phones(clip):
        first, stop = frame_span(segment, fps)
        labels[max(first, 0):max(stop, 0)] = segment.label
    if not np.isfinite(gaps).any() or np.nanmax(gaps) <= 0:
        return labels, np.full(len(gaps), np.nan)
    relative = gaps / np.nanmax(gaps)
    relative[~speech] = np.nan
    return labels, relative


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="talking videos or folders of them")
    parser.add_argument("--exclude", nargs="*", default=[], help="video stems to leave out")
    parser.add_argument("--every", nargs="*", default=[], metavar="FOLDER=N",
                        help="keep every N-th video of a folder (e.g. arabic_lip=20)")
    parser.add_argument("--min-frames", type=int, default=30)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    every = {name: int(n) for name, n in (item.split("=") for item in args.every)}
    chosen = videos(args.paths, set(args.exclude), every)
    sums: dict[str, list[float]] = {}
    tracker = FaceMeshTracker()
    for path in tqdm(chosen, unit="video"):
        try:
            labels, relative = clip_phones_and_gaps(path, tracker)
        except (OSError, ValueError) as error:
            logger.warning("%s: skipped (%s)", path, error)
            continue
        for label, value in zip(labels, relative, strict=True):
            if np.isfinite(value):
                entry = sums.setdefault(label, [0.0, 0])
                entry[0] += value
                entry[1] += 1
    total = sum(s for s, _ in sums.values()) / max(sum(n for _, n in sums.values()), 1)
    table = {label: round(float(s / n / total), 2) for label, (s, n) in sorted(sums.items())
             if n >= args.min_frames and label.isalpha()}
    logger.info("%d videos, %d speech frames, mean relative gap %.3f", len(chosen),
                sum(n for _, n in sums.values()), total)
    print({k: table[k] for k in sorted(table, key=table.get)})


if __name__ == "__main__":
    main()
