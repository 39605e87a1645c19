"""reenact's checkpoint format: a directory, never a pickle.

    DIR/config.json                   format name + version, MotionModelConfig, preprocessing, metadata
    DIR/index.json                    per component: file name, sha256, tensor count
    DIR/<component>.safetensors       keypoint_detector, dense_motion, generator

Release checkpoints hold weights only; training state lives in the run directory.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from reenact.config import ConfigError, MotionModelConfig, config_from_dict, config_to_dict
from reenact.io.atomic import check_replaceable_directory, replace_directory
from reenact.io.digest import cached_file_sha256, file_sha256  # file_sha256 re-exported
from reenact.models import COMPONENTS, MotionModel
from reenact.models.skip_init import random_init_skipped

logger = logging.getLogger(__name__)

FORMAT_NAME = "reenact-motion-model"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
INDEX_FILE = "index.json"
# what the pipelines feed the networks; stored so that no pipeline hard-codes it
PREPROCESSING = {"value_range": [0.0, 1.0], "channel_order": "RGB", "layout": "NCHW"}
# every file save_checkpoint writes: the only files replacing a checkpoint deletes
CHECKPOINT_FILES = frozenset({CONFIG_FILE, INDEX_FILE, *(f"{name}.safetensors" for name in COMPONENTS)})


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed, or does not fit the model it describes."""


# What a model config read from a file may ask for before anything is allocated for it. The
# largest released FOMM model (vox-256) has 60 M parameters at 256 px; these are far above any
# real model and far below what would exhaust memory.
MAX_IMAGE_SIZE = 2048
MAX_KEYPOINTS = 256
MAX_CHANNELS = 16
MAX_PARAMETERS = 500_000_000  # 2 GB of float32 weights
MAX_HEAD_PADDING = 3  # the heads are 7x7 convolutions: more padding only adds border
OUT_OF_RANGE = ("a number in the model config is out of range (scale factors are 1 or 1/n for an "
                "integer n: 1, 0.5, 0.25, ...)")
# configs within these sizes stay far below MAX_PARAMETERS (vox-256: 1024 / 5 / 6 / 2); others
# are counted exactly on the meta device, which allocates nothing but costs a second to set up
_PLAIN_MAX_FEATURES, _PLAIN_BLOCKS, _PLAIN_BOTTLENECK, _PLAIN_DOWN_BLOCKS = 2048, 6, 12, 4


def _count_parameters(config: MotionModelConfig) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in MotionModel(config).parameters())


def check_model_size(config: MotionModelConfig, *, source: str) -> None:
    """CheckpointError if building a model of `config` would take absurd amounts of memory: an
    image size, keypoint or channel count, or parameter count beyond the limits above."""
    for name, value, limit in (("image_size", config.image_size, MAX_IMAGE_SIZE),
                               ("num_kp", config.num_kp, MAX_KEYPOINTS),
                               ("num_channels", config.num_channels, MAX_CHANNELS),
                               ("keypoint_detector.head_padding",
                                config.keypoint_detector.head_padding, MAX_HEAD_PADDING)):
        if value > limit:
            raise CheckpointError(f"{source}: model {name} is {value}; at most {limit} is supported")
    hourglasses = (config.keypoint_detector.hourglass, config.dense_motion.hourglass)
    generator = config.generator
    plain = (max(h.max_features for h in hourglasses) <= _PLAIN_MAX_FEATURES
             and max(h.num_blocks for h in hourglasses) <= _PLAIN_BLOCKS
             and generator.max_features <= _PLAIN_MAX_FEATURES
             and generator.num_bottleneck_blocks <= _PLAIN_BOTTLENECK
             and generator.num_down_blocks <= _PLAIN_DOWN_BLOCKS)
    if not plain:
        count = _count_parameters(config)
        if count > MAX_PARAMETERS:
            raise CheckpointError(f"{source}: the model config describes {count / 1e6:,.0f} M "
                                  f"parameters; at most {MAX_PARAMETERS / 1e6:,.0f} M are supported")


def check_state_dict(component: str, expected: dict[str, torch.Tensor],
                     actual: dict[str, torch.Tensor], *, source: str) -> None:
    """Raise CheckpointError listing every missing key, unexpected key and shape mismatch."""
    missing = sorted(set(expected) - set(actual))
    unexpected = sorted(set(actual) - set(expected))
    wrong_shape = sorted(
        f"{key} (checkpoint {list(actual[key].shape)}, model {list(expected[key].shape)})"
        for key in set(expected) & set(actual) if actual[key].shape != expected[key].shape)
    problems = []
    if missing:
        problems.append(f"missing keys: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {', '.join(unexpected)}")
    if wrong_shape:
        problems.append(f"wrong shapes: {', '.join(wrong_shape)}")
    if problems:
        raise CheckpointError(f"{source}: {component} does not fit the model config; "
                              + "; ".join(problems))


def check_checkpoint_target(target: str | os.PathLike, *, overwrite: bool) -> None:
    """CheckpointError unless a checkpoint can be written to `target`: it does not exist, or
    `overwrite` is set and it is a checkpoint directory holding nothing but checkpoint files (which
    are all that replacing it deletes)."""
    target = Path(target)
    if target.exists() and not overwrite:
        raise CheckpointError(f"{target}: already exists (use --overwrite to replace it)")
    try:
        check_replaceable_directory(target, CHECKPOINT_FILES, marker=CONFIG_FILE,
                                    what="reenact checkpoint")
    except ValueError as error:
        raise CheckpointError(str(error)) from None
    parent = target.absolute().parent
    while not parent.exists():  # the directories save_checkpoint would create
        parent = parent.parent
    if not parent.is_dir():
        raise CheckpointError(f"{target}: cannot be created, {parent} is a file, not a directory")


