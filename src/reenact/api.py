"""Loading models: reenact checkpoints, reference FOMM checkpoints, and fresh presets."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from reenact.checkpoint import CheckpointError, load_checkpoint, load_fomm_checkpoint
from reenact.checkpoint.bundled import bundled_checkpoint
from reenact.models import MotionModel
from reenact.presets import get_preset

logger = logging.getLogger(__name__)

DEFAULT_CHECKPOINT = bundled_checkpoint("default")
# until a trained default checkpoint is bundled, "default" falls back to this preset, untrained
FALLBACK_PRESET = "fast-256"


def load_model(path: str | os.PathLike, *, config: str | os.PathLike | None = None,
               align_corners: bool | None = None) -> MotionModel:
    """Load a model for inference (CPU, float32, eval mode; move it with `.to(...)`).

    path: a reenact checkpoint directory, or a reference `.pth.tar` together with `config`, its yaml.
    align_corners: for reference checkpoints only; defaults to True, the convention the released
        weights were trained with.
    """
    source = Path(path)
    if source.is_dir():
        if config is not None or align_corners is not None:
            raise ValueError("load_model: config and align_corners apply to reference .pth.tar "
                             "checkpoints only; a reenact checkpoint directory carries its own")
        return load_checkpoint(source)
    if not source.exists():
        raise CheckpointError(f"{source}: checkpoint not found")
    if config is None:
        raise CheckpointError(f"{source}: a reference checkpoint needs its yaml config (config=...)")
    return load_fomm_checkpoint(source, config, align_corners=True if align_corners is None
                                else align_corners)


def create_model(preset: str, *, seed: int | None = None) -> MotionModel:
    """A randomly initialized model of a named preset, in eval mode."""
    if seed is not None:
        torch.manual_seed(seed)
    return MotionModel(get_preset(preset)).eval()


def load_default_model() -> MotionModel:
    """The checkpoint bundled with the package, or an untrained fast preset (with a warning)."""
    if (DEFAULT_CHECKPOINT / "config.json").is_file():
        return load_checkpoint(DEFAULT_CHECKPOINT)
    logger.warning("no trained default checkpoint is bundled with this version; using an untrained "
                   "%s model: the output shows the pipeline, not a likeness. Pass --checkpoint DIR "
                   "(e.g. one made by `reenact convert`).", FALLBACK_PRESET)
    return create_model(FALLBACK_PRESET, seed=0)


def resolve_model(checkpoint: str | os.PathLike = "default", *, config: str | os.PathLike | None = None,
                  align_corners: bool | None = None) -> MotionModel:
    """`default`, a reenact checkpoint directory, or a reference .pth.tar with its yaml `config`."""
    if str(checkpoint) == "default":
        return load_default_model()
    return load_model(checkpoint, config=config, align_corners=align_corners)
