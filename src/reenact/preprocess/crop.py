"""Square crops that follow the face: where to crop, temporal smoothing of the box, the crop itself.

Coordinates are continuous pixel coordinates of the full image (see `reenact.preprocess.face`):
(0, 0) is the top-left corner of the top-left pixel and pixel (row i, column j) has its centre at
(j + 0.5, i + 0.5). A `CropBox` of side s cut to `size` pixels maps crop pixel (row r, column c),
centre (c + 0.5, r + 0.5) in crop coordinates, to image point (x0 + (c + 0.5) s / size,
y0 + (r + 0.5) s / size): crop coordinates are image coordinates shifted by (x0, y0) and scaled by
size / s. `CropBox.image_to_crop` / `crop_to_image` apply this to points.

The pipeline: `crop_box(face)` per frame -> `BoxSmoother.smooth` (videos) -> `crop_image` -> model ->
`reenact.postprocess.paste.paste_back` with the same box.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from reenact.config import ConfigError
from reenact.preprocess.face import Face, check_rgb_image, require_pillow


def _check_finite(name: str, value: object, *, minimum: float | None = None,
                  strictly: bool = False) -> float:
    """Raise ValueError naming `name` unless `value` is a finite real number (above `minimum`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
            or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if minimum is not None and (value <= minimum if strictly else value < minimum):
        relation = ">" if strictly else ">="
        raise ValueError(f"{name}: expected a number {relation} {minimum}, got {value!r}")
    return float(value)


def _check_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class CropBox:
    """A square region of an image, in pixels (module conventions); it may extend past the border.

    center_x, center_y: the centre of the square; side: its side length, > 0.
    """

    center_x: float
    center_y: float
    side: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "center_x", _check_finite("CropBox.center_x", self.center_x))
        object.__setattr__(self, "center_y", _check_finite("CropBox.center_y", self.center_y))
        object.__setattr__(self, "side", _check_finite("CropBox.side", self.side, minimum=0,
                                                       strictly=True))

    @property
    def x0(self) -> float:
        return self.center_x - self.side / 2

    @property
    def y0(self) -> float:
        return self.center_y - self.side / 2

    @property
    def x1(self) -> float:
        return self.center_x + self.side / 2

    @property
    def y1(self) -> float:
        return self.center_y + self.side / 2

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) in image pixels."""
        return self.x0, self.y0, self.x1, self.y1

    def image_to_crop(self, points: np.ndarray, size: int) -> np.ndarray:
        """Map (..., 2) image points (x, y) to the coordinates of this box cut to `size` pixels."""
        scale = _check_size("size", size) / self.side
        return (np.asarray(points, dtype=np.float64) - (self.x0, self.y0)) * scale

    def crop_to_image(self, points: np.ndarray, size: int) -> np.ndarray:
        """Map (..., 2) points (x, y) of this box cut to `size` pixels back to image coordinates."""
        scale = self.side / _check_size("size", size)
        return np.asarray(points, dtype=np.float64) * scale + (self.x0, self.y0)


def crop_box(face: Face, image_width: int, image_height: int, *, margin: float = 0.4,
             shift_up: float = 0.1, keep_inside: bool = True) -> CropBox:
    """A FOMM-style head crop: a square around the face with room for hair, chin and some neck.

    The face extent is the union of `face.box` and its landmarks' bounding box (dlib's box cuts the
    chin); let e be its longer side. side = (1 + 2 margin) e (margin 0.4: 1.8x), centred on the
    extent and moved up by shift_up * e so that the forehead and hair are in. With keep_inside, a square
    that fits in the image is shifted the least needed to lie inside it (no replicated border in the
    crop); one that does not fit stays centred on the face. The result always encloses `face.box`.

    margin: >= 0. shift_up: in [-margin, margin] (beyond, the face box would poke out).
    """
    if not isinstance(face, Face):
        raise ValueError(f"face: expected a Face, got {type(face).__name__}")
    width, height = _check_size("image_width", image_width), _check_size("image_height", image_height)
    margin = _check_finite("margin", margin, minimum=0)
    shift_up = _check_finite("shift_up", shift_up)
    if abs(shift_up) > margin:
        raise ValueError(f"shift_up: expected a number in [-margin, margin] = [{-margin}, {margin}] "
                         f"so that the box encloses the face, got {shift_up}")
    x0, y0, x1, y1 = face.box
    if face.landmarks is not None:
        low, high = face.landmarks.min(axis=0), face.landmarks.max(axis=0)  # (2,) each
        x0, y0 = min(x0, float(low[0])), min(y0, float(low[1]))
        x1, y1 = max(x1, float(high[0])), max(y1, float(high[1]))
    extent = max(x1 - x0, y1 - y0)
    side = (1 + 2 * margin) * extent
    center_x, center_y = (x0 + x1) / 2, (y0 + y1) / 2 - shift_up * extent
    if keep_inside:
        center_x = _shift_inside(center_x, side, width)
        center_y = _shift_inside(center_y, side, height)
    return CropBox(center_x, center_y, side)


def _shift_inside(center: float, side: float, length: int) -> float:
    """Move an interval [center - side/2, center + side/2] into [0, length] when it fits."""
    if side > length:
        return center
    return min(max(center, side / 2), length - side / 2)


# -- temporal smoothing -------------------------------------------------------------------------


@dataclass(frozen=True)
class BoxSmoothingConfig:
    """One-euro filter (Casiez et al., CHI 2012) on the box centre and log side.

    The cutoff frequency rises with the box's speed, measured in box sides per second: a still head
    is low-pass filtered at `min_cutoff` (no jitter), a fast one at up to min_cutoff + beta * speed
    (little lag). Working in box sides makes the settings independent of the resolution.

    min_cutoff: Hz; lower = steadier when still, more lag on slow drifts.
    beta: cutoff increase per (box side per second) of speed; higher = less lag on fast moves.
    derivative_cutoff: Hz; the low-pass of the speed estimate.
    """

    min_cutoff: float = 0.5
    beta: float = 8.0
    derivative_cutoff: float = 1.0

    def __post_init__(self) -> None:
        for key in ("min_cutoff", "beta", "derivative_cutoff"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0 or (key != "beta" and value == 0):
                expected = "a number >= 0" if key == "beta" else "a number > 0"
                raise ConfigError(f"BoxSmoothingConfig.{key}: expected {expected}, got {value!r}")


def _smoothing_factor(cutoff: float, period: float) -> float:
    """Smoothing factor of a first-order low-pass at `cutoff` Hz, sampled every `period` seconds."""
    time_constant = 1 / (2 * math.pi * cutoff)
    return 1 / (1 + time_constant / period)


class BoxSmoother:
    """Stateful one-euro smoothing of the crop boxes of consecutive video frames.

    fps: frames per second of the video (the filter's settings are in Hz). Call `smooth` once per
    frame in order; `reset` before an unrelated sequence (a cut).
    """

    def __init__(self, fps: float, config: BoxSmoothingConfig | None = None) -> None:
        self.fps = _check_finite("fps", fps, minimum=0, strictly=True)
        self.config = config if config is not None else BoxSmoothingConfig()
        self._value: np.ndarray | None = None  # (3,) filtered (cx, cy, log side)
        self._velocity = np.zeros(3)  # (3,) filtered velocity, box sides per second

    def reset(self) -> None:
        self._value = None
        self._velocity = np.zeros(3)

    def smooth(self, box: CropBox) -> CropBox:
        """The smoothed box of the next frame, given its raw box."""
        if not isinstance(box, CropBox):
            raise ValueError(f"box: expected a CropBox, got {type(box).__name__}")
        raw = np.array([box.center_x, box.center_y, math.log(box.side)])
        if self._value is None:
            self._value = raw
            return box
        period = 1 / self.fps
        previous_side = math.exp(self._value[2])
        # centre speed in box sides per second; d(log side)/dt is already relative
        velocity = (raw - self._value) / period / np.array([previous_side, previous_side, 1.0])
        velocity_factor = _smoothing_factor(self.config.derivative_cutoff, period)
        self._velocity = velocity_factor * velocity + (1 - velocity_factor) * self._velocity
        cutoff = self.config.min_cutoff + self.config.beta * float(np.linalg.norm(self._velocity))
        factor = _smoothing_factor(cutoff, period)
        self._value = factor * raw + (1 - factor) * self._value
        return CropBox(float(self._value[0]), float(self._value[1]), math.exp(self._value[2]))


def smooth_boxes(boxes: Sequence[CropBox], fps: float,
                 config: BoxSmoothingConfig | None = None) -> list[CropBox]:
    """`BoxSmoother.smooth` over a whole sequence: the smoothed box of every frame, in order."""
    smoother = BoxSmoother(fps, config)
    return [smoother.smooth(box) for box in boxes]


def steady_sides(boxes: Sequence[CropBox], fps: float, seconds: float = 4.0) -> list[CropBox]:
    """`boxes` with each side replaced by the median side of the boxes within `seconds` / 2 of
    it (centres kept): a followed face's box tracks its extent, which a turn or a nod shrinks by
    up to a third within a second (samples/interview.mp4: 390 -> 281 px in 7 frames) while the
    head stays as large; the motion model's detector then saw the face zoomed in and out. Its
    training crops are one box per run of frames, so its inputs should be, too; slower changes
    (a driver walking toward the camera) are still followed."""
    if fps <= 0 or not math.isfinite(fps) or seconds < 0 or not math.isfinite(seconds):
        raise ValueError(f"fps, seconds: expected fps > 0 and seconds >= 0, got {fps!r}, {seconds!r}")
    sides = np.array([box.side for box in boxes], dtype=np.float64)
    reach = int(round(seconds * fps / 2))
    steady = [float(np.median(sides[max(0, i - reach):i + reach + 1])) for i in range(len(sides))]
    return [CropBox(box.center_x, box.center_y, side) for box, side in zip(boxes, steady)]


# -- cropping -----------------------------------------------------------------------------------

FillMode = Literal["edge", "constant"]


def _bicubic_margin(scale: float) -> int:
    """Source pixels a bicubic resize reads beyond a box, when it shrinks by `scale` (>= 1 widens)."""
    return int(math.ceil(2 * max(1.0, scale))) + 2


def take_region(image: np.ndarray, x0: int, y0: int, x1: int, y1: int, *,
                fill: FillMode = "edge", fill_value: int = 0) -> np.ndarray:
    """Pixels [y0, y1) x [x0, x1) of `image` (H, W, C); outside the image, replicated edge pixels
    (fill="edge") or `fill_value` (fill="constant"). Returns (y1 - y0, x1 - x0, C), a view when the
    region lies inside the image."""
    height, width = image.shape[:2]
    if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
        return image[y0:y1, x0:x1]
    rows = np.arange(y0, y1)
    cols = np.arange(x0, x1)
    region = image[np.clip(rows, 0, height - 1)][:, np.clip(cols, 0, width - 1)]
    if fill == "constant":
        region[(rows < 0) | (rows >= height)] = fill_value
        region[:, (cols < 0) | (cols >= width)] = fill_value
    return region


def crop_image(image: np.ndarray, box: CropBox, size: int, *, fill: FillMode = "edge",
               fill_value: int = 0) -> np.ndarray:
    """Cut `box` out of `image` (H, W, 3) uint8 and resize it to (size, size, 3) uint8.

    Bicubic and antialiased (Pillow's resize with a sub-pixel source box), with the exact mapping
    of the module docstring. Parts of the box outside the image are filled by edge replication
    (fill="edge") or with `fill_value` in [0, 255] (fill="constant"). Only the pixels around the box
    are read, so the cost depends on the box, not on the image.
    """
    pil = require_pillow()
    check_rgb_image(image, "image")
    if not isinstance(box, CropBox):
        raise ValueError(f"box: expected a CropBox, got {type(box).__name__}")
    size = _check_size("size", size)
    if fill not in ("edge", "constant"):
        raise ValueError(f"fill: expected 'edge' or 'constant', got {fill!r}")
    if isinstance(fill_value, bool) or not isinstance(fill_value, (int, np.integer)) \
            or not 0 <= fill_value <= 255:
        raise ValueError(f"fill_value: expected an integer in [0, 255], got {fill_value!r}")
    pad = _bicubic_margin(box.side / size)
    left, top = math.floor(box.x0) - pad, math.floor(box.y0) - pad
    right, bottom = math.ceil(box.x1) + pad, math.ceil(box.y1) + pad
    region = np.ascontiguousarray(take_region(image, left, top, right, bottom, fill=fill,
                                              fill_value=int(fill_value)))
    source_box = (box.x0 - left, box.y0 - top, box.x1 - left, box.y1 - top)
    resized = pil.fromarray(region).resize((size, size), pil.Resampling.BICUBIC, box=source_box)
    return np.asarray(resized)
