"""Separable resampling helpers: the maximum filter the compositor grows and opens its masks with."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reenact.postprocess.resampling import max_filter


@pytest.mark.parametrize("radius", [1, 3])
def test_max_filter_takes_the_largest_value_of_the_square_around_each_pixel(radius) -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(size=(9, 12)).astype(np.float32)  # negative too: an opening's min filter
    grown = max_filter(torch.from_numpy(values), radius).numpy()
    assert grown.shape == values.shape and grown.dtype == np.float32
    for i in range(9):
        for j in range(12):
            square = values[max(0, i - radius):i + radius + 1, max(0, j - radius):j + radius + 1]
            assert grown[i, j] == square.max()


def test_max_filter_grows_a_dot_into_a_square_and_opens_away_thin_lines() -> None:
    dot = torch.zeros(11, 11)
    dot[5, 5] = 1
    grown = max_filter(dot, 2)
    assert grown.sum() == 25 and grown[3:8, 3:8].min() == 1
    line = torch.zeros(11, 11)
    line[:, 5] = 1  # one pixel wide: an opening of radius 1 (min then max) removes it
    assert max_filter(-max_filter(-line, 1), 1).abs().sum() == 0
