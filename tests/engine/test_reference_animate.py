"""benchmarks/reference_animate.py: its pure helpers and its one-line error without a reference
checkout (the timed runs themselves take minutes and need the reference code: not a test)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import loaded_benchmark


@pytest.fixture(scope="module")
def bench():
    with loaded_benchmark("reference_animate") as module:
        yield module


def test_psnr_of_identical_and_known_frames(bench) -> None:
    frames = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    assert bench.psnr(frames, frames) == (math.inf, 0.0)
    value, largest = bench.psnr(np.full((1, 4, 4, 3), 51, np.uint8), np.zeros((1, 4, 4, 3), np.uint8))
    assert largest == pytest.approx(0.2) and value == pytest.approx(10 * math.log10(1 / 0.04))
    with pytest.raises(ValueError, match="expected frames of shape"):
        bench.psnr(frames[:1], frames)


def test_the_reference_process_shim_compiles(bench) -> None:
    compile(bench.REFERENCE_DEMO, "<reference demo>", "exec")


def test_not_a_checkout_is_a_one_line_error(bench, tmp_path, capsys) -> None:
    assert bench.main(["--reference", str(tmp_path)]) == 2
    assert "is not a checkout of first-order-model" in capsys.readouterr().err
