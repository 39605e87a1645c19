"""The interface the pipelines use to run a motion model (torch, onnxruntime, ...)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from torch import Tensor

from reenact.containers import Keypoints, Rendered


@dataclass(frozen=True)
class RenderedCrops:
    """B rendered crops and the motion behind them, enough to redo the warp at any resolution.

    frames: (B, S, S, 3) uint8 RGB, what `Backend.render` returns.
    deformation: (B, h, w, 2) float32, the dense motion's sampling grid at its own resolution, in
        `grid_sample` (x, y) order and normalized crop coordinates under the backend's
        `align_corners` (see `reenact.containers.DenseMotion`).
    source_weight: (B, S, S) float32 in [0, 1], how far each frame pixel can be the warped source
        (see `source_weight`); low where the generator has to invent content.
    """

    frames: np.ndarray
    deformation: np.ndarray
    source_weight: np.ndarray


def source_weight(rendered: Rendered) -> Tensor:
    """(B, 1, H, W) in [0, 1]: how far each predicted pixel can be the warped source image
    (`Rendered.source_weight`, which the exported renderer graph computes too)."""
    return rendered.source_weight()


class Backend(Protocol):
    """Calls on uint8 RGB crops and CPU float32 keypoints.

    image_size: S, the side of the square crops the model takes.
    align_corners: the model's `grid_sample` convention (how to read `RenderedCrops.deformation`).
    has_motion_outputs: whether `render_with_motion` is available (an old ONNX export lacks it).
    anchor_groups: the landmark groups the model's first keypoints are anchored on (empty: all
        keypoints free); see `reenact.preprocess.anchors.anchor_detected`.
    detect: (B, S, S, 3) uint8 -> Keypoints of batch B on the CPU, float32.
    encode_source: (S, S, 3) uint8 -> the backend's own encoding of the source, computed once per
        video and only ever passed back to `render` of the same backend.
    render: a source encoding, its Keypoints (batch 1) and B driving Keypoints -> (B, S, S, 3) uint8.
    render_with_motion: the same, with the deformation and source weight (`RenderedCrops`).
    """

    image_size: int
    align_corners: bool
    has_motion_outputs: bool
    anchor_groups: tuple[str, ...]

    def detect(self, frames: np.ndarray) -> Keypoints: ...

    def encode_source(self, image: np.ndarray) -> Any: ...

    def render(self, source: Any, kp_source: Keypoints, kp_driving: Keypoints) -> np.ndarray: ...

    def render_with_motion(self, source: Any, kp_source: Keypoints,
                           kp_driving: Keypoints) -> RenderedCrops: ...
