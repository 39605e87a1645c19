"""The tiled layer's channel code: the rate-1/2, constraint-length-7 convolutional code
(generators 171, 133 octal, the one of 802.11 and Voyager), zero-terminated, decoded by a soft
Viterbi search.

Why: the tiled layer reads its bits at a low signal-to-noise ratio (the picture is the noise), where
a repetition code leaves several of 56 bits wrong. The code spreads each bit over ~10 coded bits
(free distance 10), and Viterbi finds the codeword that correlates best with the soft values as a
whole, so a few weak or wrong coded bits are outvoted by their neighbours.

Conventions: bits are uint8 0/1; soft values are floats, > 0 meaning "0", < 0 meaning "1", their
size the confidence (any common scale: the search is scale-free). `viterbi` returns exactly one
word, so a check on it (the CRC) is passed by chance with the same probability as by a random word;
`list_viterbi` returns the `paths` best words, so a check passed by any of them is passed by chance
with at most `paths` times that probability (CRC-aided list decoding: a decoder that may try a few
words when the best one fails the check recovers much of what a bit or two of noise costs).
"""

from __future__ import annotations

import functools

import numpy as np

CONSTRAINT = 7
GENERATORS = (0o171, 0o133)
MEMORY = CONSTRAINT - 1
STATES = 1 << MEMORY


def coded_length(bits: int) -> int:
    """Coded bits for `bits` information bits, the terminating zeros included."""
    return len(GENERATORS) * (bits + MEMORY)


def _parity(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.int64)
    out = np.zeros_like(values)
    for shift in range(CONSTRAINT):
        out ^= (values >> shift) & 1
    return out


@functools.lru_cache(maxsize=1)
def _trellis() -> tuple[np.ndarray, np.ndarray]:
    """previous: (STATES, 2) the two states leading to each state; signs: (STATES, 2, R) +-1 of the
    coded bits on those branches. A state holds the last MEMORY inputs, the newest in its top bit;
    the register is (state << 1 | oldest dropped bit)."""
    next_state = np.arange(STATES)[:, None]
    registers = (next_state << 1) | np.arange(2)[None, :]  # (STATES, 2)
    previous = registers & (STATES - 1)
    outputs = np.stack([_parity(registers & g) for g in GENERATORS], axis=-1)  # (STATES, 2, R)
    return previous, 1.0 - 2.0 * outputs


def encode(bits: np.ndarray) -> np.ndarray:
    """(n,) uint8 -> (coded_length(n),) uint8, outputs interleaved per step (g0, g1, g0, ...)."""
    bits = np.asarray(bits, dtype=np.int64)
    register = 0
    out = []
    for bit in np.concatenate([bits, np.zeros(MEMORY, dtype=np.int64)]):
        register = ((register >> 1) | (int(bit) << MEMORY)) & ((1 << CONSTRAINT) - 1)
        out.extend(int(_parity(np.array(register & g))) for g in GENERATORS)
    return np.array(out, dtype=np.uint8)


def viterbi(soft: np.ndarray, bits: int) -> np.ndarray:
    """(coded_length(bits),) soft values -> (bits,) uint8: the information word whose codeword
    correlates best with `soft` (maximum likelihood under Gaussian noise)."""
    soft = np.asarray(soft, dtype=np.float64)
    rate = len(GENERATORS)
    if soft.shape != (coded_length(bits),):
        raise ValueError(f"soft: expected shape ({coded_length(bits)},), got {soft.shape}")
    previous, signs = _trellis()
    metric = np.full(STATES, -np.inf)
    metric[0] = 0.0
    steps = bits + MEMORY
    choices = np.zeros((steps, STATES), dtype=np.int8)
    for step in range(steps):
        branch = signs @ soft[rate * step:rate * (step + 1)]  # (STATES, 2)
        candidates = metric[previous] + branch
        choices[step] = np.argmax(candidates, axis=1)
        metric = np.take_along_axis(candidates, choices[step, :, None].astype(np.int64), 1)[:, 0]
    state, decoded = 0, np.zeros(steps, dtype=np.uint8)  # the tail ends in state 0
    for step in range(steps - 1, -1, -1):
        decoded[step] = state >> (MEMORY - 1)
        state = int(previous[state, choices[step, state]])
    return decoded[:bits]


def list_viterbi(soft: np.ndarray, bits: int, paths: int,
                 prior: np.ndarray | None = None) -> np.ndarray:
    """(coded_length(bits),) soft values -> (n, bits) uint8, n <= `paths`: the information words
    whose codewords correlate best with `soft`, best first (the parallel list Viterbi search: each
    state keeps its `paths` best survivors). Row 0 is `viterbi`'s word. `prior`: (bits,) soft
    values of the information bits themselves (> 0 meaning "0", e.g. another channel's reading
    of the same word), added to the correlation of the words that agree with them."""
    soft = np.asarray(soft, dtype=np.float64)
    rate = len(GENERATORS)
    if soft.shape != (coded_length(bits),):
        raise ValueError(f"soft: expected shape ({coded_length(bits)},), got {soft.shape}")
    if paths < 1:
        raise ValueError(f"paths: expected a positive number, got {paths}")
    if prior is not None and np.shape(prior) != (bits,):
        raise ValueError(f"prior: expected shape ({bits},), got {np.shape(prior)}")
    previous, signs = _trellis()
    newest = 1.0 - 2.0 * (np.arange(STATES) >> (MEMORY - 1))  # (STATES,) +1: input bit 0
    metric = np.full((STATES, paths), -np.inf)
    metric[0, 0] = 0.0
    steps = bits + MEMORY
    # choices[step, state, rank]: which of the 2 * paths candidates (branch * paths + rank) it kept
    choices = np.zeros((steps, STATES, paths), dtype=np.int32)
    for step in range(steps):
        branch = signs @ soft[rate * step:rate * (step + 1)]  # (STATES, 2)
        if prior is not None and step < bits:  # both branches into a state carry its input bit
            branch = branch + (prior[step] * newest)[:, None]
        candidates = (metric[previous] + branch[..., None]).reshape(STATES, 2 * paths)
        order = np.argsort(-candidates, axis=1, kind="stable")[:, :paths]  # (STATES, paths)
        choices[step] = order
        metric = np.take_along_axis(candidates, order, 1)
    words = []
    for rank in range(paths):
        if not np.isfinite(metric[0, rank]):  # fewer distinct paths end in state 0
            break
        state, decoded = 0, np.zeros(steps, dtype=np.uint8)
        for step in range(steps - 1, -1, -1):
            decoded[step] = state >> (MEMORY - 1)
            branch_index, rank = divmod(int(choices[step, state, rank]), paths)
            state = int(previous[state, branch_index])
        words.append(decoded[:bits])
    return np.stack(words)
