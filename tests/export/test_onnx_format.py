"""Reading an ONNX export directory: every missing or corrupt piece is one clear error."""

import json
import shutil

import pytest

pytest.importorskip("onnx")

from reenact.api import create_model  # noqa: E402
from reenact.export import OnnxExportError, export_onnx, is_onnx_export, read_onnx_export  # noqa: E402


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return export_onnx(create_model("tiny-64", seed=0), tmp_path_factory.mktemp("onnx") / "tiny")


@pytest.fixture
def exported(pristine, tmp_path):
    """A copy each test may damage."""
    return shutil.copytree(pristine, tmp_path / "tiny")


def edit_description(directory, change):
    path = directory / "export.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_reads_what_was_written(exported):
    export = read_onnx_export(exported)
    assert is_onnx_export(exported)
    assert (export.image_size, export.num_kp, export.num_channels, export.opset) == (64, 4, 3, 17)
    assert export.path("renderer") == exported / "renderer.onnx"
    assert export.graphs["keypoint_detector"].outputs == ("kp_value", "kp_jacobian")


def test_missing_directory_and_not_an_export(tmp_path):
    with pytest.raises(OnnxExportError, match="nope: ONNX export directory not found"):
        read_onnx_export(tmp_path / "nope")
    with pytest.raises(OnnxExportError, match="not an ONNX export \\(no export.json; make one with "
                                              "`reenact export-onnx`\\)"):
        read_onnx_export(tmp_path)
    assert not is_onnx_export(tmp_path)


def test_corrupt_description(exported):
    (exported / "export.json").write_text("{not json")
    with pytest.raises(OnnxExportError, match="export.json: not valid JSON"):
        read_onnx_export(exported)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format="something-else"), "format is 'something-else', expected"),
    (lambda d: d.update(format_version=99), "format_version 99 is not supported"),
    (lambda d: d.update(image_size="64"), "image_size must be int, got '64'"),
    (lambda d: d["graphs"].pop("renderer"), "graphs.renderer is missing"),
    (lambda d: d["graphs"]["renderer"].update(inputs=["x"]), "graphs.renderer has inputs \\['x'\\]"),
])
def test_malformed_description(exported, change, message):
    edit_description(exported, change)
    with pytest.raises(OnnxExportError, match=message):
        read_onnx_export(exported)


def test_missing_or_changed_graph_file(exported):
    data = (exported / "renderer.onnx").read_bytes()
    (exported / "renderer.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(OnnxExportError, match="renderer.onnx: sha256 does not match export.json; the "
                                              "file is corrupt or was changed"):
        read_onnx_export(exported)
    (exported / "renderer.onnx").unlink()
    with pytest.raises(OnnxExportError, match="renderer graph file 'renderer.onnx' is missing"):
        read_onnx_export(exported)
