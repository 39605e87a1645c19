"""Writing the watermark into a frame or a Y' plane (`Embedder`).

How a bit is written (spread-transform dither modulation, a form of QIM): `p` is moved to the
nearest point of the lattice `step * Z + step / 4` for a 0 bit, or `step * Z + 3 * step / 4` for a
1 bit. The host never has to be overpowered, so the cost is small (a move of at most step / 2
along a smooth pattern: PSNR ~42-44 dB at step 50, 1.5-2 grey levels rms) while a channel may
shift `p` by up to step / 4 before the bit flips. The move is computed in the canonical domain,
upsampled to the frame (bilinear to up to a quarter of its size, then nearest: the pattern is
smooth) and added equally to R, G and B (or to the Y' plane of a video), which changes luma only.
The exact effect of that upsampling and of the detector's downsampling on each bit
(`CanonicalDomain.inverse_gain`) is inverted.

Where black or white clips the change, the part of the move lost is estimated on a small preview
(about twice the canonical size, taken from the box reduction that reading the frame starts
with) and asked of the unclipped pixels instead. Besides reading the frame once (as the detector
does) and the final upsample and add (in place, in numpy), all the work is on the canonical
image or the preview: marking a 720p frame's Y' plane takes ~1.3 ms.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from reenact.provenance.payload import Payload
from reenact.provenance.watermark.canonical import (
    CanonicalDomain,
    check_frame,
    check_plane,
    remember,
)
from reenact.provenance.watermark.layout import LUMA_709
from reenact.provenance.watermark.sync import MarkingState

# a frame narrower than this cannot hold the patterns without visible damage, and nothing could be
# read back from it: it is left as it is (its file's metadata still says what it is)
MIN_MARKED_SIDE = 16
# 8-bit limited range: Y' = 16 + 219/255 * luma, which is what the video writer encodes
_LIMITED_SCALE = 219 / 255
_LIMITED_LOW, _LIMITED_HIGH = 16, 235
_OFFSET = 128  # 8-bit residual images carry value + 128
# preview pixels this close to black or white mean clipping may eat part of the move
_SATURATION_MARGIN = 8
# the clipping estimate's preview is about this many times the canonical size per side
_PREVIEW_SCALE = 2
_CLIPPING_PASSES = 1
# below this share of preview values near black or white, clipping loses too little to make up
_CLIPPED_SHARE = 0.01
# the rounded overlay is held (`MarkingState.settle_overlay`) per block of this many frame pixels
# a side: H.264's macroblock
_OVERLAY_BLOCK = 16


class Embedder:
    """Marks frames and Y' planes with a payload, in the canonical domain `canonical`; keeps the
    lattice offsets of the payloads it has written."""

    def __init__(self, canonical: CanonicalDomain) -> None:
        self.canonical = canonical
        self.config = canonical.config
        self._cosets: dict[Hashable, np.ndarray] = {}  # per payload

    def mark(self, frame: np.ndarray, payload: Payload, *,
             state: MarkingState | None = None) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> the same frame carrying `payload` (a new array); `state`: the
        video's, when the frame is one of a sequence."""
        frame = check_frame(frame)
        return self._embed(np.ascontiguousarray(frame), payload, 0, 255, 1.0, state)

    def mark_luma_plane(self, plane: np.ndarray, payload: Payload, *,
                        state: MarkingState | None = None) -> np.ndarray:
        """(H, W) uint8 Y' of a limited-range BT.709 frame -> the same plane carrying `payload`.

        Equivalent to `mark` on the RGB frame (adding d to R, G and B adds 219/255 d to Y' and
        leaves chroma alone) at a third of the cost: what the video writer uses. Values may leave
        [16, 235] where the frame is black or white; a decoder clips them, as the RGB path does.
        """
        plane = check_plane(plane)
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
        # 'L' (sharing the array's memory) or 'RGB'
        image = self.canonical.pil.Image.fromarray(pixels)
        canonical, reduced = self.canonical.read_host(image)
        projections = self.canonical.projections(
            (canonical @ LUMA_709 if canonical.ndim == 3 else canonical) / scale)
        targets = self.targets(projections, payload)
        if state is not None:
            targets = state.update(projections, targets, (payload, height, width), self.config.step)
        residual = self.canonical.residual(targets - projections, height, width)
        preview = self._preview(image if reduced is None else reduced)  # (h, w[, 3]) uint8
        near_limits = (preview < low + _SATURATION_MARGIN) | (preview > high - _SATURATION_MARGIN)
        if np.count_nonzero(near_limits) > _CLIPPED_SHARE * near_limits.size:
            residual = self._make_up_for_clipping(residual, preview.astype(np.float64),
                                                  (low, high), scale, (height, width))
        self.add_overlay(marked, residual, scale, state)
        return marked

    def _preview(self, image: object) -> np.ndarray:
        """A box-reduced copy of the frame, about _PREVIEW_SCALE times the canonical size per
        side, for the clipping estimate: at that size it estimates what clipping takes as well
        as a preview of a quarter of the frame's size did, at a fraction of the cost. `image`:
        the frame, or the box reduction `CanonicalDomain.read_host` already made of it."""
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
            # luma units, preview size
            layer = self.canonical.resize_array(residual, width, height)
            change = layer[..., None] if preview.ndim == 3 else layer
            kept = np.clip(preview + change * scale, *limits) - preview
            kept_luma = (kept @ LUMA_709 if kept.ndim == 3 else kept) / scale
            shortfall = self.canonical.projections(self.canonical.reduce_array(kept_luma - layer))
            residual = residual - self.canonical.residual(shortfall, *frame_size)
        return residual

    def targets(self, projections: np.ndarray, payload: Payload) -> np.ndarray:
        """The nearest point of each bit's lattice."""
        coset = remember(self._cosets, payload,
                         lambda: payload.to_bits() ^ self.canonical.layout.whitening)
        step = self.config.step
        offset = step / 4 + coset * (step / 2)
        return np.round((projections - offset) / step) * step + offset

    def add_overlay(self, pixels: np.ndarray, residual: np.ndarray, scale: float,
                    state: MarkingState | None = None) -> None:
        """Add the residual (luma units), upsampled to the frame as `CanonicalDomain.upsample`
        does it and rounded (held per block with a video's `state`), to the (H, W) or (H, W, 3)
        uint8 `pixels` in place, saturating at 0 and 255.

        Only the bilinear stage goes through PIL; the nearest stage picks the coarse image's
        columns, then rows, in numpy, and the add happens in place: done by PIL, a full-size
        layer would be made, added into a third image and copied back out of PIL, which cost as
        much as all the rest of marking a 720p frame."""
        height, width = pixels.shape[:2]
        maps = self.canonical.nearest_maps(height, width)
        pil = self.canonical.pil
        exact = np.asarray(pil.Image.fromarray((residual * scale).astype(np.float32), "F")
                           .resize(maps.coarse_size, pil.Image.Resampling.BILINEAR))
        if state is None:
            values = np.rint(exact)
        else:  # the coarse image is 1/factor of the frame: a block of it covers a macroblock
            factor = self.canonical.coarse_factor(height, width)
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
