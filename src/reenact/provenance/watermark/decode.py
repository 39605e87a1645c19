"""Reading the watermark: soft bits per frame, averaged over a clip, decoded with repair and
checked (`decode_soft` -> `Detection`).

How it is read: per frame, each bit's soft value is sin(2 pi p / step) (+1 on the 0 lattice, -1
on the 1 lattice, 0 half way); soft values are averaged over the frames of a clip, so noise that
varies from frame to frame averages out. Hard decisions are checked against the CRC-24 and the
format version; if that fails, the cheapest flip of up to 4 of the 12 least reliable bits that
passes is taken (794 words tried in all; the check is affine over GF(2), so all are tested at
once through `payload.syndrome`).

Why a passing check means "marked": for content without this watermark, each bit's position on
its lattice is uniform (hosts vary by far more than a step), so each decoded bit is a fair coin
independent of the others (and of the soft values' magnitudes, which choose the bits to flip),
and any one word tried passes CRC-24 + format version with probability 2^-28. A test that tries
794 words, over `tests` clips, therefore fires by chance with probability at most
794 * tests * 2^-28 (3e-6 per 2 s clip); `Detection.false_alarm` reports that bound. Content that
carries no information (a flat frame) sits half way between lattices: soft values near 0, and the
`min_strength` guard rejects it.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from reenact.provenance.payload import CODE_BITS, Payload, syndrome, syndrome_columns
from reenact.provenance.watermark.canonical import CanonicalDomain
from reenact.provenance.watermark.layout import WatermarkConfig


@dataclass(frozen=True)
class Detection:
    """What a frame or clip says about the watermark.

    present: a word passed the CRC and format check, with soft bits agreeing well enough.
    payload: the decoded payload when present.
    false_alarm: bound on the probability that content without this watermark passes the same
        test (all clips tried included); confidence = 1 - false_alarm.
    strength: mean agreement of the soft bits with the decoded word, in [-1, 1]; ~0.9 for a clean
        mark, lower after heavy compression. For an unmarked clip it says nothing.
    repaired_bits: bits flipped by the decoder to pass the check.
    frames: frames the evidence came from.
    """

    present: bool
    payload: Payload | None
    false_alarm: float
    strength: float
    repaired_bits: int
    frames: int

    @property
    def confidence(self) -> float:
        return 1.0 - self.false_alarm if self.present else 0.0

    def to_dict(self) -> dict[str, object]:
        return {"present": self.present,
                "payload": None if self.payload is None else self.payload.to_dict(),
                "confidence": self.confidence, "false_alarm": self.false_alarm,
                "strength": round(self.strength, 4), "repaired_bits": self.repaired_bits,
                "frames": self.frames}


def soft_bits(canonical: CanonicalDomain, images: np.ndarray) -> np.ndarray:
    """(..., N, N) canonical luma (of any key) -> (..., K) soft code bits of `canonical`'s key,
    in [-1, 1]: +1 a sure 0, -1 a sure 1."""
    return np.sin(2 * np.pi * canonical.projections(images) / canonical.config.step)


@functools.lru_cache(maxsize=4)
def _flip_sets(candidates: int, max_flips: int) -> tuple[np.ndarray, ...]:
    """Per number of flips k = 1..max_flips: (C(candidates, k), k) index sets into the weakest."""
    return tuple(np.array(list(itertools.combinations(range(candidates), count)), dtype=np.int64)
                 .reshape(-1, count) for count in range(1, max_flips + 1))


def _repair(word: np.ndarray, reliability: np.ndarray,
            config: WatermarkConfig) -> tuple[int, ...] | None:
    """The cheapest set of bits (least total reliability) among the weakest whose flip makes
    `word` pass the check; () if it passes as is, None if no allowed set does."""
    target = syndrome(word)
    if target == 0:
        return ()
    weakest = np.argsort(reliability, kind="stable")[:config.repair_candidates]
    columns = syndrome_columns()[weakest]
    best, best_cost = None, np.inf
    for sets in _flip_sets(len(weakest), config.repair_flips):
        hits = sets[np.bitwise_xor.reduce(columns[sets], axis=1) == target]
        if hits.size == 0:
            continue
        costs = reliability[weakest[hits]].sum(axis=1)
        if costs.min() < best_cost:
            best, best_cost = tuple(weakest[hits[costs.argmin()]].tolist()), costs.min()
    return best


def decode_soft(soft: np.ndarray, frames: int, config: WatermarkConfig, whitening: np.ndarray,
                tests: int) -> Detection:
    """(K,) soft bits averaged over `frames` frames -> Detection; `tests`: clips tried in all (the
    false-alarm bound grows with them); `whitening`: the key's word, XORed onto the code bits."""
    soft = np.asarray(soft, dtype=np.float64)
    if soft.shape != (CODE_BITS,):
        raise ValueError(f"soft: expected shape ({CODE_BITS},), got {soft.shape}")
    if isinstance(tests, bool) or not isinstance(tests, int) or tests < 1:
        raise ValueError(f"tests: expected an integer >= 1, got {tests!r}")
    false_alarm = min(1.0, tests * config.false_alarm_per_test)
    coset = (soft < 0).astype(np.uint8)
    flips = _repair(coset ^ whitening, np.abs(soft), config)
    if flips is None:
        return Detection(present=False, payload=None, false_alarm=false_alarm, strength=0.0,
                         repaired_bits=0, frames=frames)
    coset[list(flips)] ^= 1
    payload = Payload.from_bits(coset ^ whitening)
    assert payload is not None  # the syndrome said so
    strength = float(np.mean(soft * (1 - 2 * coset.astype(np.float64))))
    present = strength >= config.min_strength
    return Detection(present=present, payload=payload if present else None,
                     false_alarm=false_alarm, strength=strength, repaired_bits=len(flips),
                     frames=frames)
