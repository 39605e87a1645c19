"""reenact.provenance.watermark.convolutional: the tiled layer's channel code."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.provenance.watermark.convolutional import coded_length, encode, viterbi


def test_round_trip_and_length() -> None:
    bits = np.random.default_rng(0).integers(0, 2, 56).astype(np.uint8)
    coded = encode(bits)
    assert coded.shape == (coded_length(56),) == (124,)
    assert np.array_equal(viterbi(1.0 - 2.0 * coded, 56), bits)


def test_soft_decoding_corrects_what_hard_bits_get_wrong() -> None:
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2, 56).astype(np.uint8)
    soft = (1.0 - 2.0 * encode(bits)) + rng.normal(scale=0.8, size=124)
    assert np.sum(soft * (1.0 - 2.0 * encode(bits)) < 0) >= 4  # several coded bits wrong
    assert np.array_equal(viterbi(soft, 56), bits)


def test_bad_soft_length_names_the_argument() -> None:
    with pytest.raises(ValueError, match=r"soft: expected shape \(124,\), got \(10,\)"):
        viterbi(np.zeros(10), 56)
