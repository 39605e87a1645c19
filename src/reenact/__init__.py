"""reenact: animate a still portrait with first-order motion.

`import reenact` is cheap: the public names below load their modules (and torch) on first use.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# numpy's BLAS only ever sees small matrices here (the watermark's 64x64 DCTs, mel filters); its
# idle worker threads spin on the cores torch is rendering on, which cost animate ~4% at 256x256.
# Set before numpy is first imported (as by the CLI); a value the user set wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"

_EXPORTS = {
    "load_model": "reenact.api",
    "create_model": "reenact.api",
    "save_checkpoint": "reenact.checkpoint",
    "CheckpointError": "reenact.checkpoint",
    "MotionModel": "reenact.models",
    "MotionModelConfig": "reenact.config",
    "ConfigError": "reenact.config",
    "Keypoints": "reenact.containers",
    "SourceEncoding": "reenact.containers",
    "DenseMotion": "reenact.containers",
    "Rendered": "reenact.containers",
    "normalize_keypoints": "reenact.geometry",
    "get_preset": "reenact.presets",
    "PRESETS": "reenact.presets",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'reenact' has no attribute {name!r}")
