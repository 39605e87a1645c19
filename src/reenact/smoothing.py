"""Temporal smoothing of driving keypoints (between the keypoint detector and normalization)."""

from __future__ import annotations

from reenact.containers import Keypoints


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
