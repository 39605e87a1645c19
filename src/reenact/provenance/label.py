"""The optional visible label: a short text in a semi-transparent box in the bottom-left corner."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

MAX_LABEL_CHARS = 80
_BOX_ALPHA = 0.6  # opacity of the black box behind the text
# font size as a fraction of the frame's shorter side, and its limits in pixels
_FONT_FRACTION = 0.04
_MIN_FONT, _MAX_FONT = 10, 48
# fonts tried in order, by file name in the system's font directories: the first one with a glyph
# for every character of the label draws it. Pillow's own font (last) has ASCII only.
FONT_FILES = ("DejaVuSans.ttf", "NotoSans-Regular.ttf", "NotoSansCJK-Regular.ttc",
              "NotoSansCJKsc-Regular.otf", "wqy-zenhei.ttc", "DroidSansFallbackFull.ttf",
              "LiberationSans-Regular.ttf", "Arial Unicode.ttf", "arialuni.ttf", "arial.ttf")
_PROBE_SIZE = 16
_NOT_A_CHARACTER = "\uffff"  # drawn with the font's "missing glyph" box


@functools.lru_cache(maxsize=64)
def _font(name: str | None, size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size) if name is None else ImageFont.truetype(name, size)


@functools.lru_cache(maxsize=1024)
def _has_glyph(name: str | None, character: str) -> bool:
    """Whether the font draws `character` as something other than its missing-glyph box."""
    font = _font(name, _PROBE_SIZE)

    def drawn(text: str) -> tuple[tuple[int, int], bytes]:
        mask = font.getmask(text)
        return mask.size, bytes(mask)

    return character.isspace() or drawn(character) != drawn(_NOT_A_CHARACTER)


def _available_fonts() -> list[str | None]:
    names: list[str | None] = []
    for name in FONT_FILES:
        try:
            _font(name, _PROBE_SIZE)
        except OSError:  # not installed here
            continue
        names.append(name)
    return [*names, None]


def label_font(text: str) -> str | None:
    """The first font (a FONT_FILES name, or None for Pillow's own) with a glyph for every
    character of `text`; ValueError naming the characters that no font here has."""
    fonts = _available_fonts()
    for name in fonts:
        if all(_has_glyph(name, character) for character in set(text)):
            return name
    missing = "".join(sorted({c for c in text if not any(_has_glyph(n, c) for n in fonts)}))
    raise ValueError(f"label: no font installed here has glyphs for {missing!r}, which would be "
                     f"drawn as empty boxes; use other characters, or install a font that has "
                     f"them (e.g. Noto Sans, Noto Sans CJK, DejaVu Sans)")


def check_label(text: object) -> str:
    """`text` stripped, or ValueError if it is not a short single line of printable text that a
    font installed here can draw."""
    if not isinstance(text, str):
        raise ValueError(f"label: expected a string, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise ValueError("label: expected some text, got an empty label")
    if len(stripped) > MAX_LABEL_CHARS:
        raise ValueError(f"label: expected at most {MAX_LABEL_CHARS} characters, got "
                         f"{len(stripped)}")
    if not stripped.isprintable():
        raise ValueError(f"label: expected one line of printable text, got {stripped!r}")
    label_font(stripped)
    return stripped


def _wrap(text: str, font: Any, room: int) -> list[str]:
    """`text` in lines no wider than `room` px: broken at spaces, a word too long at any place."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if font.getlength(candidate) <= room:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = word
        while len(line) > 1 and font.getlength(line) > room:  # break inside a long word
            cut = max((i for i in range(1, len(line)) if font.getlength(line[:i]) <= room),
                      default=1)
            lines.append(line[:cut])
            line = line[cut:]
    lines.append(line)
    return lines


class LabelPainter:
    """Draws `text` on frames; the box is rendered once per frame size and alpha-blended after.

    The label is drawn white on a black box at 60% opacity, in the bottom-left corner, sized to 4%
    of the frame's shorter side, with the first of FONT_FILES that has all its characters. A label
    wider than the frame is drawn smaller (down to 10 px), then wrapped onto more lines.
    """

    def __init__(self, text: str) -> None:
        self.text = check_label(text)
        self.font_name = label_font(self.text)
        # (height, width) -> (top, left, rgb (h, w, 3) float, alpha (h, w, 1) float)
        self._boxes: dict[tuple[int, int], tuple[int, int, np.ndarray, np.ndarray]] = {}

    def _render(self, height: int, width: int) -> tuple[int, int, np.ndarray, np.ndarray]:
        from PIL import Image, ImageDraw

        size = int(np.clip(round(min(height, width) * _FONT_FRACTION), _MIN_FONT, _MAX_FONT))
        while True:  # the largest size up to `size` at which the label fits on one line
            font, pad = _font(self.font_name, size), max(2, size // 3)
            room = width - 4 * pad  # the box's padding and its margin from the frame's edge
            if font.getlength(self.text) <= room or size <= _MIN_FONT:
                break
            size -= 1
        text = "\n".join(_wrap(self.text, font, max(1, room)))
        left, top, right, bottom = (round(value) for value in ImageDraw.Draw(
            Image.new("L", (1, 1))).multiline_textbbox((0, 0), text, font=font))
        box_width = min(width, right - left + 2 * pad)
        box_height = min(height, bottom - top + 2 * pad)
        opacity = Image.new("L", (box_width, box_height), round(255 * _BOX_ALPHA))
        ink = Image.new("L", (box_width, box_height), 0)
        ImageDraw.Draw(ink).multiline_text((pad - left, pad - top), text, fill=255, font=font)
        ImageDraw.Draw(opacity).multiline_text((pad - left, pad - top), text, fill=255, font=font)
        rgb = np.repeat(np.asarray(ink, dtype=np.float32)[..., None], 3, axis=2)
        alpha = np.asarray(opacity, dtype=np.float32)[..., None] / 255
        margin = max(0, min(pad, width - box_width, height - box_height))
        return height - box_height - margin, margin, rgb, alpha

    def paint(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> a copy with the label in the bottom-left corner."""
        height, width = frame.shape[:2]
        if (height, width) not in self._boxes:
            self._boxes[(height, width)] = self._render(height, width)
        top, left, rgb, alpha = self._boxes[(height, width)]
        out = frame.copy()
        region = out[top:top + rgb.shape[0], left:left + rgb.shape[1]]
        blended = region * (1 - alpha) + rgb * alpha
        region[...] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        return out
