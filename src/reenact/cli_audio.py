"""The audio subcommands of `reenact`: talk, dub, train-audio, sync-score.

Kept beside `reenact.cli` (which registers them with `add_audio_commands`) and as thin: arguments in,
the library's configs and calls out; errors surface through `reenact.cli.main` as one line, exit 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from fractions import Fraction

logger = logging.getLogger("reenact")


def _parse_fps(text: str) -> Fraction:
    try:
        fps = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a frame rate like 25 or 30000/1001, got "
                                         f"{text!r}") from None
    if not 0 < fps <= 1000:
        raise argparse.ArgumentTypeError(f"expected a frame rate in (0, 1000], got {text!r}")
    return fps


def _set_threads(args: argparse.Namespace) -> None:
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)


def _backend_and_audio_model(args: argparse.Namespace):
    """The motion backend (`--backend`, `--checkpoint`) and the audio checkpoint that drives it."""
    import numpy as np

    from reenact.checkpoint.audio_format import keypoint_space_id, resolve_audio_checkpoint
    from reenact.cli import build_backend
    from reenact.models import MotionModel

    backend = build_backend(args)
    model = getattr(backend, "model", None)
    if isinstance(model, MotionModel):
        num_kp, space = model.config.num_kp, keypoint_space_id(model)
    else:  # e.g. an ONNX export: the keypoint count from one detection, the space unknown
        size = backend.image_size
        num_kp, space = backend.detect(np.zeros((1, size, size, 3), np.uint8)).num_kp, None
    return backend, resolve_audio_checkpoint(args.audio_checkpoint, num_kp=num_kp,
                                             keypoint_space=space)


def _model_record(args: argparse.Namespace) -> dict[str, str]:
    """The provenance record's model: the motion model's fields, plus `audio_` + the audio
    model's name, path and sha256."""
    from reenact.checkpoint.audio_format import CONFIG_FILE, DEFAULT_AUDIO_CHECKPOINT
    from reenact.cli import model_record
    from reenact.provenance import describe_checkpoint

    record = model_record(args)
    if str(args.audio_checkpoint) == "default":
        audio = (describe_checkpoint(DEFAULT_AUDIO_CHECKPOINT, name="default-audio")
                 if (DEFAULT_AUDIO_CHECKPOINT / CONFIG_FILE).is_file()
                 else {"name": "untrained default-audio"})
    else:
        audio = describe_checkpoint(args.audio_checkpoint)
    record.update({f"audio_{key}": value for key, value in audio.items()})
    return record


def cmd_talk(args: argparse.Namespace) -> int:
    from reenact.pipelines.talk import TalkOptions, talk

    _set_threads(args)
    options = TalkOptions(
        fps=args.fps, seed=args.seed, idle=args.idle, voice_gate=args.voice_gate,
        mouth_scale=args.mouth_scale, driving_policy=args.driving_policy, crop=args.crop,
        crop_only=args.crop_only, render=args.render, face_index=args.face_index,
        face_backend=args.face_backend, kp_smoothing=args.kp_smoothing,
        batch_size=args.batch_size, max_output_side=args.max_size, max_frames=args.max_frames,
        label=args.label)
    backend, checkpoint = _backend_and_audio_model(args)
    result = talk(args.source, args.audio, args.output, backend=backend, checkpoint=checkpoint,
                  options=options, driving_path=args.driving, progress=not args.quiet,
                  model=_model_record(args))
    logger.info("done: %s (%d frames, %.2f s at %s fps)", result.output, result.num_frames,
                result.num_frames / float(result.fps), result.fps)
    return 0


def cmd_dub(args: argparse.Namespace) -> int:
    from reenact.pipelines.dub import DubOptions, dub

    _set_threads(args)
    options = DubOptions(length_policy=args.length_policy, voice_gate=args.voice_gate,
                         mouth_scale=args.mouth_scale, face_backend=args.face_backend,
                         mouth_source=args.mouth_source, motion_smoothing=args.motion_smoothing,
                         render=args.render, batch_size=args.batch_size, max_frames=args.max_frames,
                         label=args.label)
    backend, checkpoint = _backend_and_audio_model(args)
    result = dub(args.video, args.audio, args.output, backend=backend, checkpoint=checkpoint,
                 options=options, progress=not args.quiet, model=_model_record(args))
    logger.info("done: %s (%d frames, %d with a face, at %s fps)", result.output,
                result.num_frames, result.faces, result.fps)
    return 0


