"""The `reenact` command. Thin: parses arguments into the library's calls; owns logging setup."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

logger = logging.getLogger("reenact")


TRAIN_STEPS = 10000  # `reenact train` without --steps


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit code 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: unwinds the stack like Ctrl-C, so that every `finally`, context manager
    and partial-output cleanup runs; exit code 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_TERMINATING_SIGNALS = ("SIGTERM", "SIGHUP")


def _terminate(signum: int, frame: object) -> None:
    # a second signal must not cut the cleanup short: ignore the rest (SIGKILL still works)
    for name in _TERMINATING_SIGNALS:
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    raise Terminated(signum)


@contextlib.contextmanager
def _terminating_signals_raise() -> Iterator[None]:
    """While the command runs, SIGTERM and SIGHUP raise `Terminated` (unless ignored, as under
    nohup); the previous handlers are put back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for name in _TERMINATING_SIGNALS:
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) is not signal.SIG_IGN:
            previous[number] = signal.signal(number, _terminate)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def cmd_convert(args: argparse.Namespace) -> int:
    from reenact.checkpoint import load_fomm_checkpoint, save_checkpoint
    from reenact.checkpoint.format import check_checkpoint_target, file_sha256

    checkpoint, output = Path(args.checkpoint), Path(args.output)
    if output.resolve() in (checkpoint.resolve(), Path(args.config).resolve()):
        raise UsageError(f"{output}: output must not be one of the inputs")
    check_checkpoint_target(output, overwrite=args.overwrite)
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


def build_backend(args: argparse.Namespace):
    """The backend `--backend` names, with the model `--checkpoint` names.

    onnx: --checkpoint is an export directory (`reenact export-onnx`), or any model, which is then
    exported to a temporary directory for this run.
    """
    from reenact.api import resolve_model
    from reenact.engine import OnnxBackend, TorchBackend
    from reenact.export import is_onnx_export

    if args.backend == "torch":
        if args.onnx_optimization is not None:
            raise UsageError("--onnx-optimization applies to --backend onnx")
        model = resolve_model(args.checkpoint, config=args.config, align_corners=args.align_corners)
        return TorchBackend(model, device=args.device, precision=args.precision,
                            channels_last=args.channels_last, fast_conv=args.fast_conv)
    if args.precision != "fp32" or args.channels_last:
        raise UsageError("--precision and --channels-last apply to --backend torch")
    if args.fast_conv:
        raise UsageError("--fast-conv applies to --backend torch")
    if args.device not in ("auto", "cpu"):
        raise UsageError(f"--backend onnx runs on the CPU; got --device {args.device}")
    optimization = args.onnx_optimization or "all"
    try:
        if is_onnx_export(args.checkpoint):
            return OnnxBackend(args.checkpoint, threads=args.threads, optimization=optimization)
        model = resolve_model(args.checkpoint, config=args.config, align_corners=args.align_corners)
        logger.info("exporting the model to ONNX for this run (keep an export with `reenact "
                    "export-onnx` and pass it as --checkpoint to skip this)")
        return OnnxBackend.from_model(model, threads=args.threads, optimization=optimization)
    except ImportError as error:
        raise UsageError(str(error)) from None


def cmd_animate(args: argparse.Namespace) -> int:
    from reenact.pipelines.animate import AnimateOptions, animate

    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    options = AnimateOptions(
        relative=args.mode == "relative", adapt_scale=args.adapt_scale,
        find_best_frame=args.find_best_frame, crop=args.crop, crop_only=args.crop_only,
        render=args.render, face_index=args.face_index, face_backend=args.face_backend,
        kp_smoothing=args.kp_smoothing, detect_every=args.detect_every,
        batch_size=args.batch_size, max_output_side=args.max_size, max_frames=args.max_frames,
        label=args.label)
    backend = build_backend(args)
    result = animate(args.source, args.driving, args.output, backend=backend, options=options,
                     progress=not args.quiet, model=model_record(args))
    logger.info("done: %s (%d frames, %.2f s of video%s)", result.output, result.num_frames,
                result.num_frames / float(result.fps), ", with audio" if result.has_audio else "")
    return 0


