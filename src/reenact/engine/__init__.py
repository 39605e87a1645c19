"""Backends: run the motion model on uint8 face crops, behind one interface (`Backend`).

    TorchBackend  (torch_backend.py)  the model in torch eager mode: device, precision, memory format
                  (fast_conv.py, winograd.py, onednn.py: its fast_conv option, fewer FLOPs in fp32)
    OnnxBackend   (onnx_backend.py)   graphs written by `reenact.export.export_onnx`, in onnxruntime

The pipelines only call `image_size`, `detect`, `encode_source`, `render` and `render_with_motion`
(the crops with their deformation and source weight, for full-resolution output); what
`encode_source` returns is the backend's own value, handed back to the same backend's renders.
"""

from reenact.engine.backend import Backend, RenderedCrops, source_weight
from reenact.engine.frames import frames_to_tensor, tensor_to_frames
from reenact.engine.onnx_backend import OnnxBackend, OnnxSourceEncoding
from reenact.engine.torch_backend import PRECISIONS, TorchBackend, bf16_supported, resolve_device

__all__ = ["PRECISIONS", "Backend", "OnnxBackend", "OnnxSourceEncoding", "RenderedCrops",
           "TorchBackend", "bf16_supported", "frames_to_tensor", "resolve_device", "source_weight",
           "tensor_to_frames"]
