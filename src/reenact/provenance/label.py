"""The optional visible label: a short text in a semi-transparent box in the bottom-left corner."""

from __future__ import annotations

import numpy as np

MAX_LABEL_CHARS = 80
_BOX_ALPHA = 0.6  # opacity of the black box behind the text
# font size as a fraction of the frame's shorter side, and its limits in pixels
_FONT_FRACTION = 0.04
_MIN_FONT, _MAX_FONT = 10, 48


def check_label(text: object) -> str:
    """`text` stripped, or ValueError if it is not a short single line of printable text."""
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
    return stripped


class LabelPainter:
    """Draws `text` on frames; the box is rendered once per frame size and alpha-blended after.

    The label is drawn with Pillow's default font, white on a black box at 60% opacity, in the
    bottom-left corner, sized to 4% of the frame's shorter side.
    """

    def __init__(self, text: str) -> None:
        self.text = check_label(text)
        # (height, width) -> (top, left, rgb (h, w, 3) float, alpha (h, w, 1) float)
        self._boxes: dict[tuple[int, int], tuple[int, int, np.ndarray, np.ndarray]] = {}

    def _render(self, height: int, width: int) -> tuple[int, int, np.ndarray, np.ndarray]:
        from PIL import Image, ImageDraw, ImageFont

        size = int(np.clip(round(min(height, width) * _FONT_FRACTION), _MIN_FONT, _MAX_FONT))
        font = ImageFont.load_default(size=size)
        left, top, right, bottom = (round(value) for value in ImageDraw.Draw(
            Image.new("L", (1, 1))).textbbox((0, 0), self.text, font=font))
        pad = max(2, size // 3)
        box_width = min(width, right - left + 2 * pad)
        box_height = min(height, bottom - top + 2 * pad)
        opacity = Image.new("L", (box_width, box_height), round(255 * _BOX_ALPHA))
        ink = Image.new("L", (box_width, box_height), 0)
        ImageDraw.Draw(ink).text((pad - left, pad - top), self.text, fill=255, font=font)
        ImageDraw.Draw(opacity).text((pad - left, pad - top), self.text, fill=255, font=font)
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
