"""Temporal smoothing of driving keypoints (between the keypoint detector and normalization), and
of whole motion sequences known in advance."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator

import numpy as np

from reenact.containers import Keypoints


def gaussian_smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """(T, ...) values -> the same, each series convolved with a Gaussian of `sigma` frames along
    axis 0 (zero phase: no lag), the ends held. sigma 0 returns a copy."""
    if not 0 <= sigma <= 1000:
        raise ValueError(f"sigma: expected a number of frames in [0, 1000], got {sigma!r}")
    values = np.asarray(values)
    if sigma == 0 or values.shape[0] < 2:
        return values.copy()
    radius = max(1, math.ceil(3 * sigma))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([np.repeat(values[:1], radius, axis=0), values,
                             np.repeat(values[-1:], radius, axis=0)])
    out = np.zeros(values.shape, np.result_type(values.dtype, np.float32))
    for weight, offset in zip(kernel, offsets + radius, strict=True):
        out += weight * padded[offset:offset + values.shape[0]]
    return out


def _kernel(sigma: float) -> np.ndarray:
    """The sampled Gaussian of `sigma` frames over +-ceil(3 sigma) (at least +-1), summing to 1."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    return kernel / kernel.sum()


def smoothing_sigma(strength: float) -> float:
    """The Gaussian width (frames) `KeypointSmoother` uses for `strength` in [0, 1): the one that
    removes as much frame-to-frame jitter (white noise's variance kept: the kernel's sum of
    squares) as the causal filter out_t = s * out_(t-1) + (1 - s) * in_t that the strength meant
    before, (1 - s) / (1 + s), without its lag of s / (1 - s) frames; 0.52 frames at 0.25."""
    if not 0 <= strength < 1:
        raise ValueError(f"strength: expected a number in [0, 1), got {strength!r}")
    if strength == 0:
        return 0.0
    kept = (1 - strength) / (1 + strength)
    low, high = 1e-3, 1e3
    for _ in range(60):  # the kernel's sum of squares falls as it widens
        middle = math.sqrt(low * high)
        low, high = (middle, high) if float((_kernel(middle) ** 2).sum()) > kept else (low, middle)
    return math.sqrt(low * high)


class KeypointSmoother:
    """Zero-phase Gaussian smoothing of a stream of keypoint values and jacobians (between the
    keypoint detector and normalization).

    A video is rendered from a driving clip known in advance, so the smoothing looks both ways:
    each frame is the Gaussian-weighted mean of the frames within `radius` of it (sigma:
    `smoothing_sigma(strength)`, radius ceil(3 sigma)). Beyond the ends the sequence is continued
    by point reflection (x[-k] = 2 x[0] - x[k]), so the first and last frames come out as they went
    in and a steady motion keeps its pace up to the ends: relative motion is measured from the
    first frame, and a first frame moved toward the next ones would shift the whole video. The
    causal filter it replaces lagged a moving head (at 0.25, a third of a frame behind in theory;
    on dev self-reenactment clips read by FaceMesh's 468 points, the output's face matched the
    driving frame before the current one as well as the current one).

    Streams: `push` a batch of consecutive frames, get back the frames now complete (up to
    `radius` frames later than pushed), then `flush` the rest at the end. `smoother(kp)` smooths
    a whole sequence at once. Memory: the first radius + 1 frames and the last 2 radius + 1.
    strength 0: every frame as it is, none held back.
    """

    def __init__(self, strength: float) -> None:
        sigma = smoothing_sigma(strength)
        self.kernel = _kernel(sigma).tolist() if strength > 0 else [1.0]
        self.radius = len(self.kernel) // 2
        self._reset()

    def _frame(self, index: int) -> list[tuple[float, Keypoints]]:
        """Frame `index` of the continued sequence, as coefficients on real frames."""
        last = self._count - 1
        if index < 0:
            mirror = min(-index, last)
            return [(2.0, self._known(0)), (-1.0, self._known(mirror))]
        if index > last:
            mirror = max(2 * last - index, 0)
            return [(2.0, self._known(last)), (-1.0, self._known(mirror))]
        return [(1.0, self._known(index))]

    def _known(self, index: int) -> Keypoints:
        return self._head[index] if index < len(self._head) else self._recent[index]

    def _emit(self) -> list[Keypoints]:
        out = []
        while self._next < self._count and (self._final or self._next + self.radius < self._count):
            terms = [(weight * coefficient, frame)
                     for offset, weight in enumerate(self.kernel)
                     for coefficient, frame in self._frame(self._next + offset - self.radius)]
            value = sum(c * frame.value for c, frame in terms)
            jacobian = None
            if all(frame.jacobian is not None for _, frame in terms):
                jacobian = sum(c * frame.jacobian for c, frame in terms)
            out.append(Keypoints(value, jacobian))
            self._next += 1
        return out

    def push(self, kp: Keypoints) -> Keypoints | None:
        """kp: the next batch of consecutive frames (B, K, ...) -> the smoothed frames now
        complete, in order (None: none yet)."""
        if self.radius == 0:
            return Keypoints(kp.value, kp.jacobian)
        out = []
        for index in range(kp.batch_size):
            frame = kp[index]
            if self._count <= self.radius:
                self._head.append(frame)
            self._recent[self._count] = frame
            self._recent.pop(self._count - 2 * self.radius - 1, None)
            self._count += 1
            out += self._emit()
        return Keypoints.cat(out) if out else None

    def flush(self) -> Keypoints | None:
        """The frames still held back, the sequence continued beyond its end (None: none). The
        smoother is then ready for a new sequence."""
        self._final = True
        out = self._emit() if self._count else []
        self._reset()
        return Keypoints.cat(out) if out else None

    def _reset(self) -> None:
        """Ready for a new sequence."""
        self._head: list[Keypoints] = []  # frames 0 .. radius
        self._recent: dict[int, Keypoints] = {}  # the last 2 radius + 1 frames by index
        self._count = 0  # frames pushed
        self._next = 0  # the next frame to emit
        self._final = False

    def __call__(self, kp: Keypoints) -> Keypoints:
        """A whole sequence (B, K, ...) -> the same, smoothed."""
        parts = [part for part in (self.push(kp), self.flush()) if part is not None]
        return Keypoints.cat(parts)


def smoothed_batches(batches: Iterable[Keypoints], strength: float,
                     batch_size: int) -> Iterator[Keypoints]:
    """The frames of `batches` (consecutive, in order) through one `KeypointSmoother(strength)`,
    cut again into batches of `batch_size` frames (the last may be smaller): frame for frame what
    came in, each batch as soon as its frames are complete."""
    smoother = KeypointSmoother(strength)
    pending: Keypoints | None = None
    # the flush is called only after the last push
    flushed = (smoother.flush() for _ in range(1))
    for out in itertools.chain((smoother.push(batch) for batch in batches), flushed):
        if out is not None:
            pending = out if pending is None else Keypoints.cat([pending, out])
        while pending is not None and pending.batch_size >= batch_size:
            yield pending[:batch_size]
            pending = pending[batch_size:] if pending.batch_size > batch_size else None
    if pending is not None:
        yield pending
