"""Word timings of a speech clip (GRID corpus `.align` files, or the sentence a GRID file's name
spells aligned to its speech) and the words that start with the lips closed.

GRID's `.align` format: one word a line, `start end word`, integer times in units of 1/25000 s
(1000 units a video frame at GRID's 25 fps), `sil` / `sp` for silence and short pauses. Checked on
the corpus' clips: a 3-s sentence ends at 74500 units = 2.98 s, the length of its audio track (75
frames of video, the last one partly covered).

GRID ships `.align` files for some clips only, but every GRID sentence is six words of a fixed
grammar spelt by the file's name (`grid_sentence`: "swwp2s" is "set white with p two soon"), so
the timings of any GRID clip can be found by aligning that sentence to its speech
(`aligned_words`, `reenact.audio.word_alignment`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from reenact.audio.word_alignment import align_words
from reenact.io.audio import AudioClip

GRID_UNITS_PER_SECOND = 25000
SILENCE_WORDS = frozenset({"sil", "sp"})
BILABIAL_LETTERS = frozenset("pbm")
# words whose spelling starts with p, b or m but whose sound does not: "ph" is /f/, and GRID's
# spelled letter "m" is said "em"
NOT_BILABIAL = ("ph",)
SPELLED_LETTERS_NOT_BILABIAL = frozenset({"m"})
# GRID's grammar: command, colour, preposition, letter (said as itself; GRID has no "w"), digit
# (zero spelt "z"), adverb; a file's name spells its sentence with one character a word
GRID_GRAMMAR: tuple[dict[str, str], ...] = (
    {"b": "bin", "l": "lay", "p": "place", "s": "set"},
    {"b": "blue", "g": "green", "r": "red", "w": "white"},
    {"a": "at", "b": "by", "i": "in", "w": "with"},
    {letter: letter for letter in "abcdefghijklmnopqrstuvxyz"},
    dict(zip("z123456789", ("zero", "one", "two", "three", "four", "five", "six", "seven",
                            "eight", "nine"))),
    {"a": "again", "n": "now", "p": "please", "s": "soon"},
)


@dataclass(frozen=True)
class Word:
    """One word of a clip: start_s, end_s in seconds from the clip's start, start_s <= end_s."""

    start_s: float
    end_s: float
    text: str

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start_s) and math.isfinite(self.end_s)
                and 0 <= self.start_s <= self.end_s):
            raise ValueError(f"Word {self.text!r}: expected 0 <= start_s <= end_s, got "
                             f"{self.start_s!r}, {self.end_s!r}")


def parse_grid_align(text: str, name: str = "align") -> tuple[Word, ...]:
    """The words of a GRID `.align` file's `text`, in order, silences included. ValueError naming
    `name` and the line for a line that is not `start end word` with 0 <= start <= end, or for times
    that go backwards."""
    words: list[Word] = []
    previous_start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 3 or not all(f.isdigit() for f in fields[:2]):
            raise ValueError(f"{name}: line {number}: expected 'start end word' with integer "
                             f"times, got {line.strip()!r}")
        start, end = int(fields[0]), int(fields[1])
        if end < start or start < previous_start:
            raise ValueError(f"{name}: line {number}: times must not go backwards, got "
                             f"{line.strip()!r}")
        previous_start = start
        words.append(Word(start / GRID_UNITS_PER_SECOND, end / GRID_UNITS_PER_SECOND,
                          fields[2].lower()))
    if not words:
        raise ValueError(f"{name}: no words (expected lines 'start end word')")
    return tuple(words)


def read_grid_align(path: str | os.PathLike[str]) -> tuple[Word, ...]:
    """The words of a GRID `.align` file (see `parse_grid_align`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot read the word timings: {error}") from error
    return parse_grid_align(text, name=str(path))


def starts_bilabial(word: str) -> bool:
    """Whether an English word's first sound is made with the lips closed (p, b, m), read from its
    spelling: enough for GRID's small vocabulary (bin, blue, by, place, please, the letters b and
    p), not a pronouncing dictionary."""
    text = word.lower()
    if text in SILENCE_WORDS or text in SPELLED_LETTERS_NOT_BILABIAL or not text:
        return False
    return text[0] in BILABIAL_LETTERS and not text.startswith(NOT_BILABIAL)


def bilabial_onsets(words: tuple[Word, ...] | list[Word]) -> list[Word]:
    """The words that start with p, b or m (see `starts_bilabial`)."""
    return [word for word in words if starts_bilabial(word.text)]


def onset_frame(word: Word, fps: Fraction) -> int:
    """The video frame shown when `word` starts: frame i covers [i / fps, (i + 1) / fps)."""
    return int(math.floor(Fraction(word.start_s).limit_denominator(10**6) * fps))


def grid_sentence(name: str) -> str | None:
    """The sentence a GRID clip's name spells ("grid_swwp2s.mpg", "grid_swwp2s" or "swwp2s" ->
    "set white with p two soon"); None for a name that spells no GRID sentence."""
    code = Path(name).stem.lower().removeprefix("grid_")
    if len(code) != len(GRID_GRAMMAR):
        return None
    words = [choices.get(char) for choices, char in zip(GRID_GRAMMAR, code)]
    return None if None in words else " ".join(words)


def aligned_words(clip: AudioClip, text: str) -> tuple[Word, ...]:
    """The words of `text` as said in `clip` (16 kHz), silences as "sil", timed by forced
    alignment (`reenact.audio.word_alignment.align_words`; its errors as they are)."""
    return tuple(Word(word.start, word.end, word.text) for word in align_words(clip, text))
