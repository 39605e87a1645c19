"""`reenact dub`: make a video's lips follow new speech."""

from __future__ import annotations

import argparse
import logging

from reenact.cli.backend import (
    audio_model_alone,
    backend_and_audio_model,
    feature_process,
    set_threads,
    speech_model_record,
)
from reenact.cli.options import (
    add_backend_arguments,
    add_model_arguments,
    add_speech_arguments,
    add_video_output_argument,
    transcript_argument,
)

logger = logging.getLogger("reenact")


def cmd_dub(args: argparse.Namespace) -> int:
    # librosa is imported by a child process while this one imports torch, the models and dlib
    with feature_process(args) as features_of:
        return _dub(args, features_of)


def _dub(args: argparse.Namespace, features_of) -> int:
    from reenact.pipelines.dub import DubOptions, dub

    set_threads(args)
    options = DubOptions(length_policy=args.length_policy, voice_gate=args.voice_gate,
                         phones=args.phones, transcript=transcript_argument(args), words=args.words,
                         mouth_scale=args.mouth_scale, face_backend=args.face_backend,
                         mouth=args.mouth, mouth_source=args.mouth_source, motion_smoothing=args.motion_smoothing,
                         render=args.render, batch_size=args.batch_size, max_frames=args.max_frames,
                         label=args.label)
    drawn = args.mouth == "reference"  # no motion model runs
    backend, checkpoint = (None, audio_model_alone(args)) if drawn else backend_and_audio_model(args)
    result = dub(args.video, args.audio, args.output, backend=backend, checkpoint=checkpoint,
                 options=options, progress=not args.quiet,
                 model=speech_model_record(args, motion=not drawn), features_of=features_of,
                 phones_of=features_of.phones)
    logger.info("done: %s (%d frames, %d with a face, at %s fps)", result.output,
                result.num_frames, result.faces, result.fps)
    return 0


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    dub = commands.add_parser("dub", parents=[common],
                              help="make a video's lips follow new speech")
    dub.add_argument("--video", required=True, help="the video to dub")
    dub.add_argument("--audio", required=True,
                     help="the new speech: any audio file, or a video whose audio track is used")
    add_video_output_argument(dub)
    dub.add_argument("--length-policy", choices=("pingpong", "loop", "trim", "pad"),
                     default="pingpong",
                     help="pingpong / loop: as long as the speech, the video played back and forth "
                          "/ from the start again when shorter (default pingpong); trim: the "
                          "shorter of the two; pad: the longer, holding the last frame")
    dub.add_argument("--mouth", choices=("reference", "model"), default="reference",
                     help="reference: draw the video's own most open mouth, warped to the "
                          "speech's opening on each frame's landmarks, at the video's resolution "
                          "(default; teeth and the inside show, lips meet); model: render the "
                          "lower face with the motion model (--render, --mouth-source, "
                          "--motion-smoothing apply to it)")
    dub.add_argument("--render", choices=("full", "crop"), default="full",
                     help="with --mouth model, full: render the lower face at the video's resolution (the model's "
                          "motion warps the video's own pixels); crop: paste the model-size mouth")
    dub.add_argument("--mouth-source", choices=("rest", "frame"), default="rest",
                     help="with --mouth model, render the lower face from the video's closed-mouth rest frame "
                          "(default: none of the old speech shows) or from each frame itself "
                          "(follows its lighting, but its old mouth shows through)")
    dub.add_argument("--motion-smoothing", type=float, default=0.12, metavar="SECONDS",
                     help="with --mouth model, low-pass each frame's own motion (Gaussian sigma, default 0.12 s) so "
                          "the old speech's jaw movement goes; 0: off")
    add_speech_arguments(dub)
    add_model_arguments(dub)
    add_backend_arguments(dub)
    dub.set_defaults(handler=cmd_dub)
