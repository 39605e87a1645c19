"""reenact.provenance.payload: bit layout, CRC-24, version packing, validation messages."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.provenance.payload import (
    CHECK_BITS,
    CODE_BITS,
    FORMAT_VERSION,
    Payload,
    crc_matches,
    parse_tool_version,
    syndrome,
    syndrome_columns,
)


@pytest.mark.parametrize("payload", [Payload((0, 1, 0), 0x3FA2), Payload((0, 0, 0), 0),
                                     Payload((7, 31, 15), 0xFFFF)])
def test_bits_round_trip(payload: Payload) -> None:
    bits = payload.to_bits()
    assert bits.shape == (CODE_BITS,) and bits.dtype == np.uint8 and set(bits) <= {0, 1}
    assert Payload.from_bits(bits) == payload


def test_every_single_bit_error_is_rejected() -> None:
    bits = Payload((0, 1, 0), 0x3FA2).to_bits()
    for index in range(CODE_BITS):
        damaged = bits.copy()
        damaged[index] ^= 1
        assert Payload.from_bits(damaged) is None, index


def test_random_words_are_rejected() -> None:
    words = np.random.default_rng(0).integers(0, 2, (5000, CODE_BITS), dtype=np.uint8)
    assert sum(Payload.from_bits(word) is not None for word in words) == 0
    assert Payload.from_bits(np.zeros(CODE_BITS, np.uint8)) is None  # CRC init is not zero


def test_syndrome_is_affine_and_zero_exactly_for_valid_words() -> None:
    bits = Payload((0, 1, 0), 0x3FA2).to_bits()
    assert syndrome(bits) == 0 and crc_matches(bits).all()
    rng = np.random.default_rng(1)
    columns = syndrome_columns()
    assert columns.shape == (CODE_BITS,) and (columns > 0).all() and (columns < 2 ** CHECK_BITS).all()
    for _ in range(50):
        word = rng.integers(0, 2, CODE_BITS, dtype=np.uint8)
        flips = rng.choice(CODE_BITS, 3, replace=False)
        flipped = word.copy()
        flipped[flips] ^= 1
        assert syndrome(flipped) == syndrome(word) ^ np.bitwise_xor.reduce(columns[flips])
        assert (syndrome(word) == 0) == (Payload.from_bits(word) is not None)


def test_unknown_format_version_is_rejected() -> None:
    future = Payload((0, 1, 0), 7, format_version=FORMAT_VERSION + 1)
    assert Payload.from_bits(future.to_bits()) is None


def test_tool_version_packing_saturates() -> None:
    assert parse_tool_version("0.1.0") == (0, 1, 0)
    assert parse_tool_version("1.2") == (1, 2, 0)
    assert parse_tool_version("12.40.20.dev1") == (7, 31, 15)
    with pytest.raises(ValueError, match="tool_version: expected a version like '0.1.0', got 'x'"):
        parse_tool_version("x")


def test_fields_are_validated() -> None:
    with pytest.raises(ValueError, match=r"run_id: expected an integer in \[0, 65535\], got 65536"):
        Payload((0, 1, 0), 65536)
    with pytest.raises(ValueError, match="tool_version: expected"):
        Payload((8, 0, 0), 1)
    with pytest.raises(ValueError, match=r"bits: expected shape \(56,\), got \(3,\)"):
        Payload.from_bits(np.zeros(3, np.uint8))


def test_display_forms() -> None:
    payload = Payload((0, 1, 0), 0x3FA2)
    assert payload.short_run_id == "3fa2" and payload.tool_version_text == "0.1.0"
    assert payload.to_dict() == {"format_version": 1, "tool_version": "0.1.0", "run_id": "3fa2"}
