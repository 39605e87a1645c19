"""The sidecar manifest: `OUT.mp4.reenact.json` next to each output, committed with the output.

    {"format": "reenact-provenance-manifest", "version": 1, "synthetic": true,
     "run_id": ..., "created": ..., "tool": {...}, "model": {...}, "inputs": [...],
     "options": {...}, "label": ..., "watermark": {"format_version": 1, "tool_version": "0.1.0",
     "run_id": "3fa2"}, "output": {"name": "out.mp4", "bytes": ..., "sha256": ...}}
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reenact.io.atomic import AtomicOutput, atomic_output, check_atomic_output, commit_together
from reenact.io.digest import file_sha256
from reenact.io.video_writer import check_output_path
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


def build_manifest(output: str | os.PathLike[str], provenance: Provenance, *,
                   data: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The manifest of the finished file `output` (hashes it, or `data`: the same bytes still
    under a temporary name)."""
    output = Path(output)
    data = Path(data) if data is not None else output
    return {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "synthetic": True,
            **provenance.to_dict(),
            "watermark": provenance.payload().to_dict(),
            "output": {"name": output.name, "bytes": data.stat().st_size,
                       "sha256": file_sha256(data)}}


def write_manifest(output: str | os.PathLike[str], provenance: Provenance) -> Path:
    """Write the manifest of the finished file `output` next to it, atomically; returns its path."""
    path = manifest_path(output)
    text = json.dumps(build_manifest(output, provenance), indent=2) + "\n"
    with atomic_output(path) as temp:
        temp.write_text(text, encoding="utf-8")
    return path


class PendingManifest:
    """The manifest of an output that is yet to be rendered: its name is checked before any work
    (it must not be an input, a directory, or too long a name), and it is written and renamed
    into place together with the output by `commit_with`.

    ```
    manifest = PendingManifest("out.mp4", inputs=[source, driving])
    with MarkedVideoWriter("out.mp4", ..., commit=False) as writer:
        ...
    manifest.commit_with(writer.output, provenance)   # both files appear, or neither
    ```
    Until then neither file exists under its final name, and nothing is written before: an
    existing out.mp4 and its manifest are replaced only by a run that succeeds.
    """

    def __init__(self, output: str | os.PathLike[str],
                 inputs: Sequence[str | os.PathLike[str] | None] = ()) -> None:
        self.output = Path(output)
        self.path = check_atomic_output(check_output_path(manifest_path(output), inputs))

    def commit_with(self, output: AtomicOutput, provenance: Provenance) -> Path:
        """Write the manifest of the finished, uncommitted `output` and commit both; returns the
        manifest's path. On any failure both temporary files are deleted and nothing changes."""
        manifest: AtomicOutput | None = None
        try:
            if output.path.absolute() != self.output.absolute():
                raise ValueError(f"{output.path}: this manifest was checked for {self.output}")
            manifest = AtomicOutput(self.path)
            text = json.dumps(build_manifest(output.path, provenance, data=output.temp_path),
                              indent=2) + "\n"
            manifest.temp_path.write_text(text, encoding="utf-8")
            commit_together([output, manifest])
        except BaseException:
            if manifest is not None:
                manifest.discard()
            output.discard()
            raise
        return self.path


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
