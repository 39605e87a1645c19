"""`reenact talk`: a talking head from a portrait and a speech clip."""

from __future__ import annotations

import argparse
import logging

from reenact.cli.backend import (
    backend_and_audio_model,
    feature_process,
    set_threads,
    speech_model_record,
)
from reenact.cli.options import (
    add_backend_arguments,
    add_model_arguments,
    add_portrait_arguments,
    add_source_argument,
    add_speech_arguments,
    add_video_output_argument,
    parse_fps,
    transcript_argument,
)

logger = logging.getLogger("reenact")


def cmd_talk(args: argparse.Namespace) -> int:
    # librosa is imported by a child process while this one imports torch and loads the models
    with feature_process(args) as features_of:
        return _talk(args, features_of)


def _talk(args: argparse.Namespace, features_of) -> int:
    from reenact.pipelines.talk import TalkOptions, talk

    set_threads(args)
    options = TalkOptions(
        fps=args.fps, seed=args.seed, idle=args.idle, voice_gate=args.voice_gate,
        phones=args.phones, transcript=transcript_argument(args), words=args.words,
        mouth_scale=args.mouth_scale, driving_policy=args.driving_policy, mouth=args.mouth,
        crop=args.crop, crop_only=args.crop_only, render=args.render, eyes=args.eyes,
        body=args.body, face_index=args.face_index,
        face_backend=args.face_backend, kp_smoothing=args.kp_smoothing,
        batch_size=args.batch_size, max_output_side=args.max_size, max_frames=args.max_frames,
        label=args.label)
    backend, checkpoint = backend_and_audio_model(args)
    result = talk(args.source, args.audio, args.output, backend=backend, checkpoint=checkpoint,
                  options=options, driving_path=args.driving, progress=not args.quiet,
                  model=speech_model_record(args), features_of=features_of,
                  phones_of=features_of.phones)
    logger.info("done: %s (%d frames, %.2f s at %s fps)", result.output, result.num_frames,
                result.num_frames / float(result.fps), result.fps)
    return 0


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    talk = commands.add_parser("talk", parents=[common],
                               help="a talking head from a portrait and a speech clip")
    add_source_argument(talk)
    talk.add_argument("--audio", required=True,
                      help="the speech: any audio file, or a video whose audio track is used")
    add_video_output_argument(talk)
    talk.add_argument("--driving", help="a video whose head motion is used (its mouth motion is "
                                        "replaced by the speech's); default: idle motion")
    talk.add_argument("--driving-policy", choices=("pingpong", "loop", "pad"), default="pingpong",
                      help="how a driving video shorter than the speech is extended (default "
                           "pingpong)")
    talk.add_argument("--fps", type=parse_fps,
                      help="output frame rate (default: the driving video's, else the audio model's)")
    talk.add_argument("--seed", type=int, default=0, help="of the blinks and head sway (default 0)")
    talk.add_argument("--no-idle", dest="idle", action="store_false",
                      help="no blinks and no head sway")
    talk.add_argument("--mouth", choices=("drawn", "model"), default="drawn",
                      help="drawn: the portrait's own mouth, opened with its inside (teeth, "
                           "tongue) painted, drawn at the photo's resolution over the model's lower "
                           "face (default; with --render full); model: the motion model's mouth")
    add_portrait_arguments(talk)
    add_speech_arguments(talk)
    add_model_arguments(talk)
    add_backend_arguments(talk)
    talk.set_defaults(handler=cmd_talk)
