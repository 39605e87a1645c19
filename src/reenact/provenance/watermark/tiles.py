"""The tiled layer: a keyed spread-spectrum tile repeated over the frame, which survives what
re-posting does to a video (crops, pads, letterboxes, flips, small rotations, gain, contrast,
gamma, logos and subtitles) where the DCT layer (`embed`, `decode`) does not.

How it is written: the frame is seen on a working grid whose short side is `working_side` (96)
pixels; on that grid a `tile` x `tile` (32 x 32) pattern of +-1 chips repeats from the frame's
top-left corner. Half of a tile's chips (keyed) are the sync pattern; the other half carry the
56 code bits (the `Payload` and its CRC-24, whitened), each bit spread over ~9 chips whose keyed
signs it flips. The pattern is upsampled to the frame (bilinear, periodic), scaled by `amplitude`
grey levels, rounded once per frame size and added to luma: the same integer overlay on every
frame, which the encoder codes once in a still background.

How it is read (`TileDetector`): each frame's luma (inside its content rectangle, once with and
once without black or uniform borders cut off) is resampled to the working grid, high-passed and
divided by its local contrast (so gain, contrast, gamma and range changes barely matter), then,
for every hypothesis of flip x rotation x scale, resampled accordingly and folded: all tiles summed
into one (crops, pads and overlays only cost tiles; a shift becomes a cyclic shift). Folded tiles
are summed over the frames of a clip. Per hypothesis the cyclic shift is found by correlating the
folded tile with the sync pattern (FFT); the hypotheses with the sharpest sync peaks are decoded
(soft bits at that shift, CRC-checked with repair of up to `repair_flips` weak bits).

False alarms: on content without this mark, the shift and hypothesis are chosen from the sync
chips only, so the payload chips' signs make each decoded bit a fair coin, and one decode passes
CRC-24 + format version with probability words_tried * 2^-28. The bound reported multiplies that
by every hypothesis searched (flips x angles x scales x content rectangles), not only the ones
decoded, and by the clips tested: ~4e-5 per file.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from reenact.provenance.payload import CHECK_BITS, CODE_BITS, Payload
from reenact.provenance.watermark.canonical import check_frame, check_plane, import_pil, remember
from reenact.provenance.watermark.decode import Detection, _repair
from reenact.provenance.watermark.layout import LUMA_709, WatermarkConfig

_LIMITED_SCALE = 219 / 255  # Y' = 16 + 219/255 luma: what the video writer encodes
# a row or column of the frame belongs to a border when its luma varies less than this (grey
# levels, std) and stays this close to the border's colour
_BORDER_STD = 2.5
_BORDER_COLOUR = 8.0
_MIN_BORDER = 2  # pixels; thinner "borders" are left to the shift search
_NORMALISE_RADIUS = 4  # working pixels of the local contrast estimate
# local contrast below this share of the picture's contrast is not amplified (flat areas: noise)
_FLAT_FLOOR = 0.02
_DECODED_HYPOTHESES = 3
NOTHING_UNDONE = "nothing to undo"


@dataclass(frozen=True)
class TileConfig:
    """Parameters of the tiled layer (format 1 of it: change one and old marks are not read).

    key: seeds the chip signs, the chips' roles and the whitening word.
    working_side: short side of the working grid the pattern is defined on, in pixels.
    tile: side of the repeated tile, in working pixels (one chip per working pixel).
    amplitude: peak change of a chip, in 8-bit luma units.
    flips, angles, scales: the geometric hypotheses the detector searches (degrees; scale > 1 means
        the content was enlarged, e.g. by a crop that was scaled back or kept).
    repair_candidates, repair_flips: as `WatermarkConfig`'s.
    min_sync: the smallest sync peak (in standard deviations of the correlation map) decoded.
    """

    key: str = "reenact-tiles-1"
    working_side: int = 96
    tile: int = 32
    amplitude: float = 2.0
    flips: tuple[bool, ...] = (False, True)
    angles: tuple[float, ...] = (0.0, -0.5, 0.5, -1.0, 1.0)
    scales: tuple[float, ...] = (1.0, 1.005, 1.01, 1.015, 1.02, 1.025, 0.995)
    repair_candidates: int = 12
    repair_flips: int = 2
    min_sync: float = 4.0

    def __post_init__(self) -> None:
        if not 32 <= self.working_side <= 512:
            raise ValueError(f"working_side: expected 32-512, got {self.working_side}")
        if not 8 <= self.tile <= self.working_side or self.tile ** 2 < 4 * CODE_BITS:
            raise ValueError(f"tile: expected 8..working_side with room for {CODE_BITS} bits, "
                             f"got {self.tile}")
        if not self.amplitude > 0:
            raise ValueError(f"amplitude: expected a positive number, got {self.amplitude}")
        if not self.flips or not self.angles or not self.scales:
            raise ValueError("flips, angles, scales: expected at least one hypothesis each")
        if not 0 <= self.repair_flips <= self.repair_candidates <= CODE_BITS:
            raise ValueError(f"repair_flips, repair_candidates: expected 0 <= flips <= candidates "
                             f"<= {CODE_BITS}, got {self.repair_flips}, {self.repair_candidates}")

    @property
    def hypotheses(self) -> int:
        return len(self.flips) * len(self.angles) * len(self.scales)

    @property
    def words_tried(self) -> int:
        return sum(math.comb(self.repair_candidates, k) for k in range(self.repair_flips + 1))


@dataclass(frozen=True)
class TileLayout:
    """signs: (T, T) +-1; sync: (T, T) bool, the sync chips; bit_of: (T, T) int, the code bit
    of each payload chip (-1 on sync chips); whitening: (K,) uint8."""

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
    payload_chips = order[chips // 2:]
    bit_of[payload_chips] = np.arange(len(payload_chips)) % CODE_BITS
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
        code = payload.to_bits() ^ self.layout.whitening
        values = np.where(self.layout.sync, 1.0, 1.0 - 2.0 * code[np.maximum(self.layout.bit_of, 0)])
        return self.layout.signs * values

    def overlay(self, payload: Payload, height: int, width: int, scale: float) -> np.ndarray:
        """(H, W) int16: the rounded change of `scale` * luma that carries `payload`."""
        def make() -> np.ndarray:
            step = working_scale(height, width, self.config)
            rows = _periodic_bilinear_axis(height, step, self.config.tile)
            cols = _periodic_bilinear_axis(width, step, self.config.tile)
            # separable bilinear: rows then columns, each a (length, T) interpolation matrix
            values = rows @ self.pattern(payload) @ cols.T  # (H, W)
            return np.rint(values * self.config.amplitude * scale).astype(np.int16)

        return remember(self._overlays, (payload, height, width, scale), make)

    def mark(self, frame: np.ndarray, payload: Payload) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> a marked copy (the same change to R, G and B)."""
        frame = check_frame(frame)
        change = self.overlay(payload, *frame.shape[:2], 1.0)[..., None]
        return np.clip(frame + change, 0, 255).astype(np.uint8)

    def mark_luma_plane(self, plane: np.ndarray, payload: Payload) -> np.ndarray:
        """(H, W) uint8 limited-range Y' -> a marked copy (as `mark` does to RGB)."""
        plane = check_plane(plane)
        change = self.overlay(payload, *plane.shape, _LIMITED_SCALE)
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


