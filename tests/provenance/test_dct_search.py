"""reenact.provenance.watermark.dct_search: the DCT layer read after a centred crop and a gain,
on a synthetic marked frame (the rates after re-encoding are in docs/provenance.md)."""

from __future__ import annotations

import numpy as np
import pytest

from provenance_clips import textured
from reenact.io.video_decode import planes_of_rgb
from reenact.provenance.payload import Payload
from reenact.provenance.watermark import Watermarker
from reenact.provenance.watermark.dct_search import CropGainSearch, SearchResult

PAYLOAD = Payload((0, 1, 0), 0xCAFE)


@pytest.fixture(scope="module")
def marked() -> np.ndarray:
    return Watermarker().mark(textured(1, 256, 256, seed=5)[0], PAYLOAD)


def _cropped_with_contrast(frame: np.ndarray, per_side: int, contrast: float) -> np.ndarray:
    inner = frame[per_side:-per_side, per_side:-per_side] / 255.0
    return np.rint(np.clip((inner - 0.5) * contrast + 0.5, 0, 1) * 255).astype(np.uint8)


def _off_centre(frame: np.ndarray) -> np.ndarray:
    """6 px (2.3%) of each axis cut off above and on the left, then contrast 1.1."""
    inner = frame[6:, 6:] / 255.0
    return np.rint(np.clip((inner - 0.5) * 1.1 + 0.5, 0, 1) * 255).astype(np.uint8)


def _searched(frame: np.ndarray) -> SearchResult:
    search = CropGainSearch(Watermarker())
    search.add(planes_of_rgb(frame))
    found = search.soft_bits()
    assert found is not None
    return found


def test_the_crop_and_the_gain_are_undone(marked: np.ndarray) -> None:
    attacked = _cropped_with_contrast(marked, 3, 1.1)  # 2.3% of each side, contrast 1.1
    watermarker = Watermarker()
    assert not watermarker.decode(watermarker.soft_bits(attacked), 1).present
    found = _searched(attacked)
    assert found.crop == pytest.approx(3 / 256, abs=0.002) and found.place == (0.5, 0.5)
    assert found.gain == pytest.approx(1.1, abs=0.04)
    assert watermarker.decode(found.soft, 1).payload == PAYLOAD
    assert found.describe().startswith("crop 2.") and "(centred), gain 1.1" in found.describe()


def test_an_off_centre_crop_is_undone(marked: np.ndarray) -> None:
    # 6 px cut off the top and the left, none at the bottom and the right, and contrast 1.1
    attacked = _off_centre(marked)
    watermarker = Watermarker()
    assert not watermarker.decode(watermarker.soft_bits(attacked), 1).present
    found = _searched(attacked)
    assert found.place == (1.0, 1.0) and found.crop == pytest.approx(3 / 256, abs=0.002)
    assert Watermarker().decode(found.soft, 1).payload == PAYLOAD


def test_an_untouched_frame_is_read_as_it_is(marked: np.ndarray) -> None:
    found = _searched(marked)
    assert found.crop <= 0.001 and found.gain == pytest.approx(1.0, abs=0.0125)
    assert Watermarker().decode(found.soft, 1).payload == PAYLOAD


def test_nothing_to_search_without_frames() -> None:
    assert CropGainSearch(Watermarker()).soft_bits() is None
