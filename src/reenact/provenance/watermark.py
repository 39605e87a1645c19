"""An invisible, weight-free watermark that survives re-encoding and rescaling of a video.

Where it lives: every frame is reduced to a canonical 64x64 luma image (BT.709 weights, bicubic
with antialiasing), whatever its size, so a downscaled copy has the same canonical image. Its 2-D
DCT (orthonormal) between radii 3 and 18, i.e. 1.5-9 cycles per picture, is the host: low enough
to pass H.264 at CRF 28 and a 50% downscale nearly untouched, high enough to be invisible at the
strength used. A keyed permutation deals those ~250 coefficients out to the 56 code bits (the
32-bit `Payload` and its CRC-24, XOR a keyed whitening word); each bit owns 4-5 coefficients,
combined with keyed signs into one unit-norm direction whose projection is `p`.

How a bit is written (spread-transform dither modulation, a form of QIM): `p` is moved to the
nearest point of the lattice `step * Z + step / 4` for a 0 bit, or `step * Z + 3 * step / 4` for a
1 bit. The host never has to be overpowered, so the cost is small (a move of at most step / 2
along a smooth pattern: PSNR ~42-44 dB at step 50, 1.5-2 grey levels rms) while a channel may
shift `p` by up to step / 4 before the bit flips. The move is computed in the canonical domain,
upsampled to the frame (bilinear to up to a quarter of its size, then nearest: the pattern is
smooth) and added equally to R, G and B (or to the Y' plane of a video), which changes luma only.
The exact effect of that upsampling and of the detector's downsampling on each bit
(`_inverse_gain`) is inverted.

Across the frames of a video (`MarkingState`), a bit keeps the previous frame's lattice point while
its projection stays within `HYSTERESIS` (0.6) steps of it, instead of jumping to the nearest point
whenever the host drifts across half way. Each such jump changes the whole frame by a smooth
pattern that the video encoder has to code afresh: at 720p, re-targeting every frame made x264's
output ~25% bigger, with hysteresis ~13% (a mark that never re-targets: ~8%). The moves stay on
the payload's lattice, so reading is unchanged; a move can reach 0.6 step instead of 0.5.

Between re-targets the moves still follow the host, so the smooth overlay drifts a little every
frame, and rounding it to whole grey levels flips scattered pixels along its contour lines: in a
still background, 2-9% of the pixels of each frame, enough to keep x264 from skipping most
macroblocks. So the rounded overlay is also held per 16x16-pixel block (the encoder's macroblock):
a block takes the freshly rounded values only once some pixel of it has drifted `OVERLAY_HYSTERESIS`
(1) grey level from what it shows, and keeps them otherwise. On animate's 720p pasted output, in
frames without a re-target, 78 instead of 1024 of the ~2000 still macroblocks change; x264's output
is ~47% instead of ~62% bigger than unmarked (means of 4 runs) and animate's wall-time overhead
fell from 4-5% to 2-3%. The error it leaves (under a grey level per pixel) lowers the mean soft
value by ~0.02. Re-targets, each a whole-frame change, are now most of what is left.

Where black or white clips the change, the part of the move lost is estimated on a small preview
(about twice the canonical size, taken from the box reduction that reading the frame starts
with) and asked of the unclipped pixels instead. Besides reading the frame once (as the detector
does) and the final upsample and add (in place, in numpy), all the work is on the canonical
image or the preview: marking a 720p frame's Y' plane takes ~1.3 ms.

How it is read: per frame, each bit's soft value is sin(2 pi p / step) (+1 on the 0 lattice, -1
on the 1 lattice, 0 half way); soft values are averaged over the frames of a clip, so noise that
varies from frame to frame averages out. Hard decisions are checked against the CRC-24 and the
format version; if that fails, the cheapest flip of up to 4 of the 12 least reliable bits that
passes is taken (794 words tried in all; the check is affine over GF(2), so all are tested at
once through `payload.syndrome`).

Why a passing check means "marked": for content without this watermark, each bit's position on
its lattice is uniform (hosts vary by far more than a step), so each decoded bit is a fair coin
independent of the others (and of the soft values' magnitudes, which choose the bits to flip),
and any one word tried passes CRC-24 + format version with probability 2^-28. A test that tries
794 words, over `tests` clips, therefore fires by chance with probability at most
794 * tests * 2^-28 (3e-6 per 2 s clip); `Detection.false_alarm` reports that bound. Content that
carries no information (a flat frame) sits half way between lattices: soft values near 0, and the
`min_strength` guard rejects it.

Limits: designed against accidental processing (re-encoding, rescaling, mild filtering), not a
determined adversary who knows the scheme; cropping, rotation, mirroring and strong
contrast/colour changes are not handled.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import logging
import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import TypeVar

import numpy as np

from reenact.provenance.payload import (
    CHECK_BITS,
    CODE_BITS,
    Payload,
    syndrome,
    syndrome_columns,
)

logger = logging.getLogger(__name__)

LUMA_709 = np.array([0.2126, 0.7152, 0.0722])
# a frame narrower than this cannot hold the patterns without visible damage, and nothing could be
# read back from it: it is left as it is (its file's metadata still says what it is)
MIN_MARKED_SIDE = 16
# 8-bit limited range: Y' = 16 + 219/255 * luma, which is what the video writer encodes
_LIMITED_SCALE = 219 / 255
_LIMITED_LOW, _LIMITED_HIGH = 16, 235
# the canonical image is taken with PIL's bicubic antialiasing filter, after a box pre-reduction
# that leaves at least this factor for the filter: a plain box average aliases fine texture into
# the band, and a downscaled copy would then read differently
_REDUCING_GAP = 3.0
# the move is upsampled to a 1/_COARSE-size image with bilinear, then to the frame with nearest:
# the pattern is far smoother than 4 px, and full-size bilinear costs 4x more
_COARSE = 4
_OFFSET = 128  # 8-bit residual images carry value + 128
# preview pixels this close to black or white mean clipping may eat part of the move
_SATURATION_MARGIN = 8
# the clipping estimate's preview is about this many times the canonical size per side
_PREVIEW_SCALE = 2
_CACHED_ENTRIES = 8  # frame sizes (or payloads) whose tables a Watermarker keeps
_MIN_RELATIVE_GAIN = 0.2
_CLIPPING_PASSES = 1
# below this share of preview values near black or white, clipping loses too little to make up
_CLIPPED_SHARE = 0.01
# a bit re-targets to its nearest lattice point only when its projection has moved this many steps
# from the previous frame's point (0.5 would be no hysteresis)
HYSTERESIS = 0.6
# a block of the rounded overlay keeps last frame's values until some pixel of it drifts this many
# grey levels (8-bit frame units) from them
OVERLAY_HYSTERESIS = 1.0
# ... per block of this many frame pixels a side: H.264's macroblock
_OVERLAY_BLOCK = 16

_Cached = TypeVar("_Cached")


def _import_pil() -> ModuleType:
    try:
        import PIL.Image
    except ImportError as error:
        raise ImportError("watermarking needs Pillow: pip install pillow") from error
    return PIL


@dataclass(frozen=True)
class WatermarkConfig:
    """The watermark's parameters. They define format version 1: change one and marks made with
    the other setting are no longer read.

    canonical_size: side of the canonical luma image every frame is reduced to.
    band: (low, high) radius, in DCT index units of the canonical image, of the coefficients used.
    step: lattice step of a bit's projection, in 8-bit luma units; cost grows as step^2, robustness
        as step.
    key: seeds the coefficient permutation, the signs and the whitening word.
    clip_seconds: the length of video evidence is gathered over when a file is verified.
    repair_candidates, repair_flips: the decoder flips up to `repair_flips` of the
        `repair_candidates` least reliable bits when the CRC fails.
    min_strength: the smallest mean agreement between soft bits and the decoded word accepted.
    """

    canonical_size: int = 64
    band: tuple[float, float] = (3.0, 18.0)
    step: float = 50.0
    key: str = "reenact-provenance-1"
    clip_seconds: float = 2.0
    repair_candidates: int = 12
    repair_flips: int = 4
    min_strength: float = 0.05

    def __post_init__(self) -> None:
        if not 16 <= self.canonical_size <= 256:
            raise ValueError(f"canonical_size: expected 16-256, got {self.canonical_size}")
        low, high = self.band
        if not 1 <= low < high <= self.canonical_size / 2:
            raise ValueError(f"band: expected 1 <= low < high <= canonical_size / 2, "
                             f"got {self.band}")
        if not self.step > 0:
            raise ValueError(f"step: expected a positive number, got {self.step}")
        if not self.clip_seconds > 0:
            raise ValueError(f"clip_seconds: expected a positive number, got {self.clip_seconds}")
        if not 0 <= self.repair_flips <= self.repair_candidates <= CODE_BITS:
            raise ValueError(f"repair_flips, repair_candidates: expected 0 <= flips <= candidates "
                             f"<= {CODE_BITS}, got {self.repair_flips}, {self.repair_candidates}")
        if not 0 <= self.min_strength < 1:
            raise ValueError(f"min_strength: expected a number in [0, 1), got {self.min_strength}")

    @property
    def words_tried(self) -> int:
        """Words a decode may accept: the hard decision and each allowed repair of it."""
        return sum(math.comb(self.repair_candidates, count)
                   for count in range(self.repair_flips + 1))

    @property
    def false_alarm_per_test(self) -> float:
        """Bound on the chance that one clip without this watermark passes: each word tried is a
        uniformly random 56-bit word to it, and passes CRC-24 + format version with 2^-28."""
        return self.words_tried * 2.0 ** -CHECK_BITS


@dataclass(frozen=True)
class Detection:
    """What a frame or clip says about the watermark.

    present: a word passed the CRC and format check, with soft bits agreeing well enough.
    payload: the decoded payload when present.
    false_alarm: bound on the probability that content without this watermark passes the same
        test (all clips tried included); confidence = 1 - false_alarm.
    strength: mean agreement of the soft bits with the decoded word, in [-1, 1]; ~0.9 for a clean
        mark, lower after heavy compression. For an unmarked clip it says nothing.
    repaired_bits: bits flipped by the decoder to pass the check.
    frames: frames the evidence came from.
    """

    present: bool
    payload: Payload | None
    false_alarm: float
    strength: float
    repaired_bits: int
    frames: int

    @property
    def confidence(self) -> float:
        return 1.0 - self.false_alarm if self.present else 0.0

    def to_dict(self) -> dict[str, object]:
        return {"present": self.present,
                "payload": None if self.payload is None else self.payload.to_dict(),
                "confidence": self.confidence, "false_alarm": self.false_alarm,
                "strength": round(self.strength, 4), "repaired_bits": self.repaired_bits,
                "frames": self.frames}


@dataclass(frozen=True)
class _Layout:
    """The keyed arrangement of code bits in the canonical DCT.

    rows, cols: (n,) DCT indices of the coefficients used, grouped by bit; bits: (n,) the bit
    of each (non-decreasing), starts: (K,) where bit k's group starts; weights: (n,) keyed sign /
    sqrt(coefficients of its bit), so that bit k's unit-norm direction is its group's weights;
    whitening: (K,) uint8; band_end: one past the highest DCT index used.

    The directions are applied group by group (`np.add.reduceat`, a gather), not as a (K, n)
    matrix: a product with that matrix is large enough for OpenBLAS to share it out among its
    threads, which then spin for a while; with a model running on the other cores, that spinning
    cost more CPU per frame than marking the frame.
    """

    dct: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    bits: np.ndarray
    starts: np.ndarray
    weights: np.ndarray
    whitening: np.ndarray
    band_end: int


def _dct_matrix(size: int) -> np.ndarray:
    """(size, size) orthonormal DCT-II: X = D @ x @ D.T for an image x."""
    k = np.arange(size)[:, None]
    i = np.arange(size)[None, :]
    matrix = np.cos(np.pi * (2 * i + 1) * k / (2 * size)) * np.sqrt(2 / size)
    matrix[0] /= np.sqrt(2)
    return matrix


@functools.lru_cache(maxsize=4)
def _layout(config: WatermarkConfig) -> _Layout:
    size = config.canonical_size
    seed = int.from_bytes(hashlib.sha256(config.key.encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    u, v = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    radius = np.hypot(u, v)
    low, high = config.band
    chosen = rng.permutation(np.flatnonzero((radius >= low) & (radius < high)))
    if len(chosen) < CODE_BITS:
        raise ValueError(f"band: {config.band} holds {len(chosen)} coefficients, fewer than the "
                         f"{CODE_BITS} bits to carry")
    bit_of = np.arange(len(chosen)) % CODE_BITS
    signs = rng.choice([-1.0, 1.0], size=len(chosen))
    whitening = rng.integers(0, 2, CODE_BITS).astype(np.uint8)
    by_bit = np.argsort(bit_of, kind="stable")  # the order coefficients are listed in
    chosen, bits, signs = chosen[by_bit], bit_of[by_bit], signs[by_bit]
    per_bit = np.bincount(bits, minlength=CODE_BITS)
    rows, cols = np.unravel_index(chosen, (size, size))
    return _Layout(dct=_dct_matrix(size), rows=rows, cols=cols, bits=bits,
                   starts=np.concatenate([[0], np.cumsum(per_bit)[:-1]]),
                   weights=signs / np.sqrt(per_bit[bits]), whitening=whitening,
                   band_end=int(max(rows.max(), cols.max())) + 1)


def _check_frame(frame: object, name: str = "frame") -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 \
            or frame.dtype != np.uint8:
        shape = getattr(frame, "shape", None)
        dtype = getattr(frame, "dtype", type(frame).__name__)
        raise ValueError(f"{name}: expected (H, W, 3) uint8 RGB, got shape {shape} dtype {dtype}")
    return frame


def _check_plane(plane: object) -> np.ndarray:
    if not isinstance(plane, np.ndarray) or plane.ndim != 2 or plane.dtype != np.uint8:
        shape = getattr(plane, "shape", None)
        dtype = getattr(plane, "dtype", type(plane).__name__)
        raise ValueError(f"plane: expected (H, W) uint8 luma, got shape {shape} dtype {dtype}")
    return plane


def _remember(cache: dict[Hashable, _Cached], key: Hashable,
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
class _NearestMaps:
    """The nearest stage of the overlay's upsampling for one frame size.

    coarse_size: (width, height) of the bilinear stage; rows: (H,), cols: (W,) indices into it of
    each frame row and column, or None when the bilinear stage is already at the frame's size.
    """

    coarse_size: tuple[int, int]
    rows: np.ndarray | None
    cols: np.ndarray | None


class MarkingState:
    """What the frames of one video share while being marked: each bit's last lattice point.

    Pass the same state for every frame of a video (`FrameMarker` does); a frame of another size
    or payload starts afresh.
    """

    def __init__(self) -> None:
        self.targets: np.ndarray | None = None
        self.key: tuple[Payload, int, int] | None = None
        self.overlay: np.ndarray | None = None  # last frame's rounded coarse overlay
        self.frames = 0
        self.retargeted = 0  # bits that moved to another lattice point, over all frames
        self.refreshed = 0  # overlay blocks that took new values, over all frames but the first

    def update(self, projections: np.ndarray, nearest: np.ndarray, key: tuple[Payload, int, int],
               step: float) -> np.ndarray:
        """The targets for this frame: the previous point where the projection stayed within
        HYSTERESIS steps of it, else the nearest."""
        targets = nearest
        if self.key == key and self.targets is not None:
            keep = np.abs(projections - self.targets) < HYSTERESIS * step
            targets = np.where(keep, self.targets, nearest)
            self.retargeted += int(np.count_nonzero(targets != self.targets))
        else:
            self.overlay = None
        self.targets, self.key = targets, key
        self.frames += 1
        return targets

    def settle_overlay(self, exact: np.ndarray, block: int) -> np.ndarray:
        """This frame's rounded coarse overlay from its exact values (h, w): per block x block
        tile, last frame's values while all of them stay within OVERLAY_HYSTERESIS of the exact
        ones, else the exact ones rounded."""
        rounded = np.rint(exact)
        if self.overlay is None or self.overlay.shape != exact.shape:
            self.overlay = rounded
            return rounded
        height, width = exact.shape
        rows, cols = -(-height // block), -(-width // block)
        drift = np.abs(exact - self.overlay)
        if drift.shape != (rows * block, cols * block):
            drift = np.pad(drift, ((0, rows * block - height), (0, cols * block - width)))
        # each block's largest drift, as maxima of strided slices: a reduction over the axes of a
        # (rows, block, cols, block) view costs 20x more
        by_rows = functools.reduce(np.maximum, (drift[i::block] for i in range(block)))
        peaks = functools.reduce(np.maximum, (by_rows[:, i::block] for i in range(block)))
        refresh = peaks >= OVERLAY_HYSTERESIS
        self.refreshed += int(np.count_nonzero(refresh))
        mask = np.repeat(np.repeat(refresh, block, axis=0), block, axis=1)[:height, :width]
        self.overlay = np.where(mask, rounded, self.overlay)
        return self.overlay


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
        self._layout = _layout(self.config)
        self._pil = _import_pil()
        # what does not change between frames: per frame size (height, width), and per payload
        self._gains: dict[Hashable, np.ndarray] = {}
        self._nearest: dict[Hashable, _NearestMaps] = {}
        self._cosets: dict[Hashable, np.ndarray] = {}

    # -- canonical domain ----------------------------------------------------------------------

    def _reduce(self, image: object) -> np.ndarray:
        """A PIL image -> its canonical-size float array (channels kept)."""
        size = self.config.canonical_size
        small = image.resize((size, size), self._pil.Image.Resampling.BICUBIC,  # type: ignore
                             reducing_gap=_REDUCING_GAP)
        return np.asarray(small, dtype=np.float64)

    def _read_host(self, image: object) -> tuple[np.ndarray, object | None]:
        """`_reduce` done in the two steps PIL takes for it: a box reduction by whole factors
        (leaving at least _REDUCING_GAP for the filter), then bicubic over the frame's box in the
        reduced image. The same values as `_reduce`; the box-reduced image (None when there was
        none) is returned too, so that the clipping estimate's preview is made from it rather
        than by a second pass over the whole frame."""
        size = self.config.canonical_size
        width, height = image.size  # type: ignore[attr-defined]
        # PIL's own choice of factors for resize(..., reducing_gap=_REDUCING_GAP)
        factors = (int(width / size / _REDUCING_GAP) or 1, int(height / size / _REDUCING_GAP) or 1)
        if factors == (1, 1):
            return self._reduce(image), None
        reduced = image.reduce(factors)  # type: ignore[attr-defined]
        box = (0, 0, width / factors[0], height / factors[1])  # the frame, in reduced pixels
        small = reduced.resize((size, size), self._pil.Image.Resampling.BICUBIC, box=box)
        return np.asarray(small, dtype=np.float64), reduced

    def _reduce_array(self, values: np.ndarray) -> np.ndarray:
        """(h, w) float -> (N, N) float, as `_reduce`."""
        return self._reduce(self._pil.Image.fromarray(values.astype(np.float32), "F"))

    def _resize_array(self, values: np.ndarray, width: int, height: int) -> np.ndarray:
        """(N, N) float -> (height, width) float, bilinear (the overlay's first stage)."""
        image = self._pil.Image.fromarray(values.astype(np.float32), "F")
        return np.asarray(image.resize((width, height), self._pil.Image.Resampling.BILINEAR),
                          dtype=np.float64)

    def _projections(self, canonical: np.ndarray) -> np.ndarray:
        """(..., N, N) canonical luma -> (..., K) projections on the bits' directions."""
        band = self._layout.dct[:self._layout.band_end]  # only the low rows are ever read
        coefficients = band @ canonical @ band.T
        values = coefficients[..., self._layout.rows, self._layout.cols] * self._layout.weights
        return np.add.reduceat(values, self._layout.starts, axis=-1)  # (see _Layout)

    def _targets(self, projections: np.ndarray, payload: Payload) -> np.ndarray:
        """The nearest point of each bit's lattice."""
        coset = _remember(self._cosets, payload,
                          lambda: payload.to_bits() ^ self._layout.whitening)
        step = self.config.step
        offset = step / 4 + coset * (step / 2)
        return np.round((projections - offset) / step) * step + offset

    def _residual(self, moves: np.ndarray, height: int, width: int) -> np.ndarray:
        """(K,) wanted changes of the projections -> (N, N) canonical luma change that makes them
        after upsampling to height x width and the detector's downsampling."""
        amplitudes = self._inverse_gain(height, width) @ moves
        end = self._layout.band_end  # coefficients beyond the band are 0: leave them out
        coefficients = np.zeros((end, end))
        coefficients[self._layout.rows, self._layout.cols] = (self._layout.weights
                                                              * amplitudes[self._layout.bits])
        band = self._layout.dct[:end]
        return band.T @ coefficients @ band

    # -- upsampling and its effect on each bit -------------------------------------------------

    def _coarse_factor(self, height: int, width: int) -> int:
        """How much smaller than the frame the overlay is first made (1: not at all): as much as
        _COARSE, keeping the coarse image at least twice the canonical size."""
        return max(1, min(_COARSE, min(height, width) // (2 * self.config.canonical_size)))

    def _coarse_size(self, width: int, height: int, factor: int,
                     current: tuple[int, int]) -> tuple[int, int]:
        """(width, height) of the bilinear stage of `_upsample` from an image of size `current`:
        1/factor of the frame, rounded up; a side already at its target size stays."""
        return (width if width == current[0] else -(-width // factor),
                height if height == current[1] else -(-height // factor))

    def _upsample(self, image: object, width: int, height: int, factor: int) -> object:
        """Resize to width x height: bilinear, or (factor > 1) bilinear to 1/factor of the size
        then nearest. A side already at its target size is left as it is."""
        resampling = self._pil.Image.Resampling
        if factor > 1:
            coarse = self._coarse_size(width, height, factor, image.size)  # type: ignore
            image = image.resize(coarse, resampling.BILINEAR)  # type: ignore[attr-defined]
            return image.resize((width, height), resampling.NEAREST)  # type: ignore
        return image.resize((width, height), resampling.BILINEAR)  # type: ignore[attr-defined]

    def _axis_transfer(self, length: int, factor: int) -> np.ndarray:
        """(N, N) T: a canonical profile x along one axis reads back as T @ x after upsampling to
        `length` pixels and reducing again. Both resamplings are separable, so 2-D is T_h, T_w."""
        size = self.config.canonical_size
        impulses = self._pil.Image.fromarray(np.eye(size, dtype=np.float32), "F")
        # row i: impulse i, resampled along x only (the height stays `size`)
        wide = self._upsample(impulses, length, size, factor)
        back = np.asarray(wide.resize((size, size), self._pil.Image.Resampling.BICUBIC,  # type: ignore
                                      reducing_gap=_REDUCING_GAP), dtype=np.float64)
        return back.T

    def _inverse_gain(self, height: int, width: int) -> np.ndarray:
        """(K, K) inverse of G, G[j, k] = bit j's projection of bit k's unit pattern as read back
        from a height x width frame (close to the identity; not exactly, at small sizes)."""
        def make() -> np.ndarray:
            dct, rows, cols = self._layout.dct, self._layout.rows, self._layout.cols
            factor = self._coarse_factor(height, width)
            vertical = dct @ self._axis_transfer(height, factor) @ dct.T
            horizontal = dct @ self._axis_transfer(width, factor) @ dct.T
            coupling = vertical[np.ix_(rows, rows)] * horizontal[np.ix_(cols, cols)]  # (n, n)
            # G = directions @ coupling @ directions.T, summed group by group (see _Layout)
            weighted = self._layout.weights[:, None] * coupling * self._layout.weights
            starts = self._layout.starts
            gain = np.add.reduceat(np.add.reduceat(weighted, starts, axis=0), starts, axis=1)
            # pinv: a frame a few pixels wide cannot hold every pattern; mark what it can, and
            # leave out what would need a strong change to show through
            return np.linalg.pinv(gain, rcond=_MIN_RELATIVE_GAIN)

        return _remember(self._gains, (height, width), make)

    def _nearest_maps(self, height: int, width: int) -> _NearestMaps:
        """Where each frame row and column takes its overlay value from in `_upsample`'s coarse
        image. Read off PIL's own nearest resize of an image of indices, so that the overlay is
        exactly the one `_inverse_gain` was computed for."""
        def make() -> _NearestMaps:
            size = self.config.canonical_size
            factor = self._coarse_factor(height, width)
            if factor == 1:  # bilinear straight to the frame: no nearest stage
                return _NearestMaps((width, height), None, None)
            coarse_width, coarse_height = self._coarse_size(width, height, factor, (size, size))
            indices = np.arange(coarse_width * coarse_height, dtype=np.int32)
            image = self._pil.Image.fromarray(indices.reshape(coarse_height, coarse_width))
            sources = np.asarray(image.resize((width, height), self._pil.Image.Resampling.NEAREST))
            rows, cols = sources[:, 0] // coarse_width, sources[0] % coarse_width
            assert np.array_equal(sources, rows[:, None] * coarse_width + cols)  # separable
            return _NearestMaps((coarse_width, coarse_height), rows, cols)

        return _remember(self._nearest, (height, width), make)

    def _add_overlay(self, pixels: np.ndarray, residual: np.ndarray, scale: float,
                     state: MarkingState | None = None) -> None:
        """Add the residual (luma units), upsampled to the frame as `_upsample` does it and
        rounded (held per block with a video's `state`), to the (H, W) or (H, W, 3) uint8
        `pixels` in place, saturating at 0 and 255.

        Only the bilinear stage goes through PIL; the nearest stage picks the coarse image's
        columns, then rows, in numpy, and the add happens in place: done by PIL, a full-size
        layer would be made, added into a third image and copied back out of PIL, which cost as
        much as all the rest of marking a 720p frame."""
        height, width = pixels.shape[:2]
        maps = self._nearest_maps(height, width)
        exact = np.asarray(self._pil.Image.fromarray((residual * scale).astype(np.float32), "F")
                           .resize(maps.coarse_size, self._pil.Image.Resampling.BILINEAR))
        if state is None:
            values = np.rint(exact)
        else:  # the coarse image is 1/factor of the frame: a block of it covers a macroblock
            factor = self._coarse_factor(height, width)
            values = state.settle_overlay(exact, max(1, _OVERLAY_BLOCK // factor))
        coarse = (np.clip(values, -_OFFSET, 255 - _OFFSET) + _OFFSET).astype(np.uint8)  # + 128
        if maps.cols is not None:
            coarse = coarse.take(maps.cols, axis=1)  # (h, W), C order (coarse[:, cols] is not)
        if pixels.ndim == 3:  # the same change to R, G and B; (h, W, 3), as ufuncs run fastest
            coarse = np.repeat(coarse[..., None], pixels.shape[2], axis=2)

        def add(operation: np.ufunc, part: np.ndarray) -> None:
            if maps.rows is not None:
                part = part.take(maps.rows, axis=0)  # (H, W[, 3])
            operation(pixels, part, out=pixels)

        lowest, highest = int(coarse.min()) - _OFFSET, int(coarse.max()) - _OFFSET
        if int(pixels.min()) + lowest >= 0 and int(pixels.max()) + highest <= 255:
            # nothing reaches 0 or 255 (a Y' plane, in [16, 235], never does): one add that
            # wraps, of (value - 128) mod 256 = value ^ 128
            add(np.add, coarse ^ _OFFSET)
            return
        # clip(pixels + value - 128, 0, 255) without a wider type: nothing passes 255 or 0
        raise_by = np.maximum(coarse, _OFFSET) - _OFFSET
        lower_by = _OFFSET - np.minimum(coarse, _OFFSET)
        add(np.minimum, 255 - raise_by)
        add(np.add, raise_by)
        add(np.maximum, lower_by)
        add(np.subtract, lower_by)

    # -- writing -------------------------------------------------------------------------------

    def mark(self, frame: np.ndarray, payload: Payload, *,
             state: MarkingState | None = None) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> the same frame carrying `payload` (a new array); `state`: the
        video's, when the frame is one of a sequence."""
        frame = _check_frame(frame)
        return self._embed(np.ascontiguousarray(frame), payload, 0, 255, 1.0, state)

    def mark_luma_plane(self, plane: np.ndarray, payload: Payload, *,
                        state: MarkingState | None = None) -> np.ndarray:
        """(H, W) uint8 Y' of a limited-range BT.709 frame -> the same plane carrying `payload`.

        Equivalent to `mark` on the RGB frame (adding d to R, G and B adds 219/255 d to Y' and
        leaves chroma alone) at a third of the cost: what the video writer uses. Values may leave
        [16, 235] where the frame is black or white; a decoder clips them, as the RGB path does.
        """
        plane = _check_plane(plane)
        return self._embed(np.ascontiguousarray(plane), payload, _LIMITED_LOW, _LIMITED_HIGH,
                           _LIMITED_SCALE, state)

    def _embed(self, pixels: np.ndarray, payload: Payload, low: int, high: int, scale: float,
               state: MarkingState | None) -> np.ndarray:
        """Mark (H, W) or (H, W, 3) contiguous uint8 values that are `scale` * luma (+ an offset)
        and are clipped to [low, high] on display; returns a marked copy. Full-size work: one
        box reduction of the frame (the start of the canonical read, and the preview for
        clipping), a copy and the add."""
        height, width = pixels.shape[:2]
        marked = pixels.copy()
        if min(width, height) < MIN_MARKED_SIDE:
            return marked
        # the host is read exactly as the detector reads it: from the whole frame (a reduced
        # copy would alias fine periodic texture, e.g. a flag's stars, differently)
        image = self._pil.Image.fromarray(pixels)  # 'L' (sharing the array's memory) or 'RGB'
        canonical, reduced = self._read_host(image)
        projections = self._projections(
            (canonical @ LUMA_709 if canonical.ndim == 3 else canonical) / scale)
        targets = self._targets(projections, payload)
        if state is not None:
            targets = state.update(projections, targets, (payload, height, width), self.config.step)
        residual = self._residual(targets - projections, height, width)
        preview = self._preview(image if reduced is None else reduced)  # (h, w[, 3]) uint8
        near_limits = (preview < low + _SATURATION_MARGIN) | (preview > high - _SATURATION_MARGIN)
        if np.count_nonzero(near_limits) > _CLIPPED_SHARE * near_limits.size:
            residual = self._make_up_for_clipping(residual, preview.astype(np.float64),
                                                  (low, high), scale, (height, width))
        self._add_overlay(marked, residual, scale, state)
        return marked

    def _preview(self, image: object) -> np.ndarray:
        """A box-reduced copy of the frame, about _PREVIEW_SCALE times the canonical size per
        side, for the clipping estimate: at that size it estimates what clipping takes as well
        as a preview of a quarter of the frame's size did, at a fraction of the cost. `image`:
        the frame, or the box reduction `_read_host` already made of it."""
        target = _PREVIEW_SCALE * self.config.canonical_size
        factors = tuple(max(1, round(side / target)) for side in image.size)  # type: ignore
        return np.asarray(image.reduce(factors) if factors != (1, 1) else image)  # type: ignore

    def _make_up_for_clipping(self, residual: np.ndarray, preview: np.ndarray,
                              limits: tuple[int, int], scale: float,
                              frame_size: tuple[int, int]) -> np.ndarray:
        """Where black or white clips the change, part of each bit's move is lost: estimate the
        loss on the preview and ask the unclipped pixels for the rest."""
        height, width = preview.shape[:2]
        for _ in range(_CLIPPING_PASSES):
            layer = self._resize_array(residual, width, height)  # luma units, preview size
            change = layer[..., None] if preview.ndim == 3 else layer
            kept = np.clip(preview + change * scale, *limits) - preview
            kept_luma = (kept @ LUMA_709 if kept.ndim == 3 else kept) / scale
            shortfall = self._projections(self._reduce_array(kept_luma - layer))
            residual = residual - self._residual(shortfall, *frame_size)
        return residual

    # -- reading -------------------------------------------------------------------------------

    def canonical_luma(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (N, N) float canonical luma, the domain the watermark lives in."""
        frame = _check_frame(frame)
        image = self._pil.Image.fromarray(np.ascontiguousarray(frame))
        return self._reduce(image) @ LUMA_709

    def soft_bits_from_canonical(self, canonical: np.ndarray) -> np.ndarray:
        """(..., N, N) canonical luma (of any key) -> (..., K) soft code bits of this key."""
        return np.sin(2 * np.pi * self._projections(canonical) / self.config.step)

    def soft_bits(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (K,) soft code bits in [-1, 1]: +1 a sure 0, -1 a sure 1."""
        return self.soft_bits_from_canonical(self.canonical_luma(frame))

    def decode(self, soft: np.ndarray, frames: int, *, tests: int = 1) -> Detection:
        """Average soft bits of `frames` frames -> Detection; `tests`: clips tried in all."""
        return _decode(soft, frames, self.config, self._layout.whitening, tests)


@functools.lru_cache(maxsize=4)
def _flip_sets(candidates: int, max_flips: int) -> tuple[np.ndarray, ...]:
    """Per number of flips k = 1..max_flips: (C(candidates, k), k) index sets into the weakest."""
    return tuple(np.array(list(itertools.combinations(range(candidates), count)), dtype=np.int64)
                 .reshape(-1, count) for count in range(1, max_flips + 1))


def _repair(word: np.ndarray, reliability: np.ndarray,
            config: WatermarkConfig) -> tuple[int, ...] | None:
    """The cheapest set of bits (least total reliability) among the weakest whose flip makes
    `word` pass the check; () if it passes as is, None if no allowed set does."""
    target = syndrome(word)
    if target == 0:
        return ()
    weakest = np.argsort(reliability, kind="stable")[:config.repair_candidates]
    columns = syndrome_columns()[weakest]
    best, best_cost = None, np.inf
    for sets in _flip_sets(len(weakest), config.repair_flips):
        hits = sets[np.bitwise_xor.reduce(columns[sets], axis=1) == target]
        if hits.size == 0:
            continue
        costs = reliability[weakest[hits]].sum(axis=1)
        if costs.min() < best_cost:
            best, best_cost = tuple(weakest[hits[costs.argmin()]].tolist()), costs.min()
    return best


def _decode(soft: np.ndarray, frames: int, config: WatermarkConfig, whitening: np.ndarray,
            tests: int) -> Detection:
    soft = np.asarray(soft, dtype=np.float64)
    if soft.shape != (CODE_BITS,):
        raise ValueError(f"soft: expected shape ({CODE_BITS},), got {soft.shape}")
    if isinstance(tests, bool) or not isinstance(tests, int) or tests < 1:
        raise ValueError(f"tests: expected an integer >= 1, got {tests!r}")
    false_alarm = min(1.0, tests * config.false_alarm_per_test)
    coset = (soft < 0).astype(np.uint8)
    flips = _repair(coset ^ whitening, np.abs(soft), config)
    if flips is None:
        return Detection(present=False, payload=None, false_alarm=false_alarm, strength=0.0,
                         repaired_bits=0, frames=frames)
    coset[list(flips)] ^= 1
    payload = Payload.from_bits(coset ^ whitening)
    assert payload is not None  # the syndrome said so
    strength = float(np.mean(soft * (1 - 2 * coset.astype(np.float64))))
    present = strength >= config.min_strength
    return Detection(present=present, payload=payload if present else None,
                     false_alarm=false_alarm, strength=strength, repaired_bits=len(flips),
                     frames=frames)


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
