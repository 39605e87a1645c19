"""reenact.provenance.record and .manifest: the run record, metadata lines, the sidecar file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reenact import __version__
from reenact.io.digest import file_sha256
from reenact.provenance.manifest import (
    ManifestError,
    manifest_path,
    output_matches,
    read_manifest,
    write_manifest,
)
from reenact.provenance.record import Provenance, describe_checkpoint, options_record, parse_comment


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "face.png").write_bytes(b"portrait bytes")
    (tmp_path / "drive.mp4").write_bytes(b"driving bytes")
    return {"source": tmp_path / "face.png", "driving": tmp_path / "drive.mp4"}


def test_new_record(inputs: dict[str, Path]) -> None:
    record = Provenance.new(model={"name": "tiny"}, inputs=inputs, options={"relative": True},
                            label=" AI ")
    assert len(record.run_id) == 32 and record.created.endswith("+00:00")
    assert record.tool_version == __version__ and record.label == "AI"
    assert [(i.role, i.name, i.sha256) for i in record.inputs] == [
        ("source", "face.png", file_sha256(inputs["source"])),
        ("driving", "drive.mp4", file_sha256(inputs["driving"]))]
    payload = record.payload()
    assert payload.short_run_id == record.run_id[:4] and payload.tool_version_text == "0.1.0"
    assert Provenance.new().run_id != Provenance.new().run_id


def test_metadata_says_synthetic() -> None:
    record = Provenance.new(model={"name": "vox-256"})
    tags = record.container_metadata()
    assert set(tags) == {"comment", "description", "keywords", "encoding_tool"}
    assert "Synthetic video" in tags["description"] and "vox-256" in tags["description"]
    fields = parse_comment(tags["comment"])
    assert fields == {"synthetic": "true", "tool": f"reenact {__version__}", "model": "vox-256",
                      "run": record.run_id, "created": record.created}
    assert parse_comment("made with love") is None
    assert record.image_text()["Software"] == f"reenact {__version__}"


def test_record_validation() -> None:
    with pytest.raises(ValueError, match="run_id: expected 32 lowercase hex digits, got 'xyz'"):
        Provenance(run_id="xyz", created="now")
    with pytest.raises(ValueError, match="options: expected JSON-serializable values"):
        Provenance(run_id="0" * 32, created="now", options={"x": object()})
    with pytest.raises(ValueError, match="label: expected some text"):
        Provenance(run_id="0" * 32, created="now", label="  ")


def test_manifest_records_inputs_and_output(tmp_path: Path, inputs: dict[str, Path]) -> None:
    output = tmp_path / "out.mp4"
    output.write_bytes(b"the rendered video")
    record = Provenance.new(model={"name": "tiny", "sha256": "ab" * 32}, inputs=inputs,
                            options={"crop": "face"})
    path = write_manifest(output, record)
    assert path == manifest_path(output) == tmp_path / "out.mp4.reenact.json"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial file left
    data = json.loads(path.read_text())
    assert data["format"] == "reenact-provenance-manifest" and data["synthetic"] is True
    assert data["run_id"] == record.run_id and data["tool"]["version"] == __version__
    assert data["model"] == {"name": "tiny", "sha256": "ab" * 32}
    assert data["inputs"][0] == {"role": "source", "name": "face.png",
                                 "sha256": file_sha256(inputs["source"])}
    assert data["options"] == {"crop": "face"}
    assert data["watermark"] == {"format_version": 1, "tool_version": "0.1.0",
                                 "run_id": record.run_id[:4]}
    assert data["output"] == {"name": "out.mp4", "bytes": 18, "sha256": file_sha256(output)}
    assert read_manifest(output) == data and output_matches(output, data)
    output.write_bytes(b"edited afterwards")
    assert not output_matches(output, data)


def test_a_transcript_is_recorded_by_its_digest_not_its_words() -> None:
    import hashlib

    from reenact.pipelines.dub import DubOptions

    text = "señor bin blue"
    record = options_record(DubOptions(transcript=text))
    assert record["transcript"] == {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                                    "chars": 14}
    assert record["phones"] is True and record["length_policy"] == "pingpong"
    assert options_record(DubOptions())["transcript"] is None
    json.dumps(record)  # plain JSON


def test_missing_and_broken_manifests(tmp_path: Path) -> None:
    output = tmp_path / "out.mp4"
    assert read_manifest(output) is None
    manifest_path(output).write_text("{not json")
    with pytest.raises(ManifestError, match="out.mp4.reenact.json: cannot read the manifest"):
        read_manifest(output)
    manifest_path(output).write_text('{"format": "other"}')
    with pytest.raises(ManifestError, match="not a reenact provenance manifest"):
        read_manifest(output)


def test_describe_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "index.json").write_text('{"components": {}}')
    first = describe_checkpoint(tmp_path / "ckpt")
    assert first["name"] == "ckpt" and len(first["sha256"]) == 64
    (tmp_path / "ckpt" / "index.json").write_text('{"components": {"a": 1}}')
    assert describe_checkpoint(tmp_path / "ckpt")["sha256"] != first["sha256"]
    (tmp_path / "model.pth.tar").write_bytes(b"weights")
    assert describe_checkpoint(tmp_path / "model.pth.tar", name="vox")["sha256"] == file_sha256(
        tmp_path / "model.pth.tar")
