"""Lip-sync table: real talking videos (the anchor) against our talk and dub outputs, all scored by
`reenact.audio.sync` (mouth opening from landmarks against the audio's energy).

Rows (held-out media of ../shared/media/eval only):
- real: each eval talking video against its own audio;
- talk: each eval portrait speaking an eval speech clip (portrait i with clip i mod n);
- dub: each eval talking video dubbed with the next eval talking video's audio;
- control: each eval talking video, untouched, against the next one's audio (what dub starts
  from): the score of a mouth that does not follow the audio, the floor dub must rise above.
Columns: offset (frames, + = mouth late), correlation and confidence (best minus median
correlation over +-15 frames), confidence relative to the real videos' mean, and the mouth opening
in silent frames (0 = closed, 1 = as open as the 95th percentile). Per row: the means, how many
clips land within +-1 frame, and the pooled offset (the peak of the clips' correlation curves
averaged: a single 3-10 s clip often peaks at a syllable-rate alias).

Usage: python benchmarks/lipsync.py --checkpoint MOTION --audio-checkpoint AUDIO [--out DIR]
       [--max-frames N] [--device auto] [--reuse]
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

from reenact.api import resolve_model
from reenact.audio.features import frame_energy_db
from reenact.audio.sync import (
    SCORE_SAMPLE_RATE,
    SyncScore,
    score_sync,
    score_video,
    video_mouth_opening,
)
from reenact.checkpoint.audio_format import keypoint_space_id, resolve_audio_checkpoint
from reenact.engine import TorchBackend
from reenact.io.audio import load_audio
from reenact.pipelines.dub import DubOptions, dub
from reenact.pipelines.talk import TalkOptions, talk
from reenact.preprocess.face import create_face_analyzer

REPO = Path(__file__).resolve().parents[1]
EVAL = REPO.parent / "shared" / "media" / "eval"
logger = logging.getLogger("lipsync")


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes)


def render_outputs(out: Path, backend, audio_model, max_frames: int | None,
                   reuse: bool = False) -> list[tuple[str, str, Path]]:
    portraits = _files(EVAL / "portraits", (".png", ".jpg", ".jpeg"))
    speech = _files(EVAL / "speech", (".wav", ".mp3", ".m4a"))
    talking = _files(EVAL / "talking", (".mp4", ".mpg"))
    rows = []
    for index, portrait in enumerate(portraits):
        clip = speech[index % len(speech)]
        target = out / f"talk_{portrait.stem}_{clip.stem}.mp4"
        if not (reuse and target.is_file()):
            talk(portrait, clip, target, backend=backend, checkpoint=audio_model,
                 options=TalkOptions(max_frames=max_frames), progress=False)
        rows.append(("talk", f"{portrait.stem} + {clip.stem}", target))
    for index, video in enumerate(talking):
        voice = talking[(index + 1) % len(talking)]
        target = out / f"dub_{video.stem}_{voice.stem}.mp4"
        if not (reuse and target.is_file()):
            dub(video, voice, target, backend=backend, checkpoint=audio_model,
                options=DubOptions(max_frames=max_frames), progress=False)
        rows.append(("dub", f"{video.stem} + {voice.stem}", target))
    return rows


def _cell(value: float, digits: int = 2) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def write_table(scored: list[tuple[str, str, SyncScore]]) -> None:
    anchor = _mean([s.confidence for kind, _, s in scored if kind == "real"])
    sys.stdout.write(f"{'kind':5} {'clip':40} {'offset':>6} {'corr':>5} {'conf':>5} {'ratio':>5} "
                     f"{'silence':>7}\n")
    for kind, name, score in scored:
        ratio = score.confidence / anchor if anchor else math.nan
        sys.stdout.write(f"{kind:5} {name[:40]:40} {score.offset:>6d} {_cell(score.correlation):>5} "
                         f"{_cell(score.confidence):>5} {_cell(ratio):>5} "
                         f"{_cell(score.silence_opening):>7}\n")
    for kind in ("real", "talk", "dub", "ctrl"):
        rows = [s for k, _, s in scored if k == kind]
        confidence = _mean([s.confidence for s in rows])
        offsets = [s.offset for s in rows if not math.isnan(s.confidence)]
        pooled, contrast = pooled_offset(rows)
        sys.stdout.write(f"mean {kind:4}: confidence {_cell(confidence, 3)} "
                         f"({_cell(confidence / anchor)} x real), silence opening "
                         f"{_cell(_mean([s.silence_opening for s in rows]))}, |offset| "
                         f"{_cell(_mean([abs(o) for o in offsets]), 1)}, within +-1 "
                         f"{sum(abs(o) <= 1 for o in offsets)} of {len(offsets)}, pooled offset "
                         f"{pooled:+d} (contrast {_cell(contrast, 3)}), scored {len(offsets)} of "
                         f"{len(rows)}\n")


def pooled_offset(rows: list[SyncScore]) -> tuple[int, float]:
    """The offset of the row as a whole: the peak of its clips' correlation-by-offset curves
    averaged (one clip's curve has several near-equal peaks at the syllable rate; what is common
    to many clips stands out), and that peak minus the averaged curve's median."""
    curves = [s.correlations for s in rows if np.isfinite(s.correlations).any()]
    if not curves:
        return 0, math.nan
    mean = np.nanmean(np.stack(curves), axis=0)
    best = int(np.nanargmax(mean))
    return best - (mean.size - 1) // 2, float(mean[best] - np.nanmedian(mean))


def _mean(values: list[float]) -> float:
    """Mean of the numbers that are not NaN (NaN: no face was found, nothing to score)."""
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--checkpoint", default="default", help="the motion model")
    parser.add_argument("--audio-checkpoint", default="default", help="the audio model")
    parser.add_argument("--out", type=Path, help="keep the rendered videos here (default: a temp dir)")
    parser.add_argument("--max-frames", type=int, help="render at most N frames per output")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--reuse", action="store_true",
                        help="score the videos already in --out instead of rendering them again")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not EVAL.is_dir():
        sys.exit(f"lipsync: {EVAL} not found (the held-out media sit beside the checkout)")
    model = resolve_model(args.checkpoint)
    audio_model = resolve_audio_checkpoint(args.audio_checkpoint, num_kp=model.config.num_kp,
                                           keypoint_space=keypoint_space_id(model))
    backend = TorchBackend(model, device=args.device)
    analyzer = create_face_analyzer("dlib")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        rows = [("real", p.stem, p) for p in _files(EVAL / "talking", (".mp4", ".mpg"))]
        rows += render_outputs(out, backend, audio_model, args.max_frames, args.reuse)
        scored = []
        for kind, name, path in rows:
            scored.append((kind, name, score_video(path, analyzer)))
            logger.info("scored %s %s", kind, name)
        scored += control_rows(analyzer)
        write_table(scored)


def control_rows(analyzer) -> list[tuple[str, str, SyncScore]]:
    """Each eval talking video's own mouth against the next video's audio."""
    talking = _files(EVAL / "talking", (".mp4", ".mpg"))
    rows = []
    for index, video in enumerate(talking):
        voice = talking[(index + 1) % len(talking)]
        mouth, fps = video_mouth_opening(video, analyzer)
        energy = frame_energy_db(load_audio(voice, SCORE_SAMPLE_RATE), fps, mouth.size)
        rows.append(("ctrl", f"{video.stem} + {voice.stem}", score_sync(mouth, energy)))
    return rows


if __name__ == "__main__":
    main()
