"""The DCT layer's soft bits after a crop and a gain (`CropGainSearch`), for the tiled
layer's decoder to use as a prior (`TileDetector.joint_detection`): a crop of 2% with a contrast
of 1.1 re-encoded at CRF 28 leaves each layer too little to decode alone at 256 px (tiled layer
16 of 24 clips, this search alone 12), and both together 22.

A crop zooms the canonical image (the DCT layer's projections move past the quarter step a bit
tolerates after a zoom of ~0.5%; an off-centre crop shifts it too) and a gain scales every
projection (the band holds no DC, so an offset does nothing): each is undone on a grid, the crop
by padding the frame back (edge pixels) before the canonical reduction, the gain by dividing the
projections. Of the grid, the
hypothesis whose soft bits are largest on average is taken. That choice is blind to the payload:
moving a projection by half a step flips its bit and keeps the size of its soft bit, and on
unmarked content a projection is uniform modulo the step, so the signs of the soft bits chosen
are still fair coins (what the false-alarm bound assumes).

Cost: one reduction of each frame added (at most `_MAX_FRAMES`) to 2x the canonical size; the
search itself (14 resamplings of each frame kept, then 88 of 4 of them, 25 gains each) runs
only when `soft_bits` is asked for: ~0.1 s."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reenact.provenance.watermark.watermarker import Watermarker

if TYPE_CHECKING:
    from reenact.io.video_decode import PlanarFrame

# the frames are kept at this many times the canonical size per side (the crop is undone there,
# to a fraction of a pixel: 4x read the same clips, 22 and 23 of 24, with 4x the resampling)
_INTERMEDIATE = 2
_MAX_FRAMES = 16  # frames kept (the DCT layer's bits hardly gain from more: the picture is noise)
# crops per side (share of the frame's side) and gains searched; a crop of 2% (1% a side) with a
# contrast of 1.1 is found at 1% and 1.06-1.125 (the mark is clipped where the contrast clips)
CROPS = tuple(round(0.001 * step, 3) for step in range(14))
GAINS = tuple(round(0.85 + 0.0125 * step, 4) for step in range(25))
# where the cut was taken, per axis: the share of it above (on the left of) what is kept. Every
# place is tried only for the crops this close to the best centred one, and chosen on the first
# `_PLACING_FRAMES`: an off-centre crop of 2% (all of it above and on the left) + contrast 1.1 +
# CRF 28, 24 clips at 256 px: 14 read with centred crops only, 17 so, 19 choosing on 8 frames or
# trying every place for every crop (verify of an unmarked 2-s clip: ~0.3 s so, 0.4-0.55 s those)
PLACES = (0.0, 0.5, 1.0)
_NEAR = 0.005
_PLACING_FRAMES = 4  # frames the off-centre cut is chosen on


class CropGainSearch:
    """Keeps reduced copies of a few frames; `soft_bits()` searches crop x gain on them."""

    def __init__(self, watermarker: Watermarker) -> None:
        self.watermarker = watermarker
        self.frames: list[np.ndarray] = []  # (4N, 4N) float32 luma

    def add(self, planar: PlanarFrame) -> None:
        if len(self.frames) >= _MAX_FRAMES:
            return
        canonical = self.watermarker.canonical
        side = _INTERMEDIATE * canonical.config.canonical_size
        image = canonical.pil.Image.fromarray(planar.y).resize(
            (side, side), canonical.pil.Image.Resampling.BICUBIC, reducing_gap=3.0)
        # Y' alone: exact luma for a BT.709 file, and the gain search covers the rest
        self.frames.append(planar.luma_709(np.asarray(image, dtype=np.float64)).astype(np.float32))

    def soft_bits(self) -> SearchResult | None:
        """The soft bits averaged over the frames kept at the crop, place and gain whose soft bits
        are largest on average; None without frames. Centred crops are tried first; then every
        place of the cut (`PLACES` on each axis) for the crops within `_NEAR` of the best."""
        if not self.frames:
            return None
        best = self._best_of([(crop, 0.5, 0.5) for crop in CROPS], self.frames)
        near = [(crop, top, left) for crop in CROPS if abs(crop - best.crop) <= _NEAR
                for top in PLACES for left in PLACES if (top, left) != (0.5, 0.5) and crop]
        if near:  # chosen on a few frames (the resampling is what costs), then read on all
            chosen = self._best_of(near, self.frames[:_PLACING_FRAMES])
            off_centre = self._best_of([(chosen.crop, *chosen.place)], self.frames)
            if off_centre.size > best.size:
                best = off_centre
        return best

    def _best_of(self, cuts: list[tuple[float, float, float]],
                 frames: list[np.ndarray]) -> SearchResult:
        """The best gain of the best of `cuts` in `frames`: (crop a side on average, share of the
        cut taken above, share taken on the left)."""
        canonical = self.watermarker.canonical
        best: SearchResult | None = None
        for crop, top, left in cuts:
            projections = np.stack([canonical.projections(self._uncropped(frame, crop, top, left))
                                    for frame in frames])  # (F, K)
            for gain in GAINS:
                soft = np.sin(2 * np.pi * projections / (gain * canonical.config.step)).mean(axis=0)
                size = float(np.mean(np.abs(soft)))
                if best is None or size > best.size:
                    best = SearchResult(soft, crop, (top, left), gain, size)
        assert best is not None
        return best

    def _uncropped(self, frame: np.ndarray, crop: float, top: float, left: float) -> np.ndarray:
        """(2N, 2N) -> (N, N) canonical image of the frame `frame` was cut from, had 2 `crop` of
        each axis been cut off, `top` and `left` of it above and on the left (the missing edge
        repeated)."""
        canonical = self.watermarker.canonical
        size, side = canonical.config.canonical_size, frame.shape[0]
        if not crop:
            image = canonical.pil.Image.fromarray(frame, "F")
            box = (0.0, 0.0, float(side), float(side))
        else:
            cut = side * 2 * crop / (1 - 2 * crop)  # intermediate pixels cut off each axis
            margin = math.ceil(cut) + 1
            image = canonical.pil.Image.fromarray(np.pad(frame, margin, mode="edge"), "F")
            y, x = margin - cut * top, margin - cut * left
            box = (x, y, x + side + cut, y + side + cut)
        return np.asarray(image.resize((size, size), canonical.pil.Image.Resampling.BICUBIC,
                                       box=box), dtype=np.float64)


@dataclass(frozen=True)
class SearchResult:
    """soft: (K,) the DCT layer's soft bits averaged over the frames (> 0 a 0 of the coset
    word); crop: cut off each axis, as a share of the side, half of it; place: (top, left)
    shares of the cut taken above and on the left (0.5, 0.5: centred); gain: the contrast
    undone; size: the soft bits' mean size, what chose them."""

    soft: np.ndarray
    crop: float
    place: tuple[float, float]
    gain: float
    size: float

    def describe(self) -> str:
        where = {(0.5, 0.5): "centred"}.get(self.place, f"{self.place[0]:.0%} of it above, "
                                                       f"{self.place[1]:.0%} on the left")
        return f"crop {2 * self.crop:.1%} ({where}), gain {self.gain:.3f}"
