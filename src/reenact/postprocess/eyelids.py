"""Eyelids at full resolution: the driver's eye opening drawn on the photo's own eyes.

A face-128 motion model moves the photo through a 32 x 32 deformation lattice; an eyelid is under
one lattice cell, so the upper and lower lid of a portrait cannot part or meet however the model's
eyelid keypoints move (across identities the eyes barely follow the driver). Here the opening is
carried geometrically, from landmarks, by a warp of the photo's own eye region that the
full-resolution compositor composes with the model's motion:

    output(x) = photo(E(phi(x))),   phi: the model's motion (output -> photo pixels),

where E maps a virtual photo whose lids are opened by a gain k (1: as in the photo, 0: closed) to
the photo. Per eye, in a frame along the eye (u from corner to corner, v across, downward), with
the lid margins U(u) (upper) and L(u) (lower) the cubics through each lid's four 68-point
landmarks (`_lid_fit`; where a cubic would stray, their polyline, which bent the lash line of a
closing lid at the middle two points; the cubic since 2026-12-06) and gap
G = L - U, the lids meet on the line M = U + CLOSE_AT * G; the virtual lids are
U' = M - CLOSE_AT k G and L' = M + (1 - CLOSE_AT) k G, and E is piecewise linear in v:

- [U - above, U'] -> [U - above, U]   (the lid's skin slides down over the eye as it closes)
- [U', L']        -> the eye itself:   closing (k < 1), the identity, ramped over `LID_EDGE`
                                       pixels from each margin: the lids cover the eye, whose
                                       iris and pupil keep their shape; opening wider (k > 1),
                                       [U, L] stretched
- [L', L + below] -> [L, L + below]

with `above` and `below` fixed fractions of the eye's half length and E the identity elsewhere.
G is 0 at the corners, so E is continuous everywhere. (Until 2026-12-06 the eye between closing
lids was squeezed into them: a half-shut iris and pupil flattened into a slit.)

The gain asked of E is the driver's opening (relative to the driving video's initial frame, per
eye, from `reenact.postprocess.eye_motion.eye_ratios`) over the opening the model's motion
already gives (`implied_ratios`), so a model that does move the lids is not doubled. The
pipelines give the model driving landmarks whose lids keep the reference's shape
(`with_eye_shapes`), so its motion leaves the lids alone and E draws the whole change; where a
model still changes a lid gap by more than 2x, the lids are left to it (`takeover`).

Gaze: a second map G, applied after E (output(x) = photo(G(E(phi(x))))), slides each iris along
its eye by the driver's change of iris position (`eye_motion.gaze_shifts`, from
`reenact.preprocess.gaze.iris_positions`): along u it is piecewise linear with knots

    -h -> -h,   c - r + s -> c - r,   c + r + s -> c + r,   h -> h

(h the eye's half length, c the photo's iris position, r = `IRIS_RADIUS` h, s the shift), so the
iris moves whole and the white on either side is squeezed or stretched; across the eye it is
faded out a little beyond the lid margins (the lids' middle slides with the iris, as real lids
do), and the corners stay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from reenact.geometry import smoothstep
from reenact.point_geometry import apply_affine, similarity_fit
from reenact.preprocess.expressions import check_landmarks, eye_aspect_ratios
from reenact.preprocess.face import NUM_LANDMARKS

# each eye's lid margins as 68-point indices, from the image-left corner to the image-right one
EYE_LIDS = (((36, 37, 38, 39), (36, 41, 40, 39)),  # the subject's right eye (image left)
            ((42, 43, 44, 45), (42, 47, 46, 45)))
CLOSE_AT = 0.75  # where between the lids they meet: the upper lid does most of a blink
ABOVE = 0.9  # the band above the upper lid that slides with it, in eye half lengths
BELOW = 0.6
MAX_GAIN = 1.5  # eyes open at most this much wider than the photo's (the white stretches)
LID_EDGE = 1.0  # photo pixels over which a closing lid's margin meets the eye it covers
LID_BULGE = 0.35  # a lid's cubic may stray this far (x the eye's opening) from its landmarks' polyline
# an eye asked this share (of the model's opening) closer than the model has it is drawn whole
CLOSING_TAKEOVER = 0.25
# gaze (half lengths of the eye): an iris whose core would come nearer a corner than 1 - GAZE_REACH
# - IRIS_RADIUS stops there
GAZE_REACH = 0.6
IRIS_RADIUS = 0.35  # the core that moves whole (an iris is ~0.4 of the eye's length across)
IRIS_DISAGREE = 0.25  # the photo's two irises read further apart than this: one is misread
PHOTO_IRIS = 0.3  # the photo's irises are taken within this of their eyes' middles
GAZE_ABOVE, GAZE_BELOW, GAZE_FEATHER = 0.1, 0.0, 0.6  # G's band beyond the lid margins


def with_eye_shapes(landmarks: np.ndarray, reference: np.ndarray, steady: np.ndarray) -> np.ndarray:
    """(68, 2) landmarks with the lids of each eye where `steady` ((2,) bool) replaced by the
    `reference`'s, carried by the similarity that takes the reference's eye corners onto these:
    what the motion model is given when the lids are drawn here. The eye moves, turns and grows
    with its corners, and its lids keep the reference's opening and shape.

    Resetting only the opening (as this did before) left the lids' other changes to the model: a
    driving video that starts on a squint and then looks up gave the upper lid's anchor a 1.7x
    vertical stretch (its points sit close to the corners' line, so a small rise of the lid is a
    large change of its jacobian), and the portrait's lid and brow crumpled."""
    points = check_landmarks(landmarks).copy()
    base = check_landmarks(reference)
    for (upper, lower), keep in zip(EYE_LIDS, np.asarray(steady, dtype=bool)):
        first, last = upper[0], upper[3]
        axis_from, axis_to = base[last] - base[first], points[last] - points[first]
        if not keep or np.linalg.norm(axis_from) < 1e-6 or np.linalg.norm(axis_to) < 1e-6:
            continue
        carry = similarity_fit(base[[first, last]], points[[first, last]])  # exact on 2 points
        lids = [upper[1], upper[2], lower[1], lower[2]]
        points[lids] = apply_affine(carry, base[lids])
    return points


