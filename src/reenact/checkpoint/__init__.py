"""Checkpoints: reenact's own directory format, and the reader of reference FOMM checkpoints."""

from reenact.checkpoint.fomm import load_fomm_checkpoint, read_fomm_yaml
from reenact.checkpoint.format import (
    CheckpointError,
    load_checkpoint,
    read_checkpoint_config,
    save_checkpoint,
)

__all__ = ["CheckpointError", "load_checkpoint", "load_fomm_checkpoint", "read_checkpoint_config",
           "read_fomm_yaml", "save_checkpoint"]
