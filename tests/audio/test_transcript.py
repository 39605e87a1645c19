"""A transcript's phones placed in its speech: the words read from the text, spelt where the
dictionary lacks them, aligned in pieces for long speech, and the errors of each step."""

import re
from pathlib import Path

import numpy as np
import pytest
from speech_fixtures import MEDIA, require

from reenact.audio import transcript
from reenact.audio.phones import DECODER_RATE, UTTERANCE_S
from reenact.audio.transcript import (
    TranscriptError,
    aligned_phones,
    check_transcript,
    read_transcript,
    spelt_phones,
    spelt_variants,
    transcript_words,
)
from reenact.io.audio import AudioClip, load_audio
from reenact.io.errors import MediaError

SENTENCE = "place white in j three please"  # GRID pwij3p, outside eval


@pytest.fixture(scope="module")
def grid_clip() -> AudioClip:
    pytest.importorskip("pocketsphinx", reason="the aligner (pocketsphinx) is not installed")
    return load_audio(require(MEDIA / "talking" / "grid_pwij3p.mpg"), 16000)


@pytest.mark.parametrize("text, words", [
    ("Place WHITE, in J3: please!", ["place", "white", "in", "j", "3", "please"]),
    ("Don't — señor Müller's 42", ["don't", "senor", "muller's", "42"]),
    # numbers are kept whole (`reenact.audio.numbers` reads them)
    ("By 1,500 on the 21st: $5, 3.5% (the 1990s); 1, 2, 3",
     ["by", "1500", "on", "the", "21st", "$5", "3.5%", "the", "1990s", "1", "2", "3"]),
    ("100km, 12a, 5stars, mp3", ["100", "km", "12", "a", "5", "stars", "mp", "3"]),
    ("  line one\nline two\t", ["line", "one", "line", "two"]),
])
def test_the_words_are_read_from_the_text(text, words):
    assert transcript_words(text) == words


@pytest.mark.parametrize("text", ["", " ...!? ", "-- --"])
def test_a_text_without_words_is_refused(text):
    with pytest.raises(TranscriptError, match="transcript: no words in it"):
        transcript_words(text)


def test_a_text_too_long_for_speech_is_refused():
    with pytest.raises(TranscriptError, match="100001 characters, more than"):
        transcript_words("a" * 100_001)


@pytest.mark.parametrize("word, phones", [
    ("bombay", "B AA M EY"), ("climb", "K L IH M"), ("photo", "F AA T AA"),
    ("pietro", "P IY T R AA"), ("mamma", "M AE M AE"), ("babe", "B AE B"), ("o'brien", "AA B R IY N"),
    ("x", "K S"),
])
def test_a_word_is_spelt_in_phones(word, phones):
    assert spelt_phones(word) == phones


@pytest.mark.parametrize("word", ["москва", "東京", "'"])
def test_a_word_in_another_script_cannot_be_spelt(word):
    with pytest.raises(TranscriptError, match=f"cannot spell {re.escape(repr(word))} in English"):
        spelt_phones(word)


def test_check_transcript_names_each_problem():
    check_transcript(None, phones=False)
    check_transcript("place white", phones=True)
    with pytest.raises(TranscriptError, match=r"which are off \(--no-phones\)"):
        check_transcript("place white", phones=False)
    with pytest.raises(TranscriptError, match="expected the words as text, got bytes"):
        check_transcript(b"place", phones=True)
    with pytest.raises(TranscriptError, match="cannot spell 'привет'"):
        check_transcript("place привет", phones=True)


def test_read_transcript_reads_utf8_and_drops_a_byte_order_mark(tmp_path):
    path = tmp_path / "script.txt"
    path.write_bytes("\ufeffSeñor, bin blue".encode("utf-8"))
    assert read_transcript(path) == "Señor, bin blue"


def test_read_transcript_refuses_what_is_not_a_transcript(tmp_path):
    with pytest.raises(MediaError, match="transcript not found"):
        read_transcript(tmp_path / "missing.txt")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("se\xf1or".encode("latin-1"))
    with pytest.raises(TranscriptError, match=r"not UTF-8 text \(byte 2\)"):
        read_transcript(latin1)
    large = tmp_path / "large.txt"
    large.write_bytes(b"a" * 400_001)
    with pytest.raises(TranscriptError, match="400001 bytes, more than"):
        read_transcript(large)


def _placed(layout: list[tuple[str, float]]) -> list[tuple[str, int, int]]:
    placed, start = [], 0
    for word, seconds in layout:
        stop = start + round(seconds * DECODER_RATE)
        placed.append((None if word == "sil" else word, start, stop))
        start = stop
    return placed


