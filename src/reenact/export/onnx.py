"""Export a MotionModel as three ONNX graphs (see `reenact.export.format` for the layout).

Small adapter modules turn the typed containers into plain tensors at the graph boundary; the models
themselves are unchanged. The TorchScript-based exporter (`torch.onnx.export(dynamo=False)`) is
used: the dynamo exporter needs onnxscript, one more dependency, and these networks trace cleanly
(their control flow depends on the config, never on tensor values).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from reenact.checkpoint.format import PREPROCESSING, file_sha256
from reenact.config import config_to_dict
from reenact.containers import Keypoints, SourceEncoding
from reenact.export.format import (
    EXPORT_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    GRAPHS,
    MIN_OPSET,
    SOURCE_BATCH_INPUTS,
    OnnxExportError,
    graph_io_names,
    read_onnx_export,
)
from reenact.export.session import create_session
from reenact.io.atomic import check_replaceable_directory, replace_directory
from reenact.models import MotionModel

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 17
MAX_OPSET = 20  # the newest opset this exporter and the tested onnxruntime agree on
EXAMPLE_BATCH = 2  # traced with a driving batch of 2 and a source batch of 1: the broadcast is kept
# every file export_onnx writes: the only files replacing an export deletes
EXPORT_FILES = frozenset({EXPORT_FILE, *(f"{graph}.onnx" for graph in GRAPHS)})


class KeypointDetectorGraph(nn.Module):
    """image (B, C, S, S) in [0, 1] -> kp_value (B, K, 2)[, kp_jacobian (B, K, 2, 2)]."""

    def __init__(self, model: MotionModel) -> None:
        super().__init__()
        self.detector = model.keypoint_detector

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        kp = self.detector(image)
        return (kp.value,) if kp.jacobian is None else (kp.value, kp.jacobian)


class SourceEncoderGraph(nn.Module):
    """source_image (B, C, S, S) -> features (B, F, S/4, S/4), motion_image (B, C, h, w)."""

    def __init__(self, model: MotionModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, source_image: Tensor) -> tuple[Tensor, ...]:
        encoding = self.model.encode_source(source_image)
        if self.model.config.generator.pixel_skip:  # the renderer warps the image itself too
            return encoding.features, encoding.motion_image, encoding.image
        return encoding.features, encoding.motion_image


class RendererGraph(nn.Module):
    """Source encoding (batch 1 or B) + source and driving keypoints -> prediction (B, C, S, S),
    deformation (B, h, w, 2), source_weight (B, 1, S, S) (see `Rendered.source_weight`)."""

    def __init__(self, model: MotionModel) -> None:
        super().__init__()
        self.model = model

    def render(self, features: Tensor, motion_image: Tensor, kp_source: Keypoints,
               kp_driving: Keypoints, image: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        # without the pixel skip only `return_deformed` reads the source image, which the graph
        # does not ask for
        source = SourceEncoding(image=torch.empty(0) if image is None else image, features=features,
                                motion_image=motion_image)
        rendered = self.model.render(source, kp_source, kp_driving)
        return rendered.prediction, rendered.motion.deformation, rendered.source_weight()

    def forward(self, features: Tensor, motion_image: Tensor, kp_source_value: Tensor,
                kp_source_jacobian: Tensor, kp_driving_value: Tensor,
                kp_driving_jacobian: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.render(features, motion_image, Keypoints(kp_source_value, kp_source_jacobian),
                           Keypoints(kp_driving_value, kp_driving_jacobian))


class RendererGraphWithoutJacobian(RendererGraph):
    """The renderer of a model that estimates no jacobians: keypoint values only."""

    def forward(  # type: ignore[override]
            self, features: Tensor, motion_image: Tensor, kp_source_value: Tensor,
            kp_driving_value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.render(features, motion_image, Keypoints(kp_source_value),
                           Keypoints(kp_driving_value))


class RendererGraphWithSkip(RendererGraph):
    """The renderer of a pixel-skip model (with jacobians): the source image is an input too."""

    def forward(  # type: ignore[override]
            self, features: Tensor, motion_image: Tensor, skip_image: Tensor, kp_source_value: Tensor,
            kp_source_jacobian: Tensor, kp_driving_value: Tensor,
            kp_driving_jacobian: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.render(features, motion_image, Keypoints(kp_source_value, kp_source_jacobian),
                           Keypoints(kp_driving_value, kp_driving_jacobian), image=skip_image)


def graph_modules(model: MotionModel) -> dict[str, nn.Module]:
    """The adapter module of each graph."""
    if model.config.generator.pixel_skip and not model.config.estimate_jacobian:
        raise ValueError("export: a pixel-skip model without jacobians is not supported")
    if model.config.generator.pixel_skip:
        renderer: nn.Module = RendererGraphWithSkip(model)
    elif model.config.estimate_jacobian:
        renderer = RendererGraph(model)
    else:
        renderer = RendererGraphWithoutJacobian(model)
    return {"keypoint_detector": KeypointDetectorGraph(model),
            "source_encoder": SourceEncoderGraph(model), "renderer": renderer}


def _kp_tensors(kp: Keypoints) -> tuple[Tensor, ...]:
    return (kp.value,) if kp.jacobian is None else (kp.value, kp.jacobian)


def example_inputs(model: MotionModel) -> dict[str, tuple[Tensor, ...]]:
    """Each graph's example arguments: smooth random images, driving batch 2, source batch 1."""
    config = model.config
    generator = torch.Generator().manual_seed(0)
    coarse = torch.rand(EXAMPLE_BATCH, config.num_channels, 8, 8, generator=generator)
    images = nn.functional.interpolate(coarse, size=(config.image_size, config.image_size),
                                       mode="bilinear", align_corners=False)
    with torch.no_grad():
        kp = model.detect(images)
        source = model.encode_source(images[:1])
    return {"keypoint_detector": (images,), "source_encoder": (images,),
            "renderer": (source.features, source.motion_image,
                         *((source.image,) if config.generator.pixel_skip else ()),
                         *_kp_tensors(kp[0]), *_kp_tensors(kp))}