def content_rect(luma: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, left, height, width) inside uniform borders (letterbox, pillarbox, a canvas the
    video was scaled into), or None when there are none worth cutting."""
    height, width = luma.shape

    def extent(profile_std: np.ndarray, profile_mean: np.ndarray, colour: float) -> int:
        uniform = (profile_std < _BORDER_STD) & (np.abs(profile_mean - colour) < _BORDER_COLOUR)
        return int(np.argmin(uniform)) if not uniform.all() else len(uniform)

    rows_std, rows_mean = luma.std(axis=1), luma.mean(axis=1)
    cols_std, cols_mean = luma.std(axis=0), luma.mean(axis=0)
    top = extent(rows_std, rows_mean, rows_mean[0])
    bottom = extent(rows_std[::-1], rows_mean[::-1], rows_mean[-1])
    left = extent(cols_std, cols_mean, cols_mean[0])
    right = extent(cols_std[::-1], cols_mean[::-1], cols_mean[-1])
    cut = [side if side >= _MIN_BORDER else 0 for side in (top, bottom, left, right)]
    inner_h, inner_w = height - cut[0] - cut[1], width - cut[2] - cut[3]
    if not any(cut) or inner_h < height / 3 or inner_w < width / 3 or min(inner_h, inner_w) < 16:
        return None
    # borders found on full rows: the content's own columns there are read again on the rest
    if cut[0] or cut[1]:
        inner = luma[cut[0]:height - cut[1]]
        cols_std, cols_mean = inner.std(axis=0), inner.mean(axis=0)
        left = extent(cols_std, cols_mean, cols_mean[0])
        right = extent(cols_std[::-1], cols_mean[::-1], cols_mean[-1])
        cut[2], cut[3] = (side if side >= _MIN_BORDER else 0 for side in (left, right))
        inner_w = width - cut[2] - cut[3]
        if inner_w < width / 3:
            return None
    return cut[0], cut[2], inner_h, inner_w


def _box(values: np.ndarray, radius: int) -> np.ndarray:
    from scipy.ndimage import uniform_filter

    return uniform_filter(values, size=2 * radius + 1, mode="reflect")


def normalised_working_image(luma: np.ndarray, config: TileConfig) -> np.ndarray:
    """(h, w) float luma of the content -> (h', w') float on the working grid, high-passed and
    divided by its local contrast: a gain, an offset or a gamma leaves it nearly unchanged."""
    pil = import_pil()
    height, width = luma.shape
    step = working_scale(height, width, config)
    out_w, out_h = max(1, math.floor(width * step)), max(1, math.floor(height * step))
    image = pil.Image.fromarray(luma.astype(np.float32), "F")
    small = np.asarray(image.resize((out_w, out_h), pil.Image.Resampling.BILINEAR,
                                    box=(0, 0, out_w / step, out_h / step)), dtype=np.float64)
    detail = small - _box(small, 1)
    energy = _box(detail ** 2, _NORMALISE_RADIUS)
    # the floor for flat areas follows the picture's own contrast, so a gain does not move it
    floor = (_FLAT_FLOOR * float(np.std(small))) ** 2 + 1e-9
    return detail / np.sqrt(energy + floor)


def fold(image: np.ndarray, config: TileConfig) -> np.ndarray:
    """(h, w) -> (Nh, T, T): the image under every hypothesis (flip, angle, scale), tiles summed."""
    from scipy.ndimage import map_coordinates

    height, width = image.shape
    tile = config.tile
    centre_y, centre_x = (height - 1) / 2, (width - 1) / 2
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    y, x = y - centre_y, x - centre_x
    padded_h, padded_w = -(-height // tile) * tile, -(-width // tile) * tile
    folded = []
    for flip in config.flips:
        for angle in config.angles:
            cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
            for scale in config.scales:
                source_x = centre_x + scale * (cos * x - sin * y)
                source_y = centre_y + scale * (sin * x + cos * y)
                if flip:
                    source_x = (width - 1) - source_x
                sampled = map_coordinates(image, (source_y, source_x), order=1, mode="constant",
                                          cval=0.0)
                full = np.zeros((padded_h, padded_w))
                full[:height, :width] = sampled
                folded.append(full.reshape(padded_h // tile, tile, padded_w // tile, tile)
                              .sum(axis=(0, 2)))
    return np.stack(folded)


def hypothesis_name(index: int, config: TileConfig) -> tuple[bool, float, float]:
    per_flip = len(config.angles) * len(config.scales)
    flip = config.flips[index // per_flip]
    angle = config.angles[(index % per_flip) // len(config.scales)]
    scale = config.scales[index % len(config.scales)]
    return flip, angle, scale


@dataclass
class _Evidence:
    """Folded tiles of one content rectangle, summed over frames: (Nh, T, T)."""

    folded: np.ndarray
    frames: int = 0


@dataclass(frozen=True)
class TileDetection:
    """The tiled layer's reading: `detection`, and the transformation undone to find it."""

    detection: Detection
    sync: float
    transform: str | None


