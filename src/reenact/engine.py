"""Runs the motion model on batches of frames: device, inference mode, uint8 <-> float conversion.

The pipelines talk to a backend through four calls (`detect`, `encode_source`, `render`,
`image_size`) on uint8 RGB frames and CPU keypoints, so that other backends can stand behind the same
interface.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from reenact.containers import Keypoints, SourceEncoding
from reenact.models import MotionModel

logger = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device: expected auto, cpu, cuda or cuda:N, got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {name} was asked for but this torch has no usable CUDA device; "
                         "use --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device: expected auto, cpu, cuda or cuda:N, got {name!r}")
    return device


def frames_to_tensor(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """(B, H, W, 3) uint8 RGB -> (B, 3, H, W) float32 in [0, 1] on `device`."""
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3:
        raise ValueError(f"frames: expected (B, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    tensor = torch.from_numpy(np.require(frames, requirements=['C', 'W'])).to(device)
    return tensor.permute(0, 3, 1, 2).float().div_(255)


def tensor_to_frames(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) float in [0, 1] -> (B, H, W, 3) uint8 RGB (rounded, clipped)."""
    scaled = images.detach().float().clamp(0, 1).mul(255).round_().to(torch.uint8)
    return scaled.permute(0, 2, 3, 1).cpu().numpy()


class TorchBackend:
    """The motion model in torch eager mode, in inference mode, on one device."""

    def __init__(self, model: MotionModel, device: str = "auto") -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.image_size = model.config.image_size
        logger.debug("torch backend on %s", self.device)

    def _check_size(self, frames: np.ndarray) -> None:
        if frames.shape[1:3] != (self.image_size, self.image_size):
            raise ValueError(f"frames: expected {self.image_size}x{self.image_size} crops, "
                             f"got {frames.shape[2]}x{frames.shape[1]}")

    @torch.inference_mode()
    def detect(self, frames: np.ndarray) -> Keypoints:
        """(B, S, S, 3) uint8 crops -> keypoints on the CPU, float32."""
        self._check_size(frames)
        kp = self.model.detect(frames_to_tensor(frames, self.device))
        return kp.to("cpu", torch.float32)

    @torch.inference_mode()
    def encode_source(self, image: np.ndarray) -> SourceEncoding:
        """(S, S, 3) uint8 source crop -> its encoding, kept on the device for every frame."""
        self._check_size(image[None])
        return self.model.encode_source(frames_to_tensor(image[None], self.device))

    @torch.inference_mode()
    def render(self, source: SourceEncoding, kp_source: Keypoints, kp_driving: Keypoints) -> np.ndarray:
        """A batch of B driving keypoints -> (B, S, S, 3) uint8 frames."""
        rendered = self.model.render(source, kp_source.to(self.device), kp_driving.to(self.device))
        return tensor_to_frames(rendered.prediction)