def test_long_speech_is_cut_in_a_silence_before_the_limit():
    # 20 s of words, a 0.2-s and a 0.6-s pause in the last 2 s before 30 s, then 20 s more
    layout = [("a", 10.0), ("b", 10.0), ("sil", 0.5), ("c", 8.0), ("sil", 0.2), ("d", 0.3),
              ("sil", 0.6), ("e", 10.0), ("f", 10.0)]  # "sil": a silence (None once placed)
    placed = _placed(layout)
    total = placed[-1][2]
    pieces = transcript._pieces(placed, total)
    cut = (placed[6][1] + placed[6][2]) // 2  # the middle of the longer pause
    assert pieces == [(0, cut, ["a", "b", "c", "d"]), (cut, total, ["e", "f"])]


def test_without_a_silence_the_cut_falls_between_words():
    placed = _placed([("a", 12.0), ("b", 12.0), ("c", 5.0), ("d", 5.0), ("e", 40.0), ("f", 1.0)])
    total = placed[-1][2]
    pieces = transcript._pieces(placed, total)
    assert [piece[2] for piece in pieces] == [["a", "b", "c"], ["d"], ["e"], ["f"]]
    assert pieces[0][0] == 0 and pieces[-1][1] == total
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))  # the pieces tile the speech
    assert all(stop - start <= UTTERANCE_S * DECODER_RATE for start, stop, words in pieces
               if words != ["e"])  # a word longer than a piece is a piece of its own


def test_a_word_spelt_like_a_silence_stays_a_word():
    step = DECODER_RATE
    placed = [("sil", 0, 20 * step), (None, 20 * step, 29 * step), ("b", 29 * step, 40 * step)]
    pieces = transcript._pieces(placed, 40 * step)
    assert [words for _, _, words in pieces] == [["sil"], ["b"]]


def test_the_phones_of_the_words_are_placed_where_they_are_said(grid_clip):
    phones = aligned_phones(grid_clip, SENTENCE.upper() + ".")
    labels = [p.label for p in phones if p.label != "SIL"]
    assert labels[:4] == ["P", "L", "EY", "S"] and labels[-3:] == ["L", "IY", "Z"]
    assert phones[0].start == 0 and abs(phones[-1].end - grid_clip.duration_s) < 0.05
    assert all(a.end <= b.start + 1e-9 and a.start < a.end for a, b in zip(phones, phones[1:]))
    p, please = phones[1], [q for q in phones if q.label == "P"][-1]
    assert p.label == "P" and 0.3 < p.start < 0.6 and please.start > 1.4  # as the words are


def test_a_word_the_dictionary_lacks_is_aligned_by_its_spelling(grid_clip):
    phones = aligned_phones(grid_clip, "place white in jay three pleasse")
    assert [p.label for p in phones if p.label != "SIL"][-4:] == ["P", "L", "IY", "S"]


