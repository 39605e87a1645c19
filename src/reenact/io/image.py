"""Still images in and out: any Pillow-readable file -> (H, W, 3) uint8 RGB, and back.

Reading normalizes what cameras and editors produce: EXIF orientation is applied; grayscale,
palette, CMYK and 16-bit images become 8-bit RGB; transparency is composited over white. Images
too small to hold a face or too large to process are refused with their size in the message.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from types import ModuleType
from collections.abc import Mapping
from typing import Any

import numpy as np

from reenact.io.atomic import atomic_output, check_output_directory
from reenact.io.errors import MediaError, check_input_file, media_error

logger = logging.getLogger(__name__)

MIN_IMAGE_SIDE = 64
MAX_IMAGE_SIDE = 8192

# EXIF orientations 5-8 transpose the image, so the displayed size is the stored one swapped
_TRANSPOSING_ORIENTATIONS = {5, 6, 7, 8}
_EXIF_ORIENTATION_TAG = 0x0112
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
_JPEG_QUALITY = 95


def _import_pil() -> ModuleType:
    try:
        import PIL.Image
        import PIL.ImageOps
        import PIL.PngImagePlugin
    except ImportError as error:
        raise ImportError("reading and writing images needs Pillow: pip install pillow") from error
    return PIL


def _displayed_size(image: Any) -> tuple[int, int]:
    """(width, height) after the EXIF orientation is applied, read from the header only."""
    width, height = image.size
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION_TAG)
    except Exception:  # a malformed EXIF block must not hide the image; exif_transpose logs it
        orientation = None
    return (height, width) if orientation in _TRANSPOSING_ORIENTATIONS else (width, height)


def _check_size(path: Path, width: int, height: int) -> None:
    if max(width, height) > MAX_IMAGE_SIDE:
        raise media_error(path, f"is {width}x{height} px; at most {MAX_IMAGE_SIDE} px per side is "
                                f"supported, downscale it first")
    if min(width, height) < MIN_IMAGE_SIDE:
        raise media_error(path, f"is {width}x{height} px; at least {MIN_IMAGE_SIDE} px per side "
                                f"is needed")


def _over_white(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 straight-alpha RGBA -> (H, W, 3) uint8 RGB composited over white."""
    rgb = rgba[..., :3].astype(np.uint32)
    alpha = rgba[..., 3:].astype(np.uint32)
    # rgb * a + white * (1 - a), in integer 1/255 units, rounded to nearest
    return ((rgb * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def _sixteen_to_eight(values: np.ndarray) -> np.ndarray:
    """Integer samples in [0, 65535] -> uint8 in [0, 255], rounded (65535 -> 255, 257 -> 1)."""
    wide = values.astype(np.uint32)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[..., None], 3, axis=-1)  # (H, W) -> (H, W, 3)


def _to_rgb8(image: Any, path: Path) -> np.ndarray:
    """A loaded PIL image of any common mode -> (H, W, 3) uint8 RGB."""
    mode = image.mode
    if mode == "RGB":
        return np.asarray(image, dtype=np.uint8).copy()
    if mode == "L":
        return _gray_to_rgb(np.asarray(image, dtype=np.uint8))
    if mode in _SIXTEEN_BIT_MODES:
        return _gray_to_rgb(_sixteen_to_eight(np.asarray(image)))
    if mode == "I":
        # 32-bit integer pixels: Pillow's mode for 16-bit data from some TIFF/PNG writers
        values = np.asarray(image)
        if values.min() < 0 or values.max() > 65535:
            raise media_error(path, "has 32-bit integer pixels outside the 16-bit range; "
                                    "convert it to 8-bit RGB first")
        return _gray_to_rgb(_sixteen_to_eight(values))
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
            mode == "P" and "transparency" in image.info):
        return _over_white(np.asarray(image.convert("RGBA"), dtype=np.uint8))
    if mode in ("1", "P", "CMYK", "YCbCr", "HSV"):
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    raise media_error(path, f"has pixel mode {mode!r}, which is not supported; "
                            f"convert it to 8-bit RGB first")


# ISO base media brands of HEIF / HEIC / AVIF stills (what phones save): Pillow reads HEIF only
# through the pillow-heif plugin
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1",
                          b"avif", b"avis"})


def _heif_brand(path: Path) -> str | None:
    """The HEIF brand of `path` ('heic', 'avif', ...) if it is one, else None."""
    with open(path, "rb") as handle:
        head = handle.read(12)
    return head[8:12].decode() if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS else None


def _register_heif(path: Path) -> bool:
    """Register pillow-heif's opener if it is installed; MediaError saying what to do if not."""
    brand = _heif_brand(path)
    if brand is None:
        return False
    try:
        import pillow_heif
    except ImportError:
        raise media_error(path, f"is a HEIF image ('{brand}', as phones save photos), which needs "
                                f"the pillow-heif plugin: pip install pillow-heif, or convert it "
                                f"to JPEG or PNG") from None
    pillow_heif.register_heif_opener()
    return True


