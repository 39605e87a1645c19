"""Temporal smoothing of driving keypoints (between the keypoint detector and normalization), and
of whole motion sequences known in advance."""

from __future__ import annotations

import math

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


class KeypointSmoother:
    """Causal exponential smoothing of keypoint values and jacobians over a frame sequence.

    strength in [0, 1): 0 leaves keypoints untouched; s gives out_t = s * out_(t-1) + (1 - s) * in_t,
    which removes detector jitter at a lag of s / (1 - s) frames. Stateful: feed batches in order.
    """

    def __init__(self, strength: float) -> None:
        if not 0 <= strength < 1:
            raise ValueError(f"strength: expected a number in [0, 1), got {strength!r}")
        self.strength = strength
        self._previous: Keypoints | None = None

    def __call__(self, kp: Keypoints) -> Keypoints:
        """kp: a batch of consecutive frames (B, K, ...) -> the smoothed batch."""
        if self.strength == 0:
            return kp
        values = []
        previous = self._previous
        for index in range(kp.batch_size):
            current = kp[index]
            if previous is not None:
                value = self.strength * previous.value + (1 - self.strength) * current.value
                jacobian = current.jacobian
                if jacobian is not None and previous.jacobian is not None:
                    jacobian = self.strength * previous.jacobian + (1 - self.strength) * jacobian
                current = Keypoints(value, jacobian)
            values.append(current)
            previous = current
        self._previous = previous
        return Keypoints.cat(values)
