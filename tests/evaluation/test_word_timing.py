"""GRID word timings: the parser, its errors, and which words start with the lips closed."""

from __future__ import annotations

from fractions import Fraction

import pytest

from conftest import MEDIA, require
from reenact.io.audio import load_audio
from reenact.evaluation.word_timing import (
    Word,
    aligned_words,
    bilabial_onsets,
    grid_sentence,
    onset_frame,
    parse_grid_align,
    read_grid_align,
    starts_bilabial,
)

SENTENCE = """0 12250 sil
12250 19250 bin
19250 27250 blue
27250 30500 at
30500 36000 m
36000 43250 two
43250 55250 please
55250 74500 sil
"""


def test_parse_grid_align_reads_times_in_25000ths_of_a_second() -> None:
    words = parse_grid_align(SENTENCE)
    assert [w.text for w in words] == ["sil", "bin", "blue", "at", "m", "two", "please", "sil"]
    assert (words[1].start_s, words[1].end_s) == pytest.approx((0.49, 0.77))
    assert words[-1].end_s == pytest.approx(2.98)  # a 3-s GRID sentence's audio: 74500 units


def test_bilabial_onsets_follow_the_sound_not_the_letter() -> None:
    words = parse_grid_align(SENTENCE)
    # the spelled letter m is said "em"; silence is no word
    assert [w.text for w in bilabial_onsets(words)] == ["bin", "blue", "please"]
    assert starts_bilabial("p") and starts_bilabial("b") and starts_bilabial("More")
    assert not starts_bilabial("phone") and not starts_bilabial("sp")
    assert not starts_bilabial("with")


def test_onset_frame_is_the_frame_shown_when_the_word_starts() -> None:
    word = Word(30500 / 25000, 36000 / 25000, "p")
    assert onset_frame(word, Fraction(25)) == 30  # 1.22 s lies in frame 30, [1.20, 1.24)
    assert onset_frame(word, Fraction(30)) == 36  # [1.2, 1.233)
    assert onset_frame(Word(1.2, 1.3, "p"), Fraction(25)) == 30  # on a boundary: the frame it opens


@pytest.mark.parametrize("text, message", [
    ("0 100 sil\n100 oops bin\n", r"align: line 2: expected 'start end word' with integer times, "
                                  r"got '100 oops bin'"),
    ("0 100 sil\n100 200\n", r"line 2: expected 'start end word'"),
    ("0 100 sil\n300 200 bin\n", r"line 2: times must not go backwards, got '300 200 bin'"),
    ("50 100 sil\n10 200 bin\n", r"line 2: times must not go backwards"),
    ("\n\n", r"align: no words"),
])
def test_parse_grid_align_names_the_bad_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_grid_align(text)


def test_read_grid_align_of_a_missing_file_names_it(tmp_path) -> None:
    with pytest.raises(ValueError, match="missing.align: cannot read the word timings"):
        read_grid_align(tmp_path / "missing.align")


def test_the_eval_align_file_covers_its_video() -> None:
    path = require(MEDIA / "eval" / "talking" / "grid_swwp2s.align")
    words = read_grid_align(path)
    assert words[0].text == "sil" and words[-1].end_s == pytest.approx(2.98)
    assert [w.text for w in bilabial_onsets(words)] == ["p"]


@pytest.mark.parametrize("name, sentence", [
    ("grid_swwp2s.mpg", "set white with p two soon"),
    ("grid_lbbc2a", "lay blue by c two again"),
    ("pwij3p", "place white in j three please"),
    ("GRID_BRBK7N.MPG", "bin red by k seven now"),
    ("grid_lwbsza", "lay white by s zero again"),  # zero is spelt "z"
])
def test_a_grid_name_spells_its_sentence(name: str, sentence: str) -> None:
    assert grid_sentence(name) == sentence


@pytest.mark.parametrize("name", ["vr_4.mp4", "grid_swwp2", "grid_swwp2ss", "grid_xwwp2s",
                                  "grid_swwwzs", "grid_swwpxs", "grid_swwp0s", "grid_swwp2x", ""])
def test_a_name_that_spells_no_grid_sentence_has_none(name: str) -> None:
    # wrong length; no command x; GRID has no letter w; no digit x (and zero is "z"); no
    # adverb x
    assert grid_sentence(name) is None


def test_the_aligned_sentence_starts_where_the_corpus_timings_do() -> None:
    """The eval clip with the corpus' own timings: every aligned word starts within 0.05 s of them
    (a measurement check, nothing is fitted to it)."""
    pytest.importorskip("pocketsphinx", reason="the aligner (pocketsphinx) is not installed")
    video = require(MEDIA / "eval" / "talking" / "grid_swwp2s.mpg")
    corpus = [w for w in read_grid_align(video.with_suffix(".align")) if w.text != "sil"]
    aligned = [w for w in aligned_words(load_audio(video, 16000), grid_sentence(video.name))
               if w.text != "sil"]
    assert [w.text for w in aligned] == [w.text for w in corpus]
    assert max(abs(a.start_s - c.start_s) for a, c in zip(aligned, corpus)) <= 0.05 + 1e-9
    assert [w.text for w in bilabial_onsets(aligned)] == ["p"]
