"""Closures on p, b and m in languages the audio model never heard: `talk` given speech in another
language, with and without its transcript.

The speech is espeak-ng's (a Debian package: `apt install espeak-ng`), one sentence per language
(`SENTENCES`, ours, full of p, b and m), spoken one word at a time with `PAUSE_S` between words,
so that every word's start is known to the sample without an aligner: the measure does not lean
on what it measures. Each dev portrait (default: ../shared/media/portraits, not eval) says each
sentence twice, its phones heard (no transcript) and placed (`--transcript`).

Printed per row and pooled: of the words that start with p, b or m (`word_timing.starts_bilabial`),
how many have the lips closed (FaceMesh's inner-lip gap under 10% of its largest,
`lipsync.closure_at_onsets`) within +-2 frames of the word's start; beside it the same at the
other words' starts, the control (a mouth that shut at every word would score there too); and
the gap's std.

Synthetic speech with pauses is easier to align than a person talking fast: read the figures as
"the transcript path works in these languages", not as a rate for real recordings.

Usage: python benchmarks/transcript_languages.py [--portraits DIR] [--languages es it ...]
       [--out DIR] [--threads N]
Needs espeak-ng and mediapipe's legacy FaceMesh (pip install "reenact[lipsync]").
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reenact.api import resolve_model
from reenact.checkpoint import CheckpointError
from reenact.checkpoint.audio_format import keypoint_space_id, resolve_audio_checkpoint
from reenact.engine import TorchBackend
from reenact.evaluation.facemesh import require_face_mesh
from reenact.evaluation.lipsync import closure_at_onsets
from reenact.evaluation.mouth_track import track_mouth
from reenact.evaluation.word_timing import starts_bilabial
from reenact.io.audio import AudioClip, load_audio, write_wav
from reenact.pipelines.talk import TalkOptions, talk
from reenact.preprocess.face import FaceBackendError, create_face_analyzer
from reenact.preprocess.face_follow import follower_for

logger = logging.getLogger("transcript_languages")

PORTRAITS = Path(__file__).resolve().parents[2] / "shared" / "media" / "portraits"
SENTENCES = {
    "es": "mi padre bebe poco por la mañana pero mamá prefiere beber más café con bizcochos",
    "it": "mio padre beve poco ma la mamma preferisce bere molto prima di partire per Bologna",
    "de": "mein Bruder backt Brot mit Butter und Paul bringt Milch bald nach dem Mittag",
    "pl": "moja mama pije mleko potem brat bardzo powoli biega po parku",
    "nl": "mijn broer pakt brood met boter maar papa blijft meestal buiten bij de boom",
    "tr": "benim babam pazar sabahı bol peynir ile börek pişirir ve mutlu bir şarkı mırıldanır",
}
RATE = 16000
PAUSE_S = 0.08  # between words
EDGE_S = 0.4  # silence before the first word and after the last
SPEED = 150  # espeak-ng words per minute
LOUD = 0.02  # a word's audio starts and ends where it first and last reaches this x its peak


@dataclass(frozen=True)
class Row:
    language: str
    portrait: str
    mode: str  # "heard" or "transcript"
    closed: int
    scored: int
    other_closed: int
    other_scored: int
    gap_std: float


def spoken_word(language: str, word: str, folder: Path) -> np.ndarray:
    """(N,) float32 samples at `RATE` of espeak-ng saying `word`, its silent ends cut off."""
    path = folder / "word.wav"
    subprocess.run(["espeak-ng", "-v", language, "-s", str(SPEED), "-w", str(path), word],
                   check=True, capture_output=True)
    samples = load_audio(path, RATE).samples
    loud = np.flatnonzero(np.abs(samples) >= LOUD * np.abs(samples).max())
    return samples[loud[0]:loud[-1] + 1]


def sentence_speech(language: str, sentence: str, folder: Path) -> tuple[Path, list[tuple[str, float]]]:
    """The sentence said word by word into folder/<language>.wav, and [(word, start s)]."""
    pause = np.zeros(round(PAUSE_S * RATE), np.float32)
    edge = np.zeros(round(EDGE_S * RATE), np.float32)
    pieces, starts, at = [edge], [], EDGE_S
    for word in sentence.split():
        samples = spoken_word(language, word, folder)
        starts.append((word, at))
        pieces += [samples, pause]
        at += (samples.size + pause.size) / RATE
    pieces.append(edge)
    path = folder / f"{language}.wav"
    write_wav(path, AudioClip(np.concatenate(pieces), RATE))
    return path, starts


def score(video: Path, starts: list[tuple[str, float]], analyzer) -> tuple[int, int, int, int, float]:
    """(closed, scored) at the p/b/m word starts, the same at the other words' starts, gap std."""
    mouth = track_mouth(video, follower_for(analyzer))

    def frames(bilabial: bool) -> list[int]:
        return [int(np.floor(start * float(mouth.fps))) for word, start in starts
                if starts_bilabial(word) == bilabial]

    closed, scored = closure_at_onsets(mouth.gap, frames(True))
    other_closed, other_scored = closure_at_onsets(mouth.gap, frames(False))
    return closed, scored, other_closed, other_scored, float(np.nanstd(mouth.gap))


