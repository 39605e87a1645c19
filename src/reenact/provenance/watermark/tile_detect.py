"""Reading the tiled layer (`tiles`): content rectangle, normalisation, the flip x rotation x
scale search over the folded tiles (`tile_fold`), sync by FFT correlation and the CRC-checked
decode (`TileDetector`).
The how and the false-alarm bound are in `tiles`' docstring."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from reenact.provenance.payload import CHECK_BITS, CODE_BITS, Payload
from reenact.provenance.watermark.borders import content_rect
from reenact.provenance.watermark.canonical import check_frame, import_pil
from reenact.provenance.watermark.convolutional import coded_length, encode, list_viterbi
from reenact.provenance.watermark.decode import Detection
from reenact.provenance.watermark.filters import box_mean
from reenact.provenance.watermark.layout import LUMA_709
from reenact.provenance.watermark.tile_fold import (DENSITY, folds, hypothesis_fold,
                                                   hypothesis_name, neighbours)
from reenact.provenance.watermark.tiles import TileConfig, tile_layout, working_scale

# samples (DENSITY per chip) of the local variance estimate: 1.5 chips, about the mark's own
# footprint; 4 chips (the first choice) averaged busy and flat neighbours together, and the
# soft coded bits' SNR on 256-px clips after CRF 23-28 was 5-25% lower
_VARIANCE_RADIUS = 3
# local contrast below this share of the picture's contrast is not amplified (flat areas: noise)
_FLAT_FLOOR = 0.02
_DECODED_HYPOTHESES = 12  # <= the hypotheses the false-alarm bound counts
# the weight of another reading's soft bits (the DCT layer's, in [-1, 1]) against this layer's
# (~N(+-s, 1) per coded bit) in `joint_detection`: on 24 clips of 256 px after a crop of 2% +
# contrast 1.1 + CRF 28, 16 decoded with weight 0, 21 with 1, 22 with 2 or 4, 19 with 8
_PRIOR_WEIGHT = 3.0
# a sync peak this sharp (standard deviations) is decoded as soon as it is found: the folded tiles
# of unmarked content peak at ~4, a marked file's right hypothesis at 5-20
_EARLY_SYNC = 6.0
_WHITENING_WIDTH = 5  # frequency bins the spectral magnitude is averaged over
NOTHING_UNDONE = "nothing to undo"


def _box(values: np.ndarray, radius: int, mode: str = "reflect") -> np.ndarray:
    return box_mean(values, 2 * radius + 1, mode)


def normalised_working_image(luma: np.ndarray, config: TileConfig) -> np.ndarray:
    """(h, w) float luma of the content -> (h', w') float sampled `DENSITY` times per chip of the
    working grid (sample DENSITY * c on chip c), high-passed and divided by its local detail
    energy (the local variance of what is left of the picture): an offset leaves it unchanged, a
    gain or gamma only scales it locally, by 1 / gain.

    Why the variance, not the standard deviation: the mark has the same amplitude everywhere and
    the picture is the noise, so the best weight of a sample is 1 / its noise variance. Divided by
    the standard deviation instead, every area would count alike and the picture's busiest parts
    would drown what the flat ones carry: on 256-px clips re-encoded at CRF 28 the soft coded
    bits' signal-to-noise ratio is 0.5-0.7 that way, 0.7-0.9 this way (x1.1-1.4 on every attack
    measured). The scale this leaves (1 / gain) is undone by `whiten`; only frames of a clip with
    different gains are weighted a little differently."""
    pil = import_pil()
    height, width = luma.shape
    step = working_scale(height, width, config) * DENSITY  # samples per frame pixel
    # sample j's centre at chip j / DENSITY: (j + 0.5) / step + offset pixels from the edge
    offset = (0.5 - 0.5 / DENSITY) * DENSITY / step
    out_w = max(1, math.floor((width - offset) * step))
    out_h = max(1, math.floor((height - offset) * step))
    image = pil.Image.fromarray(luma.astype(np.float32), "F")
    small = np.asarray(image.resize((out_w, out_h), pil.Image.Resampling.BILINEAR,
                                    box=(offset, offset, offset + out_w / step,
                                         offset + out_h / step)), dtype=np.float64)
    detail = small - _box(small, DENSITY)
    energy = _box(detail ** 2, _VARIANCE_RADIUS)
    # the floor for flat areas follows the picture's own contrast, so a gain does not move it
    floor = (_FLAT_FLOOR * float(np.std(small))) ** 2 + 1e-9
    return detail / (energy + floor)


def whiten(image: np.ndarray) -> np.ndarray:
    """(h, w) -> the same image with a flat amplitude spectrum (each frequency divided by the
    picture's local spectral magnitude): what is left of the picture after the high-pass is still
    far from white noise, and the mark's chips are, so this is close to the matched filter."""
    spectrum = np.fft.fft2(image)
    magnitude = np.sqrt(box_mean(np.abs(spectrum) ** 2, _WHITENING_WIDTH, mode="wrap"))
    return np.fft.ifft2(spectrum / (magnitude + 1e-9)).real


def _tent(tile: np.ndarray) -> np.ndarray:
    """(D*T, D*T) cyclic tent filter of half-width DENSITY: a chip's bilinear footprint."""
    out = tile.copy()
    for axis in (0, 1):
        spread = out.copy()
        for offset in range(1, DENSITY):
            weight = 1 - offset / DENSITY
            spread += weight * (np.roll(out, offset, axis) + np.roll(out, -offset, axis))
        out = spread
    return out


def chip_grid(chips: np.ndarray) -> np.ndarray:
    """(T, T) chip values -> (D*T, D*T) as the working grid shows them (bilinear between chips)."""
    tile = chips.shape[0]
    sparse = np.zeros((tile * DENSITY, tile * DENSITY))
    sparse[::DENSITY, ::DENSITY] = chips
    return _tent(sparse)


@dataclass
class _Evidence:
    """Normalised working images of one content rectangle, summed over frames: folding is linear,
    so the (costly) search folds the sum once instead of every frame."""

    image: np.ndarray
    frames: int = 0


@dataclass(frozen=True)
class TileDetection:
    """The tiled layer's reading: `detection`, and the transformation undone to find it."""

    detection: Detection
    sync: float
    transform: str | None


@dataclass
class TileDetector:
    """Gathers evidence frame by frame; `detection()` searches and decodes what was gathered so
    far (it may be called again after more frames).

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
        self._searched: tuple[int, TileDetection] | None = None  # (frames, search result)
        # the last search's sharpest sync peaks: (sync, key, index, shift, folded tile)
        self._sharpest: list[tuple[float, tuple[int, int, int, int] | None, int,
                                   tuple[int, int], np.ndarray]] = []
        self._sync_spectrum = np.conj(np.fft.fft2(chip_grid(
            np.where(self.layout.sync, self.layout.signs, 0.0))))

    def add(self, frame: np.ndarray) -> tuple[int, int, int, int] | None:
        """(H, W, 3) uint8 RGB; returns its content rectangle, as `add_luma`."""
        frame = check_frame(frame)
        # float32: at 720p the float64 product costs as much as decoding the frame
        return self.add_luma(np.asarray(frame, dtype=np.float32) @ LUMA_709.astype(np.float32))

    def add_luma(self, luma: np.ndarray) -> tuple[int, int, int, int] | None:
        """(H, W) float or uint8 luma (any range or gain; e.g. a decoded Y' plane). Returns the
        content rectangle inside its borders (`borders.content_rect`), None when it has none."""
        self._shape = luma.shape
        self.frames += 1
        rect = content_rect(luma)
        for key in (None, rect) if rect is not None else (None,):
            part = luma if key is None else luma[key[0]:key[0] + key[2], key[1]:key[1] + key[3]]
            evidence = self._evidence.get(key)
            if evidence is None:
                if len(self._evidence) >= 4:  # borders that keep changing: keep the first few
                    continue
                image = normalised_working_image(part, self.config)
                self._evidence[key] = _Evidence(image, 1)
                continue
            evidence.image += normalised_working_image(part, self.config)
            evidence.frames += 1
        return rect

    @property
    def hypotheses(self) -> int:
        return self.config.hypotheses * max(1, len(self._evidence))

    def false_alarm(self, tests: int = 1) -> float:
        return min(1.0, tests * self.hypotheses * self.config.words_tried * 2.0 ** -CHECK_BITS)

    def detection(self, *, tests: int = 1) -> TileDetection:
        """Search and decode the evidence gathered so far; `tests`: looks taken at the file in all
        (the bound counts each). Asked again without new frames, it reuses the last search."""
        if self.frames == 0:
            raise ValueError("detection: no frames were added")
        if self._searched is None or self._searched[0] != self.frames:
            self._searched = (self.frames, self._search())
        found = self._searched[1]
        detection = dataclasses.replace(found.detection, false_alarm=self.false_alarm(tests))
        return dataclasses.replace(found, detection=detection)

    def _search(self) -> TileDetection:
        """The search over content rectangles and hypotheses; false_alarm left for the caller.
        A hypothesis whose sync peak stands out by `_EARLY_SYNC` is decoded at once; when it
        passes the check, the search only climbs to the neighbouring hypothesis with the sharpest
        peak (`_climb`: a strong mark decodes under its neighbours too, and the report should
        name the transformation that was undone) and ends there. The bound still counts every
        hypothesis: it covers all that could have been tried. Otherwise the sharpest peaks are
        decoded at the end."""
        candidates = []
        tried = set()
        for key, evidence in self._evidence.items():
            image = whiten(evidence.image)
            seen: dict[int, tuple[float, tuple[int, int], np.ndarray]] = {}
            for index, folded in folds(image, self.config):
                sync, shift = self._sync(folded)
                candidates.append((sync, key, index, shift, folded))
                seen[index] = (sync, shift, folded)
                if sync >= max(_EARLY_SYNC, self.config.min_sync):
                    tried.add((key, index))
                    found = self._found(sync, key, index, shift, folded)
                    if found is not None:
                        return self._climb(image, key, index, seen, found)
        candidates.sort(key=lambda item: -item[0])
        self._sharpest = candidates[:_DECODED_HYPOTHESES]
        for sync, key, index, shift, folded in candidates[:_DECODED_HYPOTHESES]:
            if sync < self.config.min_sync:
                break
            if (key, index) not in tried:
                found = self._found(sync, key, index, shift, folded)
                if found is not None:
                    return found
        return TileDetection(Detection(present=False, payload=None, false_alarm=1.0,
                                       strength=0.0, repaired_bits=0, frames=self.frames),
                             candidates[0][0], None)

    def _climb(self, image: np.ndarray, key: tuple[int, int, int, int] | None, index: int,
               seen: dict[int, tuple[float, tuple[int, int], np.ndarray]],
               found: TileDetection) -> TileDetection:
        """From a hypothesis that decoded, step to the neighbour (next angle or scale, same
        flip) with the sharpest sync peak while it gets sharper; its reading if it decodes
        (the same payload but for a chance of 2^-28), else `found`. `seen`: the hypotheses
        already folded (index: sync, shift, folded tile), added to."""
        best = index
        while True:
            for neighbour in neighbours(best, self.config):
                if neighbour not in seen:
                    folded = hypothesis_fold(image, neighbour, self.config)
                    seen[neighbour] = (*self._sync(folded), folded)
            step = max(neighbours(best, self.config), key=lambda i: seen[i][0], default=best)
            if seen[step][0] <= seen[best][0]:
                break
            best = step
        if best == index:
            return found
        climbed = self._found(seen[best][0], key, best, seen[best][1], seen[best][2])
        return climbed if climbed is not None else found

    def joint_detection(self, prior: np.ndarray, *, tests: int = 1) -> TileDetection:
        """The last search's sharpest sync peaks decoded again, with `prior`: (CODE_BITS,) soft
        values of the payload's code bits from another reading (> 0 meaning "0", before this
        layer's whitening; e.g. the DCT layer's, `dct_search`), weighed by `_PRIOR_WEIGHT`.
        `tests`: looks in all, this one included (it checks fewer words than a look's bound
        counts). Without a prior's help, the plain `detection`."""
        found = self.detection(tests=tests)
        if found.detection.present:
            return found
        # the word decoded is the code bits XOR this layer's whitening: flip the prior to match
        aimed = _PRIOR_WEIGHT * np.asarray(prior) * (1.0 - 2.0 * self.layout.whitening)
        for sync, key, index, shift, folded in self._sharpest:
            if sync < self.config.min_sync:
                break
            joint = self._found(sync, key, index, shift, folded, aimed)
            if joint is not None:
                detection = dataclasses.replace(joint.detection,
                                                false_alarm=self.false_alarm(tests))
                return dataclasses.replace(joint, detection=detection)
        return found

    def _found(self, sync: float, key: tuple[int, int, int, int] | None, index: int,
               shift: tuple[int, int], folded: np.ndarray,
               prior: np.ndarray | None = None) -> TileDetection | None:
        """The detection when the folded tile, aligned at `shift` or next to it
        (`_aligned_soft`), decodes (with `prior` on the information bits); else None."""
        shift, soft = self._aligned_soft(folded, shift)
        decoded = self._decode(soft, prior)
        if decoded is None:
            return None
        payload, strength, repaired = decoded
        detection = Detection(present=True, payload=payload, false_alarm=1.0, strength=strength,
                              repaired_bits=repaired, frames=self.frames)
        return TileDetection(detection, sync, self._describe(key, index, shift))

    def _sync(self, folded: np.ndarray) -> tuple[float, tuple[int, int]]:
        """Peak of the cyclic correlation with the sync chips, in standard deviations of the
        correlation map, and where it is (rows, columns; in samples, DENSITY per chip)."""
        correlation = np.fft.ifft2(np.fft.fft2(folded) * self._sync_spectrum).real
        peak = int(np.argmax(correlation))
        spread = correlation.std()
        score = float((correlation.flat[peak] - correlation.mean()) / spread) if spread > 0 else 0.0
        return score, divmod(peak, folded.shape[1])

    def _aligned_soft(self, folded: np.ndarray,
                      shift: tuple[int, int]) -> tuple[tuple[int, int], np.ndarray]:
        """(shift, soft coded bits) at the sync peak `shift` or at one of its 8 neighbours (half
        a chip away), whichever gives the soft coded bits the most energy (sum of squares).

        Why: the sync chips are 3/8 of the tile, and where little of the mark is left (CRF 28 at
        256 px) their peak lands half a chip off in about half the clips, which costs the payload
        chips a quarter to a third of their signal-to-noise ratio; the energy of all the payload
        chips finds the right one of the 9 (12 of 12 attacked clips tried). It costs no false
        alarms: the energy is blind to the signs, and flipping the keyed signs of one coded bit's
        chips flips that bit at every shift and changes no energy, so the chosen word is as much a
        fair coin as at a fixed shift."""
        tented = _tent(folded)  # (D*T, D*T): each sample's chip matched filter
        size = folded.shape[0]
        best: tuple[float, tuple[int, int], np.ndarray] | None = None
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                candidate = ((shift[0] + dy) % size, (shift[1] + dx) % size)
                chips = np.roll(tented, (-candidate[0], -candidate[1]),
                                axis=(0, 1))[::DENSITY, ::DENSITY]  # (T, T)
                soft = self._soft(chips)
                energy = float(soft @ soft)
                if best is None or energy > best[0]:
                    best = (energy, candidate, soft)
        assert best is not None
        return best[1], best[2]

    def _soft(self, chips: np.ndarray) -> np.ndarray:
        """(T, T) matched-filter values of an aligned tile's chips -> (coded,) soft coded bits,
        ~N(0, 1) each on unmarked content."""
        payload_chips = ~self.layout.sync
        coded = coded_length(CODE_BITS)
        bits = self.layout.bit_of[payload_chips]
        values = (chips * self.layout.signs)[payload_chips]
        soft = np.bincount(bits, weights=values, minlength=coded)
        counts = np.bincount(bits, minlength=coded)
        noise = chips[payload_chips].std() or 1.0
        return soft / (noise * np.sqrt(counts))

    def _decode(self, soft: np.ndarray,
                prior: np.ndarray | None = None) -> tuple[Payload, float, int] | None:
        """Soft coded bits -> payload, strength and coded bits the code corrected, or None when
        none of the list Viterbi search's words passes the check."""
        for word in list_viterbi(soft, CODE_BITS, self.config.list_size, prior):
            payload = Payload.from_bits(word ^ self.layout.whitening)
            if payload is not None:
                break
        else:
            return None
        signs = 1.0 - 2.0 * encode(word)
        agreement = np.tanh(soft / 2) * signs
        return payload, float(agreement.mean()), int(np.sum(soft * signs < 0))

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
            parts.append(f"shift ({shift[1] / DENSITY:g}, {shift[0] / DENSITY:g}) working px")
        return ", ".join(parts) if parts else NOTHING_UNDONE
