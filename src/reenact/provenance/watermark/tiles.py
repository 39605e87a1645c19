"""The tiled layer: a keyed spread-spectrum tile repeated over the frame, which survives what
re-posting does to a video (crops, pads, letterboxes, flips, small rotations, gain, contrast,
gamma, logos and subtitles) where the DCT layer (`embed`, `decode`) does not.

How it is written: the frame is seen on a working grid whose short side is `working_side` (96)
pixels; on that grid a `tile` x `tile` (32 x 32) pattern of +-1 chips repeats from the frame's
top-left corner. A keyed `sync_share` (3/8) of a tile's chips are the sync pattern; the others
carry the 56 code bits (the `Payload` and its CRC-24, whitened) through the rate-1/2 convolutional
code of `convolutional` (124 coded bits), each coded bit spread over ~5 chips whose keyed signs it
flips. The pattern is upsampled to the frame (bilinear, periodic), scaled by `amplitude`
grey levels (2.2; on video frames of `alone_from` to `alone_below` px (112-223), which get no DCT layer, whatever
amplitude gives `alone_rms`, 2.4: PSNR 40.5 dB, as both layers), rounded once per frame size and added to luma: the same
integer overlay on every frame, which the encoder codes once in a still background. The
detector does not depend on the amplitude.

How it is read (`tile_detect.TileDetector`): each frame's luma (inside its content rectangle, once with and
once without black or uniform borders cut off) is resampled to the working grid, high-passed and
divided by its local detail energy (so gain, contrast, gamma and range changes barely matter, and
flat areas, where the picture hides the mark least, count most), then,
for every hypothesis of flip x rotation x scale, resampled accordingly and folded: all tiles summed
into one (crops, pads and overlays only cost tiles; a shift becomes a cyclic shift). Folded tiles
are summed over the frames of a clip (before folding: folding is linear) and the sum's
spectrum is whitened (the picture left after the high-pass is far from white noise). The
detector samples the working grid twice per chip, so the cyclic shift is found to half a chip by
correlating the folded tile with the sync pattern (FFT); the hypotheses with the sharpest sync
peaks are decoded (soft coded bits at that shift or the neighbouring one where the payload chips
carry the most energy, a list Viterbi search whose `list_size` (8) best
words are checked against the CRC in turn: at the signal-to-noise ratio a 256-px clip re-encoded
at CRF 23 left with the first detector, ~1 per coded bit, 85% of words decode instead of 62% with
the best word alone; this one leaves ~1.3).

False alarms: on content without this mark, the shift and hypothesis are chosen from the sync
chips and the payload chips' energy, which their keyed signs do not change, so those signs make
the soft coded bits independent of the code;
each word the list search returns is then a fair coin per bit, and passes CRC-24 + format version
with probability 2^-28. The bound reported multiplies that by the words checked (`list_size`), by
every hypothesis searched (flips x angles x scales x content rectangles), not only the ones
decoded, and by the looks `verify` takes (after 1, 4, 16, ... clips and at the end): 8 x 70 x 2
x 2^-28 = 4e-6 per look. When nothing reads, `verify` decodes the sharpest peaks once more with the
DCT layer's bits as a prior (`TileDetector.joint_detection`): at most `_DECODED_HYPOTHESES` x
`list_size` words, counted as one more look; the prior's signs are fair coins on unmarked content,
so its words are too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from reenact.provenance.payload import CODE_BITS, Payload
from reenact.provenance.watermark.canonical import check_frame, check_plane, remember
from reenact.provenance.watermark.convolutional import coded_length, encode

_LIMITED_SCALE = 219 / 255  # Y' = 16 + 219/255 luma: what the video writer encodes


@dataclass(frozen=True)
class TileConfig:
    """Parameters of the tiled layer (format 1 of it: change the key, the working grid, the tile,
    the sync share and old marks are not read; the amplitudes and `alone_below` only change what
    is written, not what is read).

    key: seeds the chip signs, the chips' roles and the whitening word.
    working_side: short side of the working grid the pattern is defined on, in pixels.
    tile: side of the repeated tile, in working pixels (one chip per working pixel).
    amplitude: peak change of a chip, in 8-bit luma units, where the DCT layer is written too.
    alone_from, alone_below: video frames whose short side is in [alone_from, alone_below) carry
        the tiled layer alone (no DCT layer), with `alone_rms`: the energy of both layers in one.
    alone_rms: rms change of luma (8-bit units) where the tiled layer is alone (2.4: PSNR 40.5 dB
        before rounding and clipping). The chips' amplitude is set per frame size to give it: how
        much the bilinear upsampling smooths the chips, and so the rms of a given amplitude,
        depends on the frame size (at 96 px, a pixel per chip, rms = amplitude; at 112-223 px the
        amplitude comes to ~3.5).
    flips, angles, scales: the geometric hypotheses the detector searches (degrees; scale > 1 means
        the content was enlarged, e.g. by a crop that was scaled back or kept).
    sync_share: the share of a tile's chips that are the sync pattern (the rest carry the code).
    min_sync: the smallest sync peak (in standard deviations of the correlation map) decoded.
    list_size: words of the list Viterbi search checked against the CRC per decoded hypothesis
        (each one more chance for a false alarm, counted in the bound).
    """

    key: str = "reenact-tiles-2"
    working_side: int = 96
    tile: int = 32
    amplitude: float = 2.2
    alone_from: int = 112
    alone_below: int = 224
    alone_rms: float = 2.4
    flips: tuple[bool, ...] = (False, True)
    angles: tuple[float, ...] = (0.0, -0.5, 0.5, -1.0, 1.0)
    scales: tuple[float, ...] = (1.0, 1.005, 1.01, 1.015, 1.02, 1.025, 0.995)
    sync_share: float = 0.375
    min_sync: float = 4.0
    list_size: int = 8

    def __post_init__(self) -> None:
        if not 32 <= self.working_side <= 512:
            raise ValueError(f"working_side: expected 32-512, got {self.working_side}")
        if not 8 <= self.tile <= self.working_side or self.tile ** 2 < 4 * coded_length(CODE_BITS):
            raise ValueError(f"tile: expected 8..working_side with room for "
                             f"{coded_length(CODE_BITS)} coded bits, got {self.tile}")
        if not self.working_side <= self.alone_from <= self.alone_below:
            raise ValueError(f"alone_from, alone_below: expected working_side ({self.working_side})"
                             f" <= alone_from <= alone_below, got {self.alone_from}, "
                             f"{self.alone_below}")
        if not 0.1 <= self.sync_share <= 0.9:
            raise ValueError(f"sync_share: expected 0.1-0.9, got {self.sync_share}")
        for name in ("amplitude", "alone_rms"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: expected a positive number, got {getattr(self, name)}")
        if not 1 <= self.list_size <= 64:
            raise ValueError(f"list_size: expected 1-64, got {self.list_size}")
        if not self.flips or not self.angles or not self.scales:
            raise ValueError("flips, angles, scales: expected at least one hypothesis each")

    @property
    def hypotheses(self) -> int:
        return len(self.flips) * len(self.angles) * len(self.scales)

    @property
    def words_tried(self) -> int:
        """Words checked per decoded hypothesis: the list Viterbi search's list."""
        return self.list_size


