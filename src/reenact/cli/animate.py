"""`reenact animate`: a portrait moved by a driving video."""

from __future__ import annotations

import argparse
import contextlib
import logging

from reenact.cli.backend import build_backend, model_record, models_kept, set_threads
from reenact.cli.options import (
    add_backend_arguments,
    add_expressions_argument,
    add_face_backend_argument,
    add_label_argument,
    add_model_arguments,
    add_driven_mouth_argument,
    add_head_motion_argument,
    add_portrait_arguments,
    add_source_argument,
    add_video_output_argument,
    positive_int,
)

logger = logging.getLogger("reenact")


def cmd_animate(args: argparse.Namespace) -> int:
    from reenact.pipelines.animate_options import AnimateOptions

    options = AnimateOptions(
        relative=args.mode == "relative", adapt_scale=args.adapt_scale,
        find_best_frame=args.find_best_frame, crop=args.crop, crop_only=args.crop_only,
        render=args.render, eyes=args.eyes, mouth=args.mouth, expressions=args.expressions,
        fit_landmarks=args.fit_landmarks,
        head_motion=args.head_motion, body=args.body,
        face_index=args.face_index, face_backend=args.face_backend,
        kp_smoothing=args.kp_smoothing, detect_every=args.detect_every,
        batch_size=args.batch_size, max_output_side=args.max_size, max_frames=args.max_frames,
        label=args.label)
    with contextlib.ExitStack() as stack:
        faces = None
        if not models_kept():  # one run: pass 1 goes on in a second process while torch loads
            from reenact.io.video import check_video_output
            from reenact.pipelines.face_pass_process import FacePassProcess
            from reenact.provenance.manifest import PendingManifest

            # a bad output name is reported before any work, pass 1's process included
            check_video_output(args.output, [args.source, args.driving])
            PendingManifest(args.output, [args.source, args.driving])
            try:
                faces = stack.enter_context(FacePassProcess(args.source, args.driving, options))
            except OSError as error:  # no child process here: pass 1 runs in this one
                logger.debug("face pass process not started: %s", error)
        from reenact.pipelines.animate import animate

        set_threads(args)
        backend = build_backend(args)
        result = animate(args.source, args.driving, args.output, backend=backend, options=options,
                         progress=not args.quiet, model=model_record(args), faces=faces)
    logger.info("done: %s (%d frames, %.2f s of video%s)", result.output, result.num_frames,
                result.num_frames / float(result.fps), ", with audio" if result.has_audio else "")
    return 0


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    animate = commands.add_parser("animate", parents=[common], help="animate a portrait with a driving video")
    add_source_argument(animate)
    animate.add_argument("--driving", required=True, help="the driving video")
    add_video_output_argument(animate)
    animate.add_argument("--mode", choices=("relative", "absolute"), default="relative",
                         help="relative: driving motion relative to its first frame, on the source's "
                              "pose (default); absolute: the driving keypoints as they are")
    animate.add_argument("--no-adapt-scale", dest="adapt_scale", action="store_false",
                         help="do not scale motion by the faces' relative size")
    animate.add_argument("--landmark-fit", dest="fit_landmarks", action="store_true",
                         help="fit the model's motion to the driver's landmarks (jaw, brows, nose, "
                              "eye corners; --render full): head roll follows better, the mouth "
                              "opens less across identities")
    add_head_motion_argument(animate)
    add_driven_mouth_argument(animate)
    add_expressions_argument(animate)
    animate.add_argument("--find-best-frame", action="store_true",
                         help="measure motion from the driving frame whose pose is closest to the "
                              "source's, not from the first")
    add_portrait_arguments(animate)
    add_face_backend_argument(animate)
    animate.add_argument("--detect-every", type=positive_int, default=12, metavar="N",
                         help="run the full face detector on every N-th driving frame and follow "
                              "the landmarks in between (default 12; 1: detect in every frame)")
    animate.add_argument("--max-frames", type=int, help="render only the first N driving frames")
    add_label_argument(animate)
    add_model_arguments(animate)
    add_backend_arguments(animate)
    animate.set_defaults(handler=cmd_animate)
