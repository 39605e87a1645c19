"""From parsed options to what the render commands (animate, talk, dub, evaluate) run on: torch's
thread count, the motion backend, the audio model, and what the provenance record says of them."""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from reenact.cli.errors import UsageError

logger = logging.getLogger("reenact")

# the models loaded so far, while `reuse_models()` is active (`reenact batch`: one load per
# checkpoint per process or Ray worker); None: every command loads its own
_MODELS: dict[tuple, Any] | None = None
_MODEL_OPTIONS = ("backend", "checkpoint", "config", "align_corners", "device", "precision",
                  "channels_last", "fast_conv", "onnx_optimization", "threads")


@contextlib.contextmanager
def reuse_models() -> Iterator[None]:
    """While active, `build_backend` and `backend_and_audio_model` keep what they load and hand
    it back to later calls with the same model options (backends hold no per-run state)."""
    global _MODELS
    previous, _MODELS = _MODELS, {} if _MODELS is None else _MODELS
    try:
        yield
    finally:
        _MODELS = previous


def models_kept() -> bool:
    """Whether `reuse_models()` is active (a batch, the UI): what is loaded stays for later runs."""
    return _MODELS is not None


def _cached(key: tuple, load: Callable[[], Any]) -> Any:
    if _MODELS is None:
        return load()
    if key not in _MODELS:
        _MODELS[key] = load()
    else:
        logger.debug("reusing the model loaded for %s", key)
    return _MODELS[key]


def feature_process(args: argparse.Namespace):
    """What computes the speech's log-mel (and its phones, `FeatureProcess.phones`) in one `talk`
    or `dub` command: a `reenact.audio.feature_process.FeatureProcess` whose child imports
    librosa during start-up and, where the phones are not aligned to a --transcript, finds
    --audio's phones (heard, or aligned to its recognised words), except while `reuse_models()` is
    active (`reenact batch`, Ray workers): there every job would start a child of its own, where
    importing librosa here once serves all the jobs."""
    from reenact.audio.feature_process import FeatureProcess

    heard = args.phones and args.transcript is None
    return FeatureProcess(start=False if _MODELS is not None else None,
                          phones_from=args.audio if heard else None, words=args.words)


def set_threads(args: argparse.Namespace) -> None:
    """`--threads`, if given, as torch's intra-op thread count (a process-wide setting)."""
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)


def build_backend(args: argparse.Namespace):
    """The backend `--backend` names, with the model `--checkpoint` names (kept for later calls
    while `reuse_models()` is active).

    onnx: --checkpoint is an export directory (`reenact export-onnx`), or any model, which is then
    exported to a temporary directory for this run.
    """
    key = ("backend", *(str(getattr(args, name, None)) for name in _MODEL_OPTIONS))
    return _cached(key, lambda: _load_backend(args))


def _load_backend(args: argparse.Namespace):
    from reenact.api import resolve_model
    from reenact.engine import OnnxBackend, TorchBackend
    from reenact.export import is_onnx_export

    if args.backend == "torch":
        if args.onnx_optimization is not None:
            raise UsageError("--onnx-optimization applies to --backend onnx")
        model = resolve_model(args.checkpoint, config=args.config, align_corners=args.align_corners)
        return TorchBackend(model, device=args.device, precision=args.precision,
                            channels_last=args.channels_last, fast_conv=use_fast_conv(args),
                            own_model=True)  # loaded for this backend alone
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


def use_fast_conv(args: argparse.Namespace) -> bool:
    """--fast-conv as given, else on where it applies: torch, fp32, on the CPU (the fastest path
    that computes the same output to float rounding, benchmarks/reference_animate.py)."""
    if args.fast_conv is not None:
        return bool(args.fast_conv)
    from reenact.engine.torch_backend import resolve_device

    return getattr(args, "backend", "torch") == "torch" and args.precision == "fp32" \
        and resolve_device(args.device).type == "cpu"


def model_record(args: argparse.Namespace) -> dict[str, str]:
    """What the provenance record says about the model: name, path, sha256, and how it ran
    (backend, precision and, on torch, whether --fast-conv and channels-last were used)."""
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
    if getattr(args, "backend", None) == "torch":  # the paths whose output is not the same bits
        record["fast_conv"] = str(use_fast_conv(args)).lower()
        record["channels_last"] = str(bool(args.channels_last or use_fast_conv(args))).lower()
    return record


def backend_and_audio_model(args: argparse.Namespace):
    """The motion backend (`--backend`, `--checkpoint`) and the audio checkpoint that drives it."""
    import numpy as np

    from reenact.checkpoint.audio_format import resolve_audio_checkpoint
    from reenact.engine import TorchBackend

    backend = build_backend(args)
    if isinstance(backend, TorchBackend):
        num_kp, space = backend.model.config.num_kp, backend.keypoint_space
    else:  # e.g. an ONNX export: the keypoint count from one detection, the space unknown
        size = backend.image_size
        num_kp, space = backend.detect(np.zeros((1, size, size, 3), np.uint8)).num_kp, None
    key = ("audio", str(args.audio_checkpoint), num_kp, space)
    return backend, _cached(key, lambda: resolve_audio_checkpoint(
        args.audio_checkpoint, num_kp=num_kp, keypoint_space=space))


def audio_model_alone(args: argparse.Namespace):
    """The audio checkpoint (`--audio-checkpoint`) for a job that runs no motion model (dub's
    reference mouth reads only its mouth-opening direction): not checked against `--checkpoint`."""
    from reenact.checkpoint.audio_format import (
        CONFIG_FILE,
        DEFAULT_AUDIO_CHECKPOINT,
        load_audio_checkpoint,
        resolve_audio_checkpoint,
    )

    if str(args.audio_checkpoint) == "default" \
            and not (DEFAULT_AUDIO_CHECKPOINT / CONFIG_FILE).is_file():
        return resolve_audio_checkpoint("default", num_kp=10)  # the untrained stand-in, warned
    directory = (DEFAULT_AUDIO_CHECKPOINT if str(args.audio_checkpoint) == "default"
                 else args.audio_checkpoint)
    return _cached(("audio alone", str(args.audio_checkpoint)),
                   lambda: load_audio_checkpoint(directory))


def speech_model_record(args: argparse.Namespace, *, motion: bool = True) -> dict[str, str]:
    """The provenance record's model: the motion model's fields (unless `motion` is False: none
    ran), plus `audio_` + the audio model's name, path and sha256."""
    from reenact.checkpoint.audio_format import CONFIG_FILE, DEFAULT_AUDIO_CHECKPOINT
    from reenact.provenance import describe_checkpoint

    record = model_record(args) if motion else {"name": "none (the video's own mouth, drawn)"}
    if str(args.audio_checkpoint) == "default":
        audio = (describe_checkpoint(DEFAULT_AUDIO_CHECKPOINT, name="default-audio")
                 if (DEFAULT_AUDIO_CHECKPOINT / CONFIG_FILE).is_file()
                 else {"name": "untrained default-audio"})
    else:
        audio = describe_checkpoint(args.audio_checkpoint)
    record.update({f"audio_{key}": value for key, value in audio.items()})
    return record
