"""The audio model's checkpoint: a directory, like the motion model's (`reenact.checkpoint.format`).

    DIR/config.json                  format name + version, AudioToMotionConfig, AudioFeatureConfig,
                                     fps, the motion model it was trained against, direction names
    DIR/index.json                   per component: file name, sha256, tensor count
    DIR/audio_to_motion.safetensors  the network and its feature / motion statistics
    DIR/directions.safetensors       `vectors` (R, K * 6) and `scale` (K * 6,): see MotionDirections

The audio model predicts motion in the keypoint space of one motion model; config.json records that
model's keypoint-detector fingerprint (`keypoint_space_id`), and loading it next to another model
warns (a different number of keypoints is an error).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from reenact.audio.features import AudioFeatureConfig
from reenact.checkpoint.bundled import bundled_checkpoint
from reenact.checkpoint.format import (
    CheckpointError,
    _read_json,
    check_state_dict,
    file_sha256,
    read_component,
)
from reenact.config import ConfigError, config_from_dict, config_to_dict
from reenact.io.atomic import check_replaceable_directory, replace_directory
from reenact.models import MotionModel
from reenact.models.audio_to_motion import AudioToMotion, AudioToMotionConfig
from reenact.motion import MotionDirections

logger = logging.getLogger(__name__)

FORMAT_NAME = "reenact-audio-to-motion"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
INDEX_FILE = "index.json"
MODEL_FILE = "audio_to_motion.safetensors"
DIRECTIONS_FILE = "directions.safetensors"
DEFAULT_FPS = Fraction(25)
DEFAULT_AUDIO_CHECKPOINT = bundled_checkpoint("default-audio")
DIRECTION_NAMES = ("mouth_open", "mouth_width", "blink")
MOUTH_DIRECTIONS = ("mouth_open", "mouth_width")
# every file save_audio_checkpoint writes: the only files replacing one deletes
AUDIO_CHECKPOINT_FILES = frozenset({CONFIG_FILE, INDEX_FILE, MODEL_FILE, DIRECTIONS_FILE})


def keypoint_space_id(model: MotionModel) -> str:
    """sha256 of the keypoint detector's config and weights: what the keypoint space depends on."""
    digest = hashlib.sha256()
    detector_config = {"num_kp": model.config.num_kp, "image_size": model.config.image_size,
                       "keypoint_detector": config_to_dict(model.config.keypoint_detector)}
    digest.update(json.dumps(detector_config, sort_keys=True).encode())
    for name, tensor in sorted(model.keypoint_detector.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class AudioCheckpoint:
    """A loaded audio model with everything the pipelines need to use it.

    model: in eval mode, CPU. features: how to compute its input. fps: the frame rate it runs at.
    directions: mouth / blink directions in its motion space. motion_model: what it was trained
    against (`keypoint_space_id`, num_kp, image_size, name). metadata: free-form (training run).
    """

    model: AudioToMotion
    features: AudioFeatureConfig
    fps: Fraction
    directions: MotionDirections
    motion_model: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    trained: bool = True

    def check_motion_model(self, num_kp: int, keypoint_space: str | None = None) -> None:
        """Error on a keypoint-count mismatch; a warning when `keypoint_space` (the motion model's
        `keypoint_space_id`, None if unknown, e.g. an ONNX export) is not the trained one."""
        if num_kp != self.model.config.num_kp:
            raise CheckpointError(f"the audio model moves {self.model.config.num_kp} keypoints but "
                                  f"the motion model has {num_kp}; use the motion checkpoint the "
                                  f"audio model was trained against")
        expected = self.motion_model.get("keypoint_space_id")
        if expected and keypoint_space is not None and expected != keypoint_space:
            logger.warning("the audio model was trained against another motion model (%s); its "
                           "keypoints may mean something else here: lip motion will be wrong",
                           self.motion_model.get("name", "unknown"))


# What an audio config read from a file may ask for before anything is allocated for it (the
# bundled model: 128 channels, hidden size 192, 2 layers, 80 mels, 512-sample FFT, context 8).
AUDIO_SIZE_LIMITS = {"channels": 2048, "hidden_size": 2048, "num_layers": 8, "num_kp": 256,
                     "n_mels": 512, "window": 1025, "n_fft": 16384, "hop": 16384, "win": 16384,
                     "context": 512}


def _check_sizes(model: AudioToMotionConfig, features: AudioFeatureConfig, source: str) -> None:
    """CheckpointError if a size in the config is beyond AUDIO_SIZE_LIMITS (a huge allocation)."""
    for config in (model, features):
        for key, limit in AUDIO_SIZE_LIMITS.items():
            value = getattr(config, key, None)
            if isinstance(value, int) and value > limit:
                raise CheckpointError(f"{source}: {type(config).__name__}.{key} is {value}; at "
                                      f"most {limit} is supported")


def _check_consistent(model: AudioToMotionConfig, features: AudioFeatureConfig, source: str) -> None:
    if model.n_mels != features.n_mels or model.window != features.window_frames:
        raise CheckpointError(f"{source}: the model expects windows of {model.window} x "
                              f"{model.n_mels} mel frames but the features give "
                              f"{features.window_frames} x {features.n_mels}")


def save_audio_checkpoint(checkpoint: AudioCheckpoint, directory: str | os.PathLike, *,
                          overwrite: bool = False) -> Path:
    """Write `checkpoint` as a directory, atomically (a temp directory renamed into place)."""
    _check_consistent(checkpoint.model.config, checkpoint.features, "save_audio_checkpoint")
    target = Path(directory)
    if target.exists() and not overwrite:
        raise CheckpointError(f"{target}: already exists (pass overwrite=True to replace it)")
    try:
        check_replaceable_directory(target, AUDIO_CHECKPOINT_FILES, marker=CONFIG_FILE,
                                    what="reenact audio checkpoint")
    except ValueError as error:
        raise CheckpointError(str(error)) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _write_staging(checkpoint, staging)
        try:
            replace_directory(staging, target, AUDIO_CHECKPOINT_FILES, marker=CONFIG_FILE,
                              what="reenact audio checkpoint")
        except ValueError as error:
            raise CheckpointError(str(error)) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("saved audio checkpoint %s", target)
    return target


def _write_staging(checkpoint: AudioCheckpoint, staging: Path) -> None:
    directions = checkpoint.directions
    tensors = {
        MODEL_FILE: {k: v.detach().cpu().contiguous() for k, v in
                     checkpoint.model.state_dict().items()},
        DIRECTIONS_FILE: {"vectors": directions.vectors.detach().cpu().float().contiguous(),
                          "scale": directions.scale.detach().cpu().float().contiguous()},
    }
    index: dict[str, Any] = {"format_version": FORMAT_VERSION, "components": {}}
    for (component, file_name) in (("audio_to_motion", MODEL_FILE), ("directions", DIRECTIONS_FILE)):
        save_file(tensors[file_name], str(staging / file_name), metadata={"component": component})
        index["components"][component] = {"file": file_name,
                                          "sha256": file_sha256(staging / file_name),
                                          "tensors": len(tensors[file_name])}
    config = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
              "model": config_to_dict(checkpoint.model.config),
              "features": config_to_dict(checkpoint.features), "fps": str(checkpoint.fps),
              "directions": list(directions.names), "motion_model": checkpoint.motion_model,
              "metadata": checkpoint.metadata}
    (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    (staging / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")
    os.chmod(staging, 0o755)  # mkdtemp makes a private directory; a checkpoint is meant to be shared
    for file in staging.iterdir():
        os.chmod(file, 0o644)


def _parse_fps(value: object, source: str) -> Fraction:
    try:
        fps = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        raise CheckpointError(f"{source}: fps {value!r} is not a frame rate (e.g. \"25\" or "
                              f"\"30000/1001\")") from None
    if not 0 < fps <= 1000:
        raise CheckpointError(f"{source}: fps {value!r} is out of range (0, 1000]")
    return fps


def read_audio_config(directory: str | os.PathLike) -> dict[str, Any]:
    """config.json of an audio checkpoint, after checking its format name and version."""
    root = Path(directory)
    if not root.is_dir():
        raise CheckpointError(f"{root}: audio checkpoint directory not found")
    data = _read_json(root / CONFIG_FILE)
    if data.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{root / CONFIG_FILE}: format is {data.get('format')!r}, "
                              f"expected {FORMAT_NAME!r} (an audio checkpoint)")
    if data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{root / CONFIG_FILE}: format_version {data.get('format_version')!r} "
                              f"is not supported (this reenact reads {FORMAT_VERSION})")
    unknown = sorted(set(data) - {"format", "format_version", "model", "features", "fps",
                                  "directions", "motion_model", "metadata"})
    if unknown:
        raise CheckpointError(f"{root / CONFIG_FILE}: unknown key(s) {', '.join(unknown)}")
    return data


