"""The watermark's parameters and where its bits live in a frame.

Where it lives: every frame is reduced to a canonical 64x64 luma image (BT.709 weights, bicubic
with antialiasing), whatever its size, so a downscaled copy has the same canonical image. Its 2-D
DCT (orthonormal) between radii 3 and 18, i.e. 1.5-9 cycles per picture, is the host: low enough
to pass H.264 at CRF 28 and a 50% downscale nearly untouched, high enough to be invisible at the
strength used. A keyed permutation deals those ~250 coefficients out to the 56 code bits (the
32-bit `Payload` and its CRC-24, XOR a keyed whitening word); each bit owns 4-5 coefficients,
combined with keyed signs into one unit-norm direction whose projection is `p`.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass

import numpy as np

from reenact.provenance.payload import CHECK_BITS, CODE_BITS

LUMA_709 = np.array([0.2126, 0.7152, 0.0722])


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
class Layout:
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


def dct_matrix(size: int) -> np.ndarray:
    """(size, size) orthonormal DCT-II: X = D @ x @ D.T for an image x."""
    k = np.arange(size)[:, None]
    i = np.arange(size)[None, :]
    matrix = np.cos(np.pi * (2 * i + 1) * k / (2 * size)) * np.sqrt(2 / size)
    matrix[0] /= np.sqrt(2)
    return matrix


@functools.lru_cache(maxsize=4)
def layout(config: WatermarkConfig) -> Layout:
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
    return Layout(dct=dct_matrix(size), rows=rows, cols=cols, bits=bits,
                  starts=np.concatenate([[0], np.cumsum(per_bit)[:-1]]),
                  weights=signs / np.sqrt(per_bit[bits]), whitening=whitening,
                  band_end=int(max(rows.max(), cols.max())) + 1)
