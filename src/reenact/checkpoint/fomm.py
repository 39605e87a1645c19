"""Reader of the reference first-order-motion checkpoints (`<model>-cpk.pth.tar` + its yaml).

The only place in the project that reads a foreign format. The `.pth.tar` is opened with
`torch.load(weights_only=True)`, which refuses any pickle that would run code or build objects other
than tensors and plain containers. Optimizer and discriminator entries are dropped.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from reenact.checkpoint.format import OUT_OF_RANGE, CheckpointError, build_model, check_model_size
from reenact.config import (
    ConfigError,
    DenseMotionConfig,
    GeneratorConfig,
    HourglassConfig,
    KeypointDetectorConfig,
    MotionModelConfig,
)
from reenact.models import MotionModel

logger = logging.getLogger(__name__)

# The one key-remap: (reference component, key pattern, our component, replacement), first match wins.
FOMM_KEY_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("kp_detector", r"^predictor\.encoder\.down_blocks\.", "keypoint_detector", "hourglass.down_blocks."),
    ("kp_detector", r"^predictor\.decoder\.up_blocks\.", "keypoint_detector", "hourglass.up_blocks."),
    ("kp_detector", r"^kp\.", "keypoint_detector", "heatmap_head."),
    ("kp_detector", r"^jacobian\.", "keypoint_detector", "jacobian_head."),
    ("kp_detector", r"^down\.weight$", "keypoint_detector", "downscale.kernel"),
    ("generator", r"^dense_motion_network\.hourglass\.encoder\.down_blocks\.", "dense_motion",
     "hourglass.down_blocks."),
    ("generator", r"^dense_motion_network\.hourglass\.decoder\.up_blocks\.", "dense_motion",
     "hourglass.up_blocks."),
    ("generator", r"^dense_motion_network\.mask\.", "dense_motion", "mask_head."),
    ("generator", r"^dense_motion_network\.occlusion\.", "dense_motion", "occlusion_head."),
    ("generator", r"^dense_motion_network\.down\.weight$", "dense_motion", "downscale.kernel"),
    ("generator", r"^bottleneck\.r(\d+)\.", "generator", r"bottleneck.\1."),
    ("generator", r"^(first|down_blocks|up_blocks|final)\.", "generator", r"\1."),
)
FOMM_MODEL_ENTRIES = ("kp_detector", "generator")


def remap_fomm_state(official: dict[str, dict[str, torch.Tensor]], *, source: str = "checkpoint"
                     ) -> dict[str, dict[str, torch.Tensor]]:
    """Reference {'kp_detector': ..., 'generator': ...} state dicts -> ours, per component.

    A key that no rule maps is an error: nothing is dropped silently.
    """
    ours: dict[str, dict[str, torch.Tensor]] = {"keypoint_detector": {}, "dense_motion": {},
                                                "generator": {}}
    unmapped = []
    for entry in FOMM_MODEL_ENTRIES:
        for key, tensor in official[entry].items():
            for rule_entry, pattern, component, replacement in FOMM_KEY_RULES:
                if rule_entry == entry and re.match(pattern, key):
                    ours[component][re.sub(pattern, replacement, key)] = tensor
                    break
            else:
                unmapped.append(f"{entry}.{key}")
    if unmapped:
        raise CheckpointError(f"{source}: unexpected keys (no mapping to reenact): "
                              f"{', '.join(sorted(unmapped))}")
    return ours


def _section(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: missing section {key!r}")
    return dict(value)


def _take(params: dict[str, Any], key: str, where: str) -> Any:
    if key not in params:
        raise ConfigError(f"{where}: missing key {key!r}")
    return params.pop(key)


def _refuse_leftovers(params: dict[str, Any], where: str) -> None:
    if params:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(params))}")


def config_from_fomm_yaml(data: dict[str, Any], *, align_corners: bool = True) -> MotionModelConfig:
    """MotionModelConfig from a parsed reference yaml (`model_params` + `dataset_params.frame_shape`).

    `align_corners`: the `grid_sample` convention the weights were trained with; the released
    checkpoints date from torch 1.0, whose `grid_sample` behaved like `align_corners=True`.
    """
    model = _section(data, "model_params", "yaml")
    common = _section(model, "common_params", "model_params")
    kp = _section(model, "kp_detector_params", "model_params")
    gen = _section(model, "generator_params", "model_params")
    dense = _section(gen, "dense_motion_params", "generator_params")
    gen.pop("dense_motion_params")

    dataset = data.get("dataset_params", {})
    if not isinstance(dataset, dict):
        raise ConfigError(f"dataset_params: expected a mapping, got {type(dataset).__name__}")
    frame_shape = dataset.get("frame_shape", [256, 256, 3])
    if not (isinstance(frame_shape, list) and len(frame_shape) == 3 and frame_shape[0] == frame_shape[1]):
        raise ConfigError(f"dataset_params.frame_shape: expected [N, N, C], got {frame_shape!r}")

    where = "kp_detector_params"
    keypoint_detector = KeypointDetectorConfig(
        hourglass=HourglassConfig(_take(kp, "block_expansion", where), _take(kp, "max_features", where),
                                  _take(kp, "num_blocks", where)),
        scale_factor=float(kp.pop("scale_factor", 1)),
        temperature=float(_take(kp, "temperature", where)),
        head_padding=kp.pop("pad", 0),
        single_jacobian_map=kp.pop("single_jacobian_map", False))
    _refuse_leftovers(kp, where)

    where = "dense_motion_params"
    dense_motion = DenseMotionConfig(
        hourglass=HourglassConfig(_take(dense, "block_expansion", where),
                                  _take(dense, "max_features", where), _take(dense, "num_blocks", where)),
        scale_factor=float(dense.pop("scale_factor", 1)),
        kp_variance=float(dense.pop("kp_variance", 0.01)),
        estimate_occlusion_map=gen.pop("estimate_occlusion_map", False))
    _refuse_leftovers(dense, where)

    where = "generator_params"
    generator = GeneratorConfig(
        block_expansion=_take(gen, "block_expansion", where),
        max_features=_take(gen, "max_features", where),
        num_down_blocks=_take(gen, "num_down_blocks", where),
        num_bottleneck_blocks=_take(gen, "num_bottleneck_blocks", where))
    _refuse_leftovers(gen, where)

    where = "common_params"
    config = MotionModelConfig(
        image_size=frame_shape[0],
        num_channels=_take(common, "num_channels", where),
        num_kp=_take(common, "num_kp", where),
        estimate_jacobian=common.pop("estimate_jacobian", False),
        align_corners=align_corners,
        keypoint_detector=keypoint_detector, dense_motion=dense_motion, generator=generator)
    _refuse_leftovers(common, where)
    return config


def read_fomm_yaml(path: str | os.PathLike, *, align_corners: bool = True) -> MotionModelConfig:
    """Parse a reference yaml file (safe loader) into a MotionModelConfig."""
    import yaml

    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"{file}: config file not found")
    try:
        data = yaml.safe_load(file.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{file}: not a valid yaml file ({error})") from None
    except RecursionError:
        raise CheckpointError(f"{file}: not a model config (yaml nested too deeply)") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{file}: expected a yaml mapping")
    try:
        config = config_from_fomm_yaml(data, align_corners=align_corners)
    except (ConfigError, TypeError, ValueError) as error:  # also float("x"), float([1])
        raise CheckpointError(f"{file}: {error}") from None
    except ArithmeticError as error:  # a scale factor of 1e-320: its inverse overflows
        raise CheckpointError(f"{file}: {OUT_OF_RANGE} ({error})") from None
    check_model_size(config, source=str(file))
    return config


def read_fomm_checkpoint(path: str | os.PathLike) -> dict[str, dict[str, torch.Tensor]]:
    """The `kp_detector` and `generator` state dicts of a reference `.pth.tar` (tensors only)."""
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"{file}: checkpoint file not found")
    try:
        data = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        text = str(error)
        reason = (text.split("WeightsUnpickler error:", 1)[1].strip().split("\n\n")[0]
                  .split(". Please use")[0] if "WeightsUnpickler error:" in text
                  else text.splitlines()[0])
        if "global" not in reason.lower():  # not a pickle at all, rather than one with code
            raise CheckpointError(f"{file}: not a readable PyTorch checkpoint ({reason})") from None
        raise CheckpointError(
            f"{file}: refused to load: the pickle holds code or objects other than tensors "
            f"(torch.load weights_only=True said: {reason})") from None
    except Exception as error:  # torch's legacy unpickler raises anything on garbage bytes
        raise CheckpointError(f"{file}: not a readable PyTorch checkpoint "
                              f"({type(error).__name__}: {error})") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(e), dict) for e in FOMM_MODEL_ENTRIES):
        found = ", ".join(sorted(map(str, data))) if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{file}: not a first-order-motion checkpoint "
                              f"(expected entries kp_detector and generator, found {found})")
    dropped = sorted(str(k) for k in data if k not in FOMM_MODEL_ENTRIES)
    if dropped:
        logger.info("dropping entries not needed for inference: %s", ", ".join(dropped))
    states = {}
    for entry in FOMM_MODEL_ENTRIES:
        bad = sorted(k for k, v in data[entry].items() if not isinstance(v, torch.Tensor))
        if bad:
            raise CheckpointError(f"{file}: {entry} entries that are not tensors: {', '.join(bad)}")
        states[entry] = data[entry]
    return states


def load_fomm_checkpoint(checkpoint: str | os.PathLike, config: str | os.PathLike, *,
                         align_corners: bool = True) -> MotionModel:
    """Load a reference checkpoint + yaml into a MotionModel (eval mode), strictly checked."""
    model_config = read_fomm_yaml(config, align_corners=align_corners)
    states = remap_fomm_state(read_fomm_checkpoint(checkpoint), source=str(checkpoint))
    return build_model(model_config, states, source=str(checkpoint))
