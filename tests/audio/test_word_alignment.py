"""Forced alignment of known words to speech: the words in order, timed, and its errors."""

import numpy as np
import pytest
from speech_fixtures import MEDIA, require

from reenact.audio.word_alignment import AlignedWord, _plain, align_words
from reenact.io.audio import AudioClip, load_audio

SENTENCE = "place white in j three please"  # GRID pwij3p, outside eval


@pytest.fixture(scope="module")
def grid_clip() -> AudioClip:
    pytest.importorskip("pocketsphinx", reason="the aligner (pocketsphinx) is not installed")
    return load_audio(require(MEDIA / "talking" / "grid_pwij3p.mpg"), 16000)


def test_the_words_come_back_in_order_covering_the_clip(grid_clip):
    words = align_words(grid_clip, SENTENCE.upper())
    assert [w.text for w in words if w.text != "sil"] == SENTENCE.split()
    assert words[0].start == 0 and abs(words[-1].end - grid_clip.duration_s) < 0.05
    assert all(a.end <= b.start + 1e-9 and a.start < a.end for a, b in zip(words, words[1:]))
    # ~0.45 s of silence before "place"; "please" ends the sentence well after 1.4 s
    starts = {w.text: w.start for w in words}
    assert 0.3 < starts["place"] < 0.6 and starts["please"] > 1.4


def test_a_word_the_dictionary_lacks_is_named(grid_clip):
    with pytest.raises(ValueError, match="not in the pronouncing dictionary: qzxv, jjj"):
        align_words(grid_clip, "place qzxv in jjj three please")


def test_silence_cannot_hold_a_sentence():
    pytest.importorskip("pocketsphinx", reason="the aligner (pocketsphinx) is not installed")
    with pytest.raises(ValueError, match="could not be aligned to this speech"):
        align_words(AudioClip(np.zeros(1600, np.float32), 16000), SENTENCE)


@pytest.mark.parametrize("text", ["", "  \n"])
def test_an_empty_text_is_refused(text):
    with pytest.raises(ValueError, match="text: expected the words said in the clip, got none"):
        align_words(AudioClip(np.zeros(1600, np.float32), 16000), text)


def test_a_clip_at_another_rate_is_refused():
    with pytest.raises(ValueError, match=r"expected audio at 16000 Hz \(the phone decoder's "
                                         r"rate\), got 22050 Hz"):
        align_words(AudioClip(np.zeros(2205, np.float32), 22050), SENTENCE)


@pytest.mark.parametrize("word, text", [("white(2)", "white"), ("<sil>", "sil"), ("</s>", "sil"),
                                        ("Place", "place")])
def test_decoder_words_read_as_plain_text(word, text):
    assert _plain(word) == text


def test_an_aligned_word_is_a_value():
    assert AlignedWord("p", 1.0, 1.2) == AlignedWord("p", 1.0, 1.2)
