"""Fitting a video to audio of another length, and reading frames in that order."""

import numpy as np
import pytest

from reenact.io.frame_order import ordered_frames, output_length, source_indices


def test_policies():
    assert output_length(10, 25, "pingpong") == output_length(10, 25, "loop") == 25
    assert output_length(10, 25, "trim") == 10 and output_length(10, 25, "pad") == 25
    assert output_length(10, 4, "pingpong") == 4 and output_length(10, 4, "pad") == 10
    assert source_indices(4, 10, "pingpong").tolist() == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]
    assert source_indices(4, 6, "loop").tolist() == [0, 1, 2, 3, 0, 1]
    assert source_indices(4, 6, "pad").tolist() == [0, 1, 2, 3, 3, 3]
    assert source_indices(1, 3, "pingpong").tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="length_policy: expected one of pingpong, loop, trim, pad"):
        output_length(3, 3, "stretch")


class Source:
    """A fake video of `count` frames that counts its decoding passes and decoded frames."""

    def __init__(self, count):
        self.count, self.passes, self.decoded = count, 0, 0

    def open(self):
        self.passes += 1
        for index in range(self.count):
            self.decoded += 1
            yield np.full((2, 2, 3), index, np.uint8)


@pytest.mark.parametrize("policy", ["pingpong", "loop", "pad", "trim"])
def test_ordered_frames_follow_indices(policy):
    source = Source(7)
    indices = source_indices(7, 30, policy)
    frames = list(ordered_frames(source.open, indices, max_cached=3))
    assert [int(f[0, 0, 0]) for f in frames] == indices.tolist()


def test_backward_runs_hold_at_most_max_cached_frames():
    source = Source(10)
    indices = np.arange(9, -1, -1)
    frames = list(ordered_frames(source.open, indices, max_cached=4))
    assert [int(f[0, 0, 0]) for f in frames] == list(range(9, -1, -1))
    assert source.passes == 3  # 10 frames, 4 per pass


def test_missing_frames_are_an_error():
    with pytest.raises(ValueError, match="frame 5 was asked for"):
        list(ordered_frames(Source(3).open, np.array([0, 5])))
