from __future__ import annotations

import numpy as np
import pytest

from reenact.preprocess.anchors import TEMPLATE
from reenact.preprocess.expressions import mouth_opening
from reenact.training.contrast_pairs import EYE_GAPS, ContrastSampler, eye_opening

MOUTH_GAPS = ((61, 67), (62, 66), (63, 65))  # the inner-lip pairs mouth_opening measures


def faces(mouth: list[float], eyes: list[float] | None = None) -> np.ndarray:
    """(N, 68, 2) template faces (crop pixels, 100 px) with the inner lips and lids parted by
    the given gaps (interocular units)."""
    base = (TEMPLATE + 1) * 50
    interocular = np.linalg.norm(base[36:42].mean(0) - base[42:48].mean(0))
    out = np.repeat(base[None], len(mouth), axis=0)
    eyes = eyes if eyes is not None else [0.1] * len(mouth)
    for row, (gap, eye) in enumerate(zip(mouth, eyes)):
        for top, bottom in MOUTH_GAPS:
            out[row, bottom] = out[row, top] + (0, gap * interocular)
        for top, bottom in EYE_GAPS:
            out[row, bottom] = out[row, top] + (0, eye * interocular)
    return out


def test_openings_are_the_mean_gap_over_the_interocular_distance() -> None:
    points = faces([0.0, 0.1, 0.3], [0.05, 0.2, 0.0])
    np.testing.assert_allclose(mouth_opening(points), [0.0, 0.1, 0.3], rtol=0.02, atol=1e-9)
    np.testing.assert_allclose(eye_opening(points), [0.05, 0.2, 0.0], rtol=0.02, atol=1e-9)
    points[1] = np.nan
    assert np.isnan(mouth_opening(points)[1])


def test_contrast_pairs_prefer_frames_whose_mouths_differ() -> None:
    # clip 0: the mouth opens on frames 5-9; clip 1 never moves (no contrast to offer)
    clip = faces([0.0] * 5 + [0.3] * 5)
    clip[2] = np.nan  # a frame without landmarks is never picked
    still = faces([0.1] * 10)
    sampler = ContrastSampler([clip, still], mouth_share=1.0)
    picked = sampler.sample(200, np.random.default_rng(0))
    assert {c for c, _, _ in picked} == {0}
    assert all(i != 2 and j != 2 for _, i, j in picked)
    assert all((i < 5) != (j < 5) for _, i, j in picked)  # closed -> open or open -> closed
    directions = {i < 5 for _, i, _ in picked}
    assert directions == {True, False}


def test_without_landmarks_there_is_no_contrast() -> None:
    sampler = ContrastSampler([np.full((6, 68, 2), np.nan)])
    assert not sampler.available
    with pytest.raises(ValueError, match="landmarks"):
        sampler.sample(1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="mouth_share"):
        ContrastSampler([], mouth_share=2)
