"""`reenact`'s argument parser: the options every subcommand takes, then each subcommand's own."""

from __future__ import annotations

import argparse

from reenact.cli import (
    animate,
    batch,
    checkpoints,
    dub,
    evaluate,
    export_onnx,
    prepare_data,
    sync_score,
    talk,
    train,
    train_audio,
    ui,
    verify,
)

DESCRIPTION = ("The `reenact` command. Thin: parses arguments into the library's calls; owns "
               "logging setup.")


def build_parser() -> argparse.ArgumentParser:
    # -q / -v work before and after the command; SUPPRESS keeps a subcommand from resetting them
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bar; only warnings and errors")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="debug logging")
    parser = argparse.ArgumentParser(prog="reenact", description=DESCRIPTION, parents=[common])

    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    animate.add_parser(commands, common)
    checkpoints.add_parsers(commands, common)  # convert, init, info, presets
    verify.add_parser(commands, common)
    export_onnx.add_parser(commands, common)
    prepare_data.add_parser(commands, common)
    train.add_parser(commands, common)
    evaluate.add_parser(commands, common)
    talk.add_parser(commands, common)
    dub.add_parser(commands, common)
    train_audio.add_parser(commands, common)
    sync_score.add_parser(commands, common)
    batch.add_parser(commands, common)
    ui.add_parser(commands, common)
    return parser
