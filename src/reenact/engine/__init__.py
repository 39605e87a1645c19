"""Backends: run the motion model on uint8 face crops, behind one interface (`Backend`).

    TorchBackend  (torch_backend.py)  the model in torch eager mode: device, precision, memory format
                  (fast_conv.py, winograd.py, onednn.py: its fast_conv option, fewer FLOPs in fp32)
    OnnxBackend   (onnx_backend.py)   graphs written by `reenact.export.export_onnx`, in onnxruntime

The pipelines only call `image_size`, `detect`, `encode_source` and `render`; what `encode_source`
returns is the backend's own value, handed back to the same backend's `render`.
"""

from reenact.engine.backend import Backend
from reenact.engine.frames import frames_to_tensor, tensor_to_frames
from reenact.engine.onnx_backend import OnnxBackend, OnnxSourceEncoding
from reenact.engine.torch_backend import PRECISIONS, TorchBackend, bf16_supported, resolve_device

__all__ = ["PRECISIONS", "Backend", "OnnxBackend", "OnnxSourceEncoding", "TorchBackend",
           "bf16_supported", "frames_to_tensor", "resolve_device", "tensor_to_frames"]
