"""OnnxBackend: the same frames as TorchBackend, on crops and on a real clip; clear errors."""

import dataclasses
import itertools
import json
import logging
import shutil
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from conftest import MEDIA, require  # noqa: E402
from reenact.api import create_model  # noqa: E402
from reenact.presets import get_preset  # noqa: E402
from reenact.engine import OnnxBackend, OnnxSourceEncoding, TorchBackend  # noqa: E402
from reenact.export.session import create_session  # noqa: E402
from reenact.export import OnnxExportError, export_onnx  # noqa: E402
from reenact.io import VideoReader, read_image  # noqa: E402
from reenact.models import MotionModel  # noqa: E402
from reenact.pipelines.animate import animate_frames  # noqa: E402
from reenact.pipelines.animate_options import AnimateOptions  # noqa: E402
from reenact.pipelines.driving_track import DrivingTrack, center_box, prepare_source  # noqa: E402


@pytest.fixture(scope="module")
def model():
    model = create_model("tiny-64", seed=0)
    with torch.no_grad():  # non-trivial jacobians (an untrained head gives the identity)
        model.keypoint_detector.jacobian_head.weight.normal_(0, 0.05, generator=torch.Generator().manual_seed(3))
    return model


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    return export_onnx(model, tmp_path_factory.mktemp("onnx") / "tiny")


@pytest.fixture(scope="module")
def backends(model, exported):
    return TorchBackend(model, device="cpu"), OnnxBackend(exported, threads=1)


def crops(batch: int, seed: int) -> np.ndarray:
    coarse = np.random.default_rng(seed).integers(0, 256, (batch, 8, 8, 3)).astype(np.float32)
    return np.kron(coarse, np.ones((1, 8, 8, 1), np.float32)).astype(np.uint8)  # (B, 64, 64, 3)


def test_same_keypoints_encoding_and_frames(backends):
    torch_backend, onnx_backend = backends
    source, frames = crops(1, seed=1), crops(3, seed=2)
    assert onnx_backend.image_size == torch_backend.image_size == 64
    kp_t, kp_o = torch_backend.detect(frames), onnx_backend.detect(frames)
    assert kp_o.value.dtype == torch.float32 and kp_o.jacobian.shape == (3, 4, 2, 2)
    assert torch.allclose(kp_t.value, kp_o.value, atol=1e-5)
    assert torch.allclose(kp_t.jacobian, kp_o.jacobian, atol=1e-5)
    enc_t, enc_o = torch_backend.encode_source(source[0]), onnx_backend.encode_source(source[0])
    assert isinstance(enc_o, OnnxSourceEncoding)
    assert np.abs(enc_o.features - enc_t.features.numpy()).max() <= 1e-5
    kp_s = torch_backend.detect(source)
    predicted = onnx_backend.predict(enc_o, kp_s, kp_t)
    assert predicted.shape == (3, 3, 64, 64)
    assert np.abs(predicted - torch_backend.predict(enc_t, kp_s, kp_t).numpy()).max() <= 1e-4
    rendered_t, rendered_o = torch_backend.render(enc_t, kp_s, kp_t), onnx_backend.render(enc_o, kp_s, kp_t)
    assert rendered_o.dtype == np.uint8 and rendered_o.shape == (3, 64, 64, 3)
    assert np.abs(rendered_o.astype(int) - rendered_t).max() <= 1


def test_same_video_frames_on_a_real_clip(backends):
    options = AnimateOptions(crop="none", crop_only=True, batch_size=4, kp_smoothing=0.25)
    source = prepare_source(read_image(require(MEDIA / "portraits" / "woman_smiling.png")), 64,
                            options, analyzer=None)
    with VideoReader(require(MEDIA / "driving" / "lp_d12.mp4")) as reader:
        driving = list(itertools.islice(reader, 8))
    height, width = driving[0].shape[:2]
    track = DrivingTrack(boxes=[center_box(width, height)] * 8)
    videos = [np.stack(list(animate_frames(source, driving, track, backend, options)))
              for backend in backends]
    assert videos[0].shape == videos[1].shape == (8, 64, 64, 3)
    assert np.abs(videos[0].astype(int) - videos[1]).max() <= 1
    assert not np.array_equal(videos[1][0], videos[1][-1])  # the clip moves


def test_render_checks_its_inputs(backends):
    torch_backend, onnx_backend = backends
    kp = onnx_backend.detect(crops(2, seed=3))
    with pytest.raises(ValueError, match="source: expected the OnnxSourceEncoding of this backend's "
                                         "encode_source, got SourceEncoding"):
        onnx_backend.render(torch_backend.encode_source(crops(1, seed=3)[0]), kp[0], kp)
    encoded = onnx_backend.encode_source(crops(1, seed=3)[0])
    with pytest.raises(ValueError, match="kp_source: expected batch 1 or 3 \\(the driving batch\\), got 2"):
        onnx_backend.render(encoded, kp, onnx_backend.detect(crops(3, seed=4)))
    with pytest.raises(ValueError, match="kp_driving: the exported model takes jacobians"):
        onnx_backend.render(encoded, kp[0], type(kp)(kp.value))
    with pytest.raises(ValueError, match="frames: expected 64x64 crops, got 32x32"):
        onnx_backend.detect(np.zeros((1, 32, 32, 3), np.uint8))


