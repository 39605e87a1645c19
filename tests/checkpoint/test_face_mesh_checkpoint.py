"""The bundled face-mesh checkpoint: it loads, its files are checked, and the converter reads a
weights-only state dict and nothing else."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from reenact.checkpoint.face_mesh import (
    DEFAULT_FACE_MESH,
    convert_face_mesh,
    load_face_mesh,
    save_face_mesh,
)
from reenact.checkpoint.format import CheckpointError
from reenact.models.face_mesh import FaceMesh


def test_the_bundled_checkpoint_loads_with_its_licence() -> None:
    model = load_face_mesh()
    assert isinstance(model, FaceMesh) and not model.training
    assert "Apache License" in (DEFAULT_FACE_MESH / "LICENSE").read_text()
    assert (DEFAULT_FACE_MESH / "MODEL_CARD.md").is_file()


def test_convert_save_load_round_trip(tmp_path) -> None:
    torch.manual_seed(1)
    model = FaceMesh()
    torch.save(model.state_dict(), tmp_path / "port.pth")
    save_face_mesh(convert_face_mesh(tmp_path / "port.pth"), tmp_path / "mesh")
    loaded = load_face_mesh(tmp_path / "mesh")
    x = torch.rand(1, 3, 192, 192)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).points, model.eval()(x).points)


def test_a_changed_weights_file_is_refused(tmp_path) -> None:
    copy = tmp_path / "mesh"
    shutil.copytree(DEFAULT_FACE_MESH, copy)
    weights = copy / "face_mesh.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 does not match index.json"):
        load_face_mesh(copy)


def test_another_config_is_refused(tmp_path) -> None:
    copy = tmp_path / "mesh"
    shutil.copytree(DEFAULT_FACE_MESH, copy)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "input_size": 256}))
    with pytest.raises(CheckpointError, match="config.json: expected"):
        load_face_mesh(copy)
    with pytest.raises(CheckpointError, match="face-mesh checkpoint directory not found"):
        load_face_mesh(tmp_path / "nowhere")


def test_the_converter_refuses_pickled_objects_and_foreign_keys(tmp_path) -> None:
    torch.save({"backbone.0.weight": torch.zeros(1)}, tmp_path / "partial.pth")
    with pytest.raises(CheckpointError, match="face_mesh does not fit the model config"):
        convert_face_mesh(tmp_path / "partial.pth")
    torch.save({"anything": object()}, tmp_path / "object.pth")
    with pytest.raises(CheckpointError, match="not a readable weights-only state dict"):
        convert_face_mesh(tmp_path / "object.pth")
