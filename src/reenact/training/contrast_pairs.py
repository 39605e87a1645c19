"""Expression-contrast pairs: training pairs whose mouth or eyes differ.

Pairs drawn at random from talking clips mostly show the same mouth state twice (two frames of
one sentence, both half-open) and almost never a blink: the reconstruction loss then hardly asks
the generator to invent a mouth interior, teeth or a closed lid, and the trained model learns to
keep them as they are in the source. A contrast pair picks its driving frame, within the same
clip, with probability proportional to how far its mouth opening (or eye opening) is from the
source frame's, so both directions occur: closed -> open (invent the interior) and open -> closed
(close the lips over it).

Openings come from the prepared data's 68-point landmarks (iBUG order, crop pixels; NaN rows where
none were found), divided by the interocular distance so that they do not depend on face size:
- mouth: the mean inner-lip gap (61-67, 62-66, 63-65);
- eyes: the mean lid gap (37-41, 38-40, 43-47, 44-46).
dlib's inner-lip gap does not reach 0 on pressed lips, but it orders frames by opening, which is
all that sampling needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reenact.preprocess.expressions import interocular_distance, mouth_opening

EYE_GAPS = ((37, 41), (38, 40), (43, 47), (44, 46))
# a clip whose opening varies less than this (std, interocular units) offers no contrast
MIN_SPREAD = 0.02


def eye_opening(landmarks: np.ndarray) -> np.ndarray:
    """(N,) mean lid gap over the interocular distance of (N, 68, 2) landmarks; NaN where a frame
    has none (`reenact.preprocess.expressions.mouth_opening` is the mouth's)."""
    points = np.asarray(landmarks, dtype=np.float64)
    gap = np.mean([np.linalg.norm(points[:, a] - points[:, b], axis=-1) for a, b in EYE_GAPS], axis=0)
    return gap / np.maximum(interocular_distance(points), 1e-9)


@dataclass(frozen=True)
class _Feature:
    clips: np.ndarray  # (C,) clip indices that offer contrast
    weights: np.ndarray  # (C,) their sampling probabilities
    frames: list[np.ndarray]  # per such clip: frame indices with landmarks
    values: list[np.ndarray]  # per such clip: those frames' openings


def _feature(landmarks: list[np.ndarray],
             measure: Callable[[np.ndarray], np.ndarray]) -> _Feature | None:
    clips, weights, frames, values = [], [], [], []
    for index, points in enumerate(landmarks):
        opening = measure(points)
        found = np.flatnonzero(np.isfinite(opening))
        if len(found) < 2 or float(np.std(opening[found])) < MIN_SPREAD:
            continue
        clips.append(index)
        # clips with more frames and more movement give more contrast
        weights.append(len(found) * float(np.std(opening[found])))
        frames.append(found)
        values.append(opening[found])
    if not clips:
        return None
    weight = np.asarray(weights)
    return _Feature(np.asarray(clips), weight / weight.sum(), frames, values)


class ContrastSampler:
    """Draws (clip, source frame, driving frame) triples whose mouth or eye openings differ.

    landmarks: per clip, (N, 68, 2) crop pixels with NaN rows; mouth_share: the fraction of pairs
    that contrast the mouth (the rest contrast the eyes), used where both kinds are available.
    """

    def __init__(self, landmarks: list[np.ndarray], *, mouth_share: float = 0.7) -> None:
        if not 0 <= mouth_share <= 1:
            raise ValueError(f"mouth_share: expected a number in [0, 1], got {mouth_share}")
        self.mouth = _feature(landmarks, mouth_opening)
        self.eyes = _feature(landmarks, eye_opening)
        self.mouth_share = mouth_share

    @property
    def available(self) -> bool:
        return self.mouth is not None or self.eyes is not None

    def sample(self, count: int, generator: np.random.Generator) -> list[tuple[int, int, int]]:
        """`count` triples (clip, source frame, driving frame), source != driving."""
        if not self.available:
            raise ValueError("no clip has landmarks whose mouth or eye opening varies; "
                             "contrast pairs need data prepared with landmarks")
        picked = []
        for _ in range(count):
            feature = self.mouth if self.eyes is None else self.eyes if self.mouth is None else \
                (self.mouth if generator.random() < self.mouth_share else self.eyes)
            assert feature is not None
            slot = int(generator.choice(len(feature.clips), p=feature.weights))
            frames, values = feature.frames[slot], feature.values[slot]
            first = int(generator.integers(len(frames)))
            distance = np.abs(values - values[first])  # (n,) 0 at `first` itself
            second = int(generator.choice(len(frames), p=distance / distance.sum())) \
                if distance.sum() > 0 else (first + 1) % len(frames)
            picked.append((int(feature.clips[slot]), int(frames[first]), int(frames[second])))
        return picked
