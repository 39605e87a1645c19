"""The face-mesh checkpoint: FaceMesh's weights (`reenact.models.face_mesh`) as reenact ships them.

    DIR/config.json            format name + version, the crop's size and value range
    DIR/index.json             the weights file's name, sha256 and tensor count
    DIR/face_mesh.safetensors  the network
    DIR/LICENSE, MODEL_CARD.md where the weights come from, under which licence

The weights are Google's FaceMesh (Apache-2.0), converted once from a PyTorch port's pickle
(`convert_face_mesh`: `torch.load(weights_only=True)`, every key and shape checked); reenact
reads only the safetensors file at run time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import save_file

from reenact.checkpoint.bundled import bundled_checkpoint
from reenact.checkpoint.format import (
    CONFIG_FILE,
    INDEX_FILE,
    CheckpointError,
    _read_json,
    check_state_dict,
    read_component,
)
from reenact.io.digest import file_sha256
from reenact.models.face_mesh import INPUT_SIZE, FaceMesh

FORMAT_NAME = "reenact-face-mesh"
FORMAT_VERSION = 1
WEIGHTS_FILE = "face_mesh.safetensors"
DEFAULT_FACE_MESH = bundled_checkpoint("face-mesh")
CONFIG = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "input_size": INPUT_SIZE,
          "value_range": [-1.0, 1.0], "channels": "RGB"}


def load_face_mesh(directory: str | os.PathLike[str] = DEFAULT_FACE_MESH) -> FaceMesh:
    """The FaceMesh network of a face-mesh checkpoint directory (strict keys and shapes, sha256
    checked); CPU, eval mode."""
    root = Path(directory)
    if not root.is_dir():
        raise CheckpointError(f"{root}: face-mesh checkpoint directory not found")
    config = _read_json(root / CONFIG_FILE)
    if config != CONFIG:
        raise CheckpointError(f"{root / CONFIG_FILE}: expected {json.dumps(CONFIG)}, got "
                              f"{json.dumps(config)}")
    components = _read_json(root / INDEX_FILE).get("components")
    entry = components.get("face_mesh") if isinstance(components, dict) else None
    state = read_component(root, "face_mesh", entry)
    model = FaceMesh()
    check_state_dict("face_mesh", model.state_dict(), state, source=str(root))
    model.load_state_dict(state, strict=True)
    return model.eval()


def save_face_mesh(model: FaceMesh, directory: str | os.PathLike[str]) -> None:
    """Write `model` as a face-mesh checkpoint into `directory` (created; its config, index and
    weights files replaced)."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().contiguous().float() for key, value in model.state_dict().items()}
    save_file(state, str(root / WEIGHTS_FILE))
    index = {"components": {"face_mesh": {"file": WEIGHTS_FILE,
                                          "sha256": file_sha256(root / WEIGHTS_FILE),
                                          "tensors": len(state)}}}
    (root / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")
    (root / CONFIG_FILE).write_text(json.dumps(CONFIG, indent=2) + "\n")


def convert_face_mesh(pickle_path: str | os.PathLike[str]) -> FaceMesh:
    """FaceMesh with the weights of a PyTorch port's state-dict pickle (e.g. `facemesh.pth` of
    thepowerfuldeez/facemesh.pytorch, whose keys are this module's): read with
    `torch.load(weights_only=True)`, every key and shape checked."""
    try:
        state = torch.load(pickle_path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure is a bad file
        raise CheckpointError(f"{pickle_path}: not a readable weights-only state dict "
                              f"({type(error).__name__}: {error})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{pickle_path}: expected a state dict of tensors")
    model = FaceMesh()
    check_state_dict("face_mesh", model.state_dict(), state, source=str(pickle_path))
    model.load_state_dict(state, strict=True)
    return model.eval()