def cmd_train_audio(args: argparse.Namespace) -> int:
    import dataclasses

    from reenact.api import resolve_model
    from reenact.engine import resolve_device
    from reenact.preprocess.face import create_face_analyzer
    from reenact.training.audio import AudioTrainConfig, train_audio

    _set_threads(args)
    defaults = AudioTrainConfig()
    model_config = dataclasses.replace(defaults.model, hidden_size=args.hidden_size,
                                       channels=args.channels, num_layers=args.layers,
                                       dropout=args.dropout)
    config = AudioTrainConfig(model=model_config, fps=str(args.fps), steps=args.steps,
                              batch_size=args.batch_size, sequence_frames=args.sequence_frames,
                              learning_rate=args.lr, weight_decay=args.weight_decay,
                              seed=args.seed, target=args.target,
                              max_amplitude_gain=args.max_amplitude_gain,
                              mouth_output=args.mouth_output, render_gain=args.render_gain)
    motion = resolve_model(args.checkpoint, config=args.config, align_corners=args.align_corners)
    path = train_audio(args.data, motion, args.output, config=config,
                       analyzer=create_face_analyzer(args.face_backend),
                       device=resolve_device(args.device), motion_name=str(args.checkpoint),
                       resume=args.resume, progress=not args.quiet)
    logger.info("done: audio checkpoint %s", path)
    return 0


def _format(value: float, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.{digits}f}"


def cmd_sync_score(args: argparse.Namespace) -> int:
    from reenact.audio.sync import score_video
    from reenact.preprocess.face import create_face_analyzer

    analyzer = create_face_analyzer(args.face_backend)
    rows = []
    for path in args.files:
        score = score_video(path, analyzer, max_offset=args.max_offset)
        rows.append({"file": path, "offset": score.offset, "correlation": score.correlation,
                     "confidence": score.confidence, "silence_opening": score.silence_opening,
                     "frames": score.num_frames, "face_frames": score.face_frames})
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    sys.stdout.write(f"{'offset':>6} {'corr':>6} {'conf':>6} {'silence':>7} {'faces':>9}  file\n")
    for row in rows:
        sys.stdout.write(f"{row['offset']:>6d} {_format(row['correlation']):>6} "
                         f"{_format(row['confidence']):>6} {_format(row['silence_opening']):>7} "
                         f"{row['face_frames']:>4d}/{row['frames']:<4d}  {row['file']}\n")
    return 0


def _add_talk(commands, common: argparse.ArgumentParser) -> None:
    from reenact.cli import add_backend_arguments, add_model_arguments

    talk = commands.add_parser("talk", parents=[common],
                               help="a talking head from a portrait and a speech clip")
    talk.add_argument("--source", required=True, help="the portrait (any common image format)")
    talk.add_argument("--audio", required=True,
                      help="the speech: any audio file, or a video whose audio track is used")
    talk.add_argument("-o", "--output", required=True, help="the video to write (.mp4)")
    talk.add_argument("--driving", help="a video whose head motion is used (its mouth motion is "
                                        "replaced by the speech's); default: idle motion")
    talk.add_argument("--driving-policy", choices=("pingpong", "loop", "pad"), default="pingpong",
                      help="how a driving video shorter than the speech is extended (default "
                           "pingpong)")
    talk.add_argument("--fps", type=_parse_fps,
                      help="output frame rate (default: the driving video's, else the audio model's)")
    talk.add_argument("--seed", type=int, default=0, help="of the blinks and head sway (default 0)")
    talk.add_argument("--no-idle", dest="idle", action="store_false",
                      help="no blinks and no head sway")
    talk.add_argument("--crop", choices=("face", "none"), default="face")
    talk.add_argument("--crop-only", action="store_true",
                      help="write the model-size face crop instead of pasting it into the photo")
    talk.add_argument("--render", choices=("full", "crop"), default="full",
                      help="full: warp the photo itself at its resolution and paste only what "
                           "moved; crop: paste the model-size frame, upscaled, over the face box")
    talk.add_argument("--face-index", type=int, help="which face of the portrait (0 = largest)")
    talk.add_argument("--kp-smoothing", type=float, default=0.25,
                      help="temporal smoothing of the driving video's keypoints (default 0.25)")
    talk.add_argument("--max-size", type=int, default=1920,
                      help="long side of the output when pasting into a larger photo (default 1920)")
    _add_speech_arguments(talk)
    add_model_arguments(talk)
    add_backend_arguments(talk)
    talk.set_defaults(handler=cmd_talk)


def _add_speech_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--audio-checkpoint", default="default",
                        help="'default' (bundled) or an audio checkpoint directory "
                             "(`reenact train-audio`)")
    parser.add_argument("--mouth-scale", type=float, default=1.0,
                        help="multiplies the speech's mouth motion (default 1)")
    parser.add_argument("--no-voice-gate", dest="voice_gate", action="store_false",
                        help="do not hold the mouth still where the audio is silent")
    parser.add_argument("--face-backend", choices=("dlib", "face-alignment"), default="dlib")
    parser.add_argument("--max-frames", type=int, help="render only the first N frames")
    parser.add_argument("--label", metavar="TEXT",
                        help="also draw TEXT (e.g. 'AI-generated') in a corner of every frame; the "
                             "invisible watermark and the metadata are always there")


