"""TorchBackend(fast_conv=True): the same renders as fp32 eager, a rewritten copy, clear errors, CLI."""

import itertools
import logging

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from conftest import MEDIA, require
from reenact.api import create_model, load_default_model
from reenact.cli import build_backend, build_parser, main
from reenact.engine import TorchBackend
from reenact.engine import fast_conv as fast_conv_module
from reenact.engine import torch_backend as torch_backend_module
from reenact.engine.fast_conv import (
    ConvBlock,
    ImageByImageGenerator,
    WinogradResBlock,
    choose_tile,
    conv_input_sizes,
    fast_conv_model,
)
from reenact.engine.onednn import PhaseConv2d, UpsampleConv2d
from reenact.engine.winograd import WinogradConv2d
from reenact.io import VideoReader, read_image
from reenact.pipelines.animate import animate_frames
from reenact.pipelines.animate_options import AnimateOptions
from reenact.pipelines.driving_track import DrivingTrack, center_box, prepare_source
from reenact.models.blocks import ResBlock


def crops(batch: int, seed: int = 0) -> np.ndarray:
    coarse = np.random.default_rng(seed).integers(0, 256, (batch, 8, 8, 3)).astype(np.float32)
    return np.kron(coarse, np.ones((1, 8, 8, 1), np.float32)).astype(np.uint8)  # (B, 64, 64, 3)


def tiny_model():
    """tiny-64 with BatchNorm statistics and jacobians that are not the identity (folding shows)."""
    model = create_model("tiny-64", seed=0)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 2, generator=generator)
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0, 0.1, generator=generator)
        model.keypoint_detector.jacobian_head.weight.normal_(0, 0.05, generator=generator)
    return model


@pytest.fixture
def winograd_everywhere(monkeypatch):
    """tiny-64 is too thin for the speed rule: F(4x4) in the generator, F(2x2) elsewhere."""
    def tile(network, in_channels, out_channels, height, width, *, upsample=False):
        return 4 if network == "generator" else (None if upsample else 2)

    monkeypatch.setattr(fast_conv_module, "choose_tile", tile)


def render(backend: TorchBackend, frames: np.ndarray) -> torch.Tensor:
    source = frames[0]
    return backend.predict(backend.encode_source(source), backend.detect(source[None]),
                           backend.detect(frames))


@pytest.mark.usefixtures("winograd_everywhere")
def test_fast_conv_renders_as_fp32_eager():
    model = tiny_model()
    reference = render(TorchBackend(model, device="cpu"), crops(4))
    backend = TorchBackend(model, device="cpu", fast_conv=True)
    kinds = {type(module) for module in backend.model.modules()}
    assert {WinogradResBlock, WinogradConv2d, ConvBlock, PhaseConv2d} <= kinds
    assert not kinds & {nn.BatchNorm2d, nn.Conv2d}  # every BatchNorm folded, every conv rewritten
    assert backend.memory_format == torch.channels_last
    out = render(backend, crops(4))
    assert out.shape == reference.shape == (4, 3, 64, 64)
    assert (out - reference).abs().max() <= 1e-5
    frames = backend.render(backend.encode_source(crops(1)[0]), backend.detect(crops(1)),
                            backend.detect(crops(2)))
    assert frames.dtype == np.uint8 and frames.shape == (2, 64, 64, 3)


def test_fast_conv_keeps_the_callers_model():
    model = tiny_model()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    kinds = [type(module) for module in model.modules()]
    TorchBackend(model, device="cpu", fast_conv=True)
    assert [type(module) for module in model.modules()] == kinds
    after = model.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)


@pytest.mark.usefixtures("winograd_everywhere")
def test_an_owned_model_is_rewritten_in_place_with_the_same_output():
    """own_model skips the deep copy (the CLI's own model); the output is the copy's, bit for bit."""
    copied = TorchBackend(tiny_model(), device="cpu", fast_conv=True)
    model = tiny_model()
    owned = TorchBackend(model, device="cpu", fast_conv=True, own_model=True)
    assert owned.model is model and isinstance(model.generator, ImageByImageGenerator)
    assert owned.keypoint_space == copied.keypoint_space  # of the weights as given
    assert torch.equal(render(owned, crops(3)), render(copied, crops(3)))


def test_fast_conv_keeps_the_keypoint_space_audio_models_are_matched_by():
    """The rewrite folds BatchNorms into the detector's weights; its keypoint space is that of
    the weights as given, or talk and dub warn that the bundled audio model does not fit."""
    from reenact.checkpoint.audio_format import keypoint_space_id

    model = tiny_model()
    expected = keypoint_space_id(model)
    assert TorchBackend(model, device="cpu", fast_conv=True).keypoint_space == expected
    assert TorchBackend(model, device="cpu").keypoint_space == expected


def test_speed_rule_and_phase_upsampling():
    assert choose_tile("generator", 256, 256, 64, 64) == 4
    assert choose_tile("generator", 256, 256, 32, 32) is None
    assert choose_tile("dense_motion", 256, 512, 16, 16) == 2
    assert choose_tile("dense_motion", 44, 128, 64, 64) is None  # thin input
    assert choose_tile("dense_motion", 512, 128, 32, 32, upsample=True) is None  # by output phase
    model = fast_conv_model(tiny_model())
    up_convs = [block.conv for block in model.keypoint_detector.hourglass.up_blocks]
    assert any(isinstance(conv, UpsampleConv2d) for conv in up_convs)