def _open(pil: ModuleType, path: Path) -> Any:
    image_module = pil.Image
    try:
        with warnings.catch_warnings():
            # images over Pillow's bomb threshold are refused by our own size check below
            warnings.simplefilter("ignore", image_module.DecompressionBombWarning)
            try:
                return image_module.open(path)
            except image_module.UnidentifiedImageError:
                if not _register_heif(path):
                    raise
                return image_module.open(path)
    except image_module.UnidentifiedImageError:
        raise media_error(path, "not an image file (unrecognized format)") from None
    except MediaError:
        raise
    except image_module.DecompressionBombError:
        raise media_error(path, f"is far larger than {MAX_IMAGE_SIDE} px per side; "
                                f"downscale it first") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise media_error(path, f"cannot read the image ({error})") from None


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB, upright.

    Applies EXIF orientation; converts grayscale, palette, CMYK and 16-bit images (16-bit values
    are scaled to 8 bit with rounding, 65535 -> 255); composites transparency over white; reads
    the first frame of animated or multi-page files.

    Raises MediaError if the file is missing, a directory, not an image, truncated or corrupt,
    smaller than MIN_IMAGE_SIDE or larger than MAX_IMAGE_SIDE pixels on a side.
    """
    path = check_input_file(path, what="image")
    pil = _import_pil()
    with _open(pil, path) as image:
        width, height = _displayed_size(image)
        # checked from the header, before any pixels are decoded
        _check_size(path, width, height)
        if getattr(image, "n_frames", 1) > 1:
            logger.info("%s has %d frames; using the first", path, image.n_frames)
        try:
            image.load()
        except (OSError, SyntaxError, ValueError) as error:
            raise media_error(path, f"image is truncated or corrupt ({error})") from None
        try:
            upright = pil.ImageOps.exif_transpose(image)
        except Exception as error:  # a malformed EXIF block: keep the stored orientation
            logger.warning("%s: cannot apply EXIF orientation (%s); using the stored orientation",
                           path, error)
            upright = image
        return _to_rgb8(upright, path)


def check_image_array(image: object) -> np.ndarray:
    """`image` as C-contiguous (H, W, 3) uint8 RGB, or ValueError naming what it is instead."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image: expected a numpy array (H, W, 3) uint8 RGB, "
                         f"got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image: expected (H, W, 3) uint8 RGB, "
                         f"got shape {tuple(image.shape)} dtype {image.dtype}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image: expected at least 1x1 pixels, got shape {tuple(image.shape)}")
    return np.ascontiguousarray(image)


def check_image_output(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """(path, Pillow's format name) for an image to be written at `path`, after checking that
    its directory exists and its extension names a format Pillow writes; else MediaError (the
    directory) or ValueError (the extension)."""
    pil = _import_pil()
    target = check_output_directory(path)
    image_format = pil.Image.registered_extensions().get(target.suffix.lower())
    if image_format is None or image_format not in pil.Image.SAVE:
        raise ValueError(f"path: cannot tell an image format from the extension of "
                         f"{str(target)!r}; use .png, .jpg, .webp, .bmp or .tif")
    return target, image_format


def _metadata_options(pil: ModuleType, image_format: str, text: Mapping[str, str] | None,
                      comment: str | None) -> dict[str, Any]:
    """Save options for the metadata: PNG text chunks, a JPEG comment."""
    if image_format == "PNG" and text:
        info = pil.PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
        return {"pnginfo": info}
    if image_format == "JPEG" and comment is not None:
        return {"comment": comment}
    return {}


def write_image(path: str | os.PathLike[str], image: np.ndarray, *,
                text: Mapping[str, str] | None = None, comment: str | None = None) -> Path:
    """Write (H, W, 3) uint8 RGB to `path` atomically; the format follows the extension.

    The file appears only once it is completely written (see `reenact.io.atomic`); an existing
    file of that name is replaced. JPEG is written at quality 95. Returns the path written.

    text: PNG text chunks (key -> text); comment: a JPEG comment. Other formats carry neither.
    The pixels are written as given: `reenact.provenance.writers.write_marked_image` is what marks
    an image as synthetic first.
    """
    array = check_image_array(image)
    pil = _import_pil()
    target, image_format = check_image_output(path)
    options = {"quality": _JPEG_QUALITY} if image_format == "JPEG" else {}
    options.update(_metadata_options(pil, image_format, text, comment))
    with atomic_output(target) as temp:
        pil.Image.fromarray(array).save(temp, format=image_format, **options)
    return target