@dataclass
class TileDetector:
    """Gathers folded tiles frame by frame; `detection()` searches and decodes.

    ```
    detector = TileDetector()
    for frame in frames:                        # (H, W, 3) uint8 RGB
        detector.add(frame)
    result = detector.detection()               # TileDetection
    ```
    """

    config: TileConfig = field(default_factory=TileConfig)

    def __post_init__(self) -> None:
        self.layout = tile_layout(self.config)
        self._evidence: dict[tuple[int, int, int, int] | None, _Evidence] = {}
        self.frames = 0
        self._shape: tuple[int, int] | None = None

    def add(self, frame: np.ndarray) -> None:
        frame = check_frame(frame)
        self.add_luma(np.asarray(frame, dtype=np.float64) @ LUMA_709)

    def add_luma(self, luma: np.ndarray) -> None:
        """(H, W) float luma (any range or gain)."""
        self._shape = luma.shape
        self.frames += 1
        rect = content_rect(luma)
        for key in (None, rect) if rect is not None else (None,):
            part = luma if key is None else luma[key[0]:key[0] + key[2], key[1]:key[1] + key[3]]
            folded = fold(normalised_working_image(part, self.config), self.config)
            evidence = self._evidence.get(key)
            if evidence is None:
                if len(self._evidence) >= 4:  # borders that keep changing: keep the first few
                    continue
                evidence = self._evidence[key] = _Evidence(np.zeros_like(folded))
            evidence.folded += folded
            evidence.frames += 1

    @property
    def hypotheses(self) -> int:
        return self.config.hypotheses * max(1, len(self._evidence))

    def false_alarm(self, tests: int = 1) -> float:
        return min(1.0, tests * self.hypotheses * self.config.words_tried * 2.0 ** -CHECK_BITS)

    def detection(self, *, tests: int = 1) -> TileDetection:
        if self.frames == 0:
            raise ValueError("detection: no frames were added")
        false_alarm = self.false_alarm(tests)
        candidates = []
        for key, evidence in self._evidence.items():
            for index, folded in enumerate(evidence.folded):
                sync, shift = self._sync(folded)
                candidates.append((sync, key, index, shift, folded))
        candidates.sort(key=lambda item: -item[0])
        best_sync = candidates[0][0]
        for sync, key, index, shift, folded in candidates[:_DECODED_HYPOTHESES]:
            if sync < self.config.min_sync:
                break
            decoded = self._decode(np.roll(folded, (-shift[0], -shift[1]), axis=(0, 1)))
            if decoded is not None:
                payload, strength, repaired = decoded
                detection = Detection(present=True, payload=payload, false_alarm=false_alarm,
                                      strength=strength, repaired_bits=repaired,
                                      frames=self.frames)
                return TileDetection(detection, sync, self._describe(key, index, shift))
        return TileDetection(Detection(present=False, payload=None, false_alarm=false_alarm,
                                       strength=0.0, repaired_bits=0, frames=self.frames),
                             best_sync, None)

    def _sync(self, folded: np.ndarray) -> tuple[float, tuple[int, int]]:
        """Peak of the cyclic correlation with the sync chips, in standard deviations of the
        correlation map, and where it is (rows, columns)."""
        reference = np.where(self.layout.sync, self.layout.signs, 0.0)
        correlation = np.fft.ifft2(np.fft.fft2(folded) * np.conj(np.fft.fft2(reference))).real
        peak = int(np.argmax(correlation))
        spread = correlation.std()
        score = float((correlation.flat[peak] - correlation.mean()) / spread) if spread > 0 else 0.0
        return score, divmod(peak, self.config.tile)

    def _decode(self, aligned: np.ndarray) -> tuple[Payload, float, int] | None:
        """The payload chips of a folded tile aligned to the pattern -> payload, strength and
        repaired bits, or None when no allowed repair passes the check."""
        payload_chips = ~self.layout.sync
        bits = self.layout.bit_of[payload_chips]
        values = (aligned * self.layout.signs)[payload_chips]
        soft = np.bincount(bits, weights=values, minlength=CODE_BITS)
        counts = np.bincount(bits, minlength=CODE_BITS)
        noise = aligned[payload_chips].std() or 1.0
        soft = soft / (noise * np.sqrt(counts))  # ~N(0, 1) per bit on unmarked content
        coset = (soft < 0).astype(np.uint8)
        repair_config = WatermarkConfig(repair_candidates=self.config.repair_candidates,
                                        repair_flips=self.config.repair_flips)
        flips = _repair(coset ^ self.layout.whitening, np.abs(soft), repair_config)
        if flips is None:
            return None
        coset[list(flips)] ^= 1
        payload = Payload.from_bits(coset ^ self.layout.whitening)
        assert payload is not None  # the syndrome said so
        agreement = np.tanh(soft / 2) * (1 - 2 * coset.astype(np.float64))
        return payload, float(agreement.mean()), len(flips)

    def _describe(self, key: tuple[int, int, int, int] | None, index: int,
                  shift: tuple[int, int]) -> str:
        flip, angle, scale = hypothesis_name(index, self.config)
        parts = []
        if key is not None and self._shape is not None:
            top, left, height, width = key
            full_h, full_w = self._shape
            parts.append(f"cutting borders (content {width}x{height} at {left},{top} of "
                         f"{full_w}x{full_h})")
        if flip:
            parts.append("un-flipping left-right")
        if angle:
            parts.append(f"rotating {-angle:+.1f} deg")
        if scale != 1.0:
            parts.append(f"scaling {1 / scale:.3f}")
        if shift != (0, 0):
            parts.append(f"shift ({shift[1]}, {shift[0]}) working px")
        return ", ".join(parts) if parts else NOTHING_UNDONE
