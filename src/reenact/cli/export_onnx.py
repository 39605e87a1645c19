"""`reenact export-onnx`: a model as ONNX graphs for onnxruntime."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from reenact.cli.errors import UsageError
from reenact.cli.options import parse_bool

logger = logging.getLogger("reenact")


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from reenact.api import create_model, resolve_model
    from reenact.export import export_onnx, verify_export
    from reenact.export.onnx import check_export_target

    if (args.checkpoint is None) == (args.preset is None):
        raise UsageError("give either a CHECKPOINT or --preset NAME (random weights)")
    output = Path(args.output)
    check_export_target(output, args.overwrite)
    if args.preset is not None:
        model = create_model(args.preset, seed=args.seed)
        metadata = {"preset": args.preset, "weights": "random", "seed": args.seed}
    else:
        model = resolve_model(args.checkpoint, config=args.config, align_corners=args.align_corners)
        metadata = {"checkpoint": str(args.checkpoint)}
    try:
        export_onnx(model, output, opset=args.opset, overwrite=args.overwrite, metadata=metadata)
        if args.verify:
            differences = verify_export(model, output)
            summary = ", ".join(f"{graph} {value:.1e}" for graph, value in differences.items())
            if max(differences.values()) > 1e-4:  # float rounding alone stays near 1e-6
                logger.warning("onnxruntime and torch disagree, max abs difference: %s", summary)
            else:
                logger.info("onnxruntime vs torch, max abs difference: %s", summary)
    except ImportError as error:
        raise UsageError(str(error)) from None
    return 0


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    export = commands.add_parser("export-onnx", parents=[common],
                                 help="export a model as ONNX graphs for onnxruntime")
    export.add_argument("checkpoint", nargs="?",
                        help="'default', a reenact checkpoint directory, or a reference .pth.tar "
                             "(with --config)")
    export.add_argument("--preset", help="export a random-weight model of this preset instead "
                                         "(for benchmarks)")
    export.add_argument("--seed", type=int, default=0, help="the random weights' seed (--preset)")
    export.add_argument("--config", help="the yaml of a reference .pth.tar checkpoint")
    export.add_argument("--align-corners", type=parse_bool, default=None, metavar="{true,false}",
                        help="grid_sample convention of a reference .pth.tar (default true)")
    export.add_argument("-o", "--output", required=True, help="the export directory to write")
    export.add_argument("--opset", type=int, default=17, help="ONNX opset, 16 to 20 (default 17)")
    export.add_argument("--no-verify", dest="verify", action="store_false",
                        help="skip running the graphs in onnxruntime against torch after export")
    export.add_argument("--overwrite", action="store_true",
                        help="replace an existing export (refused if its directory holds any "
                             "other file)")
    export.set_defaults(handler=cmd_export_onnx)
