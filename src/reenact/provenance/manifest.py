"""The sidecar manifest: `OUT.mp4.reenact.json` next to each output, written after the output.

    {"format": "reenact-provenance-manifest", "version": 1, "synthetic": true,
     "run_id": ..., "created": ..., "tool": {...}, "model": {...}, "inputs": [...],
     "options": {...}, "label": ..., "watermark": {"format_version": 1, "tool_version": "0.1.0",
     "run_id": "3fa2"}, "output": {"name": "out.mp4", "bytes": ..., "sha256": ...}}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from reenact.io.atomic import atomic_output
from reenact.io.digest import file_sha256
from reenact.provenance.record import Provenance

MANIFEST_SUFFIX = ".reenact.json"
MANIFEST_FORMAT = "reenact-provenance-manifest"
MANIFEST_VERSION = 1


class ManifestError(ValueError):
    """A sidecar manifest exists but cannot be read."""


def manifest_path(output: str | os.PathLike[str]) -> Path:
    """Where the manifest of `output` lives: the output's name + `.reenact.json`."""
    output = Path(output)
    return output.with_name(output.name + MANIFEST_SUFFIX)


def build_manifest(output: str | os.PathLike[str], provenance: Provenance) -> dict[str, Any]:
    """The manifest of the finished file `output` (hashes it)."""
    output = Path(output)
    return {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "synthetic": True,
            **provenance.to_dict(),
            "watermark": provenance.payload().to_dict(),
            "output": {"name": output.name, "bytes": output.stat().st_size,
                       "sha256": file_sha256(output)}}


def write_manifest(output: str | os.PathLike[str], provenance: Provenance) -> Path:
    """Write the manifest of the finished file `output` next to it, atomically; returns its path."""
    path = manifest_path(output)
    text = json.dumps(build_manifest(output, provenance), indent=2) + "\n"
    with atomic_output(path) as temp:
        temp.write_text(text, encoding="utf-8")
    return path


def read_manifest(output: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The manifest next to `output`, None if there is none; ManifestError if unreadable."""
    path = manifest_path(output)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError(f"{path}: cannot read the manifest ({error})") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ManifestError(f"{path}: not a reenact provenance manifest")
    return data


def output_matches(output: str | os.PathLike[str], manifest: dict[str, Any]) -> bool:
    """Whether `output` is, byte for byte, the file the manifest describes."""
    recorded = manifest.get("output", {}).get("sha256") if isinstance(manifest.get("output"),
                                                                      dict) else None
    return isinstance(recorded, str) and recorded == file_sha256(output)
