"""Resampling helpers: the maximum filter the compositor grows and opens its masks with, and read
positions kept off the picture's edges."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reenact.postprocess.resampling import kept_inside, max_filter


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


def test_kept_inside_stops_reads_past_the_edges_and_leaves_the_middle_alone() -> None:
    centres = np.arange(100) + 0.5
    down = kept_inside(centres - 20, centres, 100.0)  # every pixel reads 20 px above itself
    assert down[0] == pytest.approx(0.25)  # the edge pixel reads (nearly) itself
    assert down.min() >= 0 and np.all(np.diff(down) > 0)  # inside the picture, in order
    np.testing.assert_allclose(down[40:], centres[40:] - 20)  # past 20 / 0.5 px: unchanged
    up = kept_inside(centres + 20, centres, 100.0)  # the other edge alike
    np.testing.assert_allclose(up, 100 - down[::-1])
    assert kept_inside(centres - 20, centres, 100.0, reach=0.9)[10] == pytest.approx(1.05)


def test_kept_inside_takes_tensors_and_broadcasts() -> None:
    rows = torch.arange(4.0)[:, None] + 0.5
    source = rows - torch.tensor([[0.0, 1.0, 3.0]])  # (4, 3)
    out = kept_inside(source, rows, 4.0)
    assert isinstance(out, torch.Tensor) and out.shape == (4, 3)
    np.testing.assert_allclose(out[:, 0], rows[:, 0])  # no move: unchanged
    np.testing.assert_allclose(out[:, 2], rows[:, 0] / 2)
    with pytest.raises(ValueError, match="reach: expected a number in"):
        kept_inside(source, rows, 4.0, reach=1.0)
