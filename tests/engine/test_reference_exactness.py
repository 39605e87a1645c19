"""benchmarks/reference_exactness.py: its pure helpers, its one-line error without a reference
checkout, and (where REENACT_FOMM_REFERENCE names a checkout of AliaksandrSiarohin/first-order-model
and ../shared/fomm holds the tiny checkpoint) one short run against the reference code itself."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import FOMM, loaded_benchmark


@pytest.fixture(scope="module")
def bench():
    with loaded_benchmark("reference_exactness") as module:
        yield module


def test_compare_identical_and_known_error(bench) -> None:
    frames = np.random.default_rng(0).random((2, 3, 8, 8), dtype=np.float32)
    same = bench.compare(frames, frames)
    assert same.max_abs_diff == 0 and same.psnr_db == math.inf and same.share_off == 0
    off = bench.compare(np.full((2, 3, 4, 4), 0.1), np.zeros((2, 3, 4, 4)))
    assert off.max_abs_diff == pytest.approx(0.1)
    assert off.psnr_db == pytest.approx(20.0)  # 10 log10(1 / 0.01)
    assert off.share_off == 1.0
    tiny = bench.compare(np.full((1, 4), 1e-3), np.zeros((1, 4)))  # below half a uint8 level
    assert tiny.share_off == 0


def test_compare_refuses_other_shapes(bench) -> None:
    with pytest.raises(ValueError, match=r"output: expected shape \(2, 3\), got \(3, 2\)"):
        bench.compare(np.zeros((3, 2)), np.zeros((2, 3)))


def test_output_spread_sees_a_flat_output(bench) -> None:
    assert bench.output_spread(np.full((3, 2, 2), 0.5)) == (0.0, 0.0)
    std, change = bench.output_spread(np.stack([np.zeros((2, 2)), np.ones((2, 2))]))
    assert std == pytest.approx(0.5) and change == pytest.approx(1.0)


def test_perturbed_keeps_variances_positive_and_counters(bench) -> None:
    generator = torch.Generator().manual_seed(0)
    variance = bench.perturbed(torch.ones(64), "norm.running_var", generator)
    assert (variance > 0).all() and not torch.equal(variance, torch.ones(64))
    count = torch.tensor(7)
    assert bench.perturbed(count, "norm.num_batches_tracked", generator) is count
    zeros = bench.perturbed(torch.zeros(4, 4), "jacobian.weight", generator)
    assert zeros.abs().max() > 0  # a zero-initialized head moves too


def test_missing_reference_is_one_line(bench, tmp_path: Path, capsys) -> None:
    with pytest.raises(bench.ReferenceCodeError) as caught:
        bench.load_reference(tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert f"--reference {tmp_path}: not a checkout of AliaksandrSiarohin/first-order-model" in message
    assert "missing modules/generator.py" in message
    assert bench.main(["--reference", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --reference") and "\n" not in err


REFERENCE = os.environ.get("REENACT_FOMM_REFERENCE")


@pytest.mark.skipif(not REFERENCE, reason="REENACT_FOMM_REFERENCE: no reference checkout named")
def test_tiny_run_against_the_reference(bench, tmp_path: Path, capsys) -> None:
    checkpoint, config = FOMM / "tiny-a.pth.tar", FOMM / "tiny-a.yaml"
    if not checkpoint.is_file():
        pytest.skip(f"{checkpoint} not present")
    out = tmp_path / "rows.json"
    code = bench.main(["--reference", REFERENCE, "--checkpoint", str(checkpoint), "--config",
                       str(config), "--frames", "2", "--threads", "1", "--paths", "fp32",
                       "--json", str(out)])
    assert code == 0
    import json

    rows = {row["path"]: row for row in json.loads(out.read_text())["rows"]}
    assert rows["reference"]["max_abs_diff"] == 0
    assert rows["fp32"]["psnr_db"] > 80  # the same model, to float rounding through chaos
    assert "| fp32 |" in capsys.readouterr().out
