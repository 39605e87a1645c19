"""`reenact sync-score`: the lip-sync of videos with speech: offset, confidence, silence."""

from __future__ import annotations

import argparse
import json
import math
import sys

from reenact.cli.options import add_face_backend_argument


def _format(value: float, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.{digits}f}"


def cmd_sync_score(args: argparse.Namespace) -> int:
    from reenact.audio.sync import score_video
    from reenact.preprocess.face import create_face_analyzer

    analyzer = create_face_analyzer(args.face_backend)
    rows = []
    for path in args.files:
        score = score_video(path, analyzer, max_offset=args.max_offset)
        rows.append({"file": path, "offset": score.offset, "correlation": score.correlation,
                     "confidence": score.confidence, "silence_opening": score.silence_opening,
                     "frames": score.num_frames, "face_frames": score.face_frames})
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    sys.stdout.write(f"{'offset':>6} {'corr':>6} {'conf':>6} {'silence':>7} {'faces':>9}  file\n")
    for row in rows:
        sys.stdout.write(f"{row['offset']:>6d} {_format(row['correlation']):>6} "
                         f"{_format(row['confidence']):>6} {_format(row['silence_opening']):>7} "
                         f"{row['face_frames']:>4d}/{row['frames']:<4d}  {row['file']}\n")
    return 0


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    score = commands.add_parser("sync-score", parents=[common],
                                help="lip-sync of videos with speech: offset, confidence, silence")
    score.add_argument("files", nargs="+", help="videos with an audio track")
    score.add_argument("--max-offset", type=int, default=15, help="frames searched each way")
    add_face_backend_argument(score)
    score.add_argument("--json", action="store_true", help="print JSON instead of a table")
    score.set_defaults(handler=cmd_sync_score)
