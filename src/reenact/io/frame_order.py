"""Fitting a video to an audio clip of another length, and reading its frames in that order.

Length policies (`output_length`, `source_indices`), for a video of V frames and audio covering A:

| policy   | output frames | when the audio is longer          | when the audio is shorter          |
|----------|---------------|-----------------------------------|------------------------------------|
| pingpong | A             | video plays forward, backward, .. | video cut at the audio's end       |
| loop     | A             | video starts over                 | video cut at the audio's end       |
| trim     | min(V, A)     | audio cut at the video's end      | video cut at the audio's end       |
| pad      | max(V, A)     | last frame held                   | video plays on after the speech    |

`ordered_frames` yields frames in any such order while holding at most `max_cached` frames: a
forward run is one decoding pass; a backward run decodes the stretch it needs once per
`max_cached` frames (quadratic in the length of the run, but memory stays bounded).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

LENGTH_POLICIES = ("pingpong", "loop", "trim", "pad")


def check_length_policy(policy: str) -> str:
    if policy not in LENGTH_POLICIES:
        raise ValueError(f"length_policy: expected one of {', '.join(LENGTH_POLICIES)}, got "
                         f"{policy!r}")
    return policy


def output_length(num_video: int, num_audio: int, policy: str) -> int:
    """Output frames for a video of `num_video` frames and audio covering `num_audio` frames."""
    check_length_policy(policy)
    if num_video < 1 or num_audio < 1:
        raise ValueError(f"num_video, num_audio: expected >= 1 frames, got {num_video}, {num_audio}")
    if policy == "trim":
        return min(num_video, num_audio)
    if policy == "pad":
        return max(num_video, num_audio)
    return num_audio


def source_indices(num_video: int, num_out: int, policy: str) -> np.ndarray:
    """(num_out,) int64: the video frame shown as each output frame."""
    check_length_policy(policy)
    out = np.arange(num_out, dtype=np.int64)
    if policy == "loop":
        return out % num_video
    if policy == "pingpong" and num_video > 1:
        period = 2 * num_video - 2
        phase = out % period
        return np.where(phase < num_video, phase, period - phase)
    return np.minimum(out, num_video - 1)


def _runs(indices: np.ndarray) -> Iterator[np.ndarray]:
    """Split into maximal non-decreasing runs and strictly decreasing runs, in order."""
    start = 0
    while start < len(indices):
        stop = start + 1
        if stop < len(indices) and indices[stop] < indices[start]:
            while stop < len(indices) and indices[stop] < indices[stop - 1]:
                stop += 1
        else:
            while stop < len(indices) and indices[stop] >= indices[stop - 1]:
                stop += 1
        yield indices[start:stop]
        start = stop


def _close(frames: Iterator[np.ndarray]) -> None:
    """End a decoding pass now (a generator's file is released), not when it is collected."""
    close = getattr(frames, "close", None)
    if close is not None:
        close()


def _forward(open_frames: Callable[[], Iterator[np.ndarray]], run: np.ndarray) -> Iterator[np.ndarray]:
    frames = open_frames()
    position, frame = -1, None
    try:
        for wanted in run:
            while position < wanted:
                frame = next(frames, None)
                if frame is None:
                    raise ValueError(f"frame {wanted} was asked for but the video ended at frame "
                                     f"{position}")
                position += 1
            yield frame  # type: ignore[misc]
    finally:
        _close(frames)


def _backward(open_frames: Callable[[], Iterator[np.ndarray]], run: np.ndarray,
              max_cached: int) -> Iterator[np.ndarray]:
    """A strictly decreasing run, `max_cached` of its frames per decoding pass."""
    for begin in range(0, len(run), max_cached):
        wanted = run[begin:begin + max_cached]  # decreasing
        needed = set(int(i) for i in wanted)
        cache: dict[int, np.ndarray] = {}
        frames = open_frames()
        try:
            for position, frame in enumerate(frames):
                if position in needed:
                    cache[position] = frame
                if position == wanted[0]:
                    break
        finally:
            _close(frames)
        if len(cache) != len(needed):
            raise ValueError(f"frame {int(wanted[0])} was asked for but the video ended before it")
        for index in wanted:
            yield cache.pop(int(index))


def ordered_frames(open_frames: Callable[[], Iterator[np.ndarray]], indices: np.ndarray, *,
                   max_cached: int = 64) -> Iterator[np.ndarray]:
    """The frames `indices` of a video, in that order.

    open_frames: starts a new decoding pass from frame 0 (e.g. `lambda: iter(reader)`).
    indices: runs of +1 / repeated steps and -1 steps (what `source_indices` gives).
    """
    if max_cached < 1:
        raise ValueError(f"max_cached: expected an integer >= 1, got {max_cached!r}")
    for run in _runs(np.asarray(indices, dtype=np.int64)):
        if len(run) > 1 and run[1] < run[0]:
            yield from _backward(open_frames, run, max_cached)
        else:
            yield from _forward(open_frames, run)
