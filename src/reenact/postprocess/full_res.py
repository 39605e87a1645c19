"""Full-resolution output: the model's motion applied to the photo's own pixels.

The motion model works on a square crop at its own size S (128 or 256 pixels); its frame pasted
back over a box about 1.8x the face is soft wherever the photo has more pixels than that. Here:

1. the dense deformation, a smooth field, is unfolded where it would show one place of the photo
   twice (`reenact.postprocess.folds`: a raised brow drawn again where it was), upsampled
   bilinearly to the photo's pixels and warps the photo itself (bicubic), so detail survives the
   motion;
2. the generator's frame (upsampled, colour-matched) replaces the warped photo only where content
   must be invented: where the model's source weight (`reenact.engine.backend.source_weight`: the
   pixel-skip weight or the occlusion map) is low, e.g. an opening mouth, disoccluded background.
   The weight is taken relative to the same model's weight at zero motion when that is given:
   what a model distrusts even when nothing moves (the bundled one's occlusion map is low across
   eyes and mouth of every face) is its prior, not content that motion uncovered;
3. only the region that moved is pasted: a mask of where the deformation differs from the
   identity (plus the face hull when landmarks are at hand), grown and feathered. Toward the box
   edge the motion (and the generator's share) fades out, so the warped photo meets the unmoved
   one there without a cross-fade of two pictures, which showed edges twice. Everywhere else the
   output keeps the photo's exact bytes.

Spaces, per axis (x shown; y alike), for a `CropBox` at x0 of side `side` cut to S pixels:
- image pixels: pixel j has its centre at x = j + 0.5 (`reenact.preprocess.crop`);
- box fractions: q = (x - x0) / side, in [0, 1] across the box; a map of n cells is sampled at
  cell q * n - 0.5 (bilinear, `align_corners=False`, what `reenact.geometry.resize_grid` does);
- deformation values: normalized crop coordinates that `grid_sample` reads under the model's
  `align_corners`.

The model's own identity motion (`coordinate_grid(h, w)`, the base of every sparse motion) resized
that way is not quite the identity of the crop: it reads (S - 1) / S * w / (w - 1) further from
the centre (2.4% at S = 128, w = 32), so the model's frames are slightly zoomed out even at zero
motion. The photo is warped by the displacement from that lattice identity, added to each pixel's
own position, so zero motion is the identity here; the generator's frame and weights are read with
the inverse zoom (`_model_fractions`) so that they line up with the warped photo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from reenact.geometry import coordinate_grid, resize_grid, smoothstep, warp
from reenact.postprocess.eyelids import EyelidWarp, takeover
from reenact.postprocess.folds import unfolded
from reenact.postprocess.body_hold import BodyHold
from reenact.postprocess.full_res_config import FullResConfig, body_hold, jaw_motion
from reenact.postprocess.landmark_fit import LandmarkFit
from reenact.postprocess.mouth_mask import face_hull_mask
from reenact.postprocess.paste import _match_colors, check_paste_inputs, feather_window
from reenact.postprocess.resampling import blur_matrix, interpolation_matrix, kept_inside, max_filter
from reenact.preprocess.crop import CropBox
from reenact.preprocess.gaze import iris_positions

_MIN_BASELINE = 0.05


def _model_fractions(q: np.ndarray, cells: int, size: int, align_corners: bool) -> np.ndarray:
    """Where in the model's frame (box fractions) the content of box fraction q sits, along one
    axis of a deformation lattice of `cells` points: the inverse of the lattice identity's zoom.

    q is read by the model at normalized n (the crop's own identity); the lattice identity puts n at
    lattice point t = (n + 1) (cells - 1) / 2, which sits at fraction (t + 0.5) / cells.
    """
    n = 2 * (q * size - 0.5) / (size - 1) - 1 if align_corners else 2 * q - 1
    return ((n + 1) * (cells - 1) / 2 + 0.5) / cells


def _read(maps: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """(..., m, n) maps read by interpolation matrices rows (H, m) and cols (W, n): (..., H, W)."""
    return rows @ maps @ cols.T


@dataclass(frozen=True)
class _LatticeReaders:
    """Interpolation matrices of one deformation lattice size over the box's image pixels."""

    identity: Tensor  # (h, w, 2) the model's zero motion
    motion_x: Tensor  # (W, w) the lattice read at each pixel column
    motion_y: Tensor  # (H, h)
    model_x: Tensor  # (W, S) the model's frame, bilinear, at each pixel's content (zoom undone)
    model_y: Tensor  # (H, S)
    model_cubic_x: Tensor  # (W, S) the same by cubic convolution
    model_cubic_y: Tensor  # (H, S)
    model_pixels: tuple[Tensor, Tensor]  # (W,), (H,): the same positions, model frame pixels
    upsample: Tensor  # (S, h); (S, w) is `upsample_x`
    upsample_x: Tensor


class FullResCompositor:
    """Turns rendered crops into frames of the whole photo at its own resolution (see module).

    image: (H, W, 3) uint8 RGB, the photo (the output's background); crop: (S, S, 3) uint8, the
    model's input, cut from `image` at `box`; align_corners: the model's `grid_sample` convention;
    landmarks: (68, 2) face landmarks in `image` pixels, or None; baseline_weight: (S, S) in
    [0, 1], the model's source weight for the source with its own keypoints (zero motion), or None.

    Everything that depends on the box alone (pixel positions, interpolation matrices, the box
    window, the face hull) is computed here, once per video; per frame only the region the paste
    mask reaches is worked on.
    """

    def __init__(self, image: np.ndarray, box: CropBox, crop: np.ndarray, *, align_corners: bool,
                 landmarks: np.ndarray | None = None, baseline_weight: np.ndarray | None = None,
                 config: FullResConfig | None = None) -> None:
        check_paste_inputs(image, crop, box, background_name="image")
        self.image, self.box, self.size = image, box, crop.shape[0]
        self.align_corners = bool(align_corners)
        self.config = config = config or FullResConfig()
        height, width = image.shape[:2]
        size = self.size
        # only pixels whose centres lie strictly inside the box can change (as in `paste_back`)
        self._top, self._left = max(0, math.floor(box.y0)), max(0, math.floor(box.x0))
        bottom, right = min(height, math.ceil(box.y1)), min(width, math.ceil(box.x1))
        self._x = np.arange(self._left, max(right, self._left)) + 0.5  # (W',) pixel centres
        self._y = np.arange(self._top, max(bottom, self._top)) + 0.5  # (H',)
        self._qx, self._qy = (self._x - box.x0) / box.side, (self._y - box.y0) / box.side
        self._mask_x = interpolation_matrix(self._qx * size - 0.5, size)  # (W', S)
        self._mask_y = interpolation_matrix(self._qy * size - 0.5, size)  # (H', S)
        # which model pixels each box pixel reads (for `_span`)
        self._reach_x, self._reach_y = (self._mask_x > 0).float(), (self._mask_y > 0).float()
        feather = config.box_feather * box.side
        self._window = torch.from_numpy(
            feather_window(len(self._y), box.y0 - self._top, box.y1 - self._top, feather)[:, None]
            * feather_window(len(self._x), box.x0 - self._left, box.x1 - self._left,
                             feather)[None, :])  # (H', W')
        self._blur = blur_matrix(size, config.feather * size / 2)
        self._face = self._eyelids = self._fit = self._hold = self._jaw = None
        if landmarks is not None:
            self._hold, self._jaw = body_hold(landmarks, config), jaw_motion(landmarks, config)
            self._face = self._grow(torch.from_numpy(face_hull_mask(landmarks, box, size)))
            self._eyelids = EyelidWarp(landmarks, iris_positions(image, landmarks))
            self._fit = LandmarkFit(landmarks)
        self._baseline = None
        if baseline_weight is not None:
            self._check_weight(baseline_weight, "baseline_weight")
            # a weight this low is no baseline (and dividing by it would amplify noise)
            self._baseline = torch.from_numpy(baseline_weight).float().clamp(min=_MIN_BASELINE)
        self._pixels = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()
        self._crop = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))).float()
        # output pixels per normalized crop unit as the model's grid_sample reads them
        self._pixels_per_unit = box.side * ((size - 1) / (2 * size) if self.align_corners else 0.5)
        self._readers: dict[tuple[int, int], _LatticeReaders] = {}
        # the last deformation and its result: `carried` reads the field `composite` just read
        self._last: tuple[np.ndarray, Tensor, _LatticeReaders] | None = None

    def _lattice(self, cells_y: int, cells_x: int) -> _LatticeReaders:
        """The interpolation matrices of a deformation lattice of this size (made once)."""
        if (cells_y, cells_x) not in self._readers:
            size, align = self.size, self.align_corners
            fx = _model_fractions(self._qx, cells_x, size, align) * size - 0.5
            fy = _model_fractions(self._qy, cells_y, size, align) * size - 0.5
            centres = (np.arange(size) + 0.5) / size
            self._readers[cells_y, cells_x] = _LatticeReaders(
                identity=coordinate_grid(cells_y, cells_x),
                motion_x=interpolation_matrix(self._qx * cells_x - 0.5, cells_x),
                motion_y=interpolation_matrix(self._qy * cells_y - 0.5, cells_y),
                model_x=interpolation_matrix(fx, size), model_y=interpolation_matrix(fy, size),
                model_cubic_x=interpolation_matrix(fx, size, cubic=True),
                model_cubic_y=interpolation_matrix(fy, size, cubic=True),
                model_pixels=(torch.from_numpy(fx).float(), torch.from_numpy(fy).float()),
                upsample=interpolation_matrix(centres * cells_y - 0.5, cells_y),
                upsample_x=interpolation_matrix(centres * cells_x - 0.5, cells_x))
        return self._readers[cells_y, cells_x]

    @property
    def hold(self) -> BodyHold | None:
        """How much of the motion each pixel keeps with the body held still, or None."""
        return self._hold

    def _deformation(self, deformation: np.ndarray) -> tuple[Tensor, _LatticeReaders]:
        """(h, w, 2) the frame's dense deformation, the jaw made rigid (`JawMotion`), the body held
        (`BodyHold`) and unfolded, and its lattice's readers; the last call's again for an equal
        `deformation` (not changed)."""
        if self._last is not None and np.array_equal(self._last[0], deformation):
            return self._last[1], self._last[2]
        grid = torch.from_numpy(np.ascontiguousarray(deformation, dtype=np.float32))
        readers = self._lattice(*grid.shape[:2])
        if self._jaw is not None:
            grid = readers.identity + torch.from_numpy(self._jaw.rigid(self.box, grid - readers.identity))
        if self._hold is not None:
            shift = ((grid - readers.identity) * self._pixels_per_unit).numpy()  # (h, w, 2) px
            hold = torch.from_numpy(self._hold.on_lattice(self.box, shift)).float()  # (h, w)
            grid = readers.identity + (grid - readers.identity) * hold[:, :, None]
        self._last = (np.array(deformation, copy=True), unfolded(grid), readers)
        return self._last[1], readers

    def _grow(self, mask: Tensor) -> Tensor:
        """(S, S) in [0, 1] grown by `dilation` and feathered by `feather` (module config)."""
        radius = int(round(self.config.dilation * self.size))
        if radius > 0:
            mask = max_filter(mask, radius)
        return (self._blur @ mask @ self._blur.T).clamp_(0, 1)

    def _invented(self, weight: np.ndarray) -> Tensor:
        """(S, S) in [0, 1], model frame fractions: where the generator invents content."""
        config = self.config
        trust = torch.from_numpy(weight).float()
        if self._baseline is not None:
            trust = (trust / self._baseline).clamp(max=1)
        invented = 1 - smoothstep((trust - config.invented) / (config.trusted - config.invented))
        radius = int(round(config.invented_width * self.size / 2))
        if radius > 0:  # opening: erode (a min filter), then dilate back what survived
            invented = max_filter(-max_filter(-invented, radius), radius)
        return invented

    def _moved(self, displacement: Tensor, readers: _LatticeReaders) -> Tensor:
        """(S, S) in [0, 1] over the box: where the photo moved, grown and feathered."""
        config = self.config
        magnitude = displacement.norm(dim=0)  # (h, w) output pixels
        moved = smoothstep((magnitude - config.moved_from) / (config.moved_full - config.moved_from))
        return self._grow(_read(moved, readers.upsample, readers.upsample_x))

    def _span(self, paste: Tensor) -> tuple[int, int, int, int] | None:
        """Rows [r0, r1) and columns [c0, c1) of the box's pixels that the paste mask reaches."""
        hit_rows = self._reach_y @ (paste.amax(dim=1) > 0).float()  # (H',)
        hit_cols = self._reach_x @ (paste.amax(dim=0) > 0).float()  # (W',)
        rows, cols = torch.nonzero(hit_rows)[:, 0], torch.nonzero(hit_cols)[:, 0]
        if len(rows) == 0 or len(cols) == 0:
            return None
        return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1

    def _generated(self, frame: np.ndarray, deformation: Tensor, trust: Tensor) -> Tensor:
        """(3, S, S) float 0..255: the generator's frame, colour-matched to the model's own warp of
        the source where the model trusts it."""
        generated = torch.from_numpy(frame).float()  # (S, S, 3)
        if self.config.color_match:
            grid = resize_grid(deformation[None], self.size, self.size)
            reference = warp(self._crop[None], grid, align_corners=self.align_corners)[0]
            matched = _match_colors(generated.numpy(), reference.permute(1, 2, 0).numpy(),
                                    trust.numpy())
            generated = torch.from_numpy(np.ascontiguousarray(matched, dtype=np.float32))
        return generated.permute(2, 0, 1)

    def _check(self, frame: np.ndarray, deformation: np.ndarray, weight: np.ndarray) -> None:
        s = self.size
        if not isinstance(frame, np.ndarray) or frame.shape != (s, s, 3) or frame.dtype != np.uint8:
            raise ValueError(f"frame: expected ({s}, {s}, 3) uint8, got "
                             f"{getattr(frame, 'shape', type(frame).__name__)} {getattr(frame, 'dtype', '')}")
        if not isinstance(deformation, np.ndarray) or deformation.ndim != 3 \
                or deformation.shape[2] != 2 or min(deformation.shape[:2]) < 2:
            raise ValueError(f"deformation: expected (h, w, 2) with h, w >= 2, got "
                             f"{getattr(deformation, 'shape', type(deformation).__name__)}")
        self._check_weight(weight, "weight")

    def _check_weight(self, weight: np.ndarray, name: str) -> None:
        s = self.size
        if not isinstance(weight, np.ndarray) or weight.shape != (s, s):
            raise ValueError(f"{name}: expected ({s}, {s}), got "
                             f"{getattr(weight, 'shape', type(weight).__name__)}")

    def _eye_gains(self, displacement: Tensor,
                   eye_ratios: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
        """(2,) how much wider than the model's motion makes them the eyes must open to open by
        `eye_ratios` (per eye, over the photo's opening), and (2,) how much the lids are drawn
        here (`eyelids.takeover`); None where nothing is asked."""
        if eye_ratios is None or self._eyelids is None:
            return None
        ratios = np.asarray(eye_ratios, dtype=np.float64)
        if ratios.shape != (2,) or not np.all(np.isfinite(ratios)):
            raise ValueError(f"eye_ratios: expected 2 finite numbers, got {eye_ratios!r}")
        displacement_at = lambda points: self._displacement_at(displacement, points)  # noqa: E731
        implied = self._eyelids.implied_ratios(displacement_at)
        strength = takeover(implied, ratios)
        return 1 + strength * (ratios / np.maximum(implied, 0.1) - 1), strength

    def _corrected_reader(self, readers: _LatticeReaders, correction: Tensor,
                          span: tuple[int, int, int, int]):
        """A function (maps (C, S, S) or (S, S), cubic) -> the maps read at the span's pixels
        moved by `correction` (2, h', w', output pixels): where the model's frame shows what the
        corrected warp puts at each pixel (the model's motion is near a translation locally)."""
        r0, r1, c0, c1 = span
        per_pixel = self.size / self.box.side
        fx, fy = readers.model_pixels
        x = fx[c0:c1][None, :] + correction[0] * per_pixel
        y = fy[r0:r1][:, None] + correction[1] * per_pixel
        where = torch.stack([(x + 0.5) * (2 / self.size) - 1, (y + 0.5) * (2 / self.size) - 1],
                            dim=-1)[None]

        def read(maps: Tensor, cubic: bool) -> Tensor:
            batch = maps[None] if maps.dim() == 3 else maps[None, None]
            out = F.grid_sample(batch, where, mode="bicubic" if cubic else "bilinear",
                                padding_mode="border", align_corners=False)[0]
            return out if maps.dim() == 3 else out[0]
        return read

    def _displacement_at(self, displacement: Tensor, points: np.ndarray) -> np.ndarray:
        """(N, 2) the backward displacement (photo pixels) at (N, 2) output pixels, read from
        the (2, h, w) lattice `displacement` over the box."""
        box = self.box
        where = torch.from_numpy(2 * (points - (box.x0, box.y0)) / box.side - 1).float()
        read = F.grid_sample(displacement[None], where[None, None], mode="bilinear",
                             padding_mode="border", align_corners=False)  # (1, 2, 1, N)
        return read[0, :, 0].T.double().numpy()

    @torch.no_grad()
    def carried(self, deformation: np.ndarray, points: np.ndarray, iterations: int = 4) -> np.ndarray:
        """(N, 2) where (N, 2) photo pixels `points` show in the frame whose dense deformation is
        `deformation` (as `composite` takes it), output pixels: the backward map inverted by
        fixed-point iteration (an output pixel x shows the photo at x + d(x), so x = p - d(x)),
        without the landmark fit's correction or the drawn lids."""
        grid, readers = self._deformation(deformation)
        displacement = ((grid - readers.identity) * self._pixels_per_unit).permute(2, 0, 1)
        points = np.asarray(points, np.float64)
        where = points.copy()
        for _ in range(iterations):
            where = points - self._displacement_at(displacement, where)
        return where

    @torch.no_grad()
    def composite(self, frame: np.ndarray, deformation: np.ndarray, weight: np.ndarray,
                  eye_ratios: np.ndarray | None = None,
                  landmark_targets: np.ndarray | None = None, gaze: float = 0.0) -> np.ndarray:
        """One output frame, (H, W, 3) uint8, from one `RenderedCrops` item.

        frame: (S, S, 3) uint8 the model's frame; deformation: (h, w, 2) its dense deformation
        (normalized crop coordinates, `grid_sample` order); weight: (S, S) its source weight in
        [0, 1]; eye_ratios: (2,) how open each eye (image left, right) should be relative to the
        photo's (`reenact.postprocess.eyelids`), or None to leave the lids to the model;
        landmark_targets: (68, 2) where the photo's landmarks belong in this frame (output pixels),
        to fit the motion to them (`reenact.postprocess.landmark_fit`), or None; gaze: how far the
        irises move along their eyes, half eye lengths (`eye_motion.gaze_shifts`; with eye_ratios
        only). Pixels where the paste mask is 0 keep the photo's bytes.
        """
        self._check(frame, deformation, weight)
        grid, readers = self._deformation(deformation)
        displacement = ((grid - readers.identity) * self._pixels_per_unit).permute(2, 0, 1)  # (2, h, w)
        fitted = None
        if landmark_targets is not None and self._fit is not None:
            residuals = self._fit.residuals(
                landmark_targets, lambda points: self._displacement_at(displacement, points))
            fitted = self._fit.solve(landmark_targets, residuals)
            cells_y, cells_x = grid.shape[:2]
            box = self.box  # the correction at the lattice's cells: what it moves is pasted too
            coarse = fitted.at(box.x0 + (np.arange(cells_x) + 0.5) * box.side / cells_x,
                               box.y0 + (np.arange(cells_y) + 0.5) * box.side / cells_y)
            moved = self._moved(displacement + coarse, readers)
        else:
            moved = self._moved(displacement, readers)
        paste = moved if self._face is None else torch.maximum(moved, self._face)
        result = self.image.copy()
        span = self._span(paste)
        if span is None:
            return result
        r0, r1, c0, c1 = span
        mask_y, mask_x = self._mask_y[r0:r1], self._mask_x[c0:c1]
        # toward the box's edge the motion fades out, not the picture: a cross-fade of the moved
        # photo with the unmoved one showed every edge there twice (a neckline, the hair's edge)
        window = self._window[r0:r1, c0:c1]
        alpha = _read(paste, mask_y, mask_x)  # (h', w')

        # the photo, warped at its own resolution
        shift = _read(displacement, readers.motion_y[r0:r1], readers.motion_x[c0:c1])  # (2, h', w')
        shift *= window
        correction = None
        if fitted is not None:  # faded out with the paste, where the photo's bytes take over
            correction = alpha * window * fitted.at(self._x[c0:c1], self._y[r0:r1])
            shift += correction
        height, width = self.image.shape[:2]
        columns = torch.from_numpy(self._x[c0:c1].astype(np.float32))[None, :]
        rows = torch.from_numpy(self._y[r0:r1].astype(np.float32))[:, None]
        x, y = columns + shift[0], rows + shift[1]
        eyes = self._eye_gains(displacement, eye_ratios)
        keep = None  # where the generator's pixels must not go: the lids drawn here
        if eyes is not None:
            x, y, drawn = self._eyelids.apply(x, y, *eyes, gaze=float(gaze))
            keep = 1 - drawn
        x, y = kept_inside(x, columns, width), kept_inside(y, rows, height)  # not past its edges
        where = torch.stack([x.mul_(2 / width).sub_(1), y.mul_(2 / height).sub_(1)], dim=-1)
        content = F.grid_sample(self._pixels[None], where[None], mode="bicubic",
                                padding_mode="border", align_corners=False)[0]  # (3, h', w')

        # the generator's pixels where the model invents content, near motion only
        invented = self._invented(weight)  # (S, S)
        if correction is None:
            read_model = lambda maps, cubic: _read(  # noqa: E731
                maps, (readers.model_cubic_y if cubic else readers.model_y)[r0:r1],
                (readers.model_cubic_x if cubic else readers.model_x)[c0:c1])
        else:  # the model's frame moves with the correction: what it painted stays in place
            read_model = self._corrected_reader(readers, correction, (r0, r1, c0, c1))
        mix = read_model(invented, False) * _read(moved, mask_y, mask_x) * window  # (h', w')
        if keep is not None:
            mix *= keep
        if bool((mix > 0).any()):
            generated = read_model(self._generated(frame, grid, 1 - invented), True)
            content += mix * (generated - content)

        top, left = self._top + r0, self._left + c0
        original = self.image[top:top + r1 - r0, left:left + c1 - c0]
        before = torch.from_numpy(np.ascontiguousarray(original.transpose(2, 0, 1))).float()
        blended = content.sub_(before).mul_(alpha).add_(before).round_().clamp_(0, 255)
        blended = blended.to(torch.uint8).permute(1, 2, 0).numpy()
        # where the paste weight is 0 keep the photo's bytes exactly (not a float round trip)
        result[top:top + r1 - r0, left:left + c1 - c0] = np.where((alpha > 0).numpy()[..., None],
                                                                  blended, original)
        return result
