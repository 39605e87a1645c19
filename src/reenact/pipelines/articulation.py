"""Speech's mouth opening as the anchored keypoints of an opened mouth, drawn on the portrait's
own landmarks (talk with a face-anchored model).

An audio model's "mouth open" output is a coefficient (the mouth-opening measure: inner-lip gap
over interocular distance, `reenact.preprocess.expressions.mouth_opening`) times a direction in
keypoint space fitted by least squares over many faces. For a face-anchored motion model that fit
is poor (it explains a few percent of the keypoint motion) and mixes lip swelling into the opening:
scaled up, lips pout instead of parting. Here the coefficient is kept and the direction is rebuilt
from geometry: the portrait's 68 landmarks with the mouth opened by a given inner-lip gap (the jaw
drops: lower lip and chin move down, the upper lip a little up), turned into anchors as in
`animate` (`reenact.preprocess.anchors`). Anchors are linear in the landmarks, so the motion per
unit of opening is one vector per portrait.
"""

from __future__ import annotations

import numpy as np
import torch

from reenact.containers import Keypoints
from reenact.motion import motion_between
from reenact.preprocess.anchors import anchor_keypoints, pixels_to_normalized, replace_anchors
from reenact.preprocess.expressions import interocular_distance

# share of an inner-lip gap increase that moves each landmark down (+) or up (-): the jaw carries
# the lower lip and chin, the upper lip rises a little, the corners move half-way
OPENING_SHARES: dict[int, float] = {
    **{i: 0.8 for i in (55, 56, 57, 58, 59, 65, 66, 67)},  # lower lip, outer and inner
    **{i: -0.2 for i in (61, 62, 63)},  # upper inner lip
    **{i: -0.1 for i in (49, 50, 51, 52, 53)},  # upper outer lip
    48: 0.3, 54: 0.3, 60: 0.3, 64: 0.3,  # mouth corners
    **{i: 0.8 for i in (6, 7, 8, 9, 10)},  # chin
    5: 0.5, 11: 0.5, 4: 0.25, 12: 0.25,  # jaw sides
}
# the opening the direction is measured at (mouth-opening units); anchors are linear in it
_PROBE = 0.1


def open_mouth(landmarks: np.ndarray, opening: float) -> np.ndarray:
    """(68, 2) landmarks (pixels, y down) with the inner-lip gap grown by `opening` interocular
    distances (negative closes)."""
    points = np.array(landmarks, dtype=np.float64)
    if points.shape != (68, 2) or not np.isfinite(points).all():
        raise ValueError(f"landmarks: expected finite (68, 2) points, got {points.shape}")
    gap = opening * float(interocular_distance(points))
    for index, share in OPENING_SHARES.items():
        points[index, 1] += share * gap
    return points


def opening_motion(kp_source: Keypoints, landmarks: np.ndarray, groups: tuple[str, ...],
                   size: int) -> torch.Tensor:
    """(K * 6,) keypoint motion per unit of mouth opening for the source whose keypoints are
    `kp_source` (batch 1, anchored first) and whose landmarks are `landmarks` ((68, 2) crop pixels
    of a `size` crop). Only the anchored keypoints move."""
    opened = open_mouth(landmarks, _PROBE)
    normalized = torch.from_numpy(pixels_to_normalized(np.stack([landmarks, opened]), size))
    anchors = anchor_keypoints(normalized.to(kp_source.value.dtype), groups)
    closed_kp = replace_anchors(kp_source, anchors[0])
    open_kp = replace_anchors(kp_source, anchors[1])
    return motion_between(open_kp, closed_kp).flat()[0] / _PROBE


def reexpress_opening(motion: np.ndarray, fitted: torch.Tensor,
                      geometric: torch.Tensor) -> np.ndarray:
    """(T, K * 6) speech motion along the fitted mouth-open direction -> the same coefficients
    along the geometric one: c_t = <m_t, fitted> / |fitted|^2, out_t = c_t * geometric."""
    fitted = fitted.double().numpy()
    norm = float(fitted @ fitted)
    if norm <= 0:
        return np.zeros_like(motion)
    coefficients = motion.astype(np.float64) @ fitted / norm  # (T,)
    return (coefficients[:, None] * geometric.double().numpy()[None, :]).astype(motion.dtype)
