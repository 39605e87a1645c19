"""reenact.io.image: every supported pixel mode, EXIF orientation, atomic writes, error messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reenact.io import MAX_IMAGE_SIDE, MIN_IMAGE_SIDE, MediaError, read_image, write_image

Image = pytest.importorskip("PIL.Image")

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"


def _gradient(height: int = 72, width: int = 96) -> np.ndarray:
    """(H, W, 3) uint8 with a different value in every channel and position."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // (width - 1), y * 255 // (height - 1), (x + y) % 256],
                    axis=-1).astype(np.uint8)


def _save(image: Image.Image, path: Path, **options: object) -> Path:
    image.save(path, **options)
    return path


# ------------------------------------------------------------------------------ pixel modes

def test_rgb_png_round_trip_is_exact(tmp_path: Path) -> None:
    # write_image writes the pixels as given (marking is reenact.provenance.writers' job)
    pixels = _gradient()
    assert write_image(tmp_path / "a.png", pixels) == tmp_path / "a.png"
    back = read_image(tmp_path / "a.png")
    assert back.dtype == np.uint8 and back.shape == (72, 96, 3)
    np.testing.assert_array_equal(back, pixels)


def test_png_text_and_jpeg_comment(tmp_path: Path) -> None:
    from PIL import Image

    text, comment = {"Software": "reenact", "Comment": "made"}, "a comment"
    with Image.open(write_image(tmp_path / "a.png", _gradient(), text=text, comment=comment)) as image:
        assert {key: image.info[key] for key in text} == text and "comment" not in image.info
    with Image.open(write_image(tmp_path / "a.jpg", _gradient(), text=text, comment=comment)) as image:
        assert image.info["comment"] == comment.encode() and "Software" not in image.info


def test_jpeg_round_trip_is_close(tmp_path: Path) -> None:
    pixels = _gradient()
    back = read_image(write_image(tmp_path / "a.JPG", pixels))
    assert back.shape == pixels.shape
    assert np.abs(back.astype(int) - pixels).mean() < 3


def test_grayscale_becomes_three_equal_channels(tmp_path: Path) -> None:
    gray = _gradient()[..., 0]
    back = read_image(_save(Image.fromarray(gray, "L"), tmp_path / "g.png"))
    assert back.shape == (72, 96, 3)
    for channel in range(3):
        np.testing.assert_array_equal(back[..., channel], gray)


def test_bilevel_image(tmp_path: Path) -> None:
    image = Image.new("1", (80, 70), 0)
    image.paste(1, (0, 0, 40, 70))
    back = read_image(_save(image, tmp_path / "b.png"))
    assert back[0, 0].tolist() == [255, 255, 255] and back[0, 79].tolist() == [0, 0, 0]


def test_sixteen_bit_grayscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.zeros((70, 80), np.uint16)
    values[:, 20:40] = 257 * 100   # exactly 100 in 8 bit
    values[:, 40:60] = 65535
    values[:, 60:] = 32768         # 127.5 -> rounds to 128
    path = _save(Image.fromarray(values), tmp_path / "g16.png")
    assert Image.open(path).mode.startswith("I;16")
    back = read_image(path)
    assert back.dtype == np.uint8
    assert back[0, [0, 30, 50, 70], 0].tolist() == [0, 100, 255, 128]


