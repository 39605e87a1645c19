"""Lip-sync table: real talking videos (the anchor) against our talk and dub outputs, judged by
`reenact.evaluation.lipsync` (mediapipe FaceMesh's inner-lip gap, which sees the lips close, and the
pixels of the mouth), each row beside a mismatched-audio control.

Rows (held-out media of ../shared/media/eval only; never tune on them):
- real: each eval talking video against its own audio;
- talk: each eval portrait speaking the audio of an eval talking video (portrait i, video i mod n),
  so that the real video of the same speech is there to compare with;
- dub: each eval talking video dubbed with the next one's audio;
- talk-x: each eval portrait speaking an eval speech clip (portrait i, clip i mod n; French,
  Russian, Japanese, English): no real video of that speech, so its gap std is compared with the
  real rows' mean (marked *) and it has no interior, teeth or closure figures.
Control, beside every figure that depends on the audio: the same video scored against the next
source's speech (talking video i + 1, or speech clip i + 1) and that speech's real video: what a
mouth that does not follow the audio scores.

Columns (see `reenact.evaluation.lipsync`):
- face: share of frames where FaceMesh found the face;
- gap x: std of the inner-lip gap over the real video's of the same speech (1 = as much motion);
- r @lag: Pearson r of the gap with the loudness (RMS dBFS per frame) over speech frames only,
  at the best lag in +-2 frames (+ = mouth late): a silence-speech-silence sentence shape does not
  count;
- r real: r of the gap with the real video's gap for the same speech (best lag in +-2 frames,
  speech frames; `r_real`); its control is the other speech's real mouth;
- int, teeth: of the frames where the real video shows the mouth interior (teeth), the share where
  this one does too (1.00 on the real rows by definition; their own shares are in the summary);
- pbm: lips closed (gap < 10% of its maximum) within +-2 frames of a p/b/m word onset, closed /
  onsets scored, from GRID's word timings: its `.align` beside the video (times in 1/25000 s: a
  3-s GRID clip's last word ends at 74500 = its 2.98 s of audio), else the sentence the GRID
  file's name spells, aligned to its speech (`word_timing.aligned_words`; within 0.05 s of the
  corpus' timings where both exist); only GRID speech has any;
- close: the same test where the real video of the same speech closes its lips inside speech
  (`real_closure_onsets`; no word timings needed: most closures inside speech are p, b and m);
  "shut F1" in the summary: the F1 of the speech frames with the lips shut against the real
  video's, pooled over the rows (`shut_frame_counts`), which a mouth that shuts too often does not
  win; "depth" in the summary: at the same onsets (p/b/m; the real closings), the mean of the
  gap's least value within +-2 frames over its maximum, pooled over the onsets (`closure_depths`:
  0 shut; the counts flip where it is near 0.1, which a pixel's noise moves);
- agree: r between FaceMesh's gap and the pixel interior inside dlib's lips (two signals, one mouth:
  low when one of them sees motion the other does not); int-pbm in the summary: the closures read
  from the interior instead; rows whose agreement is under `AGREE_FLOOR` are named in the summary
  with the closures scored without them;
- dlib: the older score (`reenact.audio.sync`: dlib's inner-lip gap over all frames, confidence),
  which reads pressed lips as slightly open: secondary, for continuity;
- sharp (dub rows): the mouth region's sharpness (Laplacian variance in a box twice the size of
  dlib's lips) over the same region of the video frame it replaces, median over frames.

Usage: python benchmarks/lipsync.py [--checkpoint default] [--audio-checkpoint default]
       [--out DIR] [--max-frames 75] [--threads N] [--device auto] [--reuse]
       [--media DIR] [--kinds real talk dub talk-x]
Needs mediapipe's legacy FaceMesh: pip install "reenact[lipsync]" (or see
`reenact.evaluation.facemesh.MEDIAPIPE_INSTALL` for the lighter install).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reenact.api import resolve_model
from reenact.audio.features import frame_energy_db
from reenact.audio.phones import PhonesUnavailable
from reenact.audio.sync import score_sync
from reenact.checkpoint import CheckpointError
from reenact.checkpoint.audio_format import keypoint_space_id, resolve_audio_checkpoint
from reenact.config import ConfigError
from reenact.engine import TorchBackend
from reenact.evaluation.facemesh import require_face_mesh
from reenact.evaluation.lipsync import LipSyncScore, SpeechTrack, score_lipsync, shut_f1
from reenact.evaluation.measures import sharpness_ratio
from reenact.evaluation.mouth_track import MouthTrack, track_mouth
from reenact.evaluation.word_timing import Word, aligned_words, grid_sentence, read_grid_align
from reenact.io import VideoReader
from reenact.io.audio import AudioClip, load_audio
from reenact.pipelines.dub import DubOptions, dub
from reenact.pipelines.talk import TalkOptions, talk
from reenact.preprocess.face import FaceBackendError, create_face_analyzer
from reenact.preprocess.face_follow import follower_for

REPO = Path(__file__).resolve().parents[1]
EVAL = REPO.parent / "shared" / "media" / "eval"
SAMPLE_RATE = 16000
VIDEO_SUFFIXES = (".mp4", ".mpg")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
AUDIO_SUFFIXES = (".wav", ".mp3", ".m4a")
KINDS = ("real", "talk", "dub", "talk-x")
logger = logging.getLogger("lipsync")


@dataclass(frozen=True)
class Speech:
    """An audio source: a file, the real video of that speech (None for a bare speech clip) and
    its word timings file (None without an `.align` file; `Scorer.words` aligns GRID's sentence
    then)."""

    name: str
    path: Path
    real_video: Path | None
    align: Path | None


@dataclass(frozen=True)
class Row:
    """kind: real, talk, dub or talk-x; video: the video to score (for talk and dub, the output
    rendered from `source`, a portrait or a video, and `speech`); control: the other speech."""

    kind: str
    name: str
    video: Path
    speech: Speech
    control: Speech
    source: Path | None = None


@dataclass(frozen=True)
class Scored:
    row: Row
    matched: LipSyncScore
    control: LipSyncScore
    dlib_confidence: float
    sharpness: float = math.nan  # dub rows: the mouth region's sharpness over the video's


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes)


def eval_media(root: Path) -> tuple[list[Speech], list[Path], list[Speech]]:
    """(talking videos as speech with their real video, portraits, speech clips)."""
    talking = []
    for video in _files(root / "talking", VIDEO_SUFFIXES):
        align = video.with_suffix(".align")
        talking.append(Speech(video.stem, video, video, align if align.is_file() else None))
    clips = [Speech(p.stem, p, None, None) for p in _files(root / "speech", AUDIO_SUFFIXES)]
    portraits = _files(root / "portraits", IMAGE_SUFFIXES)
    if len(talking) < 3 or not portraits or len(clips) < 2:
        raise ValueError(f"{root}: expected >= 3 talking videos, portraits and >= 2 speech clips, "
                         f"found {len(talking)}, {len(portraits)}, {len(clips)}")
    return talking, portraits, clips


def plan_rows(root: Path, out: Path) -> list[Row]:
    """Every row of the table; talk and dub rows name the output they will be rendered to."""
    talking, portraits, clips = eval_media(root)
    n, m = len(talking), len(clips)
    rows = [Row("real", s.name, s.path, s, talking[(i + 1) % n]) for i, s in enumerate(talking)]
    for i, portrait in enumerate(portraits):
        speech, control = talking[i % n], talking[(i + 1) % n]
        rows.append(Row("talk", f"{portrait.stem} + {speech.name}",
                        out / f"talk_{portrait.stem}_{speech.name}.mp4", speech, control, portrait))
    for i, video in enumerate(talking):
        speech, control = talking[(i + 1) % n], talking[(i + 2) % n]
        rows.append(Row("dub", f"{video.name} + {speech.name}",
                        out / f"dub_{video.name}_{speech.name}.mp4", speech, control, video.path))
    for i, portrait in enumerate(portraits):
        speech, control = clips[i % m], clips[(i + 1) % m]
        rows.append(Row("talk-x", f"{portrait.stem} + {speech.name}",
                        out / f"talkx_{portrait.stem}_{speech.name}.mp4", speech, control,
                        portrait))
    return rows


def speech_transcript(speech: Speech) -> str | None:
    """The words of GRID speech (its `.align` file's, else the sentence its name spells), None
    for other speech: what `--transcripts` gives talk and dub."""
    if speech.align:
        return " ".join(word.text for word in read_grid_align(speech.align)
                        if word.text not in ("sil", "sp"))
    return grid_sentence(speech.name) if speech.name.startswith("grid_") else None


def render(rows: list[Row], args: argparse.Namespace) -> None:
    """Render the talk and dub outputs (those already in --out with --reuse are kept)."""
    model = resolve_model(args.checkpoint)
    audio_model = resolve_audio_checkpoint(args.audio_checkpoint, num_kp=model.config.num_kp,
                                           keypoint_space=keypoint_space_id(model))
    backend = TorchBackend(model, device=args.device)
    for row in rows:
        if row.source is None or (args.reuse and row.video.is_file()):
            continue
        logger.info("rendering %s %s", row.kind, row.name)
        transcript = speech_transcript(row.speech) if args.transcripts else None
        if row.kind == "dub":
            dub(row.source, row.speech.path, row.video, backend=backend,
                checkpoint=audio_model,
                options=DubOptions(mouth=args.dub_mouth, max_frames=args.max_frames,
                                   phones=not args.no_phones, transcript=transcript,
                                   words=not args.no_words),
                progress=False)
        else:
            talk(row.source, row.speech.path, row.video, backend=backend,
                 checkpoint=audio_model,
                 options=TalkOptions(mouth=args.talk_mouth, max_frames=args.max_frames,
                                     phones=not args.no_phones, transcript=transcript,
                                     words=not args.no_words),
                 progress=False)


class Scorer:
    """Scores rows, tracking each video's mouth and reading each speech once."""

    def __init__(self, max_frames: int) -> None:
        self.max_frames = max_frames
        self.analyzer = create_face_analyzer("dlib")
        self._tracks: dict[Path, MouthTrack] = {}
        self._clips: dict[Path, AudioClip] = {}
        self._words: dict[Path, tuple[Word, ...] | None] = {}
        self.timing_sources: dict[str, str] = {}  # speech name: where its word timings came from

    def track(self, video: Path) -> MouthTrack:
        """The mouth track of a whole video (real videos serve as references past --max-frames)."""
        if video not in self._tracks:
            self._tracks[video] = track_mouth(video, follower_for(self.analyzer))
            logger.info("tracked %s", video.name)
        return self._tracks[video]

    def clip(self, path: Path) -> AudioClip:
        if path not in self._clips:
            self._clips[path] = load_audio(path, SAMPLE_RATE)
        return self._clips[path]

    def score(self, row: Row) -> Scored:
        full = self.track(row.video)
        mouth = full.at_frames_of(full.fps, min(full.num_frames, self.max_frames))
        matched = self._against(mouth, row.speech)
        control = self._against(mouth, row.control)
        level = frame_energy_db(self.clip(row.speech.path), mouth.fps, mouth.num_frames)
        dlib = score_sync(mouth.dlib_opening, level).confidence
        sharpness = self.mouth_sharpness(row.video, row.source) if row.kind == "dub" else math.nan
        return Scored(row, matched, control, dlib, sharpness)

    def mouth_sharpness(self, output: Path, video: Path) -> float:
        """Median over frames of the mouth region's sharpness in `output` over the same region of
        the `video` frame it shows (`sharpness_ratio`; the region: dlib's lips in the video frame,
        grown to twice their size). Frames i < both lengths and --max-frames; output frame i shows
        video frame i (true of every policy while the video lasts)."""
        ratios = []
        with VideoReader(output) as dubbed, VideoReader(video) as original:
            for index, (out, frame) in enumerate(zip(dubbed, original)):
                if index >= self.max_frames:
                    break
                faces = self.analyzer.detect(frame)
                if not faces:
                    continue
                lips = faces[0].landmarks[48:68]
                centre, half = lips.mean(axis=0), (lips.max(axis=0) - lips.min(axis=0))
                box = (*(centre - half), *(centre + half))
                ratios.append(sharpness_ratio(out, frame, box))
        finite = [r for r in ratios if not math.isnan(r)]
        return float(np.median(finite)) if finite else math.nan

    def words(self, speech: Speech) -> tuple[Word, ...] | None:
        """The speech's word timings: its `.align` file, else its GRID sentence aligned to it
        (None for speech that is not GRID's, or where the sentence cannot be aligned)."""
        if speech.path not in self._words:
            words, source = None, None
            sentence = grid_sentence(speech.name) if speech.name.startswith("grid_") else None
            if speech.align:
                words, source = read_grid_align(speech.align), ".align file"
            elif sentence:
                try:
                    words = aligned_words(self.clip(speech.path), sentence)
                    source = f"aligned to {sentence!r}"
                except (ValueError, PhonesUnavailable) as error:
                    logger.warning("%s: no word timings (%s)", speech.name, error)
            self._words[speech.path] = words
            if source:
                self.timing_sources[speech.name] = source
        return self._words[speech.path]

    def _against(self, mouth: MouthTrack, speech: Speech) -> LipSyncScore:
        words = self.words(speech)
        track = SpeechTrack.from_clip(self.clip(speech.path), mouth.fps, mouth.num_frames,
                                      words=words)
        reference = self.track(speech.real_video) if speech.real_video else None
        return score_lipsync(mouth, track, reference)


# ----------------------------------------------------------------------------------- the table

def _cell(value: float, digits: int = 2, sign: bool = False) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _closures(rate: float, count: int) -> str:
    """"closed/count" from a closure rate over `count` onsets; "-" with none."""
    return f"{round(rate * count)}/{count}" if count else "-"


def _mean(values) -> float:
    finite = [v for v in values if v is not None and not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


HEADER = (f"{'kind':6} {'clip':40} {'face':>4} {'gap x':>6} {'r @lag':>9} {'(ctrl)':>11} "
          f"{'r real':>6} {'(ctrl)':>8} "
          f"{'int':>4} {'(ctrl)':>6} {'teeth':>5} {'(ctrl)':>6} {'pbm':>4} {'(ctrl)':>6} "
          f"{'close':>6} {'(ctrl)':>8} {'agree':>5} {'dlib':>5} {'sharp':>5}\n")


def _line(item: Scored, real_gap_std: float) -> str:
    m, c = item.matched, item.control
    ratio, mark = m.gap_std_ratio, " "
    if math.isnan(ratio) and real_gap_std > 0:
        ratio, mark = m.gap_std / real_gap_std, "*"
    face = m.face_frames / m.num_frames if m.num_frames else math.nan
    return (f"{item.row.kind:6} {item.row.name[:40]:40} {_cell(face):>4} {_cell(ratio) + mark:>6} "
            f"{_cell(m.r_speech, sign=True) + f'@{m.lag:+d}':>9} "
            f"{'(' + _cell(c.r_speech, sign=True) + f'@{c.lag:+d})':>11} "
            f"{_cell(m.r_real, sign=True):>6} {'(' + _cell(c.r_real, sign=True) + ')':>8} "
            f"{_cell(m.interior_recall):>4} {'(' + _cell(c.interior_recall) + ')':>6} "
            f"{_cell(m.teeth_recall):>5} {'(' + _cell(c.teeth_recall) + ')':>6} "
            f"{_closures(m.closure_rate, m.onsets):>4} "
            f"{'(' + _closures(c.closure_rate, c.onsets) + ')':>6} "
            f"{_closures(m.real_closure_rate, m.real_closures):>6} "
            f"{'(' + _closures(c.real_closure_rate, c.real_closures) + ')':>8} "
            f"{_cell(m.gap_interior_r):>5} {_cell(item.dlib_confidence):>5} "
            f"{_cell(item.sharpness):>5}\n")


def _real_r(m: list[LipSyncScore], c: list[LipSyncScore]) -> str:
    """r with the real mouth of the same speech (control: with the other speech's real mouth)."""
    r, r_control = _mean([s.r_real for s in m]), _mean([s.r_real for s in c])
    if math.isnan(r):
        return ""
    above = sum(a.r_real > b.r_real for a, b in zip(m, c))
    return (f"r with the real mouth {_cell(r, sign=True)} (control {_cell(r_control, sign=True)}, "
            f"above it in {above} of {len(m)}), ")


def _shut_f1(scores: list[LipSyncScore]) -> str:
    """The shut-frame F1 of the rows' pooled counts."""
    return _cell(shut_f1(sum(s.shut_both for s in scores), sum(s.shut_output for s in scores),
                         sum(s.shut_real for s in scores)))


def _pbm_closed(scores: list[LipSyncScore]) -> tuple[int, int]:
    """(p/b/m onsets with the lips shut, onsets) over the rows."""
    return (sum(round(s.closure_rate * s.onsets) for s in scores if s.onsets),
            sum(s.onsets for s in scores))


def _depth(scores: list[LipSyncScore], real: bool = False) -> str:
    """The closure depth pooled over the rows' onsets: p/b/m, or the real mouth's closings."""
    pairs = [(s.real_closure_depth, s.real_closures) if real else (s.closure_depth, s.onsets)
             for s in scores]
    pairs = [(depth, count) for depth, count in pairs if count and not math.isnan(depth)]
    total = sum(count for _, count in pairs)
    return _cell(sum(depth * count for depth, count in pairs) / total if total else math.nan)


def _real_closed(scores: list[LipSyncScore]) -> tuple[int, int]:
    """(the real mouth's closings the lips met, the real mouth's closings) over the rows."""
    return (sum(round(s.real_closure_rate * s.real_closures) for s in scores if s.real_closures),
            sum(s.real_closures for s in scores))


# rows whose FaceMesh gap and pixel interior barely agree (r under this): one of the two does not
# see that mouth move (held out, FaceMesh read a painterly portrait's drawn mouth shut while its
# interior opened and closed), so the closures it scores there say little
AGREE_FLOOR = 0.2


def _disagreeing(kind: str, items: list[Scored]) -> str:
    """The rows under `AGREE_FLOOR`, named, with the closures scored without them."""
    if kind == "real":
        return ""
    low = [i.matched.gap_interior_r < AGREE_FLOOR for i in items]
    if not any(low):
        return ""
    rest = [i.matched for i, under in zip(items, low, strict=True) if not under]
    closed, onsets = _pbm_closed(rest)
    real_closed, real_onsets = _real_closed(rest)
    names = ", ".join(i.row.name for i, under in zip(items, low, strict=True) if under)
    return (f"; FaceMesh and the interior disagree (agree < {AGREE_FLOOR}) on {sum(low)} of "
            f"{len(items)} ({names}): without {'it' if sum(low) == 1 else 'them'} pbm "
            f"{closed}/{onsets}, closes with the real mouth {real_closed}/{real_onsets}")


def _summary(kind: str, items: list[Scored], real_gap_std: float, real_r: float) -> str:
    m = [i.matched for i in items]
    c = [i.control for i in items]
    ratios = [s.gap_std_ratio if not math.isnan(s.gap_std_ratio) else s.gap_std / real_gap_std
              for s in m]
    r, r_control = _mean([s.r_speech for s in m]), _mean([s.r_speech for s in c])
    above = sum(a.r_speech > b.r_speech for a, b in zip(m, c))
    closed, onsets = _pbm_closed(m)
    interior_closed = sum(round(s.interior_closure_rate * s.onsets) for s in m if s.onsets
                          and not math.isnan(s.interior_closure_rate))
    control_closed, control_onsets = _pbm_closed(c)
    closures = (f"pbm {closed}/{onsets} (int-pbm {interior_closed}/{onsets}; ctrl "
                f"{control_closed}/{control_onsets}; depth {_depth(m)}, ctrl {_depth(c)})"
                if onsets or control_onsets else "pbm -")
    real_closed, real_onsets = _real_closed(m)
    if real_onsets:
        control_real_closed, control_real = _real_closed(c)
        closures += (f", closes with the real mouth {real_closed}/{real_onsets} (ctrl "
                     f"{control_real_closed}/{control_real}; depth {_depth(m, True)}, ctrl "
                     f"{_depth(c, True)}), shut F1 {_shut_f1(m)} (ctrl {_shut_f1(c)})")
    text = (f"{kind:6} n={len(items)}: gap x {_cell(_mean(ratios))}, r {_cell(r, sign=True)} "
            f"({_cell(r / real_r)} x real; control {_cell(r_control, sign=True)}, above it in "
            f"{above} of {len(items)}), {_real_r(m, c)}"
            f"int {_cell(_mean([s.interior_recall for s in m]))} "
            f"(ctrl {_cell(_mean([s.interior_recall for s in c]))}), teeth "
            f"{_cell(_mean([s.teeth_recall for s in m]))} "
            f"(ctrl {_cell(_mean([s.teeth_recall for s in c]))}), {closures}, agree "
            f"{_cell(_mean([s.gap_interior_r for s in m]))}, dlib "
            f"{_cell(_mean([i.dlib_confidence for i in items]))}")
    if kind == "dub":
        text += f", mouth sharpness {_cell(_mean([i.sharpness for i in items]))} x the video's"
    text += _disagreeing(kind, items)
    if kind == "real":
        text += (f"; frames showing interior {_cell(_mean([s.interior_share for s in m]))}, "
                 f"teeth {_cell(_mean([s.teeth_share for s in m]))}")
    return text + "\n"


def write_table(scored: list[Scored], timing_sources: dict[str, str]) -> None:
    real = [i for i in scored if i.row.kind == "real"]
    real_gap_std = _mean([i.matched.gap_std for i in real])
    real_r = _mean([i.matched.r_speech for i in real])
    out = sys.stdout
    out.write(HEADER)
    for kind in KINDS:
        for item in (i for i in scored if i.row.kind == kind):
            out.write(_line(item, real_gap_std))
    out.write("\n")
    for kind in KINDS:
        items = [i for i in scored if i.row.kind == kind]
        if items:
            out.write(_summary(kind, items, real_gap_std, real_r))
    out.write("* no real video of this speech: gap std over the real videos' mean\n")
    for name, source in sorted(timing_sources.items()):
        out.write(f"word timings of {name}: {source}\n")


# ------------------------------------------------------------------------------------ the run

class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit code 2 (in `main`), like the other errors
        raise ValueError(message)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="default", help="the motion model")
    parser.add_argument("--audio-checkpoint", default="default",
                        help="the audio model (default: the bundled default-audio)")
    parser.add_argument("--out", type=Path,
                        help="keep the rendered videos here (default: a temp dir)")
    parser.add_argument("--max-frames", type=int, default=75,
                        help="render and score at most N frames per video (default 75: GRID's 3 s)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dub-mouth", choices=("reference", "model"), default="reference",
                        help="how dub draws the mouth (DubOptions.mouth; default reference)")
    parser.add_argument("--talk-mouth", choices=("drawn", "model"), default="drawn",
                        help="how talk draws the mouth (TalkOptions.mouth; default drawn)")
    parser.add_argument("--no-phones", action="store_true",
                        help="talk and dub with the mouth following loudness alone "
                             "(phones=False): the figures before the phone decoder")
    parser.add_argument("--no-words", action="store_true",
                        help="talk and dub hear the phones of speech without a transcript instead "
                             "of aligning them to its recognised words (words=False)")
    parser.add_argument("--transcripts", action="store_true",
                        help="talk and dub given the words of GRID speech as their transcript "
                             "(`--transcript`: the .align file's words, else the sentence the "
                             "file's name spells), so its phones are aligned, not heard; other "
                             "speech has none")
    parser.add_argument("--media", type=Path, default=EVAL,
                        help="a folder laid out like ../shared/media/eval (talking/, portraits/, "
                             "speech/); default the held-out eval media. Tune on a folder of "
                             "non-eval media, never on eval")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS),
                        help="the rows to render and score (default all)")
    parser.add_argument("--reuse", action="store_true",
                        help="score the videos already in --out instead of rendering them again")
    args = parser.parse_args(argv)
    if args.max_frames < 16:
        raise ValueError(f"--max-frames: expected an integer >= 16 (enough speech frames to "
                         f"correlate), got {args.max_frames}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads: expected an integer >= 1, got {args.threads}")
    if args.reuse and args.out is None:
        raise ValueError("--reuse needs --out DIR (the videos to score)")
    if not args.media.is_dir():
        raise ValueError(f"{args.media} not found (the held-out media sit beside the checkout)")
    return args


def run(args: argparse.Namespace) -> None:
    os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ log lines, before it loads
    require_face_mesh()  # fail before rendering when mediapipe is missing
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        rows = [row for row in plan_rows(args.media, out) if row.kind in args.kinds]
        render(rows, args)
        scorer = Scorer(args.max_frames)
        scored = []
        for row in rows:
            scored.append(scorer.score(row))
            logger.info("scored %s %s", row.kind, row.name)
        write_table(scored, scorer.timing_sources)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        run(parse_args(argv))
    except (CheckpointError, ConfigError, FaceBackendError, ValueError, OSError) as error:
        sys.stderr.write(f"lipsync: {' '.join(str(error).split())}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