def _directions(tensors: dict[str, torch.Tensor], names: object, num_features: int,
                source: str) -> MotionDirections:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise CheckpointError(f"{source}: directions: expected a list of names, got {names!r}")
    expected = {"vectors": torch.Size([len(names), num_features]),
                "scale": torch.Size([num_features])}
    check_state_dict("directions", {k: torch.empty(s) for k, s in expected.items()}, tensors,
                     source=source)
    try:
        return MotionDirections(tuple(names), tensors["vectors"], tensors["scale"])
    except ValueError as error:
        raise CheckpointError(f"{source}: {error}") from None


def load_audio_checkpoint(directory: str | os.PathLike) -> AudioCheckpoint:
    """Load an audio checkpoint directory (strict keys and shapes, sha256 checked); CPU, eval mode."""
    root = Path(directory)
    data = read_audio_config(root)
    source = str(root / CONFIG_FILE)
    try:
        model_config = config_from_dict(AudioToMotionConfig, data.get("model"))
        features = config_from_dict(AudioFeatureConfig, data.get("features"))
    except (ConfigError, TypeError, ArithmeticError) as error:
        raise CheckpointError(f"{source}: {error}") from None
    _check_sizes(model_config, features, source)
    _check_consistent(model_config, features, source)
    components = _read_json(root / INDEX_FILE).get("components") or {}
    if not isinstance(components, dict):
        raise CheckpointError(f"{root / INDEX_FILE}: components must be an object")
    model = AudioToMotion(model_config)
    state = read_component(root, "audio_to_motion", components.get("audio_to_motion"))
    check_state_dict("audio_to_motion", model.state_dict(), state, source=str(root))
    model.load_state_dict(state, strict=True)
    directions = _directions(read_component(root, "directions", components.get("directions")),
                             data.get("directions"), model_config.motion_features, str(root))
    return AudioCheckpoint(model=model.eval(), features=features, fps=_parse_fps(data.get("fps"), source),
                           directions=directions, motion_model=dict(data.get("motion_model") or {}),
                           metadata=dict(data.get("metadata") or {}))


