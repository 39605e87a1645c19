"""`reenact prepare-data`: face-crop a folder of videos into training data."""

from __future__ import annotations

import argparse

from reenact.cli.options import add_face_backend_argument, positive_int


def cmd_prepare_data(args: argparse.Namespace) -> int:
    from reenact.preprocess.face import create_face_analyzer
    from reenact.training.data import prepare_data

    size = args.size
    if size is None:
        from reenact.presets import get_preset

        size = get_preset(args.preset).image_size
    prepare_data(args.videos, args.output, size=size, analyzer=create_face_analyzer(args.face_backend),
                 run_seconds=args.run_seconds, max_frames=args.max_frames,
                 exclude=tuple(args.exclude), detect_every=args.detect_every,
                 progress=not args.quiet)
    return 0


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    prepare = commands.add_parser("prepare-data", parents=[common],
                                  help="face-crop a folder of videos into training data")
    prepare.add_argument("videos", help="a directory of videos (searched recursively)")
    prepare.add_argument("-o", "--output", required=True, help="the data directory to create")
    prepare.add_argument("--preset", default="fast-256", help="crop to this preset's image size")
    prepare.add_argument("--size", type=int, help="crop size in pixels (overrides --preset)")
    prepare.add_argument("--run-seconds", type=float, default=4.0,
                         help="each video is cut into runs this long, each with one fixed crop")
    prepare.add_argument("--max-frames", type=int, help="read at most N frames of each video")
    prepare.add_argument("--exclude", action="append", default=[], metavar="DIR_NAME",
                         help="skip videos under sub-directories of this name (repeatable)")
    add_face_backend_argument(prepare)
    prepare.add_argument("--detect-every", type=positive_int, default=1, metavar="N",
                         help="detect faces and landmarks on every N-th frame only (default 1)")
    prepare.set_defaults(handler=cmd_prepare_data)
