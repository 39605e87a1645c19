from __future__ import annotations

from pathlib import Path

import pytest
import torch

from reenact.checkpoint import save_checkpoint
from reenact.models import MotionModel
from reenact.presets import get_preset
from reenact.training import expand
from reenact.training.trainer import warm_start


def test_expanded_model_renders_like_the_free_one_when_anchors_are_silenced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    old = MotionModel(get_preset("tiny-64")).eval()
    for parameter in old.parameters():  # no zero biases: every copied slice matters
        parameter.data.add_(torch.randn_like(parameter) * 0.05)
    save_checkpoint(old, tmp_path / "old")
    monkeypatch.setattr(expand, "ANCHOR_MASK_BIAS", -1e4)
    new = MotionModel(get_preset("tiny-face-64"))
    warm_start(new, tmp_path / "old")
    new.eval()
    num_anchors = new.config.anchors.num_anchors
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        kp_old, kp_new = old.detect(images), new.detect(images)
        torch.testing.assert_close(kp_new.value[:, num_anchors:], kp_old.value)
        torch.testing.assert_close(kp_new.jacobian[:, num_anchors:], kp_old.jacobian)
        expected = old(images[:1], kp_old[0], kp_old[1]).prediction
        actual = new(images[:1], kp_new[0], kp_new[1]).prediction
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=0)


def test_expand_refuses_a_model_of_another_size() -> None:
    old, new = get_preset("fast-128"), get_preset("tiny-face-64")
    with pytest.raises(ValueError, match="expected a model with 4 free keypoints"):
        expand.expand_to_anchors({}, old, new, {})
