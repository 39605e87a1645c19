"""The motion model as ONNX graphs in onnxruntime (CPU), behind the same interface as TorchBackend.

Loads a directory written by `reenact.export.export_onnx` (`reenact export-onnx`): the keypoint
detector, the source encoder (run once per video) and the renderer (run per batch of frames).
The backend only reads exports (`reenact.export.format`, sessions from `reenact.export.session`);
`from_model` asks the exporter for one first. The exporter knows nothing of the backend.
onnxruntime is optional and imported when a backend is made: `pip install 'reenact[onnx]'`.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reenact.containers import Keypoints
from reenact.engine.backend import RenderedCrops
from reenact.engine.frames import array_to_frames, check_crops, frames_to_array
from reenact.export.format import PREDICTION, OnnxExport, read_onnx_export
from reenact.export.session import OPTIMIZATION_LEVELS, create_session

__all__ = ["OPTIMIZATION_LEVELS", "OnnxBackend", "OnnxSourceEncoding", "create_session"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OnnxSourceEncoding:
    """The source as the renderer graph takes it (float32, batch 1).

    features: (1, F, S / 4, S / 4) the generator's encoder output.
    motion_image: (1, C, h, w) the source at the dense-motion resolution.
    """

    features: np.ndarray
    motion_image: np.ndarray
    image: np.ndarray | None = None  # (1, C, S, S), for pixel-skip models only


def _keypoint_arrays(kp: Keypoints, has_jacobian: bool, name: str) -> list[np.ndarray]:
    if has_jacobian and kp.jacobian is None:
        raise ValueError(f"{name}: the exported model takes jacobians, these keypoints have none")
    tensors = [kp.value, kp.jacobian] if has_jacobian else [kp.value]
    return [t.detach().to("cpu", torch.float32).numpy() for t in tensors]  # type: ignore[union-attr]


class OnnxBackend:
    """The three exported graphs in onnxruntime sessions on the CPU."""

    def __init__(self, directory: str | os.PathLike, *, threads: int | None = None,
                 optimization: str = "all") -> None:
        self.export: OnnxExport = read_onnx_export(directory)
        self.image_size = self.export.image_size
        self.align_corners = bool(self.export.data.get("model", {}).get("align_corners", True))
        self.anchor_groups = tuple(self.export.data.get("model", {}).get("anchors", {}).get("groups", ()))
        self.has_motion_outputs = self.export.has_motion_outputs
        self._sessions = {name: create_session(self.export.path(name), threads=threads,
                                               optimization=optimization)
                          for name in self.export.graphs}
        logger.debug("onnx backend: %s, %s optimizations, %s threads", self.export.directory,
                     optimization, threads or "default")

    @classmethod
    def from_model(cls, model: Any, *, threads: int | None = None, optimization: str = "all",
                   opset: int | None = None) -> OnnxBackend:
        """Export `model` (a MotionModel) to a temporary directory and load it from there.

        The graphs live in the sessions once loaded, so the directory is deleted right away; each
        call exports again (seconds for a full-size model). `reenact export-onnx` keeps an export.
        """
        from reenact.export.onnx import DEFAULT_OPSET, export_onnx

        with tempfile.TemporaryDirectory(prefix="reenact-onnx-") as temp:
            directory = export_onnx(model, Path(temp) / "model", opset=opset or DEFAULT_OPSET)
            return cls(directory, threads=threads, optimization=optimization)

    def _run(self, graph: str, inputs: list[np.ndarray],
             outputs: tuple[str, ...] | None = None) -> list[np.ndarray]:
        spec = self.export.graphs[graph]
        return self._sessions[graph].run(list(outputs or spec.outputs),
                                         dict(zip(spec.inputs, inputs)))

    def detect(self, frames: np.ndarray) -> Keypoints:
        """(B, S, S, 3) uint8 crops -> keypoints on the CPU, float32."""
        check_crops(frames, self.image_size)
        outputs = self._run("keypoint_detector", [frames_to_array(frames)])
        value = torch.from_numpy(outputs[0])
        return Keypoints(value, torch.from_numpy(outputs[1]) if self.export.has_jacobian else None)

    def encode_source(self, image: np.ndarray) -> OnnxSourceEncoding:
        """(S, S, 3) uint8 source crop -> its encoding, computed once per video."""
        check_crops(image[None], self.image_size, name="image")
        outputs = self._run("source_encoder", [frames_to_array(image[None])])
        return OnnxSourceEncoding(features=outputs[0], motion_image=outputs[1],
                                  image=outputs[2] if len(outputs) > 2 else None)

    def _render_inputs(self, source: OnnxSourceEncoding, kp_source: Keypoints,
                       kp_driving: Keypoints) -> list[np.ndarray]:
        if not isinstance(source, OnnxSourceEncoding):
            raise ValueError(f"source: expected the OnnxSourceEncoding of this backend's "
                             f"encode_source, got {type(source).__name__}")
        if kp_source.batch_size not in (1, kp_driving.batch_size):
            raise ValueError(f"kp_source: expected batch 1 or {kp_driving.batch_size} (the driving "
                             f"batch), got {kp_source.batch_size}")
        return [source.features, source.motion_image,
                *([source.image] if source.image is not None else []),
                *_keypoint_arrays(kp_source, self.export.has_jacobian, "kp_source"),
                *_keypoint_arrays(kp_driving, self.export.has_jacobian, "kp_driving")]

    def predict(self, source: OnnxSourceEncoding, kp_source: Keypoints,
                kp_driving: Keypoints) -> np.ndarray:
        """A batch of B driving keypoints (source: batch 1 or B) -> (B, 3, S, S) float32 in [0, 1]."""
        inputs = self._render_inputs(source, kp_source, kp_driving)
        return self._run("renderer", inputs, (PREDICTION,))[0]

    def render(self, source: OnnxSourceEncoding, kp_source: Keypoints,
               kp_driving: Keypoints) -> np.ndarray:
        """A batch of B driving keypoints -> (B, S, S, 3) uint8 frames."""
        return array_to_frames(self.predict(source, kp_source, kp_driving))

    def render_with_motion(self, source: OnnxSourceEncoding, kp_source: Keypoints,
                           kp_driving: Keypoints) -> RenderedCrops:
        """A batch of B driving keypoints -> B frames with their deformation and source weight.

        Needs an export that has them (`has_motion_outputs`); re-export an older one.
        """
        if not self.has_motion_outputs:
            raise ValueError(f"{self.export.directory}: this ONNX export's renderer returns the "
                             "prediction alone (made before full-resolution output); export it "
                             "again with `reenact export-onnx`")
        prediction, deformation, weight = self._run(
            "renderer", self._render_inputs(source, kp_source, kp_driving))
        return RenderedCrops(frames=array_to_frames(prediction), deformation=deformation,
                             source_weight=weight[:, 0])
