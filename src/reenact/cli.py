"""The `reenact` command. Thin: parses arguments into the library's calls; owns logging setup."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

logger = logging.getLogger("reenact")


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit code 2."""


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def cmd_convert(args: argparse.Namespace) -> int:
    from reenact.checkpoint import load_fomm_checkpoint, save_checkpoint
    from reenact.checkpoint.format import file_sha256

    checkpoint, output = Path(args.checkpoint), Path(args.output)
    if output.exists() and not args.overwrite:
        raise UsageError(f"{output}: already exists (use --overwrite to replace it)")
    if output.resolve() in (checkpoint.resolve(), Path(args.config).resolve()):
        raise UsageError(f"{output}: output must not be one of the inputs")
    model = load_fomm_checkpoint(checkpoint, args.config, align_corners=args.align_corners)
    metadata = {"converted_from": checkpoint.name, "source_sha256": file_sha256(checkpoint),
                "source_config": Path(args.config).name, "align_corners": args.align_corners}
    save_checkpoint(model, output, metadata=metadata, overwrite=args.overwrite)
    count = sum(p.numel() for p in model.parameters())
    logger.info("converted %s -> %s (%.2f M parameters, align_corners=%s)", checkpoint, output,
                count / 1e6, args.align_corners)
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from reenact.api import create_model
    from reenact.checkpoint import save_checkpoint

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


def cmd_animate(args: argparse.Namespace) -> int:
    from reenact.api import resolve_model
    from reenact.engine import TorchBackend
    from reenact.pipelines.animate import AnimateOptions, animate

    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    options = AnimateOptions(
        relative=args.mode == "relative", adapt_scale=args.adapt_scale,
        find_best_frame=args.find_best_frame, crop=args.crop, crop_only=args.crop_only,
        face_index=args.face_index, face_backend=args.face_backend, kp_smoothing=args.kp_smoothing,
        batch_size=args.batch_size, max_output_side=args.max_size, max_frames=args.max_frames)
    model = resolve_model(args.checkpoint, config=args.config, align_corners=args.align_corners)
    backend = TorchBackend(model, device=args.device)
    result = animate(args.source, args.driving, args.output, backend=backend, options=options,
                     progress=not args.quiet)
    logger.info("done: %s (%d frames, %.2f s of video%s)", result.output, result.num_frames,
                result.num_frames / float(result.fps), ", with audio" if result.has_audio else "")
    return 0


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default="default",
                        help="'default' (bundled), a reenact checkpoint directory, or a reference "
                             ".pth.tar (with --config)")
    parser.add_argument("--config", help="the yaml of a reference .pth.tar checkpoint")
    parser.add_argument("--align-corners", type=_parse_bool, default=None, metavar="{true,false}",
                        help="grid_sample convention of a reference .pth.tar (default true)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    parser.add_argument("--batch-size", type=int, default=8, help="frames rendered at once (default 8)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")


def build_parser() -> argparse.ArgumentParser:
    # -q / -v work before and after the command; SUPPRESS keeps a subcommand from resetting them
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bar; only warnings and errors")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="debug logging")
    parser = argparse.ArgumentParser(prog="reenact", description=__doc__, parents=[common])
    parser.set_defaults(quiet=False, verbose=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    animate = commands.add_parser("animate", parents=[common], help="animate a portrait with a driving video")
    animate.add_argument("--source", required=True, help="the portrait (any common image format)")
    animate.add_argument("--driving", required=True, help="the driving video")
    animate.add_argument("-o", "--output", required=True, help="the video to write (.mp4)")
    animate.add_argument("--mode", choices=("relative", "absolute"), default="relative",
                         help="relative: driving motion relative to its first frame, on the source's "
                              "pose (default); absolute: the driving keypoints as they are")
    animate.add_argument("--no-adapt-scale", dest="adapt_scale", action="store_false",
                         help="do not scale motion by the faces' relative size")
    animate.add_argument("--find-best-frame", action="store_true",
                         help="measure motion from the driving frame whose pose is closest to the "
                              "source's, not from the first")
    animate.add_argument("--crop", choices=("face", "none"), default="face",
                         help="face: find and follow faces (default); none: inputs are face crops")
    animate.add_argument("--crop-only", action="store_true",
                         help="write the model-size face crop instead of pasting it into the photo")
    animate.add_argument("--face-index", type=int, help="which source face (0 = largest)")
    animate.add_argument("--face-backend", choices=("dlib", "face-alignment"), default="dlib")
    animate.add_argument("--kp-smoothing", type=float, default=0.25,
                         help="temporal smoothing of driving keypoints, 0 (off) to <1 (default 0.25)")
    animate.add_argument("--max-size", type=int, default=1920,
                         help="long side of the output when pasting into a larger photo (default 1920)")
    animate.add_argument("--max-frames", type=int, help="render only the first N driving frames")
    add_model_arguments(animate)
    animate.set_defaults(handler=cmd_animate)

    convert = commands.add_parser("convert", parents=[common], help="convert a reference FOMM .pth.tar checkpoint")
    convert.add_argument("checkpoint", help="the reference checkpoint, e.g. vox-cpk.pth.tar")
    convert.add_argument("--config", required=True, help="its yaml config, e.g. vox-256.yaml")
    convert.add_argument("-o", "--output", required=True, help="checkpoint directory to write")
    convert.add_argument("--align-corners", type=_parse_bool, default=True, metavar="{true,false}",
                         help="grid_sample convention the weights were trained with (default true: "
                              "the released checkpoints were trained on torch 1.0)")
    convert.add_argument("--overwrite", action="store_true", help="replace an existing output")
    convert.set_defaults(handler=cmd_convert)

    init = commands.add_parser("init", parents=[common], help="write a random-weight checkpoint of a preset")
    init.add_argument("--preset", required=True)
    init.add_argument("-o", "--output", required=True)
    init.add_argument("--seed", type=int, default=0)
    init.add_argument("--overwrite", action="store_true")
    init.set_defaults(handler=cmd_init)

    info = commands.add_parser("info", parents=[common], help="print a checkpoint's config and parameter counts")
    info.add_argument("checkpoint")
    info.set_defaults(handler=cmd_info)

    presets = commands.add_parser("presets", parents=[common], help="list the model presets")
    presets.set_defaults(handler=cmd_presets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    from reenact.checkpoint import CheckpointError
    from reenact.config import ConfigError
    from reenact.preprocess.face import FaceBackendError

    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (UsageError, CheckpointError, ConfigError, FaceBackendError, ValueError, OSError) as error:
        logger.error("%s", error)
        return 2
    except KeyboardInterrupt:
        logger.error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