def _dynamic_axes(graph: str, inputs: tuple[str, ...],
                  outputs: tuple[str, ...]) -> dict[str, dict[int, str]]:
    """Axis 0 of every tensor is the batch; the renderer's source tensors have their own batch."""
    axes = {name: {0: "batch"} for name in (*inputs, *outputs)}
    if graph == "renderer":
        for name in SOURCE_BATCH_INPUTS:
            if name in axes:
                axes[name] = {0: "source_batch"}
    return axes


@contextlib.contextmanager
def _quiet_tracer() -> Iterator[None]:
    """Silence the exporter's known, benign warnings for the duration of one export.

    Tracer warnings come from shape arithmetic on Python ints, fixed by the config's image size;
    the others announce the legacy exporter's deprecation and a skipped constant fold.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", message="The feature will be removed")
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")
        yield


def import_onnx() -> Any:
    try:
        import onnx
    except ImportError as error:
        raise ImportError("ONNX export needs the onnx package: pip install 'reenact[onnx]'") from error
    return onnx


def check_graph(path: Path, opset: int) -> None:
    """The ONNX checker (with shape inference), the opset, and standard-domain ops only."""
    onnx = import_onnx()
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as error:
        raise OnnxExportError(f"{path.name}: rejected by the ONNX checker ({error})") from None
    proto = onnx.load(str(path), load_external_data=False)
    versions = {entry.domain or "ai.onnx": entry.version for entry in proto.opset_import}
    if versions.get("ai.onnx") != opset:
        raise OnnxExportError(f"{path.name}: opset {versions.get('ai.onnx')}, expected {opset}")
    custom = sorted({node.domain for node in proto.graph.node} - {"", "ai.onnx"})
    if custom:
        raise OnnxExportError(f"{path.name}: uses custom op domains {custom}; only standard ONNX "
                              "ops are allowed")


def _export_graph(module: nn.Module, args: tuple[Tensor, ...], path: Path, graph: str,
                  names: tuple[tuple[str, ...], tuple[str, ...]], opset: int) -> None:
    inputs, outputs = names
    with _quiet_tracer(), torch.no_grad():
        torch.onnx.export(module.eval(), args, str(path), dynamo=False, opset_version=opset,
                          input_names=list(inputs), output_names=list(outputs),
                          dynamic_axes=_dynamic_axes(graph, inputs, outputs), do_constant_folding=True)
    check_graph(path, opset)
    logger.debug("exported %s (%.1f MB)", path.name, path.stat().st_size / 1e6)


def check_export_target(target: Path, overwrite: bool) -> None:
    """OnnxExportError unless an export can be written to `target`: it does not exist, or
    `overwrite` is set and it is an export directory holding nothing but export files (which are
    all that replacing it deletes); and its parent directory exists."""
    target = Path(target)
    if target.exists() and not overwrite:
        raise OnnxExportError(f"{target}: already exists (use --overwrite to replace it)")
    try:
        check_replaceable_directory(target, EXPORT_FILES, marker=EXPORT_FILE, what="ONNX export")
    except ValueError as error:
        raise OnnxExportError(str(error)) from None
    if not target.absolute().parent.is_dir():
        raise OnnxExportError(f"{target}: output directory {target.absolute().parent} does not exist")


def _write_graphs(model: MotionModel, staging: Path, opset: int) -> dict[str, dict[str, Any]]:
    modules = graph_modules(model)
    examples = example_inputs(model)
    names = graph_io_names(model.config.estimate_jacobian, model.config.generator.pixel_skip)
    entries = {}
    for graph in GRAPHS:
        path = staging / f"{graph}.onnx"
        _export_graph(modules[graph], examples[graph], path, graph, names[graph], opset)
        entries[graph] = {"file": path.name, "sha256": file_sha256(path),
                          "inputs": list(names[graph][0]), "outputs": list(names[graph][1])}
    return entries


def _replace(staging: Path, target: Path) -> None:
    """Move `staging` to `target`; of an old export there, only the export's files are deleted."""
    os.chmod(staging, 0o755)  # mkdtemp makes a private directory; an export is meant to be shared
    for file in staging.iterdir():
        os.chmod(file, 0o644)
    try:
        replace_directory(staging, target, EXPORT_FILES, marker=EXPORT_FILE, what="ONNX export")
    except ValueError as error:  # something foreign appeared there while we were exporting
        raise OnnxExportError(str(error)) from None


