"""The 32 bits every marked frame carries, and the 24-bit CRC that makes a decoded word trustworthy.

    bits  0-3   format version (1)
    bits  4-6   tool major version  (0-7, saturating)
    bits  7-11  tool minor version  (0-31, saturating)
    bits 12-15  tool patch version  (0-15, saturating)
    bits 16-31  short run id: the first 4 hex digits of the run's 32-digit id
    bits 32-55  CRC-24 of bits 0-31 (OpenPGP polynomial 0x864CFB, init 0xB704CE)

Bits are sent most significant first. The version fields saturate rather than wrap, so a future
1.40.0 reads as "1.31.15 or later" instead of as some other release; the sidecar manifest and the
container metadata carry the exact version.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

FORMAT_VERSION = 1
PAYLOAD_BITS = 32
CRC_BITS = 24
CODE_BITS = PAYLOAD_BITS + CRC_BITS
# bits a random word must get right to pass as a payload: the CRC and the known format version
CHECK_BITS = CRC_BITS + 4
_FIELDS = (("format_version", 4), ("major", 3), ("minor", 5), ("patch", 4), ("run_id", 16))
_CRC_POLY = 0x864CFB
_CRC_INIT = 0xB704CE  # non-zero: the all-zero word does not carry a valid CRC
_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")


def _crc24(value: int) -> int:
    """CRC-24 (OpenPGP) of the 32-bit `value`, taken as 4 big-endian bytes."""
    crc = _CRC_INIT
    for byte in value.to_bytes(4, "big"):
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= _CRC_POLY
    return crc & 0xFFFFFF


def _to_bits(value: int, count: int) -> list[int]:
    return [(value >> shift) & 1 for shift in range(count - 1, -1, -1)]


def _from_bits(bits: np.ndarray) -> int:
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value


def syndrome(bits: np.ndarray) -> int:
    """The CHECK_BITS-bit check of a decoded word: CRC mismatch and format-version mismatch bits,
    0 exactly when `Payload.from_bits` accepts it. Affine over GF(2): flipping bit i XORs
    `syndrome_columns()[i]` into it, which lets a decoder test many repairs at once."""
    bits = np.asarray(bits)
    value = _from_bits(bits[:PAYLOAD_BITS])
    crc_mismatch = _crc24(value) ^ _from_bits(bits[PAYLOAD_BITS:])
    format_mismatch = (value >> (PAYLOAD_BITS - 4)) ^ FORMAT_VERSION
    return (crc_mismatch << 4) | format_mismatch


@functools.lru_cache(maxsize=1)
def syndrome_columns() -> np.ndarray:
    """(CODE_BITS,) int64: what flipping each bit does to `syndrome`."""
    zero = np.zeros(CODE_BITS, dtype=np.uint8)
    base = syndrome(zero)
    columns = []
    for index in range(CODE_BITS):
        unit = zero.copy()
        unit[index] = 1
        columns.append(syndrome(unit) ^ base)
    return np.array(columns, dtype=np.int64)


def crc_matches(bits: np.ndarray) -> np.ndarray:
    """(CRC_BITS,) bool: which CRC bits of a decoded word agree with the CRC of its payload bits
    (for checking that unmarked content decodes to random words: each agrees half the time)."""
    bits = np.asarray(bits)
    expected = _to_bits(_crc24(_from_bits(bits[:PAYLOAD_BITS])), CRC_BITS)
    return bits[PAYLOAD_BITS:] == np.array(expected)


def parse_tool_version(text: str) -> tuple[int, int, int]:
    """'0.1.0' (or '0.1', '1.2.3.dev4') -> (major, minor, patch), each saturated to its field."""
    match = _VERSION.match(text)
    if match is None:
        raise ValueError(f"tool_version: expected a version like '0.1.0', got {text!r}")
    major, minor, patch = (int(group or 0) for group in match.groups())
    return min(major, 7), min(minor, 31), min(patch, 15)


@dataclass(frozen=True)
class Payload:
    """What the watermark says about a frame: format, the tool's version, and which run made it.

    tool_version: (major, minor, patch), within (7, 31, 15); see `parse_tool_version`.
    run_id: the short run id, 0-65535; shown as 4 hex digits, the start of the run's full id.
    """

    tool_version: tuple[int, int, int]
    run_id: int
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        limits = (7, 31, 15)
        if (len(self.tool_version) != 3
                or any(not 0 <= part <= limit for part, limit in zip(self.tool_version, limits))):
            raise ValueError(f"tool_version: expected (major, minor, patch) within {limits}, "
                             f"got {self.tool_version!r}")
        if not 0 <= self.run_id <= 0xFFFF:
            raise ValueError(f"run_id: expected an integer in [0, 65535], got {self.run_id!r}")
        if not 0 <= self.format_version <= 15:
            raise ValueError(f"format_version: expected 0-15, got {self.format_version!r}")

    @property
    def short_run_id(self) -> str:
        return f"{self.run_id:04x}"

    @property
    def tool_version_text(self) -> str:
        return ".".join(map(str, self.tool_version))

    def _value(self) -> int:
        major, minor, patch = self.tool_version
        value = 0
        for (_, width), part in zip(_FIELDS, (self.format_version, major, minor, patch,
                                              self.run_id)):
            value = (value << width) | part
        return value

    def to_bits(self) -> np.ndarray:
        """(CODE_BITS,) uint8: the 32 payload bits then their CRC-24, most significant first."""
        value = self._value()
        return np.array(_to_bits(value, PAYLOAD_BITS) + _to_bits(_crc24(value), CRC_BITS),
                        dtype=np.uint8)

    @classmethod
    def from_bits(cls, bits: np.ndarray) -> Payload | None:
        """The payload of a decoded word, or None if its CRC or format version is wrong."""
        bits = np.asarray(bits)
        if bits.shape != (CODE_BITS,):
            raise ValueError(f"bits: expected shape ({CODE_BITS},), got {bits.shape}")
        value = _from_bits(bits[:PAYLOAD_BITS])
        if _from_bits(bits[PAYLOAD_BITS:]) != _crc24(value):
            return None
        fields = {}
        shift = PAYLOAD_BITS
        for name, width in _FIELDS:
            shift -= width
            fields[name] = (value >> shift) & ((1 << width) - 1)
        if fields["format_version"] != FORMAT_VERSION:
            return None
        return cls(tool_version=(fields["major"], fields["minor"], fields["patch"]),
                   run_id=fields["run_id"], format_version=fields["format_version"])

    def to_dict(self) -> dict[str, object]:
        return {"format_version": self.format_version, "tool_version": self.tool_version_text,
                "run_id": self.short_run_id}
