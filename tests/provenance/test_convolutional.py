"""reenact.provenance.watermark.convolutional: the tiled layer's channel code."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.provenance.payload import Payload
from reenact.provenance.watermark.convolutional import (coded_length, encode, list_viterbi,
                                                       viterbi)


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


def test_the_list_search_starts_with_viterbis_word_and_ranks_by_metric() -> None:
    rng = np.random.default_rng(2)
    for _ in range(5):
        soft = rng.normal(size=124)
        words = list_viterbi(soft, 56, 8)
        assert words.shape == (8, 56)
        assert np.array_equal(words[0], viterbi(soft, 56))
        assert len({word.tobytes() for word in words}) == 8  # distinct words
        metrics = [soft @ (1.0 - 2.0 * encode(word)) for word in words]
        assert np.all(np.diff(metrics) <= 1e-9)  # best first


def test_the_crc_picks_the_payload_from_the_list_when_the_best_word_fails_it() -> None:
    """At ~1 standard deviation per coded bit the best word is often wrong; one of the 8 best
    words passes the CRC (and is the payload) clearly more often."""
    rng = np.random.default_rng(3)
    best = listed = 0
    for _ in range(60):
        payload = Payload((0, 1, 0), int(rng.integers(0, 1 << 16)))
        soft = (1.0 - 2.0 * encode(payload.to_bits())) + rng.normal(size=124)
        words = list_viterbi(soft, 56, 8)
        best += Payload.from_bits(words[0]) == payload
        checked = [Payload.from_bits(word) for word in words]
        listed += next((found for found in checked if found is not None), None) == payload
    assert listed >= best + 6


def test_a_prior_on_the_information_bits_adds_to_each_words_metric() -> None:
    rng = np.random.default_rng(4)
    soft, prior = rng.normal(size=124), rng.normal(size=56)
    words = list_viterbi(soft, 56, 8, prior)
    metrics = [soft @ (1.0 - 2.0 * encode(word)) + prior @ (1.0 - 2.0 * word) for word in words]
    assert np.all(np.diff(metrics) <= 1e-9)  # ranked by code metric + prior agreement
    assert np.array_equal(list_viterbi(soft, 56, 8, np.zeros(56)), list_viterbi(soft, 56, 8))


def test_a_weak_second_reading_of_the_bits_rescues_a_weak_code() -> None:
    """0.7 per coded bit alone rarely decodes; with the information bits read again at 0.5
    each (as the DCT layer's bits are, after a crop and contrast), most words do."""
    rng = np.random.default_rng(5)
    alone = joint = 0
    for _ in range(40):
        bits = rng.integers(0, 2, 56).astype(np.uint8)
        soft = 0.7 * (1.0 - 2.0 * encode(bits)) + rng.normal(size=124)
        prior = 3.0 * (0.5 * (1.0 - 2.0 * bits) + 0.5 * rng.normal(size=56))
        alone += any(np.array_equal(word, bits) for word in list_viterbi(soft, 56, 8))
        joint += any(np.array_equal(word, bits) for word in list_viterbi(soft, 56, 8, prior))
    assert alone <= 10 and joint >= alone + 20


def test_bad_arguments_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"soft: expected shape \(124,\), got \(10,\)"):
        viterbi(np.zeros(10), 56)
    with pytest.raises(ValueError, match=r"soft: expected shape \(124,\), got \(10,\)"):
        list_viterbi(np.zeros(10), 56, 4)
    with pytest.raises(ValueError, match=r"prior: expected shape \(56,\), got \(3,\)"):
        list_viterbi(np.zeros(124), 56, 4, np.zeros(3))
    with pytest.raises(ValueError, match="paths: expected a positive number, got 0"):
        list_viterbi(np.zeros(124), 56, 0)
