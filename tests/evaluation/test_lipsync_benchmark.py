"""benchmarks/lipsync.py's pooling of the per-row figures."""

from __future__ import annotations

import dataclasses
import math

from conftest import loaded_benchmark
from reenact.evaluation.lipsync import LipSyncScore


def score(**fields) -> LipSyncScore:
    base = dict(num_frames=75, face_frames=75, speech_frames=50, gap_std=0.1, gap_std_ratio=1.0,
                r_speech=0.3, lag=0, r_by_lag=(0.3,), interior_share=0.5, interior_recall=1.0,
                teeth_share=0.3, teeth_recall=1.0, onsets=0, closure_rate=math.nan,
                interior_closure_rate=math.nan, gap_interior_r=0.8)
    return dataclasses.replace(LipSyncScore(**base), **fields)


def test_closure_depth_is_pooled_over_the_onsets_of_every_row() -> None:
    with loaded_benchmark("lipsync") as module:
        rows = [score(onsets=3, closure_depth=0.1, real_closures=1, real_closure_depth=0.4),
                score(onsets=1, closure_depth=0.5, real_closures=3, real_closure_depth=0.0),
                score(onsets=0)]  # no onsets: its NaN depth is left out
        assert module._depth(rows) == "0.20"  # (3 x 0.1 + 0.5) / 4
        assert module._depth(rows, real=True) == "0.10"  # (0.4 + 3 x 0) / 4
        assert module._depth([score()]) == "-"