@dataclass(frozen=True)
class TileLayout:
    """signs: (T, T) +-1; sync: (T, T) bool, the sync chips; bit_of: (T, T) int, the coded bit
    of each payload chip (-1 on sync chips); whitening: (K,) uint8, XORed onto the code bits
    before the convolutional code."""

    signs: np.ndarray
    sync: np.ndarray
    bit_of: np.ndarray
    whitening: np.ndarray


def tile_layout(config: TileConfig) -> TileLayout:
    seed = int.from_bytes(hashlib.sha256(config.key.encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    chips = config.tile ** 2
    signs = rng.choice([-1.0, 1.0], size=chips)
    order = rng.permutation(chips)
    bit_of = np.full(chips, -1)
    payload_chips = order[round(chips * config.sync_share):]
    bit_of[payload_chips] = np.arange(len(payload_chips)) % coded_length(CODE_BITS)
    whitening = rng.integers(0, 2, CODE_BITS).astype(np.uint8)
    shape = (config.tile, config.tile)
    return TileLayout(signs.reshape(shape), (bit_of < 0).reshape(shape), bit_of.reshape(shape),
                      whitening)


def working_scale(height: int, width: int, config: TileConfig) -> float:
    """Working pixels per frame pixel."""
    return config.working_side / min(height, width)


class TileMarker:
    """Writes the tiled layer; keeps the integer overlay per (payload, frame size, range)."""

    def __init__(self, config: TileConfig | None = None) -> None:
        self.config = config or TileConfig()
        self.layout = tile_layout(self.config)
        self._overlays: dict[Hashable, np.ndarray] = {}

    def pattern(self, payload: Payload) -> np.ndarray:
        """(T, T) +-1 chips of `payload`'s tile."""
        code = encode(payload.to_bits() ^ self.layout.whitening)
        values = np.where(self.layout.sync, 1.0, 1.0 - 2.0 * code[np.maximum(self.layout.bit_of, 0)])
        return self.layout.signs * values

    def overlay(self, payload: Payload, height: int, width: int, scale: float,
                alone: bool = False) -> np.ndarray:
        """(H, W) int16: the rounded change of `scale` * luma that carries `payload`: chips of
        `amplitude` grey levels of luma, or (`alone`) of whatever amplitude gives `alone_rms`."""
        def make() -> np.ndarray:
            step = working_scale(height, width, self.config)
            rows = _periodic_bilinear_axis(height, step, self.config.tile)
            cols = _periodic_bilinear_axis(width, step, self.config.tile)
            # separable bilinear: rows then columns, each a (length, T) interpolation matrix
            values = rows @ self.pattern(payload) @ cols.T  # (H, W)
            amplitude = (self.config.alone_rms / np.sqrt(np.mean(values ** 2)) if alone
                         else self.config.amplitude)
            return np.rint(values * amplitude * scale).astype(np.int16)

        return remember(self._overlays, (payload, height, width, scale, alone), make)

    def alone(self, height: int, width: int) -> bool:
        """Whether a video frame of this size carries the tiled layer alone: its short side is in
        [`alone_from`, `alone_below`). Smaller frames have about a pixel per chip or less, and the
        tiled layer alone reads less there than both layers (re-encoded: 96 px 5/6 against 6/6,
        64 px 0/6 against 3/6)."""
        return self.config.alone_from <= min(height, width) < self.config.alone_below

    def mark(self, frame: np.ndarray, payload: Payload) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> a marked copy (the same change to R, G and B), at `amplitude`."""
        frame = check_frame(frame)
        change = self.overlay(payload, *frame.shape[:2], 1.0)[..., None]
        return np.clip(frame + change, 0, 255).astype(np.uint8)

    def mark_luma_plane(self, plane: np.ndarray, payload: Payload, *,
                        alone: bool = False) -> np.ndarray:
        """(H, W) uint8 limited-range Y' -> a marked copy (as `mark` does to RGB); `alone`: with
        `alone_rms`, for a frame that gets no DCT layer."""
        plane = check_plane(plane)
        change = self.overlay(payload, *plane.shape, _LIMITED_SCALE, alone)
        return np.clip(plane + change, 0, 255).astype(np.uint8)


def _periodic_bilinear_axis(length: int, step: float, tile: int) -> np.ndarray:
    """(length, tile): bilinear weights of the periodic chip grid at each pixel centre of an axis
    `length` pixels long, seen at `step` working pixels per pixel."""
    position = (np.arange(length) + 0.5) * step - 0.5
    low = np.floor(position)
    frac = position - low
    matrix = np.zeros((length, tile))
    index = np.arange(length)
    np.add.at(matrix, (index, low.astype(int) % tile), 1 - frac)
    np.add.at(matrix, (index, (low.astype(int) + 1) % tile), frac)
    return matrix
