"""The canonical domain: every frame reduced to one small luma image, whatever its size, and the
bits' projections on it; and the way back, a change made there upsampled to the frame, with the
exact effect of that round trip on each bit (`inverse_gain`), which the writer inverts.

`CanonicalDomain` keeps, per frame size, what does not change between frames (the gains' inverse,
the upsampling's nearest maps).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from types import ModuleType
from typing import TypeVar

import numpy as np

from reenact.provenance.watermark.layout import LUMA_709, WatermarkConfig, layout

# the canonical image is taken with PIL's bicubic antialiasing filter, after a box pre-reduction
# that leaves at least this factor for the filter: a plain box average aliases fine texture into
# the band, and a downscaled copy would then read differently
_REDUCING_GAP = 3.0
# the move is upsampled to a 1/_COARSE-size image with bilinear, then to the frame with nearest:
# the pattern is far smoother than 4 px, and full-size bilinear costs 4x more
_COARSE = 4
_CACHED_ENTRIES = 8  # frame sizes (or payloads) whose tables a Watermarker keeps (`remember`)
_MIN_RELATIVE_GAIN = 0.2

_Cached = TypeVar("_Cached")


def import_pil() -> ModuleType:
    try:
        import PIL.Image
    except ImportError as error:
        raise ImportError("watermarking needs Pillow: pip install pillow") from error
    return PIL


def check_frame(frame: object, name: str = "frame") -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 \
            or frame.dtype != np.uint8:
        shape = getattr(frame, "shape", None)
        dtype = getattr(frame, "dtype", type(frame).__name__)
        raise ValueError(f"{name}: expected (H, W, 3) uint8 RGB, got shape {shape} dtype {dtype}")
    return frame


def check_plane(plane: object) -> np.ndarray:
    if not isinstance(plane, np.ndarray) or plane.ndim != 2 or plane.dtype != np.uint8:
        shape = getattr(plane, "shape", None)
        dtype = getattr(plane, "dtype", type(plane).__name__)
        raise ValueError(f"plane: expected (H, W) uint8 luma, got shape {shape} dtype {dtype}")
    return plane


def remember(cache: dict[Hashable, _Cached], key: Hashable,
             make: Callable[[], _Cached]) -> _Cached:
    """cache[key], made on first use; beyond _CACHED_ENTRIES keys the oldest is forgotten. Safe
    when threads share the cache (a Watermarker may serve several video writers): at worst a
    value is made twice."""
    value = cache.get(key)
    if value is None:
        value = make()
        while len(cache) >= _CACHED_ENTRIES:
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                del cache[next(iter(cache))]
        cache[key] = value
    return value


@dataclass(frozen=True)
class NearestMaps:
    """The nearest stage of the overlay's upsampling for one frame size.

    coarse_size: (width, height) of the bilinear stage; rows: (H,), cols: (W,) indices into it of
    each frame row and column, or None when the bilinear stage is already at the frame's size.
    """

    coarse_size: tuple[int, int]
    rows: np.ndarray | None
    cols: np.ndarray | None


class CanonicalDomain:
    """The canonical image of a frame and the projections of the bits on it (`config`'s layout),
    and the resampling between a frame and the canonical size."""

    def __init__(self, config: WatermarkConfig) -> None:
        self.config = config
        self.layout = layout(config)
        self.pil = import_pil()
        # what does not change between frames, per frame size (height, width)
        self._gains: dict[Hashable, np.ndarray] = {}
        self._nearest: dict[Hashable, NearestMaps] = {}

    def reduce(self, image: object) -> np.ndarray:
        """A PIL image -> its canonical-size float array (channels kept)."""
        size = self.config.canonical_size
        small = image.resize((size, size), self.pil.Image.Resampling.BICUBIC,  # type: ignore
                             reducing_gap=_REDUCING_GAP)
        return np.asarray(small, dtype=np.float64)

    def read_host(self, image: object) -> tuple[np.ndarray, object | None]:
        """`reduce` done in the two steps PIL takes for it: a box reduction by whole factors
        (leaving at least _REDUCING_GAP for the filter), then bicubic over the frame's box in the
        reduced image. The same values as `reduce`; the box-reduced image (None when there was
        none) is returned too, so that the clipping estimate's preview is made from it rather
        than by a second pass over the whole frame."""
        size = self.config.canonical_size
        width, height = image.size  # type: ignore[attr-defined]
        # PIL's own choice of factors for resize(..., reducing_gap=_REDUCING_GAP)
        factors = (int(width / size / _REDUCING_GAP) or 1, int(height / size / _REDUCING_GAP) or 1)
        if factors == (1, 1):
            return self.reduce(image), None
        reduced = image.reduce(factors)  # type: ignore[attr-defined]
        box = (0, 0, width / factors[0], height / factors[1])  # the frame, in reduced pixels
        small = reduced.resize((size, size), self.pil.Image.Resampling.BICUBIC, box=box)
        return np.asarray(small, dtype=np.float64), reduced

    def reduce_array(self, values: np.ndarray) -> np.ndarray:
        """(h, w) float -> (N, N) float, as `reduce`."""
        return self.reduce(self.pil.Image.fromarray(values.astype(np.float32), "F"))

    def resize_array(self, values: np.ndarray, width: int, height: int) -> np.ndarray:
        """(N, N) float -> (height, width) float, bilinear (the overlay's first stage)."""
        image = self.pil.Image.fromarray(values.astype(np.float32), "F")
        return np.asarray(image.resize((width, height), self.pil.Image.Resampling.BILINEAR),
                          dtype=np.float64)

    def projections(self, canonical: np.ndarray) -> np.ndarray:
        """(..., N, N) canonical luma -> (..., K) projections on the bits' directions."""
        band = self.layout.dct[:self.layout.band_end]  # only the low rows are ever read
        coefficients = band @ canonical @ band.T
        values = coefficients[..., self.layout.rows, self.layout.cols] * self.layout.weights
        return np.add.reduceat(values, self.layout.starts, axis=-1)  # (see Layout)

    def residual(self, moves: np.ndarray, height: int, width: int) -> np.ndarray:
        """(K,) wanted changes of the projections -> (N, N) canonical luma change that makes them
        after upsampling to height x width and the detector's downsampling."""
        amplitudes = self.inverse_gain(height, width) @ moves
        end = self.layout.band_end  # coefficients beyond the band are 0: leave them out
        coefficients = np.zeros((end, end))
        coefficients[self.layout.rows, self.layout.cols] = (self.layout.weights
                                                            * amplitudes[self.layout.bits])
        band = self.layout.dct[:end]
        return band.T @ coefficients @ band

    def coarse_factor(self, height: int, width: int) -> int:
        """How much smaller than the frame the overlay is first made (1: not at all): as much as
        _COARSE, keeping the coarse image at least twice the canonical size."""
        return max(1, min(_COARSE, min(height, width) // (2 * self.config.canonical_size)))

    def coarse_size(self, width: int, height: int, factor: int,
                    current: tuple[int, int]) -> tuple[int, int]:
        """(width, height) of the bilinear stage of `upsample` from an image of size `current`:
        1/factor of the frame, rounded up; a side already at its target size stays."""
        return (width if width == current[0] else -(-width // factor),
                height if height == current[1] else -(-height // factor))

    def upsample(self, image: object, width: int, height: int, factor: int) -> object:
        """Resize to width x height: bilinear, or (factor > 1) bilinear to 1/factor of the size
        then nearest. A side already at its target size is left as it is."""
        resampling = self.pil.Image.Resampling
        if factor > 1:
            coarse = self.coarse_size(width, height, factor, image.size)  # type: ignore
            image = image.resize(coarse, resampling.BILINEAR)  # type: ignore[attr-defined]
            return image.resize((width, height), resampling.NEAREST)  # type: ignore
        return image.resize((width, height), resampling.BILINEAR)  # type: ignore[attr-defined]

    def axis_transfer(self, length: int, factor: int) -> np.ndarray:
        """(N, N) T: a canonical profile x along one axis reads back as T @ x after upsampling to
        `length` pixels and reducing again. Both resamplings are separable, so 2-D is T_h, T_w."""
        size = self.config.canonical_size
        impulses = self.pil.Image.fromarray(np.eye(size, dtype=np.float32), "F")
        # row i: impulse i, resampled along x only (the height stays `size`)
        wide = self.upsample(impulses, length, size, factor)
        bicubic = self.pil.Image.Resampling.BICUBIC
        back = np.asarray(wide.resize((size, size), bicubic,  # type: ignore[attr-defined]
                                      reducing_gap=_REDUCING_GAP), dtype=np.float64)
        return back.T

    def inverse_gain(self, height: int, width: int) -> np.ndarray:
        """(K, K) inverse of G, G[j, k] = bit j's projection of bit k's unit pattern as read back
        from a height x width frame (close to the identity; not exactly, at small sizes)."""
        def make() -> np.ndarray:
            dct, rows, cols = self.layout.dct, self.layout.rows, self.layout.cols
            factor = self.coarse_factor(height, width)
            vertical = dct @ self.axis_transfer(height, factor) @ dct.T
            horizontal = dct @ self.axis_transfer(width, factor) @ dct.T
            coupling = vertical[np.ix_(rows, rows)] * horizontal[np.ix_(cols, cols)]  # (n, n)
            # G = directions @ coupling @ directions.T, summed group by group (see Layout)
            weighted = self.layout.weights[:, None] * coupling * self.layout.weights
            starts = self.layout.starts
            gain = np.add.reduceat(np.add.reduceat(weighted, starts, axis=0), starts, axis=1)
            # pinv: a frame a few pixels wide cannot hold every pattern; mark what it can, and
            # leave out what would need a strong change to show through
            return np.linalg.pinv(gain, rcond=_MIN_RELATIVE_GAIN)

        return remember(self._gains, (height, width), make)

    def nearest_maps(self, height: int, width: int) -> NearestMaps:
        """Where each frame row and column takes its overlay value from in `upsample`'s coarse
        image. Read off PIL's own nearest resize of an image of indices, so that the overlay is
        exactly the one `inverse_gain` was computed for."""
        def make() -> NearestMaps:
            size = self.config.canonical_size
            factor = self.coarse_factor(height, width)
            if factor == 1:  # bilinear straight to the frame: no nearest stage
                return NearestMaps((width, height), None, None)
            coarse_width, coarse_height = self.coarse_size(width, height, factor, (size, size))
            indices = np.arange(coarse_width * coarse_height, dtype=np.int32)
            image = self.pil.Image.fromarray(indices.reshape(coarse_height, coarse_width))
            sources = np.asarray(image.resize((width, height), self.pil.Image.Resampling.NEAREST))
            rows, cols = sources[:, 0] // coarse_width, sources[0] % coarse_width
            assert np.array_equal(sources, rows[:, None] * coarse_width + cols)  # separable
            return NearestMaps((coarse_width, coarse_height), rows, cols)

        return remember(self._nearest, (height, width), make)

    def luma(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (N, N) float canonical luma, the domain the watermark lives in."""
        frame = check_frame(frame)
        image = self.pil.Image.fromarray(np.ascontiguousarray(frame))
        return self.reduce(image) @ LUMA_709