def test_fast_conv_errors(monkeypatch):
    model = create_model("tiny-64", seed=0)
    monkeypatch.setattr(torch_backend_module, "bf16_supported", lambda device: True)
    with pytest.raises(ValueError, match="fast_conv: Winograd convolutions need fp32, got precision bf16"):
        TorchBackend(model, device="cpu", precision="bf16", fast_conv=True)
    monkeypatch.setattr(torch_backend_module, "resolve_device", lambda name: torch.device("cuda"))
    with pytest.raises(ValueError, match="fast_conv: CPU only"):
        TorchBackend(model, device="cuda", fast_conv=True)


def test_cli_flag(tmp_path, caplog):
    assert main(["-q", "init", "--preset", "tiny-64", "-o", str(tmp_path / "tiny")]) == 0
    common = ["animate", "--source", "s.png", "--driving", "d.mp4", "-o", str(tmp_path / "o.mp4")]
    args = build_parser().parse_args([*common, "--checkpoint", str(tmp_path / "tiny"),
                                      "--device", "cpu", "--fast-conv"])
    backend = build_backend(args)
    assert isinstance(backend, TorchBackend) and backend.fast_conv
    caplog.set_level(logging.ERROR)
    assert main([*common, "--backend", "onnx", "--fast-conv"]) == 2
    assert "--fast-conv applies to --backend torch" in caplog.text


@pytest.mark.parametrize("tile, size", [(4, (8, 8)), (4, (7, 5)), (2, (6, 10))])
def test_winograd_res_block_equals_res_block(tile, size):
    torch.manual_seed(9)
    block = ResBlock(6).eval()
    for index, norm in enumerate((block.norm1, block.norm2)):
        generator = torch.Generator().manual_seed(index)
        with torch.no_grad():
            norm.running_mean.normal_(0, 0.5, generator=generator)
            norm.running_var.uniform_(0.5, 2, generator=generator)
            norm.bias.normal_(0, 0.5, generator=generator)
    x = torch.randn(2, 6, *size).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        out, expected = WinogradResBlock(block, tile)(x), block(x)
    assert out.shape == expected.shape and out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)


def test_image_by_image_decode_equals_batch_decode():
    model = tiny_model().eval()
    generator = ImageByImageGenerator(model.generator)
    images = torch.rand(3, 3, 64, 64)
    with torch.inference_mode():
        source = model.encode_source(images[:1])
        keypoints = model.detect(images)
        motion = model.dense_motion(source.motion_image, model.detect(images[:1]), keypoints)
        expected = model.generator.decode(source, motion, return_deformed=True)
        out = generator.decode(source, motion, return_deformed=True)
    assert out.motion is motion
    torch.testing.assert_close(out.prediction, expected.prediction, rtol=0, atol=1e-6)
    torch.testing.assert_close(out.deformed, expected.deformed, rtol=0, atol=1e-6)


def test_fast_conv_animates_a_real_clip_as_fp32_eager():
    """The bundled default checkpoint (trained weights, fast-128) on a real driving clip: the same
    frames as the plain fp32 path, and the render itself within 1e-4."""
    model = load_default_model()
    plain, fast = TorchBackend(model, device="cpu"), TorchBackend(model, device="cpu",
                                                                   fast_conv=True)
    size = model.config.image_size
    options = AnimateOptions(crop="none", crop_only=True, batch_size=4)
    source = prepare_source(read_image(require(MEDIA / "portraits" / "woman_smiling.png")), size,
                            options, analyzer=None)
    with VideoReader(require(MEDIA / "driving" / "lp_d12.mp4")) as reader:
        driving = list(itertools.islice(reader, 6))
    height, width = driving[0].shape[:2]
    track = DrivingTrack(boxes=[center_box(width, height)] * len(driving))
    videos = [np.stack(list(animate_frames(source, driving, track, backend, options)))
              for backend in (plain, fast)]
    assert videos[0].shape == videos[1].shape == (6, size, size, 3)
    assert np.abs(videos[0].astype(int) - videos[1]).max() <= 1
    crops_ = np.stack([np.asarray(Image.fromarray(frame).resize((size, size))) for frame in driving])
    renders = [render(backend, crops_) for backend in (plain, fast)]
    assert (renders[0] - renders[1]).abs().max() <= 1e-4


@pytest.mark.parametrize("preset", ["tiny-64", "tiny-face-64", "fast-128"])
def test_conv_input_sizes_match_a_computing_run_and_leave_the_model_as_it_was(preset):
    model = create_model(preset, seed=0).eval()
    computed: dict = {}

    def record(module, inputs) -> None:  # a pre-hook returning a value would replace the input
        computed.setdefault(module, tuple(inputs[0].shape[2:]))

    hooks = [conv.register_forward_pre_hook(record) for conv in model.modules()
             if isinstance(conv, nn.Conv2d)]
    size = model.config.image_size
    image = torch.rand(1, model.config.num_channels, size, size,
                       generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        before = model.render(model.encode_source(image), model.detect(image), model.detect(image))
    for hook in hooks:
        hook.remove()
    assert conv_input_sizes(model) == computed and len(computed) > 10
    with torch.inference_mode():  # the convolutions compute again
        after = model.render(model.encode_source(image), model.detect(image), model.detect(image))
    assert torch.equal(before.prediction, after.prediction) and after.prediction.std() > 0
