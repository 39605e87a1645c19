"""A composited frame's head box moved by a similarity, at the photo's resolution.

What the motion model is not given of a driver's large zoom or shift
(`reenact.pipelines.box_motion`) is applied here: the box the model's crop was cut from, with
everything the compositor drew in it and around it, is zoomed about its centre and moved,
resampled bicubically from the composited frame; the move covers both the box and where it went
(where the box left, its surroundings move in, so the head is not seen twice) and fades out
beyond them (over `feather` of the box side, or twice the move if that is more, so the
fade cannot fold). A faded move, not a mix of the moved picture with the unmoved one: that mix
showed the hair's edge twice, once moved and once faintly where it was. Outside the fade the
frame keeps its bytes. Given the body's hold (`reenact.postprocess.body_hold`), the move fades
out away from the head as the compositor's motion does: the body stays where the photo has it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from reenact.postprocess.body_hold import BodyHold
from reenact.postprocess.paste import feather_window
from reenact.postprocess.resampling import kept_inside
from reenact.preprocess.crop import CropBox


@dataclass(frozen=True)
class BoxMotion:
    """A similarity of a crop box: zoom by `scale` about its centre, then move the centre by
    (shift_x, shift_y) times its side."""

    scale: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0

    @property
    def is_identity(self) -> bool:
        return self.scale == 1.0 and self.shift_x == 0.0 and self.shift_y == 0.0

    def moved(self, box: CropBox) -> CropBox:
        """`box` after this motion."""
        return CropBox(box.center_x + self.shift_x * box.side, box.center_y + self.shift_y * box.side,
                       box.side * self.scale)

    def unmoved(self, box: CropBox, points: np.ndarray) -> np.ndarray:
        """(N, 2) image pixels: where `points` (N, 2), pixels of the moved `box`, were before."""
        moved = self.moved(box)
        centre, before = np.array([moved.center_x, moved.center_y]), np.array([box.center_x,
                                                                                box.center_y])
        return before + (np.asarray(points, dtype=np.float64) - centre) / self.scale


class HeadMover:
    """Moves the head box of frames composited over `image` (H, W, 3) uint8 RGB, the photo, whose
    motion-model crop was cut at `box`; `feather`: the window's edge, a fraction of the moved
    box's side (`FullResConfig.box_feather`); `hold`: how much of the move each pixel keeps
    (the body held still), or None to move the whole box."""

    def __init__(self, image: np.ndarray, box: CropBox, feather: float,
                 hold: BodyHold | None = None) -> None:
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 \
                or image.dtype != np.uint8:
            raise ValueError(f"image: expected (H, W, 3) uint8, got "
                             f"{getattr(image, 'shape', type(image).__name__)}")
        if isinstance(feather, bool) or not isinstance(feather, (int, float)) \
                or not 0 <= feather <= 0.5:
            raise ValueError(f"feather: expected a number in [0, 0.5], got {feather!r}")
        if hold is not None and not isinstance(hold, BodyHold):
            raise ValueError(f"hold: expected a BodyHold or None, got {type(hold).__name__}")
        self.image, self.box, self.feather, self.hold = image, box, float(feather), hold

    @torch.no_grad()
    def apply(self, frame: np.ndarray, motion: BoxMotion) -> np.ndarray:
        """(H, W, 3) uint8: `frame` (composited over the photo, same shape) with its head box
        moved by `motion`; `frame` itself where the motion is the identity."""
        if frame.shape != self.image.shape or frame.dtype != np.uint8:
            raise ValueError(f"frame: expected {self.image.shape} uint8, got {frame.shape} "
                             f"{frame.dtype}")
        if motion.is_identity:
            return frame
        if not (math.isfinite(motion.scale) and motion.scale > 0 and math.isfinite(motion.shift_x)
                and math.isfinite(motion.shift_y)):
            raise ValueError(f"motion: expected a finite zoom > 0 and finite shifts, got {motion}")
        height, width = self.image.shape[:2]
        box, moved = self.box, motion.moved(self.box)
        # the move covers where the box was too (what it leaves shows what moves in: the
        # surroundings, moved, not the head it held) and fades out beyond both: where a pixel
        # reads moves, not how two pictures are mixed, so no edge is seen twice
        x0, y0 = min(box.x0, moved.x0), min(box.y0, moved.y0)
        x1, y1 = max(box.x1, moved.x1), max(box.y1, moved.y1)
        corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]])
        centre, before = np.array([moved.center_x, moved.center_y]), np.array([box.center_x,
                                                                                box.center_y])
        farthest = np.abs(before + (corners - centre) / motion.scale - corners).max()
        reach = max(self.feather * max(box.side, moved.side), 2 * farthest)  # slope <= 3/4: no fold
        top, left = max(0, math.floor(y0 - reach)), max(0, math.floor(x0 - reach))
        bottom, right = min(height, math.ceil(y1 + reach)), min(width, math.ceil(x1 + reach))
        if bottom <= top or right <= left:
            return frame.copy()
        fade = (feather_window(bottom - top, y0 - reach - top, y1 + reach - top, reach)[:, None]
                * feather_window(right - left, x0 - reach - left, x1 + reach - left, reach)[None, :])
        columns, rows = np.arange(left, right) + 0.5, np.arange(top, bottom) + 0.5
        # where the whole motion takes each output pixel from
        shift = np.stack(np.broadcast_arrays(
            box.center_x + (columns[None, :] - moved.center_x) / motion.scale - columns[None, :],
            box.center_y + (rows[:, None] - moved.center_y) / motion.scale - rows[:, None]),
            axis=-1)  # (h, w, 2)
        if self.hold is not None:  # the body stays
            fade = fade * self.hold.moving(rows, columns, shift, every=max(1, int(self.hold.step)))
        # each output pixel reads the composited frame where the (faded) motion takes it from
        # (no pixel reads past the frame's edges, where it has nothing: `kept_inside`)
        x = kept_inside(columns[None, :] + fade * shift[..., 0], columns[None, :], width)
        y = kept_inside(rows[:, None] + fade * shift[..., 1], rows[:, None], height)
        gx = torch.from_numpy(2 * x / width - 1).float()
        gy = torch.from_numpy(2 * y / height - 1).float()
        pixels = torch.from_numpy(np.ascontiguousarray(frame.transpose(2, 0, 1))).float()[None]
        content = F.grid_sample(pixels, torch.stack([gx, gy], dim=-1)[None], mode="bicubic",
                                padding_mode="border", align_corners=False)[0]  # (3, h, w)
        region = content.round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
        result = frame.copy()
        original = frame[top:bottom, left:right]
        # where the motion has faded out entirely, the frame keeps its bytes
        result[top:bottom, left:right] = np.where((fade > 0)[..., None], region, original)
        return result