def test_long_speech_is_aligned_in_pieces_like_a_short_one(grid_clip):
    repeats = int(UTTERANCE_S // grid_clip.duration_s) + 2  # longer than one piece
    long_clip = AudioClip(np.tile(grid_clip.samples, repeats), DECODER_RATE)
    phones = aligned_phones(long_clip, " ".join([SENTENCE] * repeats))
    once = aligned_phones(grid_clip, SENTENCE)
    starts = [p.start for p in phones if p.label == "P"]
    assert len(starts) == 2 * repeats
    for k in range(repeats):  # each repeat's p's where the single clip has them, +- 3 decoder frames
        offset = k * grid_clip.duration_s
        expected = [p.start + offset for p in once if p.label == "P"]
        assert np.allclose(starts[2 * k:2 * k + 2], expected, atol=0.035)
    assert all(a.end <= b.start + 1e-9 for a, b in zip(phones, phones[1:]))


def test_words_that_do_not_fit_the_speech_are_refused(grid_clip):
    with pytest.raises(TranscriptError, match=r"its 17 words could not be fitted to the 3.0 s"):
        aligned_phones(grid_clip, "the quick brown fox jumps over the lazy dog and then some "
                                  "more words again and again")


def test_silence_or_nothing_cannot_hold_words():
    pytest.importorskip("pocketsphinx", reason="the aligner (pocketsphinx) is not installed")
    with pytest.raises(TranscriptError, match="the speech is empty"):
        aligned_phones(AudioClip(np.zeros(0, np.float32), DECODER_RATE), SENTENCE)
    with pytest.raises(TranscriptError, match="could not be fitted"):
        aligned_phones(AudioClip(np.zeros(1600, np.float32), DECODER_RATE), SENTENCE)


def test_a_clip_at_another_rate_is_refused():
    with pytest.raises(ValueError, match=r"expected audio at 16000 Hz"):
        aligned_phones(AudioClip(np.zeros(2205, np.float32), 22050), SENTENCE)


# espeak-ng (1.51, voice "de", 150 words/min, 16 kHz) saying a German sentence of ours: synthetic
# speech with exact zeros between its words, and words the English dictionary reads as another
# language's ("mit" as the letters M-I-T) or that English spelling misreads ("nach": its ch is no CH)
GERMAN = "mein Bruder backt Brot mit Butter und Paul bringt Milch bald nach dem Mittag"
GERMAN_SPEECH = Path(__file__).parent / "data" / "de_espeak.flac"


def test_another_languages_synthetic_speech_is_aligned():
    pytest.importorskip("pocketsphinx", reason="the aligner (pocketsphinx) is not installed")
    clip = load_audio(GERMAN_SPEECH, DECODER_RATE)
    assert (clip.samples == 0).mean() > 0.2  # digital silence between the words
    phones = aligned_phones(clip, GERMAN)
    labels = [p.label for p in phones if p.label != "SIL"]
    # every b, p and m of the words is placed, in order, over the 5 s
    assert [label for label in labels if label in ("B", "P", "M")] == \
        ["M", "B", "B", "B", "M", "B", "P", "B", "M", "B", "M", "M"]
    said = " ".join(labels)
    assert "B AO L D N AE CH D" not in said and "M IH T B" in said  # "nach" and "mit" as spelt
    assert phones[-1].end == pytest.approx(clip.duration_s, abs=0.05)


# espeak-ng (1.51, voice "en-us", 16 kHz) saying a sentence of ours with numbers in it, as English
# says them ("twenty first", "three point five percent", "one thousand five hundred")
NUMBERS = "By the 21st of May, 3.5% of the 1,500 people had paid 40 pounds each."
NUMBERS_SPEECH = Path(__file__).parent / "data" / "en_numbers_espeak.flac"


def test_numbers_are_aligned_as_they_are_said():
    pytest.importorskip("pocketsphinx", reason="the aligner (pocketsphinx) is not installed")
    check_transcript(NUMBERS, phones=True)
    clip = load_audio(NUMBERS_SPEECH, DECODER_RATE)
    phones = aligned_phones(clip, NUMBERS)
    labels = [p.label for p in phones if p.label != "SIL"]
    # by, May, point, percent, people (2), paid, pounds: read digit by digit ("two one st"),
    # the words lacked "point" and "percent", and their p's were lost
    assert [label for label in labels if label in ("B", "P", "M")] == \
        ["B", "M", "P", "P", "P", "P", "P", "P"]
    said = " ".join(labels)
    assert "P OY N T" in said and "TH AW Z AH N D" in said  # "point", "thousand"


def test_every_word_may_also_be_said_as_spelt():
    assert spelt_variants("nach")[0] == spelt_phones("nach") == "N AE CH"
    assert {"N AE K", "N AE HH", "N AE SH"} <= set(spelt_variants("nach"))
    assert spelt_variants("wasser")[:2] == ["W AE S EH R", "V AE S EH R"]
    assert spelt_variants("bad") == ["B AE D"]  # nothing read otherwise


def test_latin_letters_without_accents_are_spelt_in_a_to_z():
    assert transcript_words("Große Straße, sabahı; Łódź") == ["grosse", "strasse", "sabahi", "lodz"]
    check_transcript("Mırıldanır ve şarkı", phones=True)  # Turkish is read now


def test_a_word_spread_over_its_frames_takes_equal_shares():
    assert transcript._spread("P L EY S", 10, 18) == [("P", 10, 12), ("L", 12, 14), ("EY", 14, 16),
                                                      ("S", 16, 18)]
    assert transcript._spread("B IY", 5, 6) == [("B", 5, 6), ("IY", 6, 7)]  # a frame each at least
    assert transcript._spread(None, 0, 40) == [("SIL", 0, 40)]  # a silence


def test_speech_whose_phone_pass_fails_has_its_phones_spread_over_its_words(caplog):
    # pocketsphinx 5's phone pass stops with "Failed to stop utterance processing" on this
    # sentence (its word pass does not): before, a RuntimeError and a traceback
    pytest.importorskip("pocketsphinx", reason="the aligner (pocketsphinx) is not installed")
    clip = load_audio(require(MEDIA / "speech" / "en_long60s.wav"), DECODER_RATE)
    clip = AudioClip(clip.samples[:12 * DECODER_RATE], DECODER_RATE)
    text = ("The left maintains that then Vice President Joe Biden's unmasking of General Flynn is "
            "no big deal. Everybody does it, no harm, no foul.")
    with caplog.at_level("INFO", logger="reenact.audio.transcript"):
        phones = aligned_phones(clip, text)
    assert "spread evenly" in caplog.text
    assert phones[0].start == 0 and abs(phones[-1].end - clip.duration_s) < 0.05
    assert all(a.end <= b.start + 1e-9 and a.start < a.end for a, b in zip(phones, phones[1:]))
    # maintains, President, Biden's, unmasking, big, Everybody, harm: in order, where the speech
    # says them (it starts at 2.6 s; the recogniser's word times 3.5, 5.1, 5.8, 6.5, 8.5, 9.4, 10.5)
    closed = [p.start for p in phones if p.label in ("P", "B", "M")]
    assert len(closed) == 7 and closed == sorted(closed)
    assert np.allclose(closed, [3.5, 5.1, 5.8, 6.5, 8.5, 9.5, 10.6], atol=0.35)