def save_checkpoint(model: MotionModel, directory: str | os.PathLike, *,
                    metadata: dict[str, Any] | None = None, overwrite: bool = False) -> Path:
    """Write `model` as a checkpoint directory, atomically (a temp directory renamed into place)."""
    target = Path(directory)
    check_checkpoint_target(target, overwrite=overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        index: dict[str, Any] = {"format_version": FORMAT_VERSION, "components": {}}
        for name in COMPONENTS:
            state = {k: v.detach().cpu().contiguous() for k, v in
                     getattr(model, name).state_dict().items()}
            file_name = f"{name}.safetensors"
            save_file(state, str(staging / file_name), metadata={"component": name})
            index["components"][name] = {"file": file_name, "sha256": file_sha256(staging / file_name),
                                         "tensors": len(state)}
        config = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                  "model": config_to_dict(model.config), "preprocessing": PREPROCESSING,
                  "metadata": metadata or {}}
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        (staging / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")
        # mkdtemp makes a private directory; a checkpoint is meant to be shared
        os.chmod(staging, 0o755)
        for file in staging.iterdir():
            os.chmod(file, 0o644)
        try:
            replace_directory(staging, target, CHECKPOINT_FILES, marker=CONFIG_FILE,
                              what="reenact checkpoint")
        except ValueError as error:  # something foreign appeared there while we were writing
            raise CheckpointError(str(error)) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("saved checkpoint %s", target)
    return target


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"{path.parent}: not a reenact checkpoint (no {path.name})")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: not valid JSON ({error})") from None
    except RecursionError:
        raise CheckpointError(f"{path}: not a checkpoint file (JSON nested too deeply)") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return data


def read_checkpoint_config(directory: str | os.PathLike) -> tuple[MotionModelConfig, dict[str, Any]]:
    """The model config and the whole config.json of a checkpoint directory."""
    root = Path(directory)
    if not root.is_dir():
        raise CheckpointError(f"{root}: checkpoint directory not found")
    data = _read_json(root / CONFIG_FILE)
    if data.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{root / CONFIG_FILE}: format is {data.get('format')!r}, "
                              f"expected {FORMAT_NAME!r}")
    if data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{root / CONFIG_FILE}: format_version {data.get('format_version')!r} "
                              f"is not supported (this reenact reads {FORMAT_VERSION})")
    try:
        config = config_from_dict(MotionModelConfig, data.get("model"))
    except (ConfigError, TypeError) as error:
        raise CheckpointError(f"{root / CONFIG_FILE}: {error}") from None
    except ArithmeticError as error:  # a scale factor of 1e-320: its inverse overflows
        raise CheckpointError(f"{root / CONFIG_FILE}: {OUT_OF_RANGE} ({error})") from None
    check_model_size(config, source=str(root / CONFIG_FILE))
    return config, data


def load_state_dicts(directory: str | os.PathLike) -> dict[str, dict[str, torch.Tensor]]:
    """Each component's tensors, after checking the index's file names and sha256."""
    root = Path(directory)
    index = _read_json(root / INDEX_FILE)
    components = index.get("components")
    if not isinstance(components, dict) or set(components) != set(COMPONENTS):
        raise CheckpointError(f"{root / INDEX_FILE}: expected components {', '.join(COMPONENTS)}, "
                              f"got {', '.join(sorted(components or {}))}")
    return {name: read_component(root, name, components[name]) for name in COMPONENTS}


def read_component(root: Path, name: str, entry: object) -> dict[str, torch.Tensor]:
    """The tensors of the component `name` of the checkpoint directory `root`, whose index entry
    `entry` ({"file": ..., "sha256": ...}) names its safetensors file: the file must be there and
    match the sha256."""
    if not isinstance(entry, dict):
        raise CheckpointError(f"{root / INDEX_FILE}: components.{name} must be an object with "
                              f"'file' and 'sha256', got {type(entry).__name__}")
    path = root / Path(str(entry.get("file", ""))).name
    if not path.is_file():
        raise CheckpointError(f"{root}: {name} weights file {path.name} is missing")
    if cached_file_sha256(path) != entry.get("sha256"):
        raise CheckpointError(f"{path}: sha256 does not match {INDEX_FILE}; the file is corrupt "
                              "or was changed")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None


def build_model(config: MotionModelConfig, states: dict[str, dict[str, torch.Tensor]], *,
                source: str, take_tensors: bool = False) -> MotionModel:
    """A MotionModel in eval mode with `states` loaded under strict key and shape checks.

    Built without drawing random weights first: the strict load replaces every parameter and
    buffer. take_tensors: the model takes `states`' tensors as its own (cast to the model's dtype
    where they differ) instead of copying them; for tensors nothing else holds (fresh from a file).
    """
    with random_init_skipped():
        model = MotionModel(config)
    for name in COMPONENTS:
        module = getattr(model, name)
        expected = module.state_dict()
        check_state_dict(name, expected, states[name], source=source)
        state = states[name]
        if take_tensors:  # assign keeps a tensor's dtype and layout: give it the model's
            state = {key: value.to(expected[key].dtype).contiguous() for key, value in state.items()}
        module.load_state_dict(state, strict=True, assign=take_tensors)
    return model.eval()


def load_checkpoint(directory: str | os.PathLike) -> MotionModel:
    """Load a reenact checkpoint directory into a MotionModel (CPU, float32, eval mode)."""
    config, _ = read_checkpoint_config(directory)
    return build_model(config, load_state_dicts(directory), source=str(directory), take_tensors=True)
