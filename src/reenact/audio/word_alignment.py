"""Where known words are said in a speech clip: forced alignment on pocketsphinx's English acoustic
model and pronouncing dictionary (the wheel the phone decoder uses, `reenact.audio.phones`).

    AudioClip (16 kHz) + "set white with p two soon"
      -> pocketsphinx's alignment search: the words in order, any pronunciation the dictionary
         lists, optional silence between them
      -> AlignedWord(text, start, end) in seconds, silences as "sil", covering the clip

What it is for: measuring lip sync. A mouth must close at the start of words that begin with p, b
or m, and scoring that needs word timings; GRID ships them (`.align` files) for few of its clips,
but its sentences are spelt by its file names (`reenact.evaluation.word_timing.grid_sentence`).
Recognising words is another matter: the same decoder without the text heard "bin blue at f two
now" as "didn't have to know". On the one clip here with the corpus' own timings (grid_swwp2s),
every aligned word starts within 0.05 s (1.25 video frames) of the corpus' start.
"""

from __future__ import annotations

from dataclasses import dataclass

from reenact.audio.phones import (
    ALIGNMENT_NOISE_FLOOR_DB,
    DECODER_FRAME_S,
    check_decoder_rate,
    pcm16,
    word_decoder,
)
from reenact.io.audio import AudioClip

SILENCES = frozenset({"<sil>", "<s>", "</s>"})  # the decoder's names for silence, reported "sil"


@dataclass(frozen=True)
class AlignedWord:
    """One word of the text (lower case, without the dictionary's "(2)" variant mark) or "sil",
    from start to end in seconds."""

    text: str
    start: float
    end: float


def align_words(clip: AudioClip, text: str) -> list[AlignedWord]:
    """The words of `text` (whitespace-separated, each in the English pronouncing dictionary) as
    said in `clip` (16 kHz), in order. Raises PhonesUnavailable without pocketsphinx, ValueError for
    a word the dictionary lacks, an empty text, a clip at another rate, or speech the words cannot
    be fitted to."""
    check_decoder_rate(clip)
    words = text.lower().split()
    if not words:
        raise ValueError("text: expected the words said in the clip, got none")
    decoder = word_decoder()
    missing = [word for word in words if decoder.lookup_word(word) is None]
    if missing:
        raise ValueError(f"text: not in the pronouncing dictionary: {', '.join(missing)}")
    decoder.set_align_text(" ".join(words))
    decoder.start_utt()
    decoder.process_raw(pcm16(clip.samples, ALIGNMENT_NOISE_FLOOR_DB), full_utt=True)
    decoder.end_utt()
    segments = decoder.seg() or ()
    aligned = [AlignedWord(_plain(segment.word), segment.start_frame * DECODER_FRAME_S,
                           (segment.end_frame + 1) * DECODER_FRAME_S) for segment in segments]
    if [word.text for word in aligned if word.text != "sil"] != words:
        raise ValueError(f"text: the words {text!r} could not be aligned to this speech")
    return aligned


def _plain(word: str) -> str:
    """A decoder word as text: "white(2)" -> "white", "<sil>" -> "sil"."""
    if word in SILENCES:
        return "sil"
    return word.split("(", 1)[0].lower()
