"""reenact.provenance.watermark.dct_search: the DCT layer read after a centred crop and a gain,
on a synthetic marked frame (the rates after re-encoding are in docs/provenance.md)."""

from __future__ import annotations

import numpy as np
import pytest

from provenance_clips import textured
from reenact.io.video_decode import planes_of_rgb
from reenact.provenance.payload import Payload
from reenact.provenance.watermark import Watermarker
from reenact.provenance.watermark.dct_search import CropGainSearch

PAYLOAD = Payload((0, 1, 0), 0xCAFE)


@pytest.fixture(scope="module")
def marked() -> np.ndarray:
    return Watermarker().mark(textured(1, 256, 256, seed=5)[0], PAYLOAD)


def _cropped_with_contrast(frame: np.ndarray, per_side: int, contrast: float) -> np.ndarray:
    inner = frame[per_side:-per_side, per_side:-per_side] / 255.0
    return np.rint(np.clip((inner - 0.5) * contrast + 0.5, 0, 1) * 255).astype(np.uint8)


def _searched(frame: np.ndarray) -> tuple[np.ndarray, float, float]:
    search = CropGainSearch(Watermarker())
    search.add(planes_of_rgb(frame))
    found = search.soft_bits()
    assert found is not None
    return found


def test_the_crop_and_the_gain_are_undone(marked: np.ndarray) -> None:
    attacked = _cropped_with_contrast(marked, 3, 1.1)  # 2.3% of each side, contrast 1.1
    watermarker = Watermarker()
    assert not watermarker.decode(watermarker.soft_bits(attacked), 1).present
    soft, crop, gain = _searched(attacked)
    assert crop == pytest.approx(3 / 256, abs=0.002)
    assert gain == pytest.approx(1.1, abs=0.04)
    assert watermarker.decode(soft, 1).payload == PAYLOAD


def test_an_untouched_frame_is_read_as_it_is(marked: np.ndarray) -> None:
    soft, crop, gain = _searched(marked)
    assert crop <= 0.001 and gain == pytest.approx(1.0, abs=0.0125)
    assert Watermarker().decode(soft, 1).payload == PAYLOAD


def test_nothing_to_search_without_frames() -> None:
    assert CropGainSearch(Watermarker()).soft_bits() is None
