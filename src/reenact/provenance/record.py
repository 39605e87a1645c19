"""The record of one run: who made the outputs, from what, with which model and options.

One `Provenance` is made per run and handed to every writer of that run: the watermark carries
its short run id, the container metadata and the sidecar manifest carry the rest.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reenact import __version__
from reenact.provenance.label import check_label
from reenact.provenance.payload import Payload, parse_tool_version

# the tag that starts the machine-readable comment of every file reenact writes
METADATA_TAG = "reenact-provenance"
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
# small files that identify a checkpoint or export directory (they list the weights' sha256)
_DIRECTORY_ID_FILES = ("index.json", "config.json", "manifest.json")


@dataclass(frozen=True)
class InputRecord:
    """An input file of the run: its role ("source", "driving", ...), name and sha256."""

    role: str
    name: str
    sha256: str


@dataclass(frozen=True)
class Provenance:
    """Who made an output, from what: one per run, shared by every file the run writes.

    run_id: 32 lowercase hex digits, random per run; the watermark carries the first 4.
    created: when the run started, UTC, ISO 8601.
    model: what rendered the frames, e.g. {"name": "vox-256", "sha256": "..."}; see
        `describe_checkpoint`.
    inputs: the input files with their sha256.
    options: the run's options, JSON-serializable.
    label: the visible label drawn on every frame, or None.
    """

    run_id: str
    created: str
    tool_version: str = __version__
    model: Mapping[str, str] = field(default_factory=dict)
    inputs: tuple[InputRecord, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    label: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.run_id, str) or not _RUN_ID.match(self.run_id):
            raise ValueError(f"run_id: expected 32 lowercase hex digits, got {self.run_id!r}")
        parse_tool_version(self.tool_version)
        if self.label is not None:
            object.__setattr__(self, "label", check_label(self.label))
        try:
            json.dumps(dict(self.options))
        except (TypeError, ValueError) as error:
            raise ValueError(f"options: expected JSON-serializable values ({error})") from None

    @classmethod
    def new(cls, *, model: Mapping[str, str] | None = None,
            inputs: Mapping[str, str | os.PathLike[str]] | None = None,
            options: Mapping[str, Any] | None = None, label: str | None = None) -> Provenance:
        """A record for a run starting now, with a fresh run id; hashes the `inputs` files
        ({role: path})."""
        from reenact.io.digest import cached_file_sha256

        records = tuple(InputRecord(role, Path(path).name, cached_file_sha256(path))
                        for role, path in (inputs or {}).items())
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return cls(run_id=secrets.token_hex(16), created=created, model=dict(model or {}),
                   inputs=records, options=dict(options or {}), label=label)

    @property
    def model_name(self) -> str:
        return self.model.get("name", "unknown")

    def payload(self) -> Payload:
        """What the watermark carries: format, this tool's version, the short run id."""
        return Payload(tool_version=parse_tool_version(self.tool_version),
                       run_id=int(self.run_id[:4], 16))

    def summary(self, kind: str = "video") -> str:
        return (f"Synthetic {kind}: AI-generated with reenact {self.tool_version} (face "
                f"reenactment, model {self.model_name}). Check it with `reenact verify`.")

    def comment(self) -> str:
        """One machine-readable line: `reenact-provenance: synthetic=true; tool=...; ...`."""
        fields = {"synthetic": "true", "tool": f"reenact {self.tool_version}",
                  "model": self.model_name, "run": self.run_id, "created": self.created}
        return f"{METADATA_TAG}: " + "; ".join(f"{key}={value}" for key, value in fields.items())

    def container_metadata(self) -> dict[str, str]:
        """MP4 tags (ones the mp4 muxer keeps): comment, description, keywords, encoder."""
        return {"comment": self.comment(), "description": self.summary("video"),
                "keywords": "synthetic,ai-generated,reenact",
                "encoding_tool": f"reenact {self.tool_version}"}

    def image_text(self) -> dict[str, str]:
        """PNG text chunks."""
        return {"Comment": self.comment(), "Description": self.summary("image"),
                "Software": f"reenact {self.tool_version}"}

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "created": self.created,
                "tool": {"name": "reenact", "version": self.tool_version},
                "model": dict(self.model),
                "inputs": [{"role": item.role, "name": item.name, "sha256": item.sha256}
                           for item in self.inputs],
                "options": dict(self.options), "label": self.label}


# options whose text is recorded by its sha256 and length: a transcript may be long, and it is
# the words of someone's speech
TEXT_BY_DIGEST = ("transcript",)


def options_record(options: object) -> dict[str, Any]:
    """A run's options dataclass as plain JSON values (anything else as its str), for the record;
    the text of `TEXT_BY_DIGEST` options as {"sha256", "chars"}."""
    import dataclasses
    import hashlib

    record = json.loads(json.dumps(dataclasses.asdict(options), default=str))  # type: ignore[arg-type]
    for name in TEXT_BY_DIGEST:
        if isinstance(record.get(name), str):
            text = record[name]
            record[name] = {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                            "chars": len(text)}
    return record


def parse_comment(text: str) -> dict[str, str] | None:
    """The fields of a `Provenance.comment()` line, or None if `text` is not one."""
    if not text.startswith(f"{METADATA_TAG}:"):
        return None
    fields = {}
    for part in text[len(METADATA_TAG) + 1:].split(";"):
        key, _, value = part.strip().partition("=")
        if key:
            fields[key] = value
    return fields


def describe_checkpoint(checkpoint: str | os.PathLike[str], *,
                        name: str | None = None) -> dict[str, str]:
    """{"name", "path", "sha256"} identifying a model file or directory, for the record.

    A file is hashed whole; a directory (reenact checkpoint or export) by the small json files
    that list its weights' sha256, so that identical weights get the same id without rehashing
    hundreds of megabytes.
    """
    import hashlib

    from reenact.io.digest import cached_file_sha256, file_sha256

    path = Path(checkpoint)
    record = {"name": name or path.name, "path": str(path)}
    if path.is_file():
        record["sha256"] = cached_file_sha256(path)
    elif path.is_dir():
        digest = hashlib.sha256()
        for file_name in _DIRECTORY_ID_FILES:
            if (path / file_name).is_file():
                digest.update(f"{file_name}:{file_sha256(path / file_name)};".encode())
        record["sha256"] = digest.hexdigest()
    return record
