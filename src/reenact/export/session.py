"""onnxruntime sessions for the graphs of an export: the one place onnxruntime is configured.

Used by `reenact.engine.OnnxBackend` to run an export and by `reenact.export.verify_export` to check
one against torch. onnxruntime is optional and imported when a session is made:
`pip install 'reenact[onnx]'`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reenact.export.format import OnnxExportError

OPTIMIZATION_LEVELS = ("none", "basic", "extended", "all")
_ORT_LEVELS = {"none": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
               "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}
_ORT_LOAD_ERRORS = ("InvalidProtobuf", "InvalidGraph", "InvalidArgument", "NoSuchFile", "Fail",
                    "NotImplemented", "RuntimeException")


def import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError("the onnx backend needs onnxruntime: pip install 'reenact[onnx]'") from error
    return onnxruntime


def create_session(path: Path, *, threads: int | None = None, optimization: str = "all") -> Any:
    """An onnxruntime CPU session for one graph.

    threads: intra-op threads (None: onnxruntime's choice, one per physical core).
    optimization: graph optimization level, none | basic (constant folding, redundant nodes) |
        extended (fusions) | all (also NCHWc memory layouts).
    """
    if optimization not in OPTIMIZATION_LEVELS:
        raise ValueError(f"optimization: expected one of {', '.join(OPTIMIZATION_LEVELS)}, "
                         f"got {optimization!r}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads: expected an integer >= 1, got {threads}")
    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _ORT_LEVELS[optimization])
    options.intra_op_num_threads = threads or 0
    options.inter_op_num_threads = 1  # the graphs are one chain of convolutions: nothing to overlap
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: "unused initializer" notes are not the user's business
    # onnxruntime's load errors (InvalidProtobuf, InvalidGraph, Fail, ...) derive from Exception alone
    state = ort.capi.onnxruntime_pybind11_state
    load_errors = tuple(getattr(state, name) for name in _ORT_LOAD_ERRORS if hasattr(state, name))
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except (*load_errors, RuntimeError) as error:
        raise OnnxExportError(f"{path}: onnxruntime cannot load this graph ({error})") from None
