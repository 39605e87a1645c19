from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import MEDIA, make_clip, require
from reenact.pipelines.evaluate_crops import (
    evaluate_clip, evaluate_videos, format_table, image_scores, keypoint_jitter, ssim, summarize)


def test_ssim_and_psnr_of_known_images() -> None:
    image = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(ssim(image, image), torch.ones(2))
    assert float(ssim(image, 1 - image).max()) < 0.2
    l1, psnr, _ = image_scores(torch.full((1, 3, 16, 16), 0.5), torch.full((1, 3, 16, 16), 0.6))
    assert l1[0] == pytest.approx(0.1, abs=1e-6)
    assert psnr[0] == pytest.approx(20.0, abs=1e-3)  # mse 0.01 -> 20 dB
    assert image_scores(image, image)[1][0] == 100.0  # identical: capped


def test_keypoint_jitter() -> None:
    steady = np.linspace(-0.5, 0.5, 10)[:, None, None] * np.ones((1, 3, 2))  # constant velocity
    assert keypoint_jitter(steady, 64) == pytest.approx(0.0, abs=1e-9)
    shaky = steady.copy()
    shaky[::2] += 2 / 63  # one pixel back and forth
    assert keypoint_jitter(shaky, 64) > 1.0
    assert np.isnan(keypoint_jitter(steady[:2], 64))


def test_static_baseline_and_model_scores(tiny_model) -> None:
    frames = make_clip(64, 7, seed=0)
    model, static, jitter = evaluate_clip(tiny_model, frames, batch_size=4)
    as_float = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    expected_static = (as_float[1:] - as_float[:1]).abs().mean()
    assert static.l1 == pytest.approx(float(expected_static), rel=1e-5)
    assert 0 < model.l1 < 1 and np.isfinite(model.psnr) and -1 <= model.ssim <= 1
    assert np.isfinite(jitter)


class CentreFace:
    def detect(self, image: np.ndarray):
        from reenact.preprocess.face import Face

        height, width = image.shape[:2]
        return [Face((width * 0.3, height * 0.25, width * 0.7, height * 0.75), 1.0)]


def test_evaluate_a_folder_and_report(tiny_model, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.mp4").symlink_to(require(MEDIA / "driving" / "lp_d12.mp4"))
    results = list(evaluate_videos(tiny_model, tmp_path, CentreFace(), max_frames=6))
    assert [r.video for r in results] == ["sub/a.mp4"] and results[0].frames == 5
    summary = summarize(results)
    assert summary["frames"] == 5
    assert summary["mean"]["static"]["l1"] == pytest.approx(results[0].static.l1)
    assert summary["beats_static_l1"] == (results[0].model.l1 < results[0].static.l1)
    json.dumps(summary)
    table = format_table(summary)
    assert "| sub/a.mp4 | 5 |" in table and "**mean**" in table
    with pytest.raises(ValueError, match="no video could be evaluated"):
        summarize([])
