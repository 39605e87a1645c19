"""The model's motion fitted to the driver's landmarks: a smooth residual field at full resolution.

A face-128 motion model moves the photo through a 32 x 32 lattice driven by 24 keypoints; it
follows the head well, but the jaw line, the brows and the nose land a few pixels from where the
driver's face says they should (at a 256-px face: jaw ~7 px, brows ~5 px off in self-reenactment,
against ~2 px for the mouth and eyes). The photo's landmarks and their per-frame targets (where
the driver's motion, transferred as the keypoints' is, puts them) are known, so the residual at
those points is known too:

    r_i = S_i - phi(T_i)      phi: the model's backward map (output pixel -> photo pixel),
                              S_i: the photo's landmark i, T_i: its target in the output.

The correction is the gaussian-RBF interpolant of r over the fitted points (ridge-regularised,
so jitter is not chased point by point), added to phi: phi'(x) = phi(x) + sum_i c_i k(x - T_i).

What it leaves alone: the lids' opening (`eyelids` draws it): each lid point takes the mean
residual of its eye's corners, so an eye moves whole and a brow that rises does not stretch the
upper lid open with it; and the mouth, which is *pinned*
(residual 0 at every lip landmark): where a mouth opens the generator invents its inside along
the model's own motion, and a correction there would pull the lips away from what it painted.
Residuals larger than `max_shift` face sizes are shortened to it (a landmark detector's bad
frame must not drag the face). The pipeline fades the field out with the paste mask, so no seam
appears where the photo's own bytes take over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from reenact.preprocess.expressions import check_face_landmarks

JAW, BROWS, NOSE = tuple(range(0, 17)), tuple(range(17, 27)), tuple(range(27, 36))
EYE_CORNERS = (36, 39, 42, 45)
LIDS = ((37, 38, 40, 41), (43, 44, 46, 47))  # each eye's lid points, moved with its corners
LIPS = tuple(range(48, 68))
FITTED = JAW + BROWS + NOSE + EYE_CORNERS  # residuals fitted
PINNED = LIPS  # residual held at 0


@dataclass(frozen=True)
class LandmarkFitConfig:
    """sigma: the RBF's gaussian width; max_shift: the largest residual followed; both in face
    sizes (the landmarks' bounding-box diagonal). ridge: regularisation of the RBF solve,
    relative to the kernel's diagonal (larger: smoother, less exact). mouth: "pinned" holds the
    lips where the model's motion puts them; "fitted" fits them too (the compositor reads the
    generator's frame along the correction either way, so what it painted moves with the lips)."""

    sigma: float = 0.12
    max_shift: float = 0.05
    ridge: float = 0.01
    mouth: str = "pinned"

    def __post_init__(self) -> None:
        bounds = (("sigma", 0.01, 1.0), ("max_shift", 0.0, 0.5), ("ridge", 0.0, 10.0))
        for name, low, high in bounds:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not low <= value <= high:
                raise ValueError(f"LandmarkFitConfig.{name}: expected a number in [{low}, {high}], "
                                 f"got {value!r}")
        if self.mouth not in ("pinned", "fitted"):
            raise ValueError(f"LandmarkFitConfig.mouth: expected 'pinned' or 'fitted', got "
                             f"{self.mouth!r}")


class LandmarkFit:
    """The residual field of the module docstring for one photo, from its (68, 2) landmarks
    (photo pixels)."""

    def __init__(self, landmarks: np.ndarray, config: LandmarkFitConfig | None = None) -> None:
        self.landmarks = check_face_landmarks(landmarks)
        self.config = config if config is not None else LandmarkFitConfig()
        extent = self.landmarks.max(axis=0) - self.landmarks.min(axis=0)
        self.face_size = float(np.hypot(*extent))
        self._fitted = FITTED + (LIPS if self.config.mouth == "fitted" else ())
        self._pinned = PINNED if self.config.mouth == "pinned" else ()
        self._indices = np.array(self._fitted + LIDS[0] + LIDS[1] + self._pinned)

    def residuals(self, targets: np.ndarray,
                  displacement_at: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """(N, 2) residuals at the fitted points, then the lids' (their eye corners' mean), then
        the pinned ones (0), shortened to `max_shift`; `displacement_at` maps (N, 2) output
        pixels to the model's backward displacement there (a point p of the output shows the
        photo at p + d(p))."""
        targets = check_face_landmarks(targets, "targets")
        fitted = np.array(self._fitted)
        r = self.landmarks[fitted] - targets[fitted] - displacement_at(targets[fitted])
        limit = self.config.max_shift * self.face_size
        length = np.linalg.norm(r, axis=1, keepdims=True)
        r = r * np.minimum(1.0, limit / np.maximum(length, 1e-9))
        corner = dict(zip(self._fitted, r))
        lids = [np.tile((corner[a] + corner[b]) / 2, (len(points), 1))
                for (a, b), points in zip(((36, 39), (42, 45)), LIDS)]
        return np.concatenate([r, *lids, np.zeros((len(self._pinned), 2))])

    def solve(self, targets: np.ndarray, residuals: np.ndarray) -> Correction:
        """The RBF interpolant of `residuals` (from `residuals`) placed at `targets`' points: one
        small linear solve per frame, read at any pixels with `Correction.at`."""
        centres = check_face_landmarks(targets, "targets")[self._indices]
        sigma = self.config.sigma * self.face_size
        gram = np.exp(-0.5 * ((centres[:, None] - centres[None]) ** 2).sum(-1) / sigma ** 2)
        weights = np.linalg.solve(gram + self.config.ridge * np.eye(len(centres)), residuals)
        return Correction(centres, weights, sigma)

    def field(self, targets: np.ndarray, residuals: np.ndarray, x: np.ndarray,
              y: np.ndarray) -> Tensor:
        """`solve(targets, residuals).at(x, y)`."""
        return self.solve(targets, residuals).at(x, y)


@dataclass(frozen=True)
class Correction:
    """A solved residual field: gaussians of width `sigma` (pixels) at `centres` (N, 2), with
    `weights` (N, 2)."""

    centres: np.ndarray
    weights: np.ndarray
    sigma: float

    def at(self, x: np.ndarray, y: np.ndarray) -> Tensor:
        """(2, len(y), len(x)) the correction at output pixel columns x and rows y (centres)."""
        # the gaussian is separable: exp(-(dx^2 + dy^2)/2s^2) = ex(x) * ey(y)
        gauss = lambda u, axis: torch.from_numpy(np.exp(  # noqa: E731
            -0.5 * ((u[:, None] - self.centres[None, :, axis]) / self.sigma) ** 2))
        ex, ey = gauss(x, 0), gauss(y, 1)
        w = torch.from_numpy(self.weights)  # (N, 2)
        return torch.stack([(ey * w[:, c]) @ ex.T for c in range(2)]).float()
