"""What the frames of one video share while being marked (`MarkingState`): each bit's lattice
point and the rounded overlay, held from frame to frame so that the mark changes only when it must.

Across the frames of a video, a bit keeps the previous frame's lattice point while
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
"""

from __future__ import annotations

import functools

import numpy as np

from reenact.provenance.payload import Payload

# a bit re-targets to its nearest lattice point only when its projection has moved this many steps
# from the previous frame's point (0.5 would be no hysteresis)
HYSTERESIS = 0.6
# a block of the rounded overlay keeps last frame's values until some pixel of it drifts this many
# grey levels (8-bit frame units) from them
OVERLAY_HYSTERESIS = 1.0


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
