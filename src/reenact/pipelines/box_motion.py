"""The driver's head zoom and shift split between the motion model and the compositor.

Relative motion moves the portrait's keypoints as the driver's moved since the initial frame,
in the initial frame's crop (`reenact.pipelines.keypoints.reframe_keypoints`). The motion model
learned small zooms and shifts of the whole face. A driver who leans into the camera or crosses
the frame gives it keypoints far outside what it saw in training, and its frame melts: the head
smears, a second face appears beside it.

So the model takes the face's zoom and shift only up to a limit (`BoxMotionLimit`), and the excess,
a similarity, is applied afterwards to the whole composited head box at the photo's resolution
(`reenact.postprocess.head_motion`). Within the limit nothing changes.

The face's zoom s and shift t (normalized crop coordinates, about the crop's centre) are the
driver's: the least squares fit v ~ s v_initial + t of the face's rigid keypoints (the anchored
ones off the mouth and chin: eyes, brows, jaw sides, nose; all keypoints for a model without
anchors) in the initial frame's crop, the shift adapted as the relative transfer adapts it. The
model's share (s_m, t_m) is s and t clipped to the limit; the excess maps the model's point v to
s_r v + t_r, s_r = s / s_m and t_r = t - s_r t_m, so that the two together are the whole motion;
the model is given every keypoint v and jacobian J as (v - t_r) / s_r and J / s_r.

A model with anchors also has free keypoints (head, hair, shoulders) that its detector places
from the whole crop: where the crop is padded at the frame's edge they moved by up to 30% of it
off the face and their jacobians shrank by half (dev clip lp_d12), which the model renders as hair
smeared across the background. They are held near where the face's similarity (zoom, rotation,
shift, fitted on the anchored rigid keypoints) takes the source's (`BoxMotionLimit.free`,
`.stretch`); within those bounds they are left alone.

Their jacobians also carry the head's turn (a yaw narrows the face along one axis, which no
similarity expresses), and, in the trained default model, a zoom that follows the mouth: the whole
head shrank and swelled by +-5% as the mouth opened (dev lp_d10: the rendered face's scale against
the driver's at p10-p90 0.95-1.03). The two are told apart by their axes: a turn changes one
singular value of a jacobian's change, a zoom both alike. The common part of the two log singular
values (their minmod: the one nearer zero where both have the same sign, else zero) is halved
(`BoxMotionLimit.common_zoom`); a turn, a widening or a stretch along one axis stays whole. Half,
because on dev drivers that roll their heads (lp_d11, lp_d19) dropping all of it cost the
portraits' roll (r 0.85 -> 0.76) while half kept it (0.84) with most of the identity's gain.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from reenact.containers import Keypoints
from reenact.geometry import inverse_2x2
from reenact.point_geometry import similarity_fit
from reenact.postprocess.body_hold import BodyHold
from reenact.postprocess.head_motion import BoxMotion, HeadMover
from reenact.preprocess.anchors import MOUTH_ANCHORS
from reenact.preprocess.crop import CropBox

# a fitted zoom below this (or above its inverse) is no head motion but keypoints without a face
_MIN_ZOOM = 0.25

# anchored groups that move with the skull rather than with the mouth
_NON_RIGID = set(MOUTH_ANCHORS) | {"chin"}


@dataclass(frozen=True)
class BoxMotionLimit:
    """How much of the face's zoom and shift the motion model takes.

    scale: the model takes zooms within 1 / (1 + scale) .. 1 + scale of the source face;
    shift: and shifts within +-shift of the crop's side, per axis.
    free: a model with anchored keypoints: its free keypoints (head, hair, shoulders) move off
        where the face's similarity (zoom, rotation, shift) takes them by at most this
        (normalized units);
    stretch: and their jacobians change beyond that similarity by at most 1 + stretch (singular
        values); see the module docstring.
    inf takes all of it (what the model alone did before).
    common_zoom: the fraction of the free jacobians' common zoom beyond the similarity that is
        kept (see the module docstring): 0 drops it, 1 keeps it (as before 2026-12-04).
    """

    scale: float = 0.06
    shift: float = 0.06
    free: float = 0.1
    stretch: float = 0.3
    common_zoom: float = 0.5

    def __post_init__(self) -> None:
        for name in ("scale", "shift", "free", "stretch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or math.isnan(value) or value < 0:
                raise ValueError(f"BoxMotionLimit.{name}: expected a number >= 0 (inf for no "
                                 f"limit), got {value!r}")
        if isinstance(self.common_zoom, bool) or not isinstance(self.common_zoom, (int, float)) \
                or not 0 <= self.common_zoom <= 1:
            raise ValueError(f"BoxMotionLimit.common_zoom: expected a fraction in [0, 1], got "
                             f"{self.common_zoom!r}")


def rigid_indices(num_kp: int, anchor_groups: tuple[str, ...]) -> list[int]:
    """The keypoints whose motion is the face's zoom and shift: the anchored ones on eyes, brows,
    jaw sides and nose; all of them for a model without anchors."""
    if not anchor_groups:
        return list(range(num_kp))
    return [i for i, name in enumerate(anchor_groups) if name not in _NON_RIGID]


def zoom_and_shift(source: np.ndarray, driven: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares s (B,) and t (B, 2) with driven ~ s source + t; source (N, 2), driven (B, N, 2).
    s is NaN where the source points coincide."""
    centre = source.mean(axis=0)
    spread = source - centre  # (N, 2)
    driven_centre = driven.mean(axis=1)  # (B, 2)
    total = float((spread ** 2).sum())
    if total <= 0:  # coinciding points: no zoom to fit
        return np.full(len(driven), np.nan), driven_centre - centre
    scale = np.einsum("bnc,nc->b", driven - driven_centre[:, None], spread) / total
    return scale, driven_centre - scale[:, None] * centre


