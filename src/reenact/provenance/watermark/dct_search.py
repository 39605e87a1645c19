"""The DCT layer's soft bits after a centred crop and a gain (`CropGainSearch`), for the tiled
layer's decoder to use as a prior (`TileDetector.joint_detection`): a crop of 2% with a contrast
of 1.1 re-encoded at CRF 28 leaves each layer too little to decode alone at 256 px (tiled layer
16 of 24 clips, this search alone 12), and both together 22.

A crop zooms the canonical image (the DCT layer's projections move past the quarter step a bit
tolerates after a zoom of ~0.5%) and a gain scales every projection (the band holds no DC, so
an offset does nothing): each is undone on a grid, the crop by padding the frame back (edge
pixels) before the canonical reduction, the gain by dividing the projections. Of the grid, the
hypothesis whose soft bits are largest on average is taken. That choice is blind to the payload:
moving a projection by half a step flips its bit and keeps the size of its soft bit, and on
unmarked content a projection is uniform modulo the step, so the signs of the soft bits chosen
are still fair coins (what the false-alarm bound assumes).

Cost: one reduction of each frame added (at most `_MAX_FRAMES`) to 2x the canonical size; the
search itself (14 resamplings of each frame kept, 25 gains each) runs only when `soft_bits` is
asked for: ~20-30 ms."""

from __future__ import annotations

import math
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

    def soft_bits(self) -> tuple[np.ndarray, float, float] | None:
        """(K,) soft bits averaged over the frames kept, at the crop x gain whose soft bits are
        largest on average, with that crop (per side) and gain; None without frames."""
        if not self.frames:
            return None
        best: tuple[float, np.ndarray, float, float] | None = None
        for crop in CROPS:
            size, soft, gain = self._best_gain(self.frames, crop)
            if best is None or size > best[0]:
                best = (size, soft, crop, gain)
        assert best is not None
        return best[1], best[2], best[3]

    def _best_gain(self, frames: list[np.ndarray],
                   crop: float) -> tuple[float, np.ndarray, float]:
        """(mean size, soft bits, gain) of the gain whose soft bits of `frames`, uncropped by
        `crop`, are largest on average."""
        canonical = self.watermarker.canonical
        projections = np.stack([canonical.projections(self._uncropped(frame, crop))
                                for frame in frames])  # (F, K)
        best: tuple[float, np.ndarray, float] | None = None
        for gain in GAINS:
            soft = np.sin(2 * np.pi * projections / (gain * canonical.config.step)).mean(axis=0)
            size = float(np.mean(np.abs(soft)))
            if best is None or size > best[0]:
                best = (size, soft, gain)
        assert best is not None
        return best

    def _uncropped(self, frame: np.ndarray, crop: float) -> np.ndarray:
        """(4N, 4N) -> (N, N) canonical image of the frame `frame` would be the middle of, had
        `crop` of each side been cut off (the missing edge repeated)."""
        canonical = self.watermarker.canonical
        size, side = canonical.config.canonical_size, frame.shape[0]
        pad = side * crop / (1 - 2 * crop)  # intermediate pixels a side
        margin = math.ceil(pad) + 1
        padded = np.pad(frame, margin, mode="edge") if crop else frame
        start = margin - pad if crop else 0.0
        image = canonical.pil.Image.fromarray(padded, "F")
        box = (start, start, start + side + 2 * pad, start + side + 2 * pad)
        return np.asarray(image.resize((size, size), canonical.pil.Image.Resampling.BICUBIC,
                                       box=box), dtype=np.float64)