def photo_irises(irises: np.ndarray) -> np.ndarray:
    """(2,) the photo's iris positions G pivots on, from the (2,) read ones (NaN: unread): eyes
    turn together, so where the two readings differ by more than `IRIS_DISAGREE` the one nearer
    the eye's middle stands for both (dark make-up or a shadow in a corner reads as iris: dev
    woman_smiling's right eye reads +0.45 while the left reads -0.12); an unread eye takes the
    other's; within +-`PHOTO_IRIS`."""
    values = np.asarray(irises, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros(2)
    if finite.size == 2 and abs(finite[0] - finite[1]) <= IRIS_DISAGREE:
        chosen = values
    else:
        chosen = np.full(2, finite[np.argmin(np.abs(finite))])
    return np.clip(chosen, -PHOTO_IRIS, PHOTO_IRIS)


def takeover(implied: np.ndarray, ratios: np.ndarray | None = None) -> np.ndarray:
    """(2,) in [0, 1] per eye: how much the lids are drawn here rather than left to the model,
    from the opening its motion implies (`EyelidWarp.implied_ratios`). A model that changes a lid
    gap by more than 2x moves the lids with large deformations whose result only its generator
    makes look like an eye (a blink painted over a squashed eye): then the lids stay the model's.
    Full takeover within 25% of the photo's opening, a smooth hand-over between.

    With the asked `ratios` (per eye, over the photo's opening), an eye asked to close further
    than the model's motion has it is drawn whole again as it closes (`CLOSING_TAKEOVER`): closing
    lids slide over whatever the model left of the eye, and a model that squashed one eye of a
    turned head to 0.6 of its opening had left that eye half open through the driver's blinks,
    the other shut (the README video, frames 27-29)."""
    implied = np.maximum(np.asarray(implied, dtype=np.float64), 1e-3)
    change = np.abs(np.log(implied))
    strength = smoothstep(torch.from_numpy((np.log(2.0) - change) / (np.log(2.0) - np.log(1.25)))).numpy()
    if ratios is None:
        return strength
    closing = (implied - np.asarray(ratios, dtype=np.float64)) / (CLOSING_TAKEOVER * implied)
    return np.maximum(strength, smoothstep(torch.from_numpy(closing)).numpy())


@dataclass(frozen=True)
class _Eye:
    origin: Tensor  # (2,) the corners' midpoint, image pixels
    along: Tensor  # (2,) unit vector corner to corner
    half: float  # half the corner distance, pixels
    knots: Tensor  # (4,) u of the lid landmarks
    upper: Tensor  # (4,) v of the upper lid's landmarks
    lower: Tensor  # (4,) v of the lower lid's
    upper_fit: tuple[float, ...] | None  # the cubic through them (`_lid_fit`), highest power first
    lower_fit: tuple[float, ...] | None
    iris: float  # u of the photo's iris, pixels (0: the middle, where it cannot be read)
    bounds: tuple[float, float, float, float]  # x0, x1, y0, y1: the band's box in photo pixels


def _lid_fit(knots: np.ndarray, values: np.ndarray, opening: float) -> tuple[float, ...] | None:
    """The cubic through a lid's 4 (u, v) landmark points, or None where it strays from their
    polyline by more than `LID_BULGE` of the eye's `opening` (points bunched near a corner)."""
    coefficients = np.polyfit(knots, values, 3)
    u = np.linspace(knots[0], knots[-1], 33)
    stray = np.abs(np.polyval(coefficients, u) - np.interp(u, knots, values)).max()
    return tuple(float(c) for c in coefficients) if stray <= LID_BULGE * opening else None


def _lid(u: Tensor, knots: Tensor, values: Tensor, fit: tuple[float, ...] | None) -> Tensor:
    """A lid margin's v at u (clamped to the corners): the cubic `fit`, else the polyline."""
    if fit is None:
        return _piecewise_linear(u, knots, values)
    u = u.clamp(float(knots[0]), float(knots[-1]))
    out = torch.full_like(u, fit[0])
    for coefficient in fit[1:]:
        out = out * u + coefficient
    return out


def _piecewise_linear(u: Tensor, knots: Tensor, values: Tensor) -> Tensor:
    """Piecewise-linear interpolation of `values` at `knots` (increasing), read at u (clamped)."""
    u = u.clamp(float(knots[0]), float(knots[-1]))
    index = torch.searchsorted(knots, u.contiguous()).clamp(1, len(knots) - 1)
    u0, u1 = knots[index - 1], knots[index]
    t = (u - u0) / (u1 - u0).clamp(min=1e-6)
    return values[index - 1] + t * (values[index] - values[index - 1])


class EyelidWarp:
    """The maps E and G of the module docstring for one photo, from its (68, 2) landmarks in
    pixels and (2,) its irises' positions (`preprocess.gaze.iris_positions`; None or NaN: the
    eye's middle)."""

    def __init__(self, landmarks: np.ndarray, irises: np.ndarray | None = None) -> None:
        points = check_landmarks(landmarks)
        if points.shape != (NUM_LANDMARKS, 2):
            raise ValueError(f"landmarks: expected ({NUM_LANDMARKS}, 2), got {points.shape}")
        irises = np.zeros(2) if irises is None else np.asarray(irises, dtype=np.float64)
        if irises.shape != (2,):
            raise ValueError(f"irises: expected (2,), got {irises.shape}")
        irises = photo_irises(irises)
        self.landmarks = points
        self._eyes = [self._eye(points, upper, lower, float(iris))
                      for (upper, lower), iris in zip(EYE_LIDS, irises)]

    @staticmethod
    def _eye(points: np.ndarray, upper: tuple[int, ...], lower: tuple[int, ...],
             iris: float) -> _Eye | None:
        first, last = points[upper[0]], points[upper[-1]]
        length = float(np.linalg.norm(last - first))
        if length < 2:  # an eye a pixel or two long: nothing to draw
            return None
        along = (last - first) / length
        across = np.array([-along[1], along[0]])  # downward for an upright face
        origin = (first + last) / 2
        u_up = (points[list(upper)] - origin) @ along
        u_low = (points[list(lower)] - origin) @ along
        knots = (u_up + u_low) / 2  # one knot per landmark pair (the corners coincide)
        if not np.all(np.diff(knots) > 0):  # a profile view folds the lids: leave this eye alone
            return None
        v_up, v_low = (points[list(upper)] - origin) @ across, (points[list(lower)] - origin) @ across
        half = length / 2
        corners = np.array([origin + u * along + v * across for u in (-half, half)
                            for v in (v_up.min() - ABOVE * half, v_low.max() + BELOW * half)])
        bounds = (corners[:, 0].min() - 1, corners[:, 0].max() + 1,
                  corners[:, 1].min() - 1, corners[:, 1].max() + 1)
        as_tensor = lambda a: torch.tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
        opening = max(float((v_low - v_up)[1:3].max()), 1.0)
        return _Eye(origin=as_tensor(origin), along=as_tensor(along), half=half,
                    knots=as_tensor(knots), upper=as_tensor(v_up), lower=as_tensor(v_low),
                    upper_fit=_lid_fit(knots, v_up, opening),
                    lower_fit=_lid_fit(knots, v_low, opening),
                    iris=iris * half, bounds=tuple(float(b) for b in bounds))

    def implied_ratios(self, displacement_at) -> np.ndarray:
        """(2,) per eye: how much the model's own motion opens it, from `displacement_at`, a
        function of (N, 2) photo pixels -> (N, 2) backward displacement (output -> photo) there.
        A photo point p shows in the output near p - d(p)."""
        moved = self.landmarks - displacement_at(self.landmarks)
        return eye_aspect_ratios(moved) / np.maximum(eye_aspect_ratios(self.landmarks), 1e-9)

    def apply(self, x: Tensor, y: Tensor, gains: np.ndarray, strength: np.ndarray | None = None,
              gaze: float = 0.0) -> tuple[Tensor, Tensor, Tensor]:
        """Photo positions x, y ((H, W) each, pixels: a smooth warp of a pixel grid) of a virtual
        photo whose eyes open by `gains` (2,) and whose irises sit `gaze` half eye lengths along
        their eyes from the photo's (`eye_motion.gaze_shifts`; applied as much as each eye's strength) ->
        (x, y) in the real photo, and (H, W) in [0, 1] where E draws the lids: each eye's band
        (from `above` over the upper lid to `below` under the lower one, corner to corner),
        feathered over a quarter of the eye's half length, times `strength` (2,) per eye (default
        1); there the lids are E's, not the generator's. A gain within 1% of 1 leaves that eye's
        lids alone, a gaze under 1% of the eye's half length its iris."""
        x, y, weight = x.clone(), y.clone(), torch.zeros_like(x)
        strength = np.ones(2) if strength is None else np.asarray(strength, dtype=np.float64)
        for eye, gain, scale in zip(self._eyes, np.asarray(gains, dtype=np.float64), strength):
            moves = abs(gain - 1) >= 0.01
            turns = abs(gaze * scale) >= 0.01
            if eye is None or not (moves or turns or scale > 0):
                continue
            block = self._block(eye, x, y)  # only near the band is worked on: a few % of a face
            if block is None:
                continue
            bx, by, bw = x[block], y[block], weight[block]  # views: writes go into x, y, weight
            near = self._near(eye, bx, by)
            u, v = self._eye_frame(eye, bx[near], by[near])
            upper = _lid(u, eye.knots, eye.upper, eye.upper_fit)
            lower = _lid(u, eye.knots, eye.lower, eye.lower_fit)
            if scale > 0:
                feather = 0.25 * eye.half
                inside = torch.minimum(v - (upper - ABOVE * eye.half), lower + BELOW * eye.half - v)
                bw[near] = torch.maximum(bw[near], float(scale) * smoothstep(
                    (eye.half - u.abs()) / feather) * smoothstep(inside / feather))
            if moves:
                change = self._lid_change(eye, float(np.clip(gain, 0, MAX_GAIN)), u, v, upper,
                                          lower)
                # back to pixels: the change is across the eye only
                bx[near] -= change * eye.along[1]
                by[near] += change * eye.along[0]
            if turns:  # G after E: on the photo positions E gives
                px, py = bx[near], by[near]
                u, v = self._eye_frame(eye, px, py)
                change = self._gaze_change(eye, float(gaze * scale), u, v)
                bx[near] = px + change * eye.along[0]
                by[near] = py + change * eye.along[1]
        return x, y, weight

    @staticmethod
    def _block(eye: _Eye, x: Tensor, y: Tensor) -> tuple[slice, slice] | None:
        """Rows and columns of 2-D positions x, y (a smooth warp of a pixel grid, so rows go down
        and columns across) that can reach the eye's band; None if none can."""
        x0, x1, y0, y1 = eye.bounds
        rows = torch.nonzero((y.amin(dim=1) <= y1) & (y.amax(dim=1) >= y0))[:, 0]
        cols = torch.nonzero((x.amin(dim=0) <= x1) & (x.amax(dim=0) >= x0))[:, 0]
        if len(rows) == 0 or len(cols) == 0:
            return None
        return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)

    @staticmethod
    def _near(eye: _Eye, x: Tensor, y: Tensor) -> Tensor:
        """Bool mask of the positions inside the eye's band's bounding box."""
        x0, x1, y0, y1 = eye.bounds
        return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)

    @staticmethod
    def _eye_frame(eye: _Eye, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Photo pixels -> (u, v): along the eye from its middle, and across it (downward)."""
        dx, dy = x - eye.origin[0], y - eye.origin[1]
        return dx * eye.along[0] + dy * eye.along[1], -dx * eye.along[1] + dy * eye.along[0]

    @staticmethod
    def _gaze_change(eye: _Eye, gaze: float, u: Tensor, v: Tensor) -> Tensor:
        """Along-the-eye change (u in the photo minus u in the virtual photo) of G (module
        docstring) at eye-frame positions (u, v) of the photo, for a shift of `gaze` half
        lengths."""
        half = eye.half
        reach = GAZE_REACH * half
        shift = float(np.clip(eye.iris + gaze * half, -reach, reach)) - eye.iris
        radius = IRIS_RADIUS * half
        virtual = (-half, eye.iris - radius + shift, eye.iris + radius + shift, half)
        photo = (-half, eye.iris - radius, eye.iris + radius, half)
        knots = torch.tensor(virtual, dtype=u.dtype)  # increasing: |iris + shift| <= GAZE_REACH h
        mapped = torch.where(u.abs() < half,
                             _piecewise_linear(u, knots, torch.tensor(photo, dtype=u.dtype)), u)
        upper = _lid(u, eye.knots, eye.upper, eye.upper_fit)
        lower = _lid(u, eye.knots, eye.lower, eye.lower_fit)
        feather = GAZE_FEATHER * half
        # whole from GAZE_ABOVE over the upper margin to GAZE_BELOW under the lower one, fading
        # out over GAZE_FEATHER beyond (inside E's band)
        across = (smoothstep((v - upper + GAZE_ABOVE * half + feather) / feather)
                  * smoothstep((lower + GAZE_BELOW * half + feather - v) / feather))
        return across * (mapped - u)

    @staticmethod
    def _lid_change(eye: _Eye, gain: float, u: Tensor, v: Tensor, upper: Tensor,
                    lower: Tensor) -> Tensor:
        """Across-the-eye change (v in the photo minus v in the virtual photo) at eye-frame
        positions (u, v) with lid margins `upper`, `lower` there (module docstring)."""
        gap = (lower - upper).clamp(min=0)
        inside = u.abs() < eye.half
        top, bottom = upper - ABOVE * eye.half, upper + gap + BELOW * eye.half
        meet = upper + CLOSE_AT * gap
        new_upper, new_lower = meet - CLOSE_AT * gain * gap, meet + (1 - CLOSE_AT) * gain * gap
        above = top + (v - top) * (upper - top) / (new_upper - top).clamp(min=1e-6)
        if gain < 1:  # the lids slide over the eye, which stays where it is (see the module)
            edge = ((new_lower - new_upper) / 2).clamp(min=1e-6, max=LID_EDGE)
            middle = torch.where(
                v < new_upper + edge, upper + (v - new_upper) * (new_upper + edge - upper) / edge,
                torch.where(v > new_lower - edge,
                            lower - (new_lower - v) * (lower - new_lower + edge) / edge, v))
        else:  # an eye opened wider than the photo's: its white stretches
            middle = upper + (v - new_upper) / max(gain, 1e-6)
        below = bottom - (bottom - v) * (bottom - upper - gap) / (bottom - new_lower).clamp(min=1e-6)
        source_v = torch.where(v < new_upper, above, torch.where(v <= new_lower, middle, below))
        return torch.where(inside & (v > top) & (v < bottom), source_v - v, torch.zeros_like(v))
