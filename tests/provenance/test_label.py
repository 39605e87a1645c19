"""reenact.provenance.label: the visible label stays in its corner; bad labels are refused."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from provenance_clips import decode
from reenact.provenance.label import MAX_LABEL_CHARS, LabelPainter, check_label
from reenact.provenance.record import Provenance
from reenact.provenance.writers import MarkedVideoWriter


def gradient(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 200 // width + 20, y * 200 // height + 20, (x + y) * 100 // (width + height)
                     + 80], axis=-1).astype(np.uint8)


def changed_box(a: np.ndarray, b: np.ndarray, threshold: int = 0) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the pixels that differ by more than `threshold`."""
    rows, cols = np.nonzero(np.abs(a.astype(int) - b).max(axis=2) > threshold)
    return rows.min(), cols.min(), rows.max() + 1, cols.max() + 1


@pytest.mark.parametrize("size", [(256, 256), (720, 1280), (64, 64)])
def test_label_changes_the_bottom_left_corner_only(size: tuple[int, int]) -> None:
    height, width = size
    frame = gradient(height, width)
    labelled = LabelPainter("AI-generated").paint(frame)
    assert labelled.shape == frame.shape and not np.array_equal(labelled, frame)
    top, left, bottom, right = changed_box(labelled, frame)
    # a 64 px frame is narrower than the label at the smallest font: it wraps onto two lines
    assert top >= height * (0.75 if width > 64 else 0.4)
    assert right <= max(width * 0.6, 64) and left <= width * 0.05
    assert bottom <= height


def test_label_through_the_video_writer(tmp_path: Path) -> None:
    frames = [gradient(240, 320)] * 5
    base = Provenance.new()
    labelled = Provenance(run_id=base.run_id, created=base.created, label="synthetic")
    for name, provenance in (("plain.mp4", base), ("label.mp4", labelled)):
        with MarkedVideoWriter(tmp_path / name, Fraction(25), 320, 240,
                               provenance=provenance) as writer:
            writer.write_batch(np.stack(frames))
    plain, with_label = decode(tmp_path / "plain.mp4")[2], decode(tmp_path / "label.mp4")[2]
    top, _, _, right = changed_box(with_label, plain, threshold=30)
    assert top >= 240 * 0.75 and right <= 320 * 0.6  # the label's box and text
    # elsewhere only the watermark's moves (the label changed the host they start from) and the
    # encoder's noise differ: a few grey levels
    outside = np.abs(with_label[:170].astype(int) - plain[:170])
    assert outside.mean() < 3 and outside.max() <= 30


@pytest.mark.parametrize(("text", "message"), [
    ("", "label: expected some text, got an empty label"),
    ("two\nlines", "label: expected one line of printable text"),
    ("x" * (MAX_LABEL_CHARS + 1), f"label: expected at most {MAX_LABEL_CHARS} characters"),
    (3, "label: expected a string, got int"),
])
def test_bad_labels(text: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_label(text)
    assert check_label("  AI  ") == "AI"


# -- issue 17, item 9: labels that a font cannot draw, and labels wider than the frame ------------


def ink(frame: np.ndarray) -> int:
    return int((frame.max(axis=2) > 128).sum())


def test_non_latin_label_is_drawn_with_a_font_that_has_it() -> None:
    from reenact.provenance.label import label_font

    text = "Сгенерировано ИИ"
    if label_font(text) is None:  # pragma: no cover - only Pillow's own font here
        pytest.skip("no font with Cyrillic installed")
    frame = np.zeros((256, 512, 3), np.uint8)
    drawn = LabelPainter(text).paint(frame)
    boxes = LabelPainter("\u25a1" * len(text)).paint(frame) if label_font("\u25a1") else None
    assert ink(drawn) > 0
    # letters, not one missing-glyph box repeated: two different words draw differently
    other = LabelPainter("Ссссссссссссс ИИ").paint(frame)
    assert not np.array_equal(drawn, other) and (boxes is None or not np.array_equal(drawn, boxes))


def test_a_character_no_font_has_is_refused() -> None:
    with pytest.raises(ValueError, match=r"label: no font installed here has glyphs for '𐀀', which "
                                         r"would be drawn as empty boxes"):
        check_label("AI 𐀀")  # LINEAR B SYLLABLE B008 A


def test_only_pillows_own_font_refuses_accents(monkeypatch: pytest.MonkeyPatch) -> None:
    import reenact.provenance.label as label

    monkeypatch.setattr(label, "FONT_FILES", ())
    with pytest.raises(ValueError, match=r"glyphs for 'é'"):
        check_label("Généré par IA")
    assert check_label("AI-generated") == "AI-generated"


@pytest.mark.parametrize("width", [256, 128])
def test_a_long_label_is_shrunk_and_wrapped_not_clipped(width: int) -> None:
    text = "x" * 10 + " A synthetic video: made by reenact from a photo, not filmed. " + "y" * 7
    text = text[:MAX_LABEL_CHARS]
    wide = LabelPainter(text).paint(np.zeros((256, 4096, 3), np.uint8))
    narrow = LabelPainter(text).paint(np.zeros((256, width, 3), np.uint8))
    # the same font size (4% of the shorter side, or the 10 px minimum), so the same ink
    assert abs(ink(narrow) - ink(wide)) <= 0.05 * ink(wide)
    rows = np.nonzero(narrow.max(axis=(1, 2)) > 128)[0]
    assert rows.min() > 128  # wrapped onto a few lines in the bottom half
