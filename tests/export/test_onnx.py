"""ONNX export of the tiny model: torch vs onnxruntime parity per graph, graph hygiene, atomic writes."""

import dataclasses
import json

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from reenact.api import create_model  # noqa: E402
from reenact.export.session import create_session  # noqa: E402
from reenact.export import (  # noqa: E402
    GRAPHS,
    OnnxExportError,
    export_onnx,
    read_onnx_export,
    verify_export,
)
from reenact.export.onnx import MAX_OPSET  # noqa: E402
from reenact.models import MotionModel  # noqa: E402
from reenact.presets import get_preset  # noqa: E402

TOLERANCE = 1e-4


def with_random_jacobians(model: MotionModel) -> MotionModel:
    """An untrained jacobian head outputs the identity whatever the input: give it weights."""
    with torch.no_grad():
        model.keypoint_detector.jacobian_head.weight.normal_(0, 0.05, generator=torch.Generator().manual_seed(3))
    return model


@pytest.fixture(scope="module")
def model() -> MotionModel:
    return with_random_jacobians(create_model("tiny-64", seed=0))


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    return export_onnx(model, tmp_path_factory.mktemp("onnx") / "tiny")


def smooth_images(batch: int, seed: int) -> torch.Tensor:
    coarse = torch.rand(batch, 3, 8, 8, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.interpolate(coarse, size=(64, 64), mode="bilinear", align_corners=False)


def run(directory, graph, inputs, optimization="basic"):
    spec = read_onnx_export(directory).graphs[graph]
    session = create_session(directory / spec.file, threads=1, optimization=optimization)
    return session.run(None, {name: t.numpy() for name, t in zip(spec.inputs, inputs)})


def max_difference(outputs, expected):
    return max(float(np.abs(o - e.numpy()).max()) for o, e in zip(outputs, expected))


@pytest.mark.parametrize("optimization", ["basic", "all"])
@pytest.mark.parametrize("batch", [1, 3])
def test_each_graph_matches_torch(model, exported, batch, optimization):
    source, frames = smooth_images(1, seed=1), smooth_images(batch, seed=2)
    with torch.no_grad():
        kp_source, kp_driving = model.detect(source), model.detect(frames)
        encoding = model.encode_source(source)
        prediction = model.render(encoding, kp_source, kp_driving).prediction
    assert not torch.allclose(kp_driving.jacobian, torch.eye(2).expand_as(kp_driving.jacobian))

    detected = run(exported, "keypoint_detector", [frames], optimization)
    assert max_difference(detected, [kp_driving.value, kp_driving.jacobian]) <= TOLERANCE
    encoded = run(exported, "source_encoder", [source], optimization)
    assert max_difference(encoded, [encoding.features, encoding.motion_image]) <= TOLERANCE
    # source batch 1 broadcast over the driving batch
    inputs = [encoding.features, encoding.motion_image, kp_source.value, kp_source.jacobian,
              kp_driving.value, kp_driving.jacobian]
    rendered = run(exported, "renderer", inputs, optimization)
    assert rendered[0].shape == (batch, 3, 64, 64)
    assert max_difference(rendered, [prediction]) <= TOLERANCE


def test_renderer_takes_a_source_batch_equal_to_the_driving_batch(model, exported):
    sources, frames = smooth_images(2, seed=4), smooth_images(2, seed=5)
    with torch.no_grad():
        kp_source, kp_driving = model.detect(sources), model.detect(frames)
        encoding = model.encode_source(sources)
        prediction = model.render(encoding, kp_source, kp_driving).prediction
    rendered = run(exported, "renderer", [encoding.features, encoding.motion_image, kp_source.value,
                                          kp_source.jacobian, kp_driving.value, kp_driving.jacobian])
    assert max_difference(rendered, [prediction]) <= TOLERANCE


def test_graphs_are_standard_onnx_with_a_dynamic_batch(exported):
    description = json.loads((exported / "export.json").read_text())
    assert description["opset"] >= 16 and description["image_size"] == 64
    assert description["num_kp"] == 4 and description["has_jacobian"] is True
    assert description["model"]["num_kp"] == 4
    for graph in GRAPHS:
        path = exported / f"{graph}.onnx"
        onnx.checker.check_model(str(path), full_check=True)
        proto = onnx.load(str(path))
        assert {(e.domain or "ai.onnx") for e in proto.opset_import} == {"ai.onnx"}
        assert all(e.version >= 16 for e in proto.opset_import)
        assert {node.domain for node in proto.graph.node} <= {"", "ai.onnx"}
        for value in [*proto.graph.input, *proto.graph.output]:
            batch = value.type.tensor_type.shape.dim[0]
            assert batch.dim_param and not batch.HasField("dim_value"), (graph, value.name)


def test_verify_export_reports_float_rounding_only(model, exported):
    differences = verify_export(model, exported)
    assert set(differences) == set(GRAPHS)
    assert max(differences.values()) <= TOLERANCE


def test_model_without_jacobians(tmp_path):
    config = dataclasses.replace(get_preset("tiny-64"), estimate_jacobian=False)
    torch.manual_seed(0)
    model = MotionModel(config).eval()
    directory = export_onnx(model, tmp_path / "nojac")
    export = read_onnx_export(directory)
    assert not export.has_jacobian
    assert export.graphs["renderer"].inputs == ("features", "motion_image", "kp_source_value",
                                                "kp_driving_value")
    assert max(verify_export(model, directory).values()) <= TOLERANCE


def test_refuses_to_overwrite(model, tmp_path):
    target = export_onnx(model, tmp_path / "out")
    before = (target / "export.json").read_text()
    with pytest.raises(OnnxExportError, match="already exists \\(use --overwrite to replace it\\)"):
        export_onnx(model, target)
    export_onnx(model, target, overwrite=True, metadata={"note": "again"})
    assert json.loads((target / "export.json").read_text())["metadata"] == {"note": "again"}
    assert before != (target / "export.json").read_text()
    (tmp_path / "other").mkdir()
    with pytest.raises(OnnxExportError, match="exists and is not an ONNX export; refusing"):
        export_onnx(model, tmp_path / "other", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "out"]  # nothing left behind


def test_failed_export_leaves_nothing(model, tmp_path, monkeypatch):
    def reject(path, opset):
        raise OnnxExportError(f"{path.name}: rejected")

    monkeypatch.setattr("reenact.export.onnx.check_graph", reject)
    with pytest.raises(OnnxExportError, match="keypoint_detector.onnx: rejected"):
        export_onnx(model, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_bad_opset_and_missing_parent(model, tmp_path):
    with pytest.raises(ValueError, match=f"opset: expected an integer from 16 to {MAX_OPSET}, got 15"):
        export_onnx(model, tmp_path / "out", opset=15)
    with pytest.raises(OnnxExportError, match="output directory .*nope does not exist"):
        export_onnx(model, tmp_path / "nope" / "out")


def test_export_keeps_the_model_mode(model, exported, tmp_path):
    # the exporter restores each adapter's mode recursively: an adapter left in training mode would
    # switch the model's BatchNorm layers to batch statistics behind the caller's back (the parity
    # tests above would then fail); a model in training mode is exported in eval mode and restored
    assert not any(m.training for m in model.modules())
    training = create_model("tiny-64", seed=0).train()
    export_onnx(training, tmp_path / "train")
    assert all(m.training for m in training.modules())
    assert max(verify_export(training.eval(), tmp_path / "train").values()) <= TOLERANCE


def test_model_with_pixel_skip_matches_torch_through_the_backend(tmp_path):
    """The default checkpoint's generator mixes in the warped source image: the source encoder hands
    the image to the renderer, and the onnx backend renders what the torch backend renders."""
    from reenact.engine import TorchBackend
    from reenact.engine.onnx_backend import OnnxBackend

    base = get_preset("tiny-64")
    config = dataclasses.replace(base, generator=dataclasses.replace(base.generator, pixel_skip=True))
    torch.manual_seed(0)
    model = with_random_jacobians(MotionModel(config).eval())
    with torch.no_grad():
        model.generator.skip_weight.weight.normal_(0, 0.1)  # a mix that varies per pixel
    directory = export_onnx(model, tmp_path / "skip")
    export = read_onnx_export(directory)
    assert export.graphs["source_encoder"].outputs == ("features", "motion_image", "skip_image")
    assert export.graphs["renderer"].inputs[:3] == ("features", "motion_image", "skip_image")
    assert max(verify_export(model, directory).values()) <= TOLERANCE
    frames = (smooth_images(4, 5).permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
    torch_backend, onnx_backend = TorchBackend(model, device="cpu"), OnnxBackend(directory, threads=1)
    outputs = []
    for backend in (torch_backend, onnx_backend):
        kp_source = backend.detect(frames[:1])
        outputs.append(backend.render(backend.encode_source(frames[0]), kp_source,
                                      backend.detect(frames[1:])).astype(int))
    assert np.abs(outputs[0] - outputs[1]).max() <= 1