def test_options_are_checked(exported):
    with pytest.raises(ValueError, match="optimization: expected one of none, basic, extended, all, "
                                         "got 'max'"):
        OnnxBackend(exported, optimization="max")
    with pytest.raises(ValueError, match="threads: expected an integer >= 1, got 0"):
        OnnxBackend(exported, threads=0)


def test_missing_and_corrupt_exports(tmp_path, exported):
    with pytest.raises(OnnxExportError, match="nope: ONNX export directory not found"):
        OnnxBackend(tmp_path / "nope")
    with pytest.raises(OnnxExportError, match="not an ONNX export \\(no export.json"):
        OnnxBackend(tmp_path)
    (tmp_path / "garbage.onnx").write_bytes(b"not a protobuf")
    with pytest.raises(OnnxExportError, match="garbage.onnx: onnxruntime cannot load this graph"):
        create_session(tmp_path / "garbage.onnx")


def test_without_onnxruntime(exported, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(ImportError, match="the onnx backend needs onnxruntime: pip install 'reenact\\[onnx\\]'"):
        OnnxBackend(exported)


def test_from_model_exports_to_a_temporary_directory(model, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read TMPDIR
    backend = OnnxBackend.from_model(model, threads=1, optimization="basic")
    frames = crops(2, seed=5)
    assert torch.allclose(backend.detect(frames).value, TorchBackend(model, device="cpu").detect(frames).value,
                          atol=1e-5)
    assert list(tmp_path.iterdir()) == []  # the sessions hold the graphs; the files are gone


def motion_outputs(backend, source, frames):
    return backend.render_with_motion(backend.encode_source(source[0]), backend.detect(source),
                                      backend.detect(frames))


def test_same_motion_outputs(backends):
    """What full-resolution output needs: the deformation and source weight agree too."""
    source, frames = crops(1, seed=1), crops(3, seed=2)
    rendered_t, rendered_o = (motion_outputs(backend, source, frames) for backend in backends)
    assert rendered_o.deformation.shape == rendered_t.deformation.shape == (3, 32, 32, 2)
    assert rendered_o.source_weight.shape == (3, 64, 64)
    assert np.abs(rendered_o.deformation - rendered_t.deformation).max() <= 1e-5
    assert np.abs(rendered_o.source_weight - rendered_t.source_weight).max() <= 1e-5
    assert np.abs(rendered_o.frames.astype(int) - rendered_t.frames).max() <= 1
    assert backends[1].align_corners is backends[0].align_corners is True


def test_pixel_skip_model_motion_outputs(tmp_path):
    base = get_preset("tiny-64")
    config = dataclasses.replace(base, generator=dataclasses.replace(base.generator, pixel_skip=True))
    torch.manual_seed(0)
    model = MotionModel(config).eval()
    with torch.no_grad():
        model.generator.skip_weight.weight.normal_(0, 0.1)  # a mix that varies per pixel
    source, frames = crops(1, seed=1), crops(2, seed=2)
    outputs = [motion_outputs(backend, source, frames) for backend in
               (TorchBackend(model, device="cpu"), OnnxBackend(export_onnx(model, tmp_path / "skip")))]
    assert np.abs(outputs[0].source_weight - outputs[1].source_weight).max() <= 1e-5
    assert outputs[0].source_weight.std() > 0.01  # the skip weight, not the constant 1


@pytest.fixture
def legacy_export(exported, tmp_path):
    """An export made before the renderer returned the deformation and source weight."""
    legacy = tmp_path / "legacy"
    shutil.copytree(exported, legacy)
    description = json.loads((legacy / "export.json").read_text())
    description["graphs"]["renderer"]["outputs"] = ["prediction"]
    (legacy / "export.json").write_text(json.dumps(description))
    return legacy


def test_legacy_export_renders_and_animate_pastes_the_crop(legacy_export, backends, caplog):
    backend = OnnxBackend(legacy_export, threads=1)
    assert not backend.has_motion_outputs
    source, frames = crops(1, seed=1), crops(2, seed=2)
    with pytest.raises(ValueError, match="made before full-resolution output.*export it again"):
        motion_outputs(backend, source, frames)
    image = np.kron(crops(1, seed=6)[0], np.ones((3, 3, 1), np.uint8))  # (192, 192, 3)
    options = AnimateOptions(crop="none", batch_size=2)
    prepared = prepare_source(image, 64, options, analyzer=None)
    track = DrivingTrack(boxes=[center_box(192, 192)] * 2)
    driving = [np.kron(frame, np.ones((3, 3, 1), np.uint8)) for frame in frames]
    with caplog.at_level(logging.WARNING):
        legacy = list(animate_frames(prepared, driving, track, backend, options))
    assert "returns no deformation" in caplog.text
    crop_mode = dataclasses.replace(options, render="crop")
    expected = list(animate_frames(prepared, driving, track, backends[1], crop_mode))
    assert all(np.array_equal(a, b) for a, b in zip(legacy, expected))
