"""`reenact convert`, `init`, `info` and `presets`: making, converting and describing checkpoints."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from reenact.cli.errors import UsageError
from reenact.cli.options import parse_bool

logger = logging.getLogger("reenact")


def cmd_convert(args: argparse.Namespace) -> int:
    from reenact.checkpoint import load_fomm_checkpoint, save_checkpoint
    from reenact.checkpoint.format import check_checkpoint_target
    from reenact.io.digest import cached_file_sha256

    checkpoint, output = Path(args.checkpoint), Path(args.output)
    if output.resolve() in (checkpoint.resolve(), Path(args.config).resolve()):
        raise UsageError(f"{output}: output must not be one of the inputs")
    check_checkpoint_target(output, overwrite=args.overwrite)
    model = load_fomm_checkpoint(checkpoint, args.config, align_corners=args.align_corners)
    metadata = {"converted_from": checkpoint.name, "source_sha256": cached_file_sha256(checkpoint),
                "source_config": Path(args.config).name, "align_corners": args.align_corners}
    save_checkpoint(model, output, metadata=metadata, overwrite=args.overwrite)
    count = sum(p.numel() for p in model.parameters())
    logger.info("converted %s -> %s (%.2f M parameters, align_corners=%s)", checkpoint, output,
                count / 1e6, args.align_corners)
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from reenact.api import create_model
    from reenact.checkpoint import save_checkpoint
    from reenact.checkpoint.format import check_checkpoint_target

    check_checkpoint_target(args.output, overwrite=args.overwrite)
    model = create_model(args.preset, seed=args.seed)
    save_checkpoint(model, args.output, metadata={"preset": args.preset, "weights": "random",
                                                  "seed": args.seed}, overwrite=args.overwrite)
    logger.info("wrote a random-weight %s checkpoint to %s", args.preset, args.output)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    import json

    from reenact.checkpoint import read_checkpoint_config
    from reenact.checkpoint.format import load_state_dicts

    _, data = read_checkpoint_config(args.checkpoint)
    states = load_state_dicts(args.checkpoint)
    data["numel"] = {name: sum(t.numel() for t in state.values()) for name, state in states.items()}
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    from reenact.presets import PRESETS

    for preset in PRESETS.values():
        sys.stdout.write(f"{preset.name:10s} {preset.description}\n")
    return 0


def add_parsers(commands, common: argparse.ArgumentParser) -> None:
    """convert, init, info and presets."""
    convert = commands.add_parser("convert", parents=[common], help="convert a reference FOMM .pth.tar checkpoint")
    convert.add_argument("checkpoint", help="the reference checkpoint, e.g. vox-cpk.pth.tar")
    convert.add_argument("--config", required=True, help="its yaml config, e.g. vox-256.yaml")
    convert.add_argument("-o", "--output", required=True, help="checkpoint directory to write")
    convert.add_argument("--align-corners", type=parse_bool, default=True, metavar="{true,false}",
                         help="grid_sample convention the weights were trained with (default true: "
                              "the released checkpoints were trained on torch 1.0)")
    convert.add_argument("--overwrite", action="store_true",
                         help="replace an existing checkpoint (refused if its directory holds "
                              "any other file)")
    convert.set_defaults(handler=cmd_convert)

    init = commands.add_parser("init", parents=[common], help="write a random-weight checkpoint of a preset")
    init.add_argument("--preset", required=True)
    init.add_argument("-o", "--output", required=True)
    init.add_argument("--seed", type=int, default=0)
    init.add_argument("--overwrite", action="store_true",
                      help="replace an existing checkpoint (refused if its directory holds any "
                           "other file)")
    init.set_defaults(handler=cmd_init)

    info = commands.add_parser("info", parents=[common], help="print a checkpoint's config and parameter counts")
    info.add_argument("checkpoint")
    info.set_defaults(handler=cmd_info)

    presets = commands.add_parser("presets", parents=[common], help="list the model presets")
    presets.set_defaults(handler=cmd_presets)
