"""Exporting the motion model for other runtimes: ONNX graphs and the JSON that describes them."""

from reenact.export.format import (
    EXPORT_FILE,
    GRAPHS,
    MIN_OPSET,
    GraphSpec,
    OnnxExport,
    OnnxExportError,
    is_onnx_export,
    read_onnx_export,
)
from reenact.export.onnx import DEFAULT_OPSET, MAX_OPSET, export_onnx, verify_export

__all__ = ["DEFAULT_OPSET", "EXPORT_FILE", "GRAPHS", "MAX_OPSET", "MIN_OPSET", "GraphSpec", "OnnxExport",
           "OnnxExportError", "export_onnx", "is_onnx_export", "read_onnx_export", "verify_export"]
