"""The option groups several subcommands share, and the argument types they parse with.

    add_model_arguments        --checkpoint --config --align-corners --device --batch-size --threads
    add_backend_arguments      --backend --precision --channels-last --fast-conv --onnx-optimization
    add_source_argument        --source (the portrait: animate, talk)
    add_video_output_argument  -o / --output (the video to write: animate, talk, dub)
    add_portrait_arguments     --crop --crop-only --render --body --face-index --kp-smoothing
                               --max-size (finding the portrait's face, rendering and pasting
                               the result back: animate, talk)
    add_head_motion_argument   --head-motion (a driving video's head zoom and shift: animate,
                               evaluate)
    add_body_argument          --body (shoulders and clothes held still or moved: animate,
                               talk, evaluate)
    add_speech_arguments       --audio-checkpoint --mouth-scale --no-voice-gate --no-phones
                               --transcript --face-backend --max-frames --label (the audio
                               model's knobs: talk, dub; `transcript_argument` reads the file)
    add_face_backend_argument  --face-backend
    add_label_argument         --label
"""

from __future__ import annotations

import argparse
from fractions import Fraction

FACE_BACKENDS = ("dlib", "face-alignment")


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def parse_fps(text: str) -> Fraction:
    try:
        fps = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a frame rate like 25 or 30000/1001, got "
                                         f"{text!r}") from None
    if not 0 < fps <= 1000:
        raise argparse.ArgumentTypeError(f"expected a frame rate in (0, 1000], got {text!r}")
    return fps


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default="default",
                        help="'default' (bundled), a reenact checkpoint directory, or a reference "
                             ".pth.tar (with --config)")
    parser.add_argument("--config", help="the yaml of a reference .pth.tar checkpoint")
    parser.add_argument("--align-corners", type=parse_bool, default=None, metavar="{true,false}",
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
    parser.add_argument("--fast-conv", action=argparse.BooleanOptionalAction, default=None,
                        help="torch, CPU, fp32: fewer FLOPs for the same output to float rounding "
                             "(Winograd convolutions, BatchNorm and upsampling folded into "
                             "convolutions; ~2x the frames/s of fp32 channels-last on vox-256); "
                             "implies --channels-last. Default: on for fp32 on the CPU; "
                             "--no-fast-conv for plain convolutions")
    parser.add_argument("--onnx-optimization", choices=("none", "basic", "extended", "all"),
                        help="onnx: onnxruntime graph optimization level (default all)")


def add_source_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, help="the portrait (any common image format)")


def add_video_output_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, help="the video to write (.mp4)")


def add_portrait_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--crop", choices=("face", "none"), default="face",
                        help="face: find and follow faces (default); none: inputs are face crops")
    parser.add_argument("--crop-only", action="store_true",
                        help="write the model-size face crop instead of pasting it into the photo")
    parser.add_argument("--render", choices=("full", "crop"), default="full",
                        help="full: warp the photo itself at its resolution and paste only what "
                             "moved; crop: paste the model-size frame, upscaled, over the face box")
    add_eyes_argument(parser)
    add_body_argument(parser)
    parser.add_argument("--face-index", type=int, help="which source face (0 = largest)")
    parser.add_argument("--kp-smoothing", type=float, default=0.25,
                        help="temporal smoothing of driving keypoints, 0 (off) to <1 (default 0.25): "
                             "centred (no lag), removing as much jitter as the older causal "
                             "filter of that strength")
    parser.add_argument("--max-size", type=int, default=1920,
                        help="long side of the output when pasting into a larger photo (default 1920)")


def add_head_motion_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--head-motion", choices=("split", "model"), default="split",
                        help="split: the model takes the driver's head zoom and shift up to a "
                             "limit and the whole head box moves by the rest (a driver leaning "
                             "into the camera does not melt the picture; default); model: the "
                             "model takes all of it")


def add_eyes_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--eyes", choices=("landmarks", "lids", "model"), default="landmarks",
                        help="landmarks: draw the driver's eye opening on the photo's own eyelids "
                             "and move its irises with the driver's gaze (--render full; default; "
                             "talk: blinks); lids: the eyelids only; model: leave the eyes to the "
                             "motion model")


def add_body_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--body", choices=("still", "model"), default="still",
                        help="still: shoulders and clothes keep the photo's pixels while the head "
                             "moves (the motion fades out away from the head: below the chin and "
                             "beside the jaw; --render full; "
                             "default); model: the motion model moves them too")


def add_expressions_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--expressions", choices=("facemesh", "dlib"), default="facemesh",
                        help="which landmark model reads the driver's brows and eyelids: "
                             "facemesh (it sees a raised brow and a blink that dlib misreads; "
                             "default) or dlib")


def add_driven_mouth_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mouth", choices=("drawn", "model"), default="drawn",
                        help="drawn: the photo's own mouth, opened by the driver's change of "
                             "opening with its inside (teeth, a dark cavity) painted and shaped by "
                             "the driver's lips (relative mode, --render full; default); model: "
                             "the motion model's mouth")


def add_face_backend_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--face-backend", choices=FACE_BACKENDS, default="dlib")


def add_label_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--label", metavar="TEXT",
                        help="also draw TEXT (e.g. 'AI-generated') in a corner of every frame; the "
                             "invisible watermark and the metadata are always there")


def add_speech_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--audio-checkpoint", default="default",
                        help="'default' (bundled) or an audio checkpoint directory "
                             "(`reenact train-audio`)")
    parser.add_argument("--mouth-scale", type=float, default=1.0,
                        help="multiplies the speech's mouth motion (default 1)")
    parser.add_argument("--no-voice-gate", dest="voice_gate", action="store_false",
                        help="do not hold the mouth still where the audio is silent")
    parser.add_argument("--no-phones", dest="phones", action="store_false",
                        help="let the mouth follow loudness alone: no lips shut on p, b and m, no "
                             "vowel shapes (the speech's phones, found by a phone decoder)")
    parser.add_argument("--transcript", metavar="FILE",
                        help="the words said in the speech, a UTF-8 text file (e.g. the script): "
                             "their phones are placed where they are said instead of heard, so "
                             "every p, b and m in them shuts the lips (a Latin-script language: "
                             "English words by the pronouncing dictionary, every word also by its "
                             "spelling)")
    parser.add_argument("--no-words", dest="words", action="store_false",
                        help="without --transcript, do not align the phones to the words "
                             "recognised in English speech (reenact[words]); hear them instead")
    add_face_backend_argument(parser)
    parser.add_argument("--max-frames", type=int, help="render only the first N frames")
    add_label_argument(parser)


def transcript_argument(args: argparse.Namespace) -> str | None:
    """The text of the --transcript file (`add_speech_arguments`), None without one."""
    from reenact.audio.transcript import read_transcript

    return None if args.transcript is None else read_transcript(args.transcript)
