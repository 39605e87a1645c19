"""Contact sheet: a few frames of each evaluated clip, driving | model | warp side by side, with
the landmarks each image's measures were taken from drawn as small dots. Pillow only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenact.preprocess.crop import CropBox, crop_image
from reenact.preprocess.face import require_pillow

TILE_COLUMNS = ("driving", "model", "warp")
_DOT_COLOURS = {"driving": (0, 255, 0), "model": (255, 64, 64), "warp": (64, 160, 255)}
_LABEL_HEIGHT = 14
_BACKGROUND = (24, 24, 24)
_TEXT = (235, 235, 235)


@dataclass(frozen=True)
class Tile:
    """One cell: (S, S, 3) uint8 and its landmarks (68, 2) in the tile's pixels, or None."""

    image: np.ndarray
    landmarks: np.ndarray | None


@dataclass(frozen=True)
class SheetRow:
    """One clip: a label and, per chosen frame, its frame index and a tile per `TILE_COLUMNS`."""

    label: str
    frames: list[tuple[int, dict[str, Tile]]]


def cut_tile(image: np.ndarray, box: CropBox, size: int, landmarks: np.ndarray | None) -> Tile:
    """`box` of `image` resized to size x size, with `landmarks` (image pixels) moved along."""
    points = None if landmarks is None else box.image_to_crop(landmarks, size)
    return Tile(crop_image(image, box, size), points)


def _draw_tile(sheet, tile: Tile, x: int, y: int, colour: tuple[int, int, int]) -> None:
    from PIL import ImageDraw

    pil = require_pillow()
    sheet.paste(pil.fromarray(tile.image), (x, y))
    if tile.landmarks is None:
        return
    draw = ImageDraw.Draw(sheet)
    size = tile.image.shape[0]
    for px, py in tile.landmarks:
        if 0 <= px < size and 0 <= py < size:
            draw.point((x + px - 0.5, y + py - 0.5), fill=colour)


def contact_sheet(rows: list[SheetRow], tile_size: int) -> np.ndarray:
    """(H, W, 3) uint8: a header row naming the columns, then per clip a label line and a row of
    tiles (for each chosen frame: driving | model | warp, separated by gaps between frames)."""
    if not rows:
        raise ValueError("rows: expected at least one clip with frames to draw")
    from PIL import ImageDraw

    pil = require_pillow()
    per_row = max(len(row.frames) for row in rows)
    gap = max(4, tile_size // 16)
    group = len(TILE_COLUMNS) * tile_size
    width = per_row * group + (per_row - 1) * gap
    height = _LABEL_HEIGHT + len(rows) * (_LABEL_HEIGHT + tile_size)
    sheet = pil.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for index in range(per_row):
        for column, name in enumerate(TILE_COLUMNS):
            draw.text((index * (group + gap) + column * tile_size + 3, 1), name,
                      fill=_DOT_COLOURS[name])
    y = _LABEL_HEIGHT
    for row in rows:
        frame_names = ", ".join(str(frame) for frame, _ in row.frames)
        draw.text((3, y + 1), f"{row.label}  (frames {frame_names})", fill=_TEXT)
        y += _LABEL_HEIGHT
        for index, (_, tiles) in enumerate(row.frames):
            for column, name in enumerate(TILE_COLUMNS):
                if name in tiles:
                    _draw_tile(sheet, tiles[name], index * (group + gap) + column * tile_size, y,
                               _DOT_COLOURS[name])
        y += tile_size
    return np.asarray(sheet)


def pick_frames(mouth: np.ndarray, eyes: np.ndarray, yaw: np.ndarray, count: int) -> list[int]:
    """Up to `count` frame indices worth looking at, in time order and at least T / (2 count)
    frames apart: the driver's widest mouth, its most closed eyes, its largest turn from frame 0,
    then evenly spaced ones."""
    total = len(mouth)
    spacing = max(1, total // (2 * max(count, 1)))
    chosen: list[int] = []

    def take(index: int) -> None:
        if len(chosen) < count and all(abs(index - other) >= spacing for other in chosen):
            chosen.append(index)

    yaw = np.asarray(yaw, np.float64)
    turn = np.abs(yaw - yaw[0]) if total and np.isfinite(yaw[0]) else np.full(total, np.nan)
    for values in (np.asarray(mouth, np.float64), -np.asarray(eyes, np.float64), turn):
        if np.isfinite(values).any():
            take(int(np.nanargmax(values)))
    for index in np.linspace(0, total - 1, count + 2)[1:-1].round().astype(int).tolist():
        take(index)
    return sorted(chosen)
