"""The interface the pipelines use to run a motion model (torch, onnxruntime, ...)."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from reenact.containers import Keypoints


class Backend(Protocol):
    """Four calls on uint8 RGB crops and CPU float32 keypoints.

    image_size: S, the side of the square crops the model takes.
    detect: (B, S, S, 3) uint8 -> Keypoints of batch B on the CPU, float32.
    encode_source: (S, S, 3) uint8 -> the backend's own encoding of the source, computed once per
        video and only ever passed back to `render` of the same backend.
    render: a source encoding, its Keypoints (batch 1) and B driving Keypoints -> (B, S, S, 3) uint8.
    """

    image_size: int

    def detect(self, frames: np.ndarray) -> Keypoints: ...

    def encode_source(self, image: np.ndarray) -> Any: ...

    def render(self, source: Any, kp_source: Keypoints, kp_driving: Keypoints) -> np.ndarray: ...
