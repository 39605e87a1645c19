"""What the marked writers do to every frame of a run: the visible label (if asked for), then the
invisible watermark's two layers: the tiled layer (`watermark.tiles`: survives crops, pads, flips,
small rotations, tone changes and overlays), then the DCT layer (`watermark.embed`: survives strong
re-encoding and downscaling; it reads the frame with the tiled layer in it, so neither disturbs the
other's bits). Video frames whose short side is 112 to 223 px (`TileConfig.alone_from`,
`alone_below`) get the tiled layer alone, at the energy of both (`TileConfig.alone_rms`): the DCT layer's overlay follows the
picture and so changes most pixels of every frame, which makes the encoder re-code the still
tiled pattern at P-frame quality, and at that size the DCT layer's own strength (reading after a
50% downscale + CRF 28) is gone anyway (benchmarks/watermark_robustness.py, docs/provenance.md).
Images (one frame, no re-coding) keep both layers. `reenact.provenance.writers` owns one
`FrameMarker` per output file and has no switch to skip it, so no pipeline can write an unmarked
video or image."""

from __future__ import annotations

import functools

import numpy as np

from reenact.provenance.label import LabelPainter
from reenact.provenance.record import Provenance
from reenact.provenance.watermark import MarkingState, WatermarkConfig, Watermarker
from reenact.provenance.watermark.tiles import TileConfig, TileMarker


@functools.lru_cache(maxsize=4)
def _watermarker(config: WatermarkConfig | None) -> Watermarker:
    """The process's Watermarker for `config`, shared by the files it writes: its tables per
    frame size (an SVD each, after which BLAS threads spin for a while) are made once."""
    return Watermarker(config)


@functools.lru_cache(maxsize=4)
def _tile_marker(config: TileConfig | None) -> TileMarker:
    """The process's TileMarker: its integer overlay per frame size is made once."""
    return TileMarker(config)


class FrameMarker:
    """Marks frames for one run.

    ```
    marker = FrameMarker(Provenance.new(model={"name": "vox-256"}, label="AI-generated"))
    frame = marker.mark(frame)                  # (H, W, 3) uint8 RGB -> marked copy
    ```
    The video writer splits the work: `label` on the RGB frame, `mark_luma_plane` on its Y'
    plane after the colour conversion (cheaper, the same result).
    """

    def __init__(self, provenance: Provenance, config: WatermarkConfig | None = None,
                 tile_config: TileConfig | None = None) -> None:
        self.provenance = provenance
        self.payload = provenance.payload()
        self._watermarker = _watermarker(config)
        self._tiles = _tile_marker(tile_config)
        self._painter = LabelPainter(provenance.label) if provenance.label else None
        self.state = MarkingState()

    def label(self, frame: np.ndarray) -> np.ndarray:
        """The frame with the visible label, or the frame itself when the run has none."""
        return frame if self._painter is None else self._painter.paint(frame)

    def mark(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> labelled and watermarked copy."""
        tiled = self._tiles.mark(self.label(frame), self.payload)
        return self._watermarker.mark(tiled, self.payload, state=self.state)

    def mark_luma_plane(self, plane: np.ndarray) -> np.ndarray:
        """(H, W) uint8 limited-range BT.709 Y' of a video frame -> watermarked copy. A frame
        whose short side is in [`TileConfig.alone_from`, `TileConfig.alone_below`) gets the
        tiled layer alone, with the energy of both (see the module docstring)."""
        if self._tiles.alone(*plane.shape[:2]):
            return self._tiles.mark_luma_plane(plane, self.payload, alone=True)
        tiled = self._tiles.mark_luma_plane(plane, self.payload)
        return self._watermarker.mark_luma_plane(tiled, self.payload, state=self.state)
