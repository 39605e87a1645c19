"""The phones of speech whose words are known: forced alignment of a transcript (a dub's script)
on pocketsphinx's English acoustic model, instead of recognising the phones.

    transcript text -> words (lower case; punctuation dropped; numbers kept whole)
      -> each word's phones: the English pronouncing dictionary, else its spelling read by
         letter-to-sound rules (`spelt_phones`: names and other languages' words); a number's,
         each way English says it (`reenact.audio.numbers`)
      -> pocketsphinx aligns the words, then their phones, to the 16 kHz speech
      -> PhoneSegment(label, start, end) in seconds, as `phones.decode_phones` gives them

Why: the phone decoder hears about a quarter to a third of the lips' closings (docs/talk-and-dub.md:
its p is most often a t or k it misheard), so the mouth misses most p, b and m. With the words
known, every bilabial in them is placed where it is said. A dubbing studio has the script.

The acoustic model is English; words of other languages in a Latin script are aligned by their
spelling (b, p and m are bilabial in all of them), which is approximate for the vowels and exact
enough for the closures. A transcript whose words cannot be spelt in these letters (another
script) or cannot be fitted to the speech raises TranscriptError.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata

import numpy as np

from reenact.audio.numbers import NUMBER_PATTERN, is_number, number_readings
from reenact.audio.phones import (
    ALIGNMENT_NOISE_FLOOR_DB,
    DECODER_FRAME_S,
    DECODER_RATE,
    SPLIT_SEARCH_S,
    UTTERANCE_S,
    PhoneSegment,
    check_decoder_rate,
    pcm16,
    word_decoder,
)
from reenact.io.audio import AudioClip
from reenact.io.errors import check_input_file

logger = logging.getLogger(__name__)

MAX_TRANSCRIPT_CHARS = 100_000  # ~2 hours of speech; a longer "transcript" is the wrong file
_SILENCES = frozenset({"SIL", "+NSN+", "+SPN+", "+BREATH+", "+COUGH+", "+NOISE+", "+UM+", "+UH+"})
# letter-to-sound: letter groups (longest first at each place) and the ARPAbet phones they say;
# "" for a silent group. Rough English readings: what matters for the mouth is which phones close
# the lips (b, p, m), round them (o, u, w) or open them (a), and the word's length in phones.
_LETTER_GROUPS: dict[str, str] = {
    "tch": "CH", "sch": "SH", "ough": "AO",
    "ph": "F", "th": "TH", "sh": "SH", "ch": "CH", "ck": "K", "ng": "NG", "qu": "K W", "wh": "W",
    "gh": "", "kn": "N", "wr": "R", "mb": "M", "ps": "S", "gn": "N",
    "ee": "IY", "ea": "IY", "oo": "UW", "ou": "AW", "ow": "OW", "oi": "OY", "oy": "OY",
    "ai": "EY", "ay": "EY", "ei": "EY", "ey": "EY", "au": "AO", "aw": "AO", "ie": "IY", "ue": "UW",
    "a": "AE", "b": "B", "c": "K", "d": "D", "e": "EH", "f": "F", "g": "G", "h": "HH", "i": "IH",
    "j": "JH", "k": "K", "l": "L", "m": "M", "n": "N", "o": "AA", "p": "P", "q": "K", "r": "R",
    "s": "S", "t": "T", "u": "AH", "v": "V", "w": "W", "x": "K S", "y": "IY", "z": "Z",
}
_LONGEST_GROUP = max(len(group) for group in _LETTER_GROUPS)
# other readings of letter groups that other languages say otherwise, offered to the aligner beside
# the English one: it takes whichever the speech fits (German "nach" would not align as N AE CH)
_OTHER_READINGS: dict[str, tuple[str, ...]] = {
    "ch": ("K", "HH", "SH"), "j": ("Y",), "w": ("V",), "z": ("T S",), "ei": ("AY",), "ie": ("IY",),
}


# Latin letters that taking accents off leaves as they are, as their nearest spelling in a-z
_LATIN_LETTERS = str.maketrans({"ı": "i", "ß": "ss", "ł": "l", "ø": "o", "æ": "ae", "œ": "oe",
                                "đ": "d", "ð": "d", "þ": "th", "ŋ": "ng"})


class TranscriptError(ValueError):
    """A transcript that cannot be read or fitted to its speech (one line, naming the problem)."""


def transcript_words(text: str) -> list[str]:
    """The words of a transcript: lower case, accents taken off (é -> e; ß -> ss, ł -> l, ı -> i, as
    `_LATIN_LETTERS`), numbers kept whole as `reenact.audio.numbers` writes them ("1,984" ->
    "1984", "21st", "$5", "3.5"), punctuation dropped (an apostrophe inside a word is kept:
    "don't"). Raises TranscriptError for a text over `MAX_TRANSCRIPT_CHARS` or without words."""
    if len(text) > MAX_TRANSCRIPT_CHARS:
        raise TranscriptError(f"transcript: {len(text)} characters, more than the "
                              f"{MAX_TRANSCRIPT_CHARS} of ~2 hours of speech")
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(char for char in plain if not unicodedata.combining(char)).translate(_LATIN_LETTERS)
    words: list[str] = []
    for token in re.findall(NUMBER_PATTERN + r"|[^\W\d_]+(?:'[^\W\d_]+)*|\d", plain):
        words.append(token.replace(",", "") if is_number(token) else token)
    if not words:
        raise TranscriptError("transcript: no words in it")
    return words


def read_transcript(path: str | os.PathLike[str]) -> str:
    """The text of a transcript file (UTF-8; a byte-order mark is dropped). Raises MediaError for
    a missing or unreadable file, TranscriptError for one that is too large or not UTF-8 text."""
    path = check_input_file(path, what="transcript")
    size = path.stat().st_size
    if size > 4 * MAX_TRANSCRIPT_CHARS:
        raise TranscriptError(f"transcript {path}: {size} bytes, more than the ~2 hours of speech "
                              f"it can be (is it the right file?)")
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TranscriptError(f"transcript {path}: not UTF-8 text (byte {error.start})") from None


def check_transcript(transcript: object, phones: bool) -> None:
    """TranscriptError unless `transcript` is None, or text whose words can all be read (the
    letters a-z once accents are taken off) and `phones` is on (the transcript gives the phones)."""
    if transcript is None:
        return
    if not isinstance(transcript, str):
        raise TranscriptError(f"transcript: expected the words as text, got "
                              f"{type(transcript).__name__}")
    if not phones:
        raise TranscriptError("transcript: it places the phones, which are off (--no-phones)")
    for word in transcript_words(transcript):
        if not is_number(word):
            _check_letters(word)


def _check_letters(word: str) -> str:
    letters = word.replace("'", "")
    if not letters or not re.fullmatch(r"[a-z]+", letters):
        raise TranscriptError(f"transcript: cannot spell {word!r} in English phones (only the "
                              f"letters a-z are read); leave out the transcript to hear the phones")
    return letters


def spelt_phones(word: str) -> str:
    """ARPAbet phones ("B AE N") read from a word's spelling by letter-to-sound rules, for words
    the dictionary lacks; doubled letters say one phone, a final e is silent. Raises
    TranscriptError for a word with letters outside a-z (another script)."""
    return spelt_variants(word)[0]


def spelt_variants(word: str) -> list[str]:
    """`spelt_phones`' reading of a word, then one more for each other reading of a letter group
    that languages read differently (`_OTHER_READINGS`: German "nach" says K or HH, not the CH of
    "church"), each group's every occurrence changed at once. Raises TranscriptError as
    `spelt_phones` does."""
    letters = re.sub(r"(.)\1", r"\1", _check_letters(word))
    if len(letters) > 2 and letters.endswith("e"):
        letters = letters[:-1]
    groups: list[str] = []
    place = 0
    while place < len(letters):
        for size in range(min(_LONGEST_GROUP, len(letters) - place), 0, -1):
            if letters[place:place + size] in _LETTER_GROUPS:
                groups.append(letters[place:place + size])
                place += size
                break

    def reading(other: dict[str, str]) -> str:
        said = " ".join(other.get(group, _LETTER_GROUPS[group]) for group in groups)
        return " ".join(said.split()) or "AH"

    variants = [reading({})]
    for group in dict.fromkeys(groups):
        for phones in _OTHER_READINGS.get(group, ()):
            variant = reading({group: phones})
            if variant not in variants:
                variants.append(variant)
    return variants


def aligned_phones(clip: AudioClip, text: str) -> list[PhoneSegment]:
    """The phones of `text` as said in `clip` (16 kHz), in order, with the silences between words
    ("SIL"), covering the clip. Speech longer than `UTTERANCE_S` is aligned word by word first,
    then cut between words into pieces of at most that length whose phones are placed one piece at
    a time: the phone pass's memory grows with its length (10 minutes in one: 5 GB). Raises
    TranscriptError where the text has no words, a word cannot be spelt, or the words cannot be
    fitted to the speech; PhonesUnavailable without pocketsphinx."""
    check_decoder_rate(clip)
    words = transcript_words(text)
    if clip.num_samples == 0:
        raise TranscriptError("transcript: the speech is empty")
    decoder = _aligner(words)
    if clip.duration_s <= UTTERANCE_S:
        return _placed_phones(decoder, clip.samples, words, 0, (word_decoder(), {}))
    pieces = _pieces(_placed_words(decoder, clip.samples, words), clip.num_samples)
    placer = (word_decoder(), {})  # one phone decoder for every piece
    logger.info("aligning the transcript to %.0f s of speech (%d pieces)", clip.duration_s,
                len(pieces))
    phones: list[PhoneSegment] = []
    for start, stop, piece_words in pieces:
        phones += _placed_phones(decoder, clip.samples[start:stop], piece_words, start, placer)
    return phones


def _aligner(words: list[str]):
    """A pocketsphinx decoder on the English models that knows every word of `words`: a word the
    dictionary lacks is read from its spelling, and every word may also be said as its spellings
    read (`spelt_variants`: "mit" is in the dictionary as the letters M-I-T), the alignment taking
    whichever pronunciation the speech fits."""
    decoder = word_decoder()
    unique = sorted(set(words))
    spelt = [word for word in unique if decoder.lookup_word(word) is None and not is_number(word)]
    added: list[tuple[str, str]] = []
    for word in unique:
        known: list[str] = []  # the word's pronunciations in the dictionary, in order
        while (said := decoder.lookup_word(_variant_name(word, len(known)))) is not None:
            known.append(said)
        variants = (_number_variants(decoder, word) if is_number(word)
                    else spelt_variants(word))
        for phones in variants:
            if phones not in known:
                added.append((_variant_name(word, len(known)), phones))
                known.append(phones)
    for index, (name, phones) in enumerate(added):  # the searches are rebuilt once, at the last
        decoder.add_word(name, phones, index == len(added) - 1)
    if spelt:
        logger.info("transcript: %d of %d words read from their spelling (not in the English "
                    "dictionary): %s", len(spelt), len(unique), ", ".join(spelt[:8]))
    return decoder


def _number_variants(decoder, number: str) -> list[str]:
    """The phones of each way a number is said (`numbers.number_readings`), each word's from the
    dictionary (else from its spelling)."""
    return [" ".join(decoder.lookup_word(word) or spelt_phones(word) for word in reading)
            for reading in number_readings(number)]


def _variant_name(word: str, index: int) -> str:
    """The dictionary's name of a word's pronunciation `index` (0: "word", 1: "word(2)", ...)."""
    return word if index == 0 else f"{word}({index + 1})"


def _placed_words(decoder, samples: np.ndarray, words: list[str]
                  ) -> list[tuple[str | None, int, int]]:
    """[(word, or None for a silence; first sample, stop sample)] of `words` aligned to `samples`,
    in order."""
    decoder.set_align_text(" ".join(words))
    _decode(decoder, samples, words)
    step = round(DECODER_RATE * DECODER_FRAME_S)
    return [(_word_text(segment.word), segment.start_frame * step, (segment.end_frame + 1) * step)
            for segment in decoder.seg()]


def _pieces(placed: list[tuple[str | None, int, int]], num_samples: int
            ) -> list[tuple[int, int, list[str]]]:
    """[(first sample, stop sample, words)]: the speech cut between words into pieces of at most
    `UTTERANCE_S` (a word longer than that is a piece of its own), each cut in the middle of the
    longest silence in the last `SPLIT_SEARCH_S` before the limit, else between two words there."""
    longest, search = round(UTTERANCE_S * DECODER_RATE), round(SPLIT_SEARCH_S * DECODER_RATE)
    pieces: list[tuple[int, int, list[str]]] = []
    start, first = 0, 0  # the piece's first sample and first entry of `placed`
    while first < len(placed):
        limit = start + longest
        last = first  # the last entry that ends within the limit
        while last + 1 < len(placed) and placed[last + 1][2] <= limit:
            last += 1
        if placed[last][2] >= num_samples or last + 1 == len(placed):
            cut, after = num_samples, len(placed)
        else:
            near = [i for i in range(first, last + 1) if placed[i][2] > limit - search]
            silences = [i for i in near if placed[i][0] is None]
            if silences:
                best = max(silences, key=lambda i: placed[i][2] - placed[i][1])
                cut, after = (placed[best][1] + placed[best][2]) // 2, best + 1
            else:
                cut, after = placed[last][2], last + 1
        pieces.append((start, cut, [word for word, _, _ in placed[first:after] if word is not None]))
        start, first = cut, after
    return [piece for piece in pieces if piece[2]] or pieces[:1]


def _placed_phones(decoder, samples: np.ndarray, words: list[str], offset: int,
                   placer: tuple[object, dict[str, str]]) -> list[PhoneSegment]:
    """The phones of `words` aligned to `samples`, in seconds from `offset` samples before them.
    placer: (a `word_decoder` for the phone pass, the names it knows each pronunciation by),
    shared by the pieces of one speech."""
    decoder.set_align_text(" ".join(words))
    _decode(decoder, samples, words)
    # the phones are placed by a decoder that knows each word only as the pronunciation the word
    # pass chose: pocketsphinx 5's phone pass fails ("Failed to stop utterance processing") on a
    # text that says a word twice once pronunciations have been added to the dictionary
    chosen = [segment.word for segment in decoder.seg() if _word_text(segment.word) is not None]
    phone_decoder, names = placer
    new = [name for name in dict.fromkeys(chosen) if name not in names]
    for index, name in enumerate(new):
        names[name] = f"{_word_text(name)}-{len(names)}"
        phone_decoder.add_word(names[name], decoder.lookup_word(name), index == len(new) - 1)
    decoder = phone_decoder
    decoder.set_align_text(" ".join(names[name] for name in chosen))
    _decode(decoder, samples, words)
    placed = [(segment.word, segment.start_frame, segment.end_frame + 1)
              for segment in decoder.seg()]
    base = offset / DECODER_RATE
    try:
        decoder.set_alignment()  # a second pass places the phones inside the words
        _decode(decoder, samples, words, check=False)
        aligned = [(word.name, [(phone.name, phone.start, phone.start + phone.duration)
                                for phone in word])  # (its iterators are read in place)
                   for word in decoder.get_alignment()]
    except RuntimeError as error:  # pocketsphinx 5's phone pass fails on some speech
        logger.info("transcript: the phones are spread evenly over their words (%s)", error)
        aligned, end = [], 0
        for name, start, stop in placed:  # (the decoder's first two segments may overlap)
            if stop > max(start, end):
                aligned.append((name, _spread(decoder.lookup_word(name), max(start, end), stop)))
                end = stop
    said: list[str] = []
    phones: list[PhoneSegment] = []
    for name, spans in aligned:
        text = _word_text(name)
        if text is not None:
            said.append(text)
        phones += [PhoneSegment("SIL" if phone in _SILENCES else phone,
                                base + start * DECODER_FRAME_S, base + stop * DECODER_FRAME_S)
                   for phone, start, stop in spans]
    if said != words:
        raise TranscriptError(f"transcript: its words could not be fitted to the speech "
                              f"({len(said)} of {len(words)} placed)")
    return phones


def _spread(pronunciation: str | None, start: int, stop: int) -> list[tuple[str, int, int]]:
    """[(phone, first frame, stop frame)]: a word's phones (ARPAbet, space-separated; None for a
    silence or filler) over its frames `start` to `stop`, each an equal share (at least a frame),
    the last one ending at `stop`."""
    said = (pronunciation or "").split() or ["SIL"]
    bounds = np.linspace(start, max(stop, start + len(said)), len(said) + 1).round().astype(int)
    bounds[-1] = max(stop, bounds[-2] + 1)
    return [(phone, int(a), int(b)) for phone, a, b in zip(said, bounds[:-1], bounds[1:])]


def _word_text(name: str) -> str | None:
    """A decoder word as the transcript's ("white(2)" or the phone pass's "white-3" -> "white");
    None for a silence or filler ("<sil>", "[noise]")."""
    return None if name.startswith(("<", "[")) else re.sub(r"(\(\d+\)|-\d+)$", "", name)


def _decode(decoder, samples: np.ndarray, words: list[str], check: bool = True) -> None:
    """One pass over `samples`; with `check`, TranscriptError where `words` did not fit (asked
    only after a word pass: after the phone pass, `hyp()` crashes pocketsphinx 5) or where the
    pass failed; without, a failed pass raises pocketsphinx's RuntimeError."""
    decoder.start_utt()
    decoder.process_raw(pcm16(samples, ALIGNMENT_NOISE_FLOOR_DB), full_utt=True)
    try:
        decoder.end_utt()
        fitted = not check or decoder.hyp() is not None
    except RuntimeError:  # "Failed to stop utterance processing"
        if not check:
            raise
        fitted = False
    if not fitted:
        said = f"{len(words)} words" if len(words) != 1 else "one word"
        raise TranscriptError(f"transcript: its {said} could not be fitted to the "
                              f"{samples.size / DECODER_RATE:.1f} s of speech (is it the right "
                              f"text?)")
