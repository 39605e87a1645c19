"""What `verify` reads from a decoded frame besides the whole frame's DCT bits: the canonical
luma of the frame or of its content inside borders (`canonical_luma`), the DCT layer's evidence
inside borders (`BorderedEvidence`), and the tiled layer decoded again with the DCT layer's bits
after a crop x gain search (`with_dct_prior`)."""

from __future__ import annotations

import dataclasses

import numpy as np

from reenact.io.video_decode import BT709_MATRIX, PlanarFrame
from reenact.provenance.watermark import Detection, Watermarker
from reenact.provenance.watermark.dct_search import CropGainSearch
from reenact.provenance.watermark.tile_detect import TileDetection, TileDetector

_MAX_RECTANGLES = 4  # content rectangles the DCT layer reads a video's borders at


def with_dct_prior(tiles: TileDetector, search: CropGainSearch, tests: int) -> TileDetection:
    """The tiled layer's sharpest sync peaks decoded again with the DCT layer's soft bits as a
    prior, read after the crop and gain that fit them best (`dct_search`): where a crop, a tone
    change and strong compression leave each layer too little alone. `tests`: the tiled layer's
    looks, this one included."""
    searched = search.soft_bits()
    if searched is None:
        return tiles.detection(tests=tests)
    # the DCT layer's soft bits are of the code bits XOR its whitening: undo it
    prior = searched.soft * (1.0 - 2.0 * search.watermarker.canonical.layout.whitening)
    joint = tiles.joint_detection(prior, tests=tests)
    if not joint.detection.present:
        return joint
    return dataclasses.replace(joint, transform=f"{joint.transform}; with the DCT layer's bits "
                               f"({searched.describe()})")


class BorderedEvidence:
    """The DCT layer's soft bits of the content inside borders (letterbox, pillarbox, the canvas
    of a screen recording: `borders.content_rect`), summed per content rectangle (the first
    `_MAX_RECTANGLES`: borders that keep changing are not followed). Each `detection()` decodes
    every rectangle's sum; `tests` counts those decodes for the false-alarm bound."""

    def __init__(self, watermarker: Watermarker) -> None:
        self.watermarker = watermarker
        self.sums: dict[tuple[int, int, int, int], list] = {}  # rect: [soft sum, frames]
        self.tests = 0

    def add(self, planar: PlanarFrame, rect: tuple[int, int, int, int] | None) -> None:
        if rect is None or (rect not in self.sums and len(self.sums) >= _MAX_RECTANGLES):
            return
        soft = self.watermarker.soft_bits_from_canonical(
            canonical_luma(self.watermarker, planar, rect))
        entry = self.sums.setdefault(rect, [np.zeros_like(soft), 0])
        entry[0] += soft
        entry[1] += 1

    def detection(self) -> tuple[Detection, tuple[int, int, int, int]] | None:
        """(detection, rectangle) of the first rectangle whose sum decodes, or None."""
        for rect, (soft, frames) in self.sums.items():
            self.tests += 1
            detection = self.watermarker.decode(soft / frames, frames)
            if detection.present:
                return detection, rect
        return None


def cut_borders(rect: tuple[int, int, int, int], shape: tuple[int, int]) -> str:
    top, left, height, width = rect
    return f"cutting borders (content {width}x{height} at {left},{top} of {shape[1]}x{shape[0]})"


def canonical_luma(watermarker: Watermarker, planar: PlanarFrame,
                    rect: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """(N, N) canonical BT.709 luma of a decoded frame (or of its `rect`, (top, left, height,
    width) in luma pixels), as `Watermarker.canonical_luma` makes it of the frame's RGB (the DCT
    layer's lattice is set in that luma, so another one, e.g. Y' of a BT.601 file, would misread
    it), from the planes: reduction is linear, so the canonical luma is the conversion of the
    planes' canonical images (each reduced in 8 bits, as RGB was)."""
    reduce = watermarker.canonical.reduce
    pil = watermarker.canonical.pil.Image
    y = reduce(pil.fromarray(_part(planar.y, rect, planar.y.shape)))
    if planar.chroma is None or planar.matrix == BT709_MATRIX:
        return planar.luma_709(y)
    cb, cr = (reduce(pil.fromarray(_part(plane, rect, planar.y.shape)))
              for plane in planar.chroma)
    return planar.luma_709(y, cb, cr)


def _part(plane: np.ndarray, rect: tuple[int, int, int, int] | None,
          luma_shape: tuple[int, int]) -> np.ndarray:
    """`plane` cut to `rect` (luma pixels; a subsampled chroma plane at its own scale)."""
    if rect is None:
        return plane
    top, left, height, width = rect
    rows, cols = plane.shape[0] / luma_shape[0], plane.shape[1] / luma_shape[1]
    return np.ascontiguousarray(plane[round(top * rows):round((top + height) * rows),
                                      round(left * cols):round((left + width) * cols)])