def drop_common_zoom(singular: Tensor, keep: float = 0.0) -> Tensor:
    """(..., 2) singular values of jacobian changes with all but `keep` of their common zoom
    removed: the minmod of their logs (the one nearer zero where both have the same sign, else
    zero)."""
    logs = singular.log()
    first, second = logs[..., 0], logs[..., 1]
    common = torch.where(first * second > 0, torch.sign(first) * torch.minimum(first.abs(), second.abs()),
                         torch.zeros_like(first))
    return (logs - (1 - keep) * common[..., None]).exp()


def _hold_free(kp_source: Keypoints, kp: Keypoints, rigid: list[int], free_from: int | None,
               limit: BoxMotionLimit) -> Keypoints:
    """`kp` with keypoints free_from.. held within `limit.free` of where the face's similarity
    (zoom, rotation, shift) takes them, their jacobians' change beyond that similarity rid of
    its common zoom (but `limit.common_zoom` of it) and kept within 1 / (1 + limit.stretch) ..
    1 + limit.stretch (singular values)."""
    radius, stretch = limit.free, limit.stretch
    if free_from is None or free_from >= kp.num_kp or kp.jacobian is None \
            or (math.isinf(radius) and math.isinf(stretch) and limit.common_zoom == 1):
        return kp
    source = kp_source.value[0].detach().cpu().double().numpy()  # (K, 2)
    driven = kp.value.detach().cpu().double().numpy()  # (B, K, 2)
    fits = np.stack([similarity_fit(source[rigid], points[rigid]) for points in driven])  # (B, 2, 3)
    follow = np.einsum("bij,fj->bfi", fits[:, :, :2], source[free_from:]) + fits[:, None, :, 2]
    off = driven[:, free_from:] - follow  # (B, F, 2)
    length = np.linalg.norm(off, axis=-1, keepdims=True)
    held = follow + off * np.minimum(1, radius / np.maximum(length, 1e-12))
    value = kp.value.clone()
    value[:, free_from:] = torch.from_numpy(held).to(value.device, value.dtype)
    # the jacobians' change from the source's, less the face's similarity: (B, F, 2, 2)
    linear = torch.from_numpy(fits[:, None, :, :2]).to(kp.jacobian.device, kp.jacobian.dtype)
    source_jacobian = kp_source.jacobian[:, free_from:]
    change = torch.linalg.solve(linear, kp.jacobian[:, free_from:] @ inverse_2x2(source_jacobian))
    u, singular, vh = torch.linalg.svd(change)
    singular = drop_common_zoom(singular, limit.common_zoom).clamp(1 / (1 + stretch), 1 + stretch)
    jacobian = kp.jacobian.clone()
    jacobian[:, free_from:] = linear @ (u @ torch.diag_embed(singular) @ vh) @ source_jacobian
    return Keypoints(value, jacobian)