def model_record(args: argparse.Namespace) -> dict[str, str]:
    """What the provenance record says about the model: name, path, sha256, backend."""
    from reenact.api import DEFAULT_CHECKPOINT, FALLBACK_PRESET
    from reenact.provenance import describe_checkpoint

    if str(args.checkpoint) == "default":
        if (DEFAULT_CHECKPOINT / "config.json").is_file():
            record = describe_checkpoint(DEFAULT_CHECKPOINT, name="default")
        else:
            record = {"name": f"{FALLBACK_PRESET} (untrained default)"}
    else:
        record = describe_checkpoint(args.checkpoint)
    for option in ("backend", "precision"):
        if getattr(args, option, None) is not None:
            record[option] = str(getattr(args, option))
    return record


def cmd_verify(args: argparse.Namespace) -> int:
    """0: every file is marked; 1: some file is not; 2: some file could not be read."""
    import json

    from reenact.provenance.verify import describe, verify_file

    results: list[dict[str, object]] = []
    unmarked = errors = 0
    for name in args.files:
        try:
            verification = verify_file(name)
        except (ValueError, OSError) as error:
            logger.error("%s", error)
            results.append({"path": name, "error": str(error)})
            errors += 1
            continue
        unmarked += not verification.marked
        if args.json:
            results.append(verification.to_dict())
        else:
            sys.stdout.write(describe(verification) + "\n")
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
    return 2 if errors else 1 if unmarked else 0


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


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from reenact.engine import resolve_device
    from reenact.training.data import FrameDataset
    from reenact.training.trainer import (
        CONFIG_FILE,
        TrainConfig,
        Trainer,
        init_distributed_from_env,
        read_train_config,
    )

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    distributed = init_distributed_from_env()
    config_path = Path(args.output) / CONFIG_FILE
    # the options that define a run, as given (None: not given)
    given = {"preset": args.preset, "batch_size": args.batch_size, "learning_rate": args.lr,
             "adversarial": args.adversarial, "precision": args.precision, "seed": args.seed}
    if args.resume_config and config_path.is_file():  # resume: the run's own options, new --steps
        saved = read_train_config(config_path).to_dict()  # one-line error if it is damaged
        for key, value in given.items():
            if value is not None and value != saved[key]:
                flag = "--lr" if key == "learning_rate" else "--" + key.replace("_", "-")
                raise UsageError(f"{flag} {value} differs from the run's {saved[key]} ({config_path}); "
                                 "a resumed run keeps its options (only --steps may change): "
                                 "leave it out, or use a new run directory")
        saved["steps"] = args.steps if args.steps is not None else saved["steps"]
        config = TrainConfig.from_dict(saved)
    else:
        defaults = {"preset": "fast-256", "batch_size": 8, "learning_rate": 2e-4,
                    "adversarial": False, "precision": "fp32", "seed": 0}
        chosen = {key: defaults[key] if value is None else value for key, value in given.items()}
        config = TrainConfig(
            steps=TRAIN_STEPS if args.steps is None else args.steps, log_every=args.log_every,
            preview_every=args.preview_every, checkpoint_every=args.checkpoint_every, **chosen)
    device = resolve_device(args.device)
    if distributed and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    trainer = Trainer(config, FrameDataset(args.data), args.output, device=device, init_from=args.init)
    trainer.fit(progress=not args.quiet)
    if distributed:
        torch.distributed.destroy_process_group()
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """faces (default): self-reenactment on --data, cross-identity of --portraits x --driving,
    through the animate pipeline; crops: the model-size crop scores of --data."""
    import json

    from reenact.api import resolve_model
    from reenact.io.atomic import atomic_output, check_output_directory

    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    if args.max_frames is not None and args.max_frames < 2:
        raise UsageError(f"--max-frames: expected an integer >= 2, got {args.max_frames}")
    if not args.data and not args.portraits:
        raise UsageError("nothing to evaluate: give --data VIDEO_OR_DIR... (self-reenactment) "
                         "and/or --portraits IMAGE_OR_DIR... --driving VIDEO_OR_DIR... (cross-identity)")
    if bool(args.portraits) != bool(args.driving):
        raise UsageError("--portraits and --driving go together: each portrait is animated by each "
                         "driving video")
    if args.mode == "crops" and (args.portraits or args.sheet):
        raise UsageError("--portraits, --driving and --sheet apply to --mode faces")
    for output in (args.json, args.sheet):
        if output is not None:
            check_output_directory(output)
    model = resolve_model(args.checkpoint)
    if args.mode == "crops":
        from reenact.engine import resolve_device
        from reenact.pipelines.evaluate import evaluate_videos, format_table, summarize
        from reenact.preprocess.face import create_face_analyzer

        analyzer = create_face_analyzer(args.face_backend)
        summary = summarize([result for data in args.data for result in evaluate_videos(
            model, data, analyzer, max_frames=args.max_frames, batch_size=args.batch_size,
            device=resolve_device(args.device))])
        report = format_table(summary)
    else:
        from reenact.engine import TorchBackend
        from reenact.pipelines.animate import AnimateOptions
        from reenact.pipelines.evaluate import FaceEvaluationOptions, evaluate_faces

        options = FaceEvaluationOptions(
            animate=AnimateOptions(batch_size=args.batch_size, face_backend=args.face_backend),
            max_frames=args.max_frames, identity_every=args.identity_every,
            sheet_frames=args.sheet_frames if args.sheet else 0)
        summary, report = evaluate_faces(TorchBackend(model, device=args.device), options,
                                         videos=args.data, portraits=args.portraits,
                                         driving=args.driving, sheet=args.sheet,
                                         progress=not args.quiet)
    sys.stdout.write(report + "\n")
    if args.json:
        with atomic_output(args.json) as temporary:
            Path(temporary).write_text(json.dumps(summary, indent=2) + "\n")
    if args.mode == "crops" and not summary["beats_static_l1"]:
        logger.warning("the model does not beat the static baseline (L1 %.4f vs %.4f)",
                       summary["mean"]["model"]["l1"], summary["mean"]["static"]["l1"])
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
    parser.add_argument("--threads", type=int,
                        help="CPU threads for torch and onnxruntime (default: the library's choice)")


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                        help="torch (default), or onnx: onnxruntime on the CPU; --checkpoint may then "
                             "be a `reenact export-onnx` directory (any other model is exported for "
                             "the run)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="torch: bf16 autocast, about 2x faster on CPUs with AVX-512 BF16 or AMX, "
                             "not bit-exact (default fp32)")
    parser.add_argument("--channels-last", action="store_true",
                        help="torch: NHWC memory layout for convolutions (often faster on CPUs)")
    parser.add_argument("--fast-conv", action="store_true",
                        help="torch, CPU, fp32: fewer FLOPs for the same output to float rounding "
                             "(Winograd convolutions, BatchNorm and upsampling folded into "
                             "convolutions; ~2x the frames/s of fp32 channels-last on vox-256); "
                             "implies --channels-last")
    parser.add_argument("--onnx-optimization", choices=("none", "basic", "extended", "all"),
                        help="onnx: onnxruntime graph optimization level (default all)")