def _add_dub(commands, common: argparse.ArgumentParser) -> None:
    from reenact.cli import add_backend_arguments, add_model_arguments

    dub = commands.add_parser("dub", parents=[common],
                              help="make a video's lips follow new speech")
    dub.add_argument("--video", required=True, help="the video to dub")
    dub.add_argument("--audio", required=True,
                     help="the new speech: any audio file, or a video whose audio track is used")
    dub.add_argument("-o", "--output", required=True, help="the video to write (.mp4)")
    dub.add_argument("--length-policy", choices=("pingpong", "loop", "trim", "pad"),
                     default="pingpong",
                     help="pingpong / loop: as long as the speech, the video played back and forth "
                          "/ from the start again when shorter (default pingpong); trim: the "
                          "shorter of the two; pad: the longer, holding the last frame")
    dub.add_argument("--render", choices=("full", "crop"), default="full",
                     help="full: render the lower face at the video's resolution (the model's "
                          "motion warps the video's own pixels); crop: paste the model-size mouth")
    dub.add_argument("--mouth-source", choices=("rest", "frame"), default="rest",
                     help="render the lower face from the video's closed-mouth rest frame "
                          "(default: none of the old speech shows) or from each frame itself "
                          "(follows its lighting, but its old mouth shows through)")
    dub.add_argument("--motion-smoothing", type=float, default=0.12, metavar="SECONDS",
                     help="low-pass each frame's own motion (Gaussian sigma, default 0.12 s) so "
                          "the old speech's jaw movement goes; 0: off")
    _add_speech_arguments(dub)
    add_model_arguments(dub)
    add_backend_arguments(dub)
    dub.set_defaults(handler=cmd_dub)


def _add_train_audio(commands, common: argparse.ArgumentParser) -> None:
    from reenact.cli import _parse_bool

    train = commands.add_parser("train-audio", parents=[common],
                                help="train the audio-to-motion model on talking videos")
    train.add_argument("--data", required=True, help="a directory of talking-face videos with speech")
    train.add_argument("--checkpoint", default="default",
                       help="the motion model whose keypoints the audio model learns to move")
    train.add_argument("--config", help="the yaml of a reference .pth.tar checkpoint")
    train.add_argument("--align-corners", type=_parse_bool, default=None, metavar="{true,false}")
    train.add_argument("-o", "--output", required=True,
                       help="run directory; the checkpoint is written to OUTPUT/audio-checkpoint")
    train.add_argument("--resume", action="store_true", help="continue the run in OUTPUT")
    train.add_argument("--steps", type=int, default=3000)
    train.add_argument("--batch-size", type=int, default=16, help="sequences per step")
    train.add_argument("--sequence-frames", type=int, default=50, help="frames per sequence")
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--fps", type=_parse_fps, default=Fraction(25),
                       help="the frame rate the model runs at (default 25)")
    train.add_argument("--target", choices=("keypoints", "mouth"), default="keypoints",
                       help="keypoints (default): learn all of the keypoint motion from the rest "
                            "face; mouth: only the part the mouth's opening and width explain")
    train.add_argument("--max-amplitude-gain", type=float, default=4.0,
                       help="scale the released model's output so that its mouth opens as widely as "
                            "in the data, by at most this factor (1: off; default 4)")
    train.add_argument("--mouth-output", choices=("all", "open"), default="all",
                       help="what the released model drives: all of what it learned (default), or "
                            "only the mouth's opening")
    train.add_argument("--render-gain", type=float, default=1.0,
                       help="a further factor on the released model's output, for a motion model "
                            "that renders less mouth than its keypoints move (default 1)")
    train.add_argument("--hidden-size", type=int, default=192)
    train.add_argument("--channels", type=int, default=128)
    train.add_argument("--layers", type=int, default=2)
    train.add_argument("--dropout", type=float, default=0.1)
    train.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW's (default 1e-4)")
    train.add_argument("--face-backend", choices=("dlib", "face-alignment"), default="dlib")
    train.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    train.add_argument("--threads", type=int, help="CPU threads for torch")
    train.set_defaults(handler=cmd_train_audio)


def _add_sync_score(commands, common: argparse.ArgumentParser) -> None:
    score = commands.add_parser("sync-score", parents=[common],
                                help="lip-sync of videos with speech: offset, confidence, silence")
    score.add_argument("files", nargs="+", help="videos with an audio track")
    score.add_argument("--max-offset", type=int, default=15, help="frames searched each way")
    score.add_argument("--face-backend", choices=("dlib", "face-alignment"), default="dlib")
    score.add_argument("--json", action="store_true", help="print JSON instead of a table")
    score.set_defaults(handler=cmd_sync_score)


def add_audio_commands(commands, common: argparse.ArgumentParser) -> None:
    """Register talk, dub, train-audio and sync-score on the `reenact` subparsers."""
    _add_talk(commands, common)
    _add_dub(commands, common)
    _add_train_audio(commands, common)
    _add_sync_score(commands, common)
