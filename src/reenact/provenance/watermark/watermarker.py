"""The watermark's public face: `Watermarker` writes and reads it, `WatermarkDetector` gathers
evidence frame by frame, `detect` reads a clip."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from reenact.provenance.payload import CODE_BITS, Payload
from reenact.provenance.watermark.canonical import CanonicalDomain
from reenact.provenance.watermark.decode import Detection, decode_soft, soft_bits
from reenact.provenance.watermark.embed import Embedder
from reenact.provenance.watermark.layout import WatermarkConfig
from reenact.provenance.watermark.sync import MarkingState


class Watermarker:
    """Writes and reads the watermark; caches per frame size what does not change between frames.

    ```
    marker = Watermarker()
    marked = marker.mark(frame, payload)        # (H, W, 3) uint8 RGB -> same
    state = MarkingState()                      # for the frames of one video:
    marked = [marker.mark(frame, payload, state=state) for frame in frames]
    soft = marker.soft_bits(marked)             # (56,) in [-1, 1]
    ```
    """

    def __init__(self, config: WatermarkConfig | None = None) -> None:
        self.config = config or WatermarkConfig()
        self.canonical = CanonicalDomain(self.config)
        self.embedder = Embedder(self.canonical)

    def mark(self, frame: np.ndarray, payload: Payload, *,
             state: MarkingState | None = None) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> the same frame carrying `payload` (a new array); `state`: the
        video's, when the frame is one of a sequence."""
        return self.embedder.mark(frame, payload, state=state)

    def mark_luma_plane(self, plane: np.ndarray, payload: Payload, *,
                        state: MarkingState | None = None) -> np.ndarray:
        """(H, W) uint8 Y' of a limited-range BT.709 frame -> the same plane carrying `payload`
        (`Embedder.mark_luma_plane`: what the video writer uses)."""
        return self.embedder.mark_luma_plane(plane, payload, state=state)

    def canonical_luma(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (N, N) float canonical luma, the domain the watermark lives in."""
        return self.canonical.luma(frame)

    def soft_bits_from_canonical(self, canonical: np.ndarray) -> np.ndarray:
        """(..., N, N) canonical luma (of any key) -> (..., K) soft code bits of this key."""
        return soft_bits(self.canonical, canonical)

    def soft_bits(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (K,) soft code bits in [-1, 1]: +1 a sure 0, -1 a sure 1."""
        return self.soft_bits_from_canonical(self.canonical_luma(frame))

    def decode(self, soft: np.ndarray, frames: int, *, tests: int = 1) -> Detection:
        """Average soft bits of `frames` frames -> Detection; `tests`: clips tried in all."""
        return decode_soft(soft, frames, self.config, self.canonical.layout.whitening, tests)


class WatermarkDetector:
    """Gathers evidence frame by frame; `detection()` decodes what was gathered so far.

    ```
    detector = WatermarkDetector()
    for frame in frames:
        detector.add(frame)
    result = detector.detection()
    ```
    """

    def __init__(self, config: WatermarkConfig | None = None,
                 watermarker: Watermarker | None = None) -> None:
        self.watermarker = watermarker or Watermarker(config)
        self.config = self.watermarker.config
        self.reset()

    def reset(self) -> None:
        self._sum = np.zeros(CODE_BITS)
        self.frames = 0

    def add(self, frame: np.ndarray) -> None:
        self._sum += self.watermarker.soft_bits(frame)
        self.frames += 1

    def add_soft(self, soft: np.ndarray, frames: int = 1) -> None:
        """Add the summed soft bits of `frames` frames (e.g. from another detector)."""
        self._sum += soft
        self.frames += frames

    @property
    def soft_sum(self) -> np.ndarray:
        return self._sum.copy()

    def detection(self, *, tests: int = 1) -> Detection:
        if self.frames == 0:
            raise ValueError("detection: no frames were added")
        return self.watermarker.decode(self._sum / self.frames, self.frames, tests=tests)


def detect(frames: Iterable[np.ndarray], config: WatermarkConfig | None = None) -> Detection:
    """Decode the watermark from (H, W, 3) uint8 RGB frames, all taken as one clip."""
    detector = WatermarkDetector(config)
    for frame in frames:
        detector.add(frame)
    return detector.detection()
