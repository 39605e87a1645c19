"""Keypoint motion relative to a reference keypoint set, as pure functions.

The audio branch never predicts keypoints directly: it predicts how they move away from a reference
(the face at rest, mouth closed), in the convention of relative motion transfer
(`reenact.geometry.normalize_keypoints`):

    value    = reference.value + displacement                       (B, K, 2)
    jacobian = (I + jacobian_change) @ reference.jacobian           (B, K, 2, 2)

so that the same motion moves any face: the audio model's reference is the speaker's face at rest
in training, and the portrait's own keypoints when talking.

A motion flattens to (..., K * 6) features (2 displacement values, then 4 jacobian-change values per
keypoint, keypoint-major) for linear algebra: directions, projections, interpolation in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from reenact.containers import Keypoints
from reenact.geometry import inverse_2x2

FEATURES_PER_KEYPOINT = 6


@dataclass(frozen=True)
class KeypointMotion:
    """displacement: (..., K, 2) in normalized image units; jacobian_change: (..., K, 2, 2)."""

    displacement: Tensor
    jacobian_change: Tensor

    def __post_init__(self) -> None:
        d, j = self.displacement, self.jacobian_change
        if d.shape[-1] != 2 or j.shape[-2:] != (2, 2) or d.shape[:-1] != j.shape[:-2]:
            raise ValueError(f"KeypointMotion: expected displacement (..., K, 2) and jacobian_change "
                             f"(..., K, 2, 2), got {tuple(d.shape)} and {tuple(j.shape)}")

    @property
    def num_kp(self) -> int:
        return self.displacement.shape[-2]

    def flat(self) -> Tensor:
        """(..., K * 6): per keypoint dx, dy, then the jacobian change row-major."""
        lead = self.displacement.shape[:-1]  # (..., K)
        features = torch.cat([self.displacement, self.jacobian_change.reshape(*lead, 4)], dim=-1)
        return features.reshape(*lead[:-1], lead[-1] * FEATURES_PER_KEYPOINT)

    @staticmethod
    def from_flat(flat: Tensor, num_kp: int) -> KeypointMotion:
        """Inverse of `flat`: (..., K * 6) -> KeypointMotion."""
        if flat.shape[-1] != num_kp * FEATURES_PER_KEYPOINT:
            raise ValueError(f"flat: expected (..., {num_kp * FEATURES_PER_KEYPOINT}) for {num_kp} "
                             f"keypoints, got {tuple(flat.shape)}")
        per_kp = flat.reshape(*flat.shape[:-1], num_kp, FEATURES_PER_KEYPOINT)  # (..., K, 6)
        return KeypointMotion(per_kp[..., :2], per_kp[..., 2:].reshape(*per_kp.shape[:-1], 2, 2))

    def scaled(self, factor: Tensor) -> KeypointMotion:
        """The motion times `factor` (...,), one number per leading index (e.g. per frame)."""
        return KeypointMotion(self.displacement * factor[..., None, None],
                              self.jacobian_change * factor[..., None, None, None])


def motion_between(kp: Keypoints, reference: Keypoints) -> KeypointMotion:
    """The motion that takes `reference` (batch 1 or B) to `kp` (batch B); both need jacobians."""
    if kp.jacobian is None or reference.jacobian is None:
        raise ValueError("motion_between: both keypoint sets need jacobians")
    eye = torch.eye(2, dtype=kp.value.dtype, device=kp.value.device)
    change = torch.matmul(kp.jacobian, inverse_2x2(reference.jacobian)) - eye  # (B, K, 2, 2)
    return KeypointMotion(kp.value - reference.value, change)


def apply_motion(reference: Keypoints, motion: KeypointMotion) -> Keypoints:
    """`reference` (batch 1 or B) moved by `motion` (batch B): Keypoints of batch B."""
    if reference.jacobian is None:
        raise ValueError("apply_motion: the reference keypoints need jacobians")
    eye = torch.eye(2, dtype=reference.value.dtype, device=reference.value.device)
    jacobian = torch.matmul(eye + motion.jacobian_change, reference.jacobian)  # (B, K, 2, 2)
    return Keypoints(reference.value + motion.displacement, jacobian)


def similarity_transform(kp: Keypoints, angle: Tensor, shift: Tensor, scale: Tensor) -> Keypoints:
    """Rotate (radians, counterclockwise on screen), scale and shift keypoints about their centroid.

    kp: batch B. angle, scale: (B,); shift: (B, 2) in normalized units. Values move as
    c + s R (v - c) + t and jacobians as s R J: a rigid head motion in the image plane.
    """
    cos, sin = torch.cos(angle), torch.sin(angle)
    # y points down in image coordinates: a counterclockwise turn on screen is R(-angle)
    rotation = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)  # (B, 2, 2)
    linear = rotation * scale[:, None, None]
    centre = kp.value.mean(dim=1, keepdim=True)  # (B, 1, 2)
    value = torch.einsum("bij,bkj->bki", linear, kp.value - centre) + centre + shift[:, None, :]
    jacobian = None if kp.jacobian is None else torch.matmul(linear[:, None], kp.jacobian)
    return Keypoints(value, jacobian)


@dataclass(frozen=True)
class MotionDirections:
    """Linear directions in flat motion space, fitted by least squares on landmark measurements.

    names: e.g. ("mouth_open", "mouth_width", "blink"), one per row of `vectors`.
    vectors: (R, K * 6) float32: the motion per unit of each measurement (see
        `reenact.preprocess.expressions` for the units; blink: 1 = eyes fully closed).
    scale: (K * 6,) float32 > 0: the typical size of each motion feature (its standard deviation in
        training); projections weigh features by 1 / scale**2, so that displacements and jacobian
        changes count alike.
    """

    names: tuple[str, ...]
    vectors: Tensor
    scale: Tensor

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.names):
            raise ValueError(f"MotionDirections.vectors: expected ({len(self.names)}, D), got "
                             f"{tuple(self.vectors.shape)}")
        if self.scale.shape != self.vectors.shape[1:] or not bool((self.scale > 0).all()):
            raise ValueError(f"MotionDirections.scale: expected ({self.vectors.shape[1]},) values "
                             f"> 0, got {tuple(self.scale.shape)}")

    def vector(self, name: str) -> Tensor:
        """(D,) the direction called `name`."""
        if name not in self.names:
            raise ValueError(f"direction {name!r} is not stored; stored: {', '.join(self.names)}")
        return self.vectors[self.names.index(name)]

    def projector(self, names: tuple[str, ...]) -> Tensor:
        """(D, D) P with P m = the part of motion m (m @ P.T for rows) in the span of `names`.

        Weighted least squares: coefficients c = argmin |W^1/2 (m - M^T c)|, W = diag(1/scale^2),
        so P = M^T (M W M^T)^+ M W. Zero directions contribute nothing (pseudo-inverse).
        """
        basis = torch.stack([self.vector(name) for name in names]).double()  # (r, D)
        weight = self.scale.double() ** -2  # (D,)
        gram = (basis * weight) @ basis.T  # (r, r)
        projector = basis.T @ torch.linalg.pinv(gram, hermitian=True) @ (basis * weight)  # (D, D)
        return projector.to(self.vectors.dtype)



def replace_subspace(own: Tensor, target: Tensor, projector: Tensor) -> Tensor:
    """(B, D) flat motion `own` with its component in a subspace replaced by `target`'s:
    own + P (target - own), P (D, D) a projector (`MotionDirections.projector`). Outside the
    subspace the result is `own`, inside it `target`."""
    return own + (target - own) @ projector.T


def closed_mouth_frames(mouth_opening: np.ndarray, quantile: float) -> np.ndarray:
    """(T,) bool: the frames whose mouth opening is known (not NaN) and at or below its
    `quantile`; all False when no opening is known."""
    opening = np.asarray(mouth_opening, dtype=np.float64)
    known = np.isfinite(opening)
    if not known.any():
        return known
    return known & (opening <= np.quantile(opening[known], quantile))


def rest_keypoints(kp: Keypoints, mouth_opening: np.ndarray, quantile: float = 0.2) -> Keypoints:
    """The face at rest: the element-wise median of the keypoints (values and jacobians) over the
    frames whose mouth is the most closed (opening at or below its `quantile`).

    kp: (T, K, ...) one video's keypoints; mouth_opening: (T,) NaN where unknown (those frames are
    left out; if all are unknown, the median over all frames is used). Returns batch 1.
    A median over several closed-mouth frames, rather than one frame, is robust to detector jitter,
    a blink or a frame caught mid-word; using closed-mouth frames (not all frames) makes "no motion"
    mean "mouth closed", which is what silence must look like.
    """
    if not 0 < quantile <= 1:
        raise ValueError(f"quantile: expected a number in (0, 1], got {quantile!r}")
    opening = np.asarray(mouth_opening, dtype=np.float64)
    if opening.shape != (kp.batch_size,):
        raise ValueError(f"mouth_opening: expected ({kp.batch_size},) one per frame, got "
                         f"{opening.shape}")
    chosen = closed_mouth_frames(opening, quantile)
    if not chosen.any():
        chosen = np.ones_like(chosen)
    index = torch.from_numpy(np.flatnonzero(chosen))
    value = kp.value[index].median(dim=0, keepdim=True).values
    jacobian = None if kp.jacobian is None else kp.jacobian[index].median(dim=0, keepdim=True).values
    return Keypoints(value, jacobian)
