"""`reenact train-audio`: train the audio-to-motion model on talking videos."""

from __future__ import annotations

import argparse
import logging
from fractions import Fraction

from reenact.cli.backend import set_threads
from reenact.cli.options import add_face_backend_argument, parse_bool, parse_fps

logger = logging.getLogger("reenact")


def cmd_train_audio(args: argparse.Namespace) -> int:
    import dataclasses

    from reenact.api import resolve_model
    from reenact.engine import resolve_device
    from reenact.preprocess.face import create_face_analyzer
    from reenact.training.audio_config import AudioTrainConfig
    from reenact.training.audio_run import train_audio

    set_threads(args)
    defaults = AudioTrainConfig()
    context = defaults.features.context if args.context is None else args.context
    features = dataclasses.replace(defaults.features, context=context)
    model_config = dataclasses.replace(defaults.model, window=features.window_frames,
                                       hidden_size=args.hidden_size,
                                       channels=args.channels, num_layers=args.layers,
                                       dropout=args.dropout, lookahead=args.lookahead)
    config = AudioTrainConfig(model=model_config, features=features, fps=str(args.fps), steps=args.steps,
                              batch_size=args.batch_size, sequence_frames=args.sequence_frames,
                              learning_rate=args.lr, weight_decay=args.weight_decay,
                              seed=args.seed, target=args.target,
                              opening_measure=args.opening_measure,
                              max_amplitude_gain=args.max_amplitude_gain,
                              mouth_output=args.mouth_output, render_gain=args.render_gain,
                              augment=args.augment)
    motion = resolve_model(args.checkpoint, config=args.config, align_corners=args.align_corners)
    path = train_audio(args.data, motion, args.output, config=config,
                       analyzer=create_face_analyzer(args.face_backend),
                       device=resolve_device(args.device), motion_name=str(args.checkpoint),
                       resume=args.resume, progress=not args.quiet)
    logger.info("done: audio checkpoint %s", path)
    return 0


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    train = commands.add_parser("train-audio", parents=[common],
                                help="train the audio-to-motion model on talking videos")
    train.add_argument("--data", required=True, help="a directory of talking-face videos with speech")
    train.add_argument("--checkpoint", default="default",
                       help="the motion model whose keypoints the audio model learns to move")
    train.add_argument("--config", help="the yaml of a reference .pth.tar checkpoint")
    train.add_argument("--align-corners", type=parse_bool, default=None, metavar="{true,false}")
    train.add_argument("-o", "--output", required=True,
                       help="run directory; the checkpoint is written to OUTPUT/audio-checkpoint")
    train.add_argument("--resume", action="store_true", help="continue the run in OUTPUT")
    train.add_argument("--steps", type=int, default=3000)
    train.add_argument("--batch-size", type=int, default=16, help="sequences per step")
    train.add_argument("--sequence-frames", type=int, default=50, help="frames per sequence")
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--fps", type=parse_fps, default=Fraction(25),
                       help="the frame rate the model runs at (default 25)")
    train.add_argument("--target", choices=("keypoints", "mouth", "opening"), default="keypoints",
                       help="keypoints (default): learn all of the keypoint motion from the rest "
                            "face; mouth: only the part the mouth's opening and width explain; "
                            "opening: only the part its opening explains")
    train.add_argument("--opening-measure", choices=("dlib", "facemesh"), default="dlib",
                       help="the landmarks that measure the mouth's opening in the data: dlib "
                            "(default) or mediapipe's FaceMesh, which sees the lips close "
                            "(needs reenact[lipsync])")
    train.add_argument("--max-amplitude-gain", type=float, default=4.0,
                       help="scale the released model's output so that its mouth opens as widely as "
                            "in the data, by at most this factor (1: off; default 4)")
    train.add_argument("--mouth-output", choices=("all", "open"), default="all",
                       help="what the released model drives: all of what it learned (default), or "
                            "only the mouth's opening")
    train.add_argument("--render-gain", type=float, default=1.0,
                       help="a further factor on the released model's output, for a motion model "
                            "that renders less mouth than its keypoints move (default 1)")
    train.add_argument("--context", type=int,
                       help="mel frames (10 ms each) the model hears on each side of a video "
                            "frame (default 8); the lips move ahead of the sound")
    train.add_argument("--lookahead", type=int, default=0,
                       help="video frames the model hears past the frame it moves (default 0); "
                            "its output lags its input by as many")
    train.add_argument("--augment", action="store_true",
                       help="hear each training sequence as another speaker in another room "
                            "(formants shifted, spectral tilt, background noise)")
    train.add_argument("--hidden-size", type=int, default=192)
    train.add_argument("--channels", type=int, default=128)
    train.add_argument("--layers", type=int, default=2)
    train.add_argument("--dropout", type=float, default=0.1)
    train.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW's (default 1e-4)")
    add_face_backend_argument(train)
    train.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    train.add_argument("--threads", type=int, help="CPU threads for torch")
    train.set_defaults(handler=cmd_train_audio)
