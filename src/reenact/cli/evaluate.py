"""`reenact evaluate`: score a checkpoint on faces (self-reenactment, cross-identity, against a
landmark-warp baseline), or on model-size crops."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from reenact.cli.backend import set_threads
from reenact.cli.errors import UsageError
from reenact.cli.options import (
    add_body_argument,
    add_driven_mouth_argument,
    add_expressions_argument,
    add_eyes_argument,
    add_face_backend_argument,
    add_head_motion_argument,
)

logger = logging.getLogger("reenact")


def cmd_evaluate(args: argparse.Namespace) -> int:
    """faces (default): self-reenactment on --data, cross-identity of --portraits x --driving,
    through the animate pipeline; crops: the model-size crop scores of --data."""
    import json

    from reenact.api import resolve_model
    from reenact.io.atomic import atomic_output, check_output_directory

    set_threads(args)
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
        from reenact.pipelines.evaluate_crops import evaluate_videos, format_table, summarize
        from reenact.preprocess.face import create_face_analyzer

        analyzer = create_face_analyzer(args.face_backend)
        summary = summarize([result for data in args.data for result in evaluate_videos(
            model, data, analyzer, max_frames=args.max_frames, batch_size=args.batch_size,
            device=resolve_device(args.device))])
        report = format_table(summary)
    else:
        from reenact.engine import TorchBackend
        from reenact.pipelines.animate_options import AnimateOptions
        from reenact.pipelines.evaluate import FaceEvaluationOptions, evaluate_faces

        options = FaceEvaluationOptions(
            animate=AnimateOptions(batch_size=args.batch_size, face_backend=args.face_backend,
                                   fit_landmarks=args.fit_landmarks, mouth=args.mouth,
                                   expressions=args.expressions,
                                   eyes=args.eyes, head_motion=args.head_motion,
                                   body=args.body, find_best_frame=args.find_best_frame),
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


def add_parser(commands, common: argparse.ArgumentParser) -> None:
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
    add_face_backend_argument(evaluate)
    evaluate.add_argument("--landmark-fit", dest="fit_landmarks", action="store_true",
                          help="render with the motion fitted to the driver's landmarks (what "
                               "`animate --landmark-fit` does)")
    evaluate.add_argument("--find-best-frame", action="store_true",
                          help="render with the driving frame whose pose is closest to the "
                               "portrait's as the one motion is measured from (what `animate "
                               "--find-best-frame` does)")
    add_head_motion_argument(evaluate)
    add_body_argument(evaluate)
    add_driven_mouth_argument(evaluate)
    add_expressions_argument(evaluate)
    add_eyes_argument(evaluate)
    evaluate.add_argument("--batch-size", type=int, default=16)
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--threads", type=int, help="CPU threads for torch")
    evaluate.set_defaults(handler=cmd_evaluate)
