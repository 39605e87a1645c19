"""The ONNX export format: a directory of three graphs and the JSON that a runtime needs.

    DIR/export.json              format name + version, opset, image size, keypoints, jacobians,
                                 each graph's file, sha256, input and output names, the model config
    DIR/keypoint_detector.onnx   image (B, C, S, S) in [0, 1] -> kp_value (B, K, 2)
                                 [, kp_jacobian (B, K, 2, 2)]
    DIR/source_encoder.onnx      source_image (1, C, S, S) -> features (1, F, S/4, S/4),
                                 motion_image (1, C, h, w)
    DIR/renderer.onnx            features, motion_image, kp_source_value[, kp_source_jacobian],
                                 kp_driving_value[, kp_driving_jacobian] -> prediction (B, C, S, S),
                                 deformation (B, h, w, 2), source_weight (B, 1, S, S)

Batch axes are dynamic; the renderer broadcasts a source batch of 1 over a driving batch of B.
Jacobian inputs and outputs exist only when the model estimates jacobians (`has_jacobian`).
Exports written before the renderer gained `deformation` and `source_weight` (what full-resolution
output needs, `reenact.engine.backend.RenderedCrops`) have `prediction` alone; they still load
(`OnnxExport.has_motion_outputs` is false).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reenact.io.digest import cached_file_sha256

FORMAT_NAME = "reenact-onnx-export"
FORMAT_VERSION = 1
EXPORT_FILE = "export.json"
MIN_OPSET = 16  # GridSample entered the default ONNX domain in opset 16
GRAPHS = ("keypoint_detector", "source_encoder", "renderer")
PREDICTION = "prediction"  # the renderer's first output: the rendered frames
MOTION_OUTPUTS = ("deformation", "source_weight")  # renderer outputs beyond the prediction
# renderer inputs that come from the source: their batch (1, or B) is not the driving batch's
SOURCE_BATCH_INPUTS = ("features", "motion_image", "skip_image", "kp_source_value",
                       "kp_source_jacobian")


class OnnxExportError(ValueError):
    """An ONNX export directory is missing, malformed or corrupt, or cannot be written."""


def graph_io_names(has_jacobian: bool, pixel_skip: bool = False
                   ) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """(input names, output names) of each graph, in argument order.

    pixel_skip: the generator mixes in the warped source image, so the source encoder also hands
    the renderer the source image itself (`skip_image`).
    """
    jacobian = ("kp_jacobian",) if has_jacobian else ()
    kp_source = ("kp_source_value", "kp_source_jacobian") if has_jacobian else ("kp_source_value",)
    kp_driving = ("kp_driving_value", "kp_driving_jacobian") if has_jacobian else ("kp_driving_value",)
    skip = ("skip_image",) if pixel_skip else ()
    return {
        "keypoint_detector": (("image",), ("kp_value", *jacobian)),
        "source_encoder": (("source_image",), ("features", "motion_image", *skip)),
        "renderer": (("features", "motion_image", *skip, *kp_source, *kp_driving),
                     (PREDICTION, *MOTION_OUTPUTS)),
    }


@dataclass(frozen=True)
class GraphSpec:
    """One graph of an export: its file (in the export directory), sha256 and I/O names."""

    file: str
    sha256: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class OnnxExport:
    """A read and checked export directory."""

    directory: Path
    opset: int
    image_size: int
    num_channels: int
    num_kp: int
    has_jacobian: bool
    graphs: dict[str, GraphSpec]
    data: dict[str, Any]  # the whole export.json, model config and source metadata included

    def path(self, graph: str) -> Path:
        return self.directory / self.graphs[graph].file

    @property
    def has_motion_outputs(self) -> bool:
        """Whether the renderer also returns the deformation and source weight."""
        return self.graphs["renderer"].outputs[1:] == MOTION_OUTPUTS


def is_onnx_export(path: str | os.PathLike) -> bool:
    """Whether `path` is a directory holding an export.json (it may still be invalid)."""
    return (Path(path) / EXPORT_FILE).is_file()


def _field(data: dict[str, Any], key: str, kind: type, where: Path) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise OnnxExportError(f"{where}: {key} must be {kind.__name__}, got {value!r}")
    return value


def _load_json(path: Path) -> dict[str, Any]:
    if not path.parent.is_dir():
        raise OnnxExportError(f"{path.parent}: ONNX export directory not found")
    if not path.is_file():
        raise OnnxExportError(f"{path.parent}: not an ONNX export (no {EXPORT_FILE}; make one with "
                              "`reenact export-onnx`)")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise OnnxExportError(f"{path}: not valid JSON ({error})") from None
    except RecursionError:
        raise OnnxExportError(f"{path}: not an export description (JSON nested too deeply)") from None
    if not isinstance(data, dict):
        raise OnnxExportError(f"{path}: expected a JSON object")
    if data.get("format") != FORMAT_NAME:
        raise OnnxExportError(f"{path}: format is {data.get('format')!r}, expected {FORMAT_NAME!r}")
    if data.get("format_version") != FORMAT_VERSION:
        raise OnnxExportError(f"{path}: format_version {data.get('format_version')!r} is not "
                              f"supported (this reenact reads {FORMAT_VERSION})")
    return data


def _read_graph(root: Path, name: str, entry: Any, names: tuple[tuple[str, ...], tuple[str, ...]],
                check_files: bool) -> GraphSpec:
    where = root / EXPORT_FILE
    if not isinstance(entry, dict):
        raise OnnxExportError(f"{where}: graphs.{name} is missing")
    spec = GraphSpec(file=Path(str(entry.get("file", ""))).name, sha256=str(entry.get("sha256")),
                     inputs=tuple(entry.get("inputs", ())), outputs=tuple(entry.get("outputs", ())))
    if name == "renderer" and spec.outputs == names[1][:1]:  # an export from before MOTION_OUTPUTS
        names = (names[0], spec.outputs)
    if (spec.inputs, spec.outputs) != names:
        raise OnnxExportError(f"{where}: graphs.{name} has inputs {list(spec.inputs)} and outputs "
                              f"{list(spec.outputs)}, expected {list(names[0])} and {list(names[1])}")
    path = root / spec.file
    if check_files and not path.is_file():
        raise OnnxExportError(f"{root}: {name} graph file {spec.file!r} is missing")
    if check_files and cached_file_sha256(path) != spec.sha256:
        raise OnnxExportError(f"{path}: sha256 does not match {EXPORT_FILE}; the file is corrupt or "
                              "was changed (export again with `reenact export-onnx`)")
    return spec


def read_onnx_export(directory: str | os.PathLike, *, check_files: bool = True) -> OnnxExport:
    """Read DIR/export.json; check that each graph file is there with its recorded sha256."""
    root = Path(directory)
    where = root / EXPORT_FILE
    data = _load_json(where)
    has_jacobian = _field(data, "has_jacobian", bool, where)
    graphs = data.get("graphs")
    if not isinstance(graphs, dict):
        raise OnnxExportError(f"{where}: graphs must be an object naming {', '.join(GRAPHS)}")
    pixel_skip = data.get("pixel_skip", False)
    if not isinstance(pixel_skip, bool):
        raise OnnxExportError(f"{where}: pixel_skip must be true or false, got {pixel_skip!r}")
    names = graph_io_names(has_jacobian, pixel_skip)
    specs = {name: _read_graph(root, name, graphs.get(name), names[name], check_files)
             for name in GRAPHS}
    return OnnxExport(directory=root, opset=_field(data, "opset", int, where),
                      image_size=_field(data, "image_size", int, where),
                      num_channels=_field(data, "num_channels", int, where),
                      num_kp=_field(data, "num_kp", int, where), has_jacobian=has_jacobian,
                      graphs=specs, data=data)