def test_rgba_is_composited_over_white(tmp_path: Path) -> None:
    rgba = np.zeros((70, 80, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, 20:40, 3] = 255   # opaque red
    rgba[:, 40:, 3] = 128     # half-transparent red over white
    back = read_image(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png"))
    assert back[0, 0].tolist() == [255, 255, 255]
    assert back[0, 30].tolist() == [255, 0, 0]
    assert back[0, 60].tolist() == [255, 127, 127]


def test_gray_alpha_is_composited_over_white(tmp_path: Path) -> None:
    image = Image.new("LA", (80, 70), (0, 0))
    image.paste((0, 255), (0, 0, 40, 70))
    back = read_image(_save(image, tmp_path / "la.png"))
    assert back[0, 0].tolist() == [0, 0, 0] and back[0, 79].tolist() == [255, 255, 255]


def test_palette_with_and_without_transparency(tmp_path: Path) -> None:
    image = Image.new("P", (80, 70), 0)
    image.putpalette([200, 10, 10, 10, 200, 10] + [0] * 762)
    image.paste(1, (40, 0, 80, 70))
    plain = read_image(_save(image, tmp_path / "p.png"))
    assert plain[0, 0].tolist() == [200, 10, 10] and plain[0, 79].tolist() == [10, 200, 10]
    clear = read_image(_save(image, tmp_path / "pt.png", transparency=1))
    assert clear[0, 0].tolist() == [200, 10, 10] and clear[0, 79].tolist() == [255, 255, 255]


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    image = Image.new("CMYK", (80, 70), (0, 255, 255, 0))  # red in CMYK
    back = read_image(_save(image, tmp_path / "c.jpg"))
    assert back.shape == (70, 80, 3)
    red, green, blue = back[35, 40].astype(int)
    assert red > 200 and green < 50 and blue < 50


@pytest.mark.parametrize("orientation, rotate", [(6, -1), (8, 1), (3, 2)])
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int, rotate: int) -> None:
    stored = np.full((64, 96, 3), 30, np.uint8)
    stored[:16, :16] = (255, 0, 0)  # marker in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = _save(Image.fromarray(stored), tmp_path / "o.png", exif=exif)
    back = read_image(path)
    expected = np.rot90(stored, k=rotate)  # 6: 90 degrees clockwise, 8: counterclockwise
    assert back.shape == expected.shape
    np.testing.assert_array_equal(back, expected)


# ------------------------------------------------------------------------------ bad inputs

def _message(path: Path) -> str:
    with pytest.raises(MediaError) as caught:
        read_image(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert _message(tmp_path / "x.png") == f"{tmp_path / 'x.png'}: image not found"


def test_directory(tmp_path: Path) -> None:
    assert "is a directory" in _message(tmp_path)


def test_text_file_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("hello, not pixels\n")
    assert _message(path) == f"{path}: not an image file (unrecognized format)"


def test_video_file_is_not_an_image(tmp_path: Path) -> None:
    from reenact.io import VideoWriter

    path = tmp_path / "clip.mp4"
    with VideoWriter(path, 25, 64, 64) as writer:
        writer.write(np.zeros((64, 64, 3), np.uint8))
    assert "not an image file" in _message(path)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_image(tmp_path: Path, suffix: str) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    whole = write_image(tmp_path / f"whole{suffix}", noise).read_bytes()
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(whole[: len(whole) // 2])
    assert "image is truncated or corrupt" in _message(path)


def test_too_small(tmp_path: Path) -> None:
    path = _save(Image.new("RGB", (40, 30)), tmp_path / "tiny.png")
    assert _message(path) == (f"{path}: is 40x30 px; at least {MIN_IMAGE_SIDE} px per side "
                              f"is needed")


def test_smallest_accepted(tmp_path: Path) -> None:
    path = _save(Image.new("RGB", (MIN_IMAGE_SIDE, MIN_IMAGE_SIDE)), tmp_path / "ok.png")
    assert read_image(path).shape == (MIN_IMAGE_SIDE, MIN_IMAGE_SIDE, 3)


def test_too_large(tmp_path: Path) -> None:
    path = _save(Image.new("L", (MAX_IMAGE_SIDE + 8, 64)), tmp_path / "wide.png")
    message = _message(path)
    assert f"is {MAX_IMAGE_SIDE + 8}x64 px; at most {MAX_IMAGE_SIDE} px per side" in message
    assert "downscale" in message


def test_float_image_is_refused_with_its_mode(tmp_path: Path) -> None:
    path = _save(Image.new("F", (80, 70), 0.5), tmp_path / "f.tif")
    assert "pixel mode 'F'" in _message(path)


# ------------------------------------------------------------------------------ writing

def test_write_refuses_bad_arrays(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"image: expected \(H, W, 3\) uint8 RGB, got shape "
                                         r"\(8, 8\) dtype uint8"):
        write_image(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="dtype float32"):
        write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="image: expected a numpy array"):
        write_image(tmp_path / "a.png", [[0, 0, 0]])  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_write_refuses_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"path: cannot tell an image format .*\.xyz"):
        write_image(tmp_path / "a.xyz", _gradient())


def test_write_into_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=f"output directory {tmp_path / 'nope'} does not exist"):
        write_image(tmp_path / "nope" / "a.png", _gradient())


def test_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_image(tmp_path / "keep.png", _gradient())
    before = (tmp_path / "keep.png").read_bytes()

    def broken_save(self: object, *args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / "keep.png", np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / "new.png", np.zeros((64, 64, 3), np.uint8))
    # neither a temp file nor a half-written image; the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]
    assert (tmp_path / "keep.png").read_bytes() == before


# ------------------------------------------------------------------------------ real portraits

@pytest.mark.skipif(not (MEDIA / "portraits").is_dir(), reason="shared media not available")
def test_real_portraits() -> None:
    paths = sorted((MEDIA / "portraits").iterdir())
    assert paths
    for path in paths:
        image = read_image(path)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, path
        assert min(image.shape[:2]) >= MIN_IMAGE_SIDE, path
        assert 10 < image.mean() < 245, path


def test_heic_says_what_to_do(tmp_path):
    """A phone's HEIC photo was 'not an image file' (issue 17, item 9)."""
    pytest.importorskip("PIL")
    try:
        import pillow_heif  # noqa: F401
    except ImportError:
        pass
    else:  # pragma: no cover - with the plugin installed, a real HEIC would be read
        pytest.skip("pillow-heif is installed")
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200))
    with pytest.raises(MediaError, match=r"IMG_0001.HEIC: is a HEIF image \('heic', as phones save "
                                         r"photos\), which needs the pillow-heif plugin: pip install "
                                         r"pillow-heif, or convert it to JPEG or PNG"):
        read_image(path)