def build_parser() -> argparse.ArgumentParser:
    # -q / -v work before and after the command; SUPPRESS keeps a subcommand from resetting them
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bar; only warnings and errors")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="debug logging")
    parser = argparse.ArgumentParser(prog="reenact", description=__doc__, parents=[common])

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
    animate.add_argument("--render", choices=("full", "crop"), default="full",
                         help="full: warp the photo itself at its resolution and paste only what "
                              "moved; crop: paste the model-size frame, upscaled, over the face box")
    animate.add_argument("--face-index", type=int, help="which source face (0 = largest)")
    animate.add_argument("--face-backend", choices=("dlib", "face-alignment"), default="dlib")
    animate.add_argument("--detect-every", type=_positive_int, default=12, metavar="N",
                         help="run the full face detector on every N-th driving frame and follow "
                              "the landmarks in between (default 12; 1: detect in every frame)")
    animate.add_argument("--kp-smoothing", type=float, default=0.25,
                         help="temporal smoothing of driving keypoints, 0 (off) to <1 (default 0.25)")
    animate.add_argument("--max-size", type=int, default=1920,
                         help="long side of the output when pasting into a larger photo (default 1920)")
    animate.add_argument("--max-frames", type=int, help="render only the first N driving frames")
    animate.add_argument("--label", metavar="TEXT",
                         help="also draw TEXT (e.g. 'AI-generated') in a corner of every frame; the "
                              "invisible watermark and the metadata are always there")
    add_model_arguments(animate)
    add_backend_arguments(animate)
    animate.set_defaults(handler=cmd_animate)

    convert = commands.add_parser("convert", parents=[common], help="convert a reference FOMM .pth.tar checkpoint")
    convert.add_argument("checkpoint", help="the reference checkpoint, e.g. vox-cpk.pth.tar")
    convert.add_argument("--config", required=True, help="its yaml config, e.g. vox-256.yaml")
    convert.add_argument("-o", "--output", required=True, help="checkpoint directory to write")
    convert.add_argument("--align-corners", type=_parse_bool, default=True, metavar="{true,false}",
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

    verify = commands.add_parser(
        "verify", parents=[common], help="tell whether videos or images were made by reenact",
        description="Report the invisible watermark (survives re-encoding and rescaling), the "
                    "container metadata and the sidecar manifest of each FILE. Exit code 0: "
                    "every file is marked; 1: at least one is not; 2: a file could not be read.")
    verify.add_argument("files", nargs="+", metavar="FILE", help="videos or images")
    verify.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    verify.set_defaults(handler=cmd_verify)

    export = commands.add_parser("export-onnx", parents=[common],
                                 help="export a model as ONNX graphs for onnxruntime")
    export.add_argument("checkpoint", nargs="?",
                        help="'default', a reenact checkpoint directory, or a reference .pth.tar "
                             "(with --config)")
    export.add_argument("--preset", help="export a random-weight model of this preset instead "
                                         "(for benchmarks)")
    export.add_argument("--seed", type=int, default=0, help="the random weights' seed (--preset)")
    export.add_argument("--config", help="the yaml of a reference .pth.tar checkpoint")
    export.add_argument("--align-corners", type=_parse_bool, default=None, metavar="{true,false}",
                        help="grid_sample convention of a reference .pth.tar (default true)")
    export.add_argument("-o", "--output", required=True, help="the export directory to write")
    export.add_argument("--opset", type=int, default=17, help="ONNX opset, 16 to 20 (default 17)")
    export.add_argument("--no-verify", dest="verify", action="store_false",
                        help="skip running the graphs in onnxruntime against torch after export")
    export.add_argument("--overwrite", action="store_true",
                        help="replace an existing export (refused if its directory holds any "
                             "other file)")
    export.set_defaults(handler=cmd_export_onnx)

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
    prepare.add_argument("--face-backend", choices=("dlib", "face-alignment"), default="dlib")
    prepare.add_argument("--detect-every", type=_positive_int, default=1, metavar="N",
                         help="detect faces and landmarks on every N-th frame only (default 1)")
    prepare.set_defaults(handler=cmd_prepare_data)

    train = commands.add_parser("train", parents=[common], help="train a motion model on prepared data")
    train.add_argument("--data", required=True, help="a directory made by `reenact prepare-data`")
    train.add_argument("-o", "--output", required=True,
                       help="the run directory; an existing run there is resumed")
    # None defaults: a resumed run can tell an option given on the command line from a default
    train.add_argument("--preset", help="the architecture (default fast-256)")
    train.add_argument("--steps", type=int, help=f"train up to this many steps (default {TRAIN_STEPS})")
    train.add_argument("--batch-size", type=int, help="per process (default 8)")
    train.add_argument("--lr", type=float, help="learning rate (default 2e-4)")
    train.add_argument("--adversarial", action="store_true", default=None,
                       help="add a patch discriminator: GAN and feature-matching losses")
    train.add_argument("--precision", choices=("fp32", "bf16"),
                       help="bf16 autocast (fast on CPUs with AMX / AVX-512 bf16); default fp32")
    train.add_argument("--seed", type=int, help="default 0")
    train.add_argument("--init", help="start from these weights (a reenact checkpoint directory of the "
                                      "same architecture, or one that lacks only new layers)")
    train.add_argument("--log-every", type=int, default=10)
    train.add_argument("--preview-every", type=int, default=200)
    train.add_argument("--checkpoint-every", type=int, default=200)
    train.add_argument("--no-resume-config", dest="resume_config", action="store_false",
                       help="when resuming, check the given options against the run's instead of "
                            "taking the run's own")
    train.add_argument("--device", default="auto")
    train.add_argument("--threads", type=int, help="CPU threads for torch")
    train.set_defaults(handler=cmd_train)

    evaluate = commands.add_parser(
        "evaluate", parents=[common], help="score a checkpoint on faces: self-reenactment, "
                                           "cross-identity, against a landmark-warp baseline",
        description="Render through the animate pipeline and measure the faces (dlib landmarks and "
                    "pixels): mouth (visible interior and inner-lip gap), eyes, head pose, "
                    "sharpness, identity, and in self-reenactment AKD, L1 and PSNR; the same for a "
                    "training-free baseline (the source warped onto the driver's landmarks). "
                    "--mode crops: the former scores on model-size crops (L1, PSNR, SSIM vs the "
                    "first frame repeated).")
    evaluate.add_argument("checkpoint", help="'default' or a reenact checkpoint directory")
    evaluate.add_argument("--data", nargs="+", metavar="PATH",
                          help="videos, or directories of videos (searched recursively): "
                               "self-reenactment, frame 0 of each as the source")
    evaluate.add_argument("--portraits", nargs="+", metavar="PATH",
                          help="images, or directories of images: cross-identity, each animated by "
                               "every --driving video")
    evaluate.add_argument("--driving", nargs="+", metavar="PATH",
                          help="videos, or directories of videos, that drive the --portraits")
    evaluate.add_argument("--mode", choices=("faces", "crops"), default="faces",
                          help="faces (default) or crops (--data only)")
    evaluate.add_argument("--max-frames", type=int, help="use at most N frames of each video")
    evaluate.add_argument("--json", help="also write the scores (and per-frame series) to this file")
    evaluate.add_argument("--sheet", metavar="PNG",
                          help="write a contact sheet: a few frames per clip, driving | model | warp")
    evaluate.add_argument("--sheet-frames", type=int, default=3,
                          help="frames per clip on the sheet (default 3)")
    evaluate.add_argument("--identity-every", type=int, default=4, metavar="N",
                          help="face descriptors on every N-th frame (default 4; ~20 ms each)")
    evaluate.add_argument("--face-backend", choices=("dlib", "face-alignment"), default="dlib")
    evaluate.add_argument("--batch-size", type=int, default=16)
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--threads", type=int, help="CPU threads for torch")
    evaluate.set_defaults(handler=cmd_evaluate)

    from reenact.cli_audio import add_audio_commands  # talk, dub, train-audio, sync-score

    add_audio_commands(commands, common)
    return parser


def _check_common_arguments(args: argparse.Namespace) -> None:
    """Options several commands share, checked before any command runs."""
    threads = getattr(args, "threads", None)
    if threads is not None and threads < 1:
        raise UsageError(f"--threads: expected an integer >= 1, got {threads}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # set here, not with set_defaults: that would change the default of the -q / -v actions the
    # subcommands share, so that a subcommand reset a -q given before it
    args.quiet, args.verbose = getattr(args, "quiet", False), getattr(args, "verbose", False)
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    from reenact.checkpoint import CheckpointError
    from reenact.config import ConfigError
    from reenact.preprocess.face import FaceBackendError

    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        _check_common_arguments(args)
        with _terminating_signals_raise():
            return handler(args)
    except (UsageError, CheckpointError, ConfigError, FaceBackendError, ValueError, OSError) as error:
        logger.error("%s", error)
        return 2
    except Terminated as error:
        logger.error("terminated (%s)", error)
        return 128 + error.signum
    except KeyboardInterrupt:
        logger.error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