def split_keypoint_motion(kp_source: Keypoints, kp: Keypoints, kp_driving: Keypoints,
                          kp_initial: Keypoints, rigid: list[int], *, movement: float = 1.0,
                          limit: BoxMotionLimit | None = None,
                          free_from: int | None = None) -> tuple[Keypoints, list[BoxMotion]]:
    """The keypoints `kp` (B, K: the portrait's, driven: `normalize_keypoints` of the next three)
    the model is given, and per frame the excess left to the compositor (identity within the
    limit). The face's zoom and shift are the driver's: `kp_driving` (B, K) against `kp_initial`
    (1, K), both in the initial frame's crop, the shift times `movement` (the relative transfer's
    adapted scale). free_from: the first free keypoint of a model with anchors (held near the
    face, `BoxMotionLimit.free`), or None. See the module docstring."""
    limit = limit or BoxMotionLimit()
    kp = _hold_free(kp_source, kp, rigid, free_from, limit)
    initial = kp_initial.value[0, rigid].detach().cpu().double().numpy()
    scale, shift = zoom_and_shift(initial, kp_driving.value[:, rigid].detach().cpu().double().numpy())
    shift = shift * movement
    # a fit that is no zoom (keypoints with no face behind them: --crop none on a wall) moves nothing
    meaningless = ~(np.isfinite(scale) & (scale >= _MIN_ZOOM) & (scale <= 1 / _MIN_ZOOM)
                    & np.isfinite(shift).all(axis=1))
    scale, shift = np.where(meaningless, 1.0, scale), np.where(meaningless[:, None], 0.0, shift)
    model_scale = np.clip(scale, 1 / (1 + limit.scale), 1 + limit.scale)
    model_shift = np.clip(shift, -2 * limit.shift, 2 * limit.shift)  # 2: a crop is 2 units wide
    rest = scale / model_scale  # exactly 1 and 0 where the clip left them unchanged
    rest_shift = shift - rest[:, None] * model_shift
    excess = [BoxMotion(float(r), float(x) / 2, float(y) / 2) for r, (x, y) in zip(rest, rest_shift)]
    if all(motion.is_identity for motion in excess):
        return kp, excess
    r = torch.from_numpy(rest).to(kp.value.device, kp.value.dtype)
    t = torch.from_numpy(rest_shift).to(kp.value.device, kp.value.dtype)
    value = (kp.value - t[:, None]) / r[:, None, None]
    jacobian = None if kp.jacobian is None else kp.jacobian / r[:, None, None, None]
    return Keypoints(value, jacobian), excess


class HeadMotionSplit:
    """One video's split: the keypoints the model is given, where the landmark fit's targets
    sit before the head box moves, and the composited frames with the box moved.

    image, box: the photo and its motion-model crop box; feather: the moved window's edge (a
    fraction of the box side); anchor_groups: the model's anchored groups (empty: none);
    num_kp: its keypoints; hold: how much of the move each pixel keeps (`HeadMover`), or
    None.
    """

    def __init__(self, image: np.ndarray, box: CropBox, feather: float,
                 anchor_groups: Sequence[str], num_kp: int,
                 limit: BoxMotionLimit | None = None,
                 hold: BodyHold | None = None) -> None:
        self.box, self.limit = box, limit or BoxMotionLimit()
        self.mover = HeadMover(image, box, feather, hold)
        self.rigid = rigid_indices(num_kp, tuple(anchor_groups))
        self.free_from = len(anchor_groups) or None

    def keypoints(self, kp_source: Keypoints, kp: Keypoints, kp_driving: Keypoints,
                  kp_initial: Keypoints, movement: float) -> tuple[Keypoints, list[BoxMotion]]:
        """`split_keypoint_motion` with this video's settings."""
        return split_keypoint_motion(kp_source, kp, kp_driving, kp_initial, self.rigid,
                                     movement=movement, limit=self.limit,
                                     free_from=self.free_from)

    def targets(self, targets: list[np.ndarray | None] | None,
                excess: list[BoxMotion]) -> list[np.ndarray | None] | None:
        """Per frame, (68, 2) landmark targets (output pixels) where the compositor must put them:
        before the head box moves."""
        if targets is None:
            return None
        return [None if points is None else motion.unmoved(self.box, points)
                for points, motion in zip(targets, excess)]

    def frames(self, composited: Iterable[np.ndarray], excess: list[BoxMotion]) -> Iterator[np.ndarray]:
        """The composited frames with their head box moved by the excess."""
        for frame, motion in zip(composited, excess):
            yield self.mover.apply(frame, motion)
