"""Provenance: every video and image reenact writes is marked as synthetic, and can be checked.

- an invisible watermark in every frame (`watermark`: 32-bit `Payload` with format version, tool
  version and short run id), embedded by the marked writers (`writers`: `MarkedVideoWriter`,
  `write_marked_image`, `reenact.io`'s writers with the mark added), always; it survives H.264
  re-encoding and downscaling;
- container metadata (MP4 tags, PNG text) saying the file is synthetic and made by reenact;
- a sidecar manifest `OUT.reenact.json` (`manifest`) with the inputs' and output's sha256, model,
  options and run id, written by the pipelines;
- an optional visible label (`label`);
- `verify_file` (`reenact verify`) reads all three back.

One `Provenance` record is made per run and passed to every writer of that run.
Names load their modules on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Payload": "reenact.provenance.payload",
    "WatermarkConfig": "reenact.provenance.watermark",
    "Watermarker": "reenact.provenance.watermark",
    "MarkingState": "reenact.provenance.watermark",
    "WatermarkDetector": "reenact.provenance.watermark",
    "Detection": "reenact.provenance.watermark",
    "detect": "reenact.provenance.watermark",
    "Provenance": "reenact.provenance.record",
    "describe_checkpoint": "reenact.provenance.record",
    "FrameMarker": "reenact.provenance.marking",
    "LabelPainter": "reenact.provenance.label",
    "MarkedVideoWriter": "reenact.provenance.writers",
    "write_marked_image": "reenact.provenance.writers",
    "write_manifest": "reenact.provenance.manifest",
    "read_manifest": "reenact.provenance.manifest",
    "manifest_path": "reenact.provenance.manifest",
    "Verification": "reenact.provenance.verify",
    "verify_file": "reenact.provenance.verify",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'reenact.provenance' has no attribute {name!r}")