def export_onnx(model: MotionModel, directory: str | os.PathLike, *, opset: int = DEFAULT_OPSET,
                overwrite: bool = False, metadata: dict[str, Any] | None = None) -> Path:
    """Write keypoint_detector.onnx, source_encoder.onnx, renderer.onnx and export.json to
    `directory`, atomically (a temporary directory renamed into place).

    opset: the ai.onnx opset, MIN_OPSET (16, GridSample) to MAX_OPSET.
    metadata: stored in export.json, e.g. the checkpoint the model came from.
    """
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"opset: expected an integer from {MIN_OPSET} to {MAX_OPSET}, got {opset!r}")
    onnx = import_onnx()
    target = Path(directory)
    check_export_target(target, overwrite)
    config = model.config
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.absolute().parent))
    was_training = model.training
    try:
        model.eval()
        graphs = _write_graphs(model, staging, opset)
        description = {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "opset": opset,
            "image_size": config.image_size, "num_channels": config.num_channels,
            "num_kp": config.num_kp, "has_jacobian": config.estimate_jacobian,
            "pixel_skip": config.generator.pixel_skip,
            "preprocessing": PREPROCESSING, "graphs": graphs, "model": config_to_dict(config),
            "metadata": metadata or {},
            "exported_with": {"torch": torch.__version__, "onnx": onnx.__version__}}
        (staging / EXPORT_FILE).write_text(json.dumps(description, indent=2) + "\n")
        _replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        model.train(was_training)
    logger.info("wrote ONNX export %s (opset %d)", target, opset)
    return target


def verify_export(model: MotionModel, directory: str | os.PathLike) -> dict[str, float]:
    """Run each exported graph in onnxruntime on the example inputs; max |onnx - torch| per graph."""
    export = read_onnx_export(directory)
    if model.training:
        raise ValueError("model: expected eval mode (call model.eval()): BatchNorm in training mode "
                         "normalizes with batch statistics, which the export does not")
    examples = example_inputs(model)
    modules = graph_modules(model)
    differences = {}
    for graph in GRAPHS:
        session = create_session(export.path(graph), optimization="basic")
        spec = export.graphs[graph]
        outputs = session.run(None, {name: t.numpy() for name, t in zip(spec.inputs, examples[graph])})
        with torch.no_grad():
            expected = modules[graph](*examples[graph])
        expected = expected if isinstance(expected, tuple) else (expected,)
        differences[graph] = max(float((torch.from_numpy(o) - e).abs().max())
                                 for o, e in zip(outputs, expected))
    return differences