def untrained_audio_checkpoint(num_kp: int) -> AudioCheckpoint:
    """A stand-in that predicts no motion and has zero directions (no lip motion, no blinks)."""
    features = AudioFeatureConfig()
    model = AudioToMotion(AudioToMotionConfig(num_kp=num_kp, n_mels=features.n_mels,
                                              window=features.window_frames))
    with torch.no_grad():
        model.head.weight.zero_()
    features_count = model.config.motion_features
    directions = MotionDirections(DIRECTION_NAMES, torch.zeros(len(DIRECTION_NAMES), features_count),
                                  torch.ones(features_count))
    return AudioCheckpoint(model=model.eval(), features=features, fps=DEFAULT_FPS,
                           directions=directions, metadata={"weights": "untrained"}, trained=False)


def resolve_audio_checkpoint(checkpoint: str | os.PathLike, *, num_kp: int,
                             keypoint_space: str | None = None) -> AudioCheckpoint:
    """`default` (bundled, or an untrained stand-in with a warning) or a checkpoint directory,
    checked against the motion model it will drive (its keypoint count and `keypoint_space_id`)."""
    if str(checkpoint) == "default":
        if not (DEFAULT_AUDIO_CHECKPOINT / CONFIG_FILE).is_file():
            logger.warning("no trained audio checkpoint is bundled with this version; the mouth will "
                           "not move. Train one with `reenact train-audio` and pass "
                           "--audio-checkpoint DIR.")
            return untrained_audio_checkpoint(num_kp)
        checkpoint = DEFAULT_AUDIO_CHECKPOINT
    loaded = load_audio_checkpoint(checkpoint)
    loaded.check_motion_model(num_kp, keypoint_space)
    return loaded