def run(args: argparse.Namespace) -> list[Row]:
    os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ log lines, before it loads
    require_face_mesh()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    portraits = sorted(p for p in args.portraits.iterdir()
                       if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:args.num_portraits]
    if not portraits:
        raise ValueError(f"{args.portraits}: no portraits (.jpg, .png) in it")
    model = resolve_model("default")
    audio_model = resolve_audio_checkpoint("default", num_kp=model.config.num_kp,
                                           keypoint_space=keypoint_space_id(model))
    backend = TorchBackend(model, device="cpu")
    analyzer = create_face_analyzer("dlib")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        for language in args.languages:
            sentence = SENTENCES[language]
            speech, starts = sentence_speech(language, sentence, out)
            for portrait in portraits:
                for mode in ("heard", "transcript"):
                    video = out / f"{language}_{portrait.stem}_{mode}.mp4"
                    logger.info("talk: %s, %s, %s", language, portrait.name, mode)
                    talk(portrait, speech, video, backend=backend, checkpoint=audio_model,
                         options=TalkOptions(transcript=sentence if mode == "transcript" else None),
                         progress=False)
                    rows.append(Row(language, portrait.stem, mode, *score(video, starts, analyzer)))
    return rows


def write_table(rows: list[Row]) -> None:
    out = sys.stdout
    out.write("| language | portrait | phones | p/b/m starts closed | other starts closed | gap std |\n")
    out.write("|---|---|---|---|---|---|\n")
    for row in rows:
        out.write(f"| {row.language} | {row.portrait} | {row.mode} | {row.closed}/{row.scored} | "
                  f"{row.other_closed}/{row.other_scored} | {row.gap_std:.3f} |\n")
    for mode in ("heard", "transcript"):
        chosen = [row for row in rows if row.mode == mode]
        out.write(f"{mode}: p/b/m starts closed {sum(r.closed for r in chosen)}/"
                  f"{sum(r.scored for r in chosen)}, other starts "
                  f"{sum(r.other_closed for r in chosen)}/{sum(r.other_scored for r in chosen)}\n")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit code 2 (in `main`)
        raise ValueError(message)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portraits", type=Path, default=PORTRAITS,
                        help="a folder of portraits (default the shared dev portraits; not eval)")
    parser.add_argument("--num-portraits", type=int, default=2,
                        help="the first N portraits by name (default 2)")
    parser.add_argument("--languages", nargs="+", choices=sorted(SENTENCES),
                        default=list(SENTENCES), help="espeak-ng voices (default all)")
    parser.add_argument("--out", type=Path, help="keep the speech and videos here")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    args = parser.parse_args(argv)
    if args.num_portraits < 1:
        raise ValueError(f"--num-portraits: expected an integer >= 1, got {args.num_portraits}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads: expected an integer >= 1, got {args.threads}")
    if not args.portraits.is_dir():
        raise ValueError(f"{args.portraits}: not a folder of portraits")
    if shutil.which("espeak-ng") is None:
        raise ValueError("espeak-ng is not installed (apt install espeak-ng)")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        write_table(run(parse_args(argv)))
    except (CheckpointError, FaceBackendError, ValueError, OSError,
            subprocess.CalledProcessError) as error:
        sys.stderr.write(f"transcript_languages: {' '.join(str(error).split())}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
