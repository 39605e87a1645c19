"""uint8 RGB face crops <-> model tensors, the same for every backend.

Crops are (B, S, S, 3) uint8 RGB. The networks take and return (B, 3, S, S) float32 in [0, 1]
(value / 255 on the way in; clipped, scaled and rounded half to even on the way out), so that a torch
and an onnxruntime backend turn the same model output into the same bytes.
"""

from __future__ import annotations

import numpy as np
import torch


def check_crops(frames: np.ndarray, size: int | None = None, *, name: str = "frames") -> None:
    """Raise ValueError unless `frames` is (B, H, W, 3) uint8 with H = W = size (when given)."""
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 \
            or frames.shape[3] != 3:
        description = (f"{frames.shape} {frames.dtype}" if isinstance(frames, np.ndarray)
                       else type(frames).__name__)
        raise ValueError(f"{name}: expected (B, H, W, 3) uint8, got {description}")
    if size is not None and frames.shape[1:3] != (size, size):
        raise ValueError(f"{name}: expected {size}x{size} crops, "
                         f"got {frames.shape[2]}x{frames.shape[1]}")


def frames_to_tensor(frames: np.ndarray, device: torch.device,
                     memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """(B, H, W, 3) uint8 RGB -> (B, 3, H, W) float32 in [0, 1] on `device`, in `memory_format`.

    The permuted uint8 view already has channels-last strides; `memory_format` makes the layout a
    decision instead of an accident of the permute.
    """
    check_crops(frames)
    tensor = torch.from_numpy(np.require(frames, requirements=['C', 'W'])).to(device)
    images = tensor.permute(0, 3, 1, 2).float().div_(255)
    return images.contiguous(memory_format=memory_format)


def tensor_to_frames(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) float in [0, 1] -> (B, H, W, 3) uint8 RGB (rounded, clipped)."""
    scaled = images.detach().float().clamp(0, 1).mul(255).round_().to(torch.uint8)
    return scaled.permute(0, 2, 3, 1).cpu().numpy()


def frames_to_array(frames: np.ndarray) -> np.ndarray:
    """(B, H, W, 3) uint8 RGB -> (B, 3, H, W) float32 in [0, 1], C-contiguous (onnxruntime input)."""
    check_crops(frames)
    images = np.ascontiguousarray(frames.transpose(0, 3, 1, 2), dtype=np.float32)  # a new array
    return np.divide(images, np.float32(255), out=images)


def array_to_frames(images: np.ndarray) -> np.ndarray:
    """(B, 3, H, W) float32 in [0, 1] -> (B, H, W, 3) uint8 RGB, as `tensor_to_frames` rounds."""
    scaled = np.rint(np.clip(images, 0, 1) * np.float32(255))  # rint: half to even, like torch.round
    return np.ascontiguousarray(scaled.astype(np.uint8).transpose(0, 2, 3, 1))
