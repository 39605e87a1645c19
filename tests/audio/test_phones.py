"""The phones of speech as mouth cues: closures, openings, the decoder's input, the decoder on
speech."""

from fractions import Fraction

import numpy as np
import pytest
from speech_fixtures import MEDIA, require

from reenact.audio import phones
from reenact.audio.phones import (
    BILABIALS,
    NEIGHBOUR_CLOSURE,
    PhoneCues,
    PhoneSegment,
    pcm16,
    closure_track,
    decode_phones,
    opening_track,
    phone_cues,
    utterance_bounds,
)
from reenact.io.audio import AudioClip, load_audio

FPS = Fraction(25)


def test_a_bilabial_shuts_the_frames_whose_centres_it_covers_and_eases_their_neighbours():
    # frame i's centre is (i + 0.5) / 25 s: 0.10-0.22 s covers the centres of frames 2, 3 and 4
    segments = [PhoneSegment("SIL", 0.0, 0.1), PhoneSegment("B", 0.1, 0.22),
                PhoneSegment("AA", 0.22, 0.4)]
    track = closure_track(segments, FPS, 10)
    assert track.dtype == np.float32
    assert track.tolist() == [0, NEIGHBOUR_CLOSURE, 1, 1, 1, NEIGHBOUR_CLOSURE, 0, 0, 0, 0]


def test_other_phones_leave_the_lips_alone():
    segments = [PhoneSegment(label, 0.0, 1.0) for label in ("T", "AA", "F", "SIL", "+NSN+")]
    assert not closure_track(segments, FPS, 25).any()


def test_a_phone_shorter_than_a_frame_still_shuts_one_frame():
    # 0.085-0.095 s holds no frame centre (0.06, 0.10): the frame of its middle, frame 2, shuts
    track = closure_track([PhoneSegment("P", 0.085, 0.095)], FPS, 5)
    assert track.tolist() == [0, NEIGHBOUR_CLOSURE, 1, NEIGHBOUR_CLOSURE, 0]


def test_segments_past_the_frames_are_cut_off():
    track = closure_track([PhoneSegment("M", 0.3, 2.0)], FPS, 10)
    assert track[8:].tolist() == [1, 1] and track[6] == NEIGHBOUR_CLOSURE
    assert closure_track([PhoneSegment("M", 0.3, 2.0)], FPS, 0).shape == (0,)


@pytest.mark.parametrize("track", [closure_track, opening_track])
@pytest.mark.parametrize("num_frames", [-1, 2.5, True])
def test_the_tracks_reject_a_bad_frame_count(track, num_frames):
    with pytest.raises(ValueError, match="num_frames: expected an integer >= 0"):
        track([], FPS, num_frames)


def test_each_phone_opens_the_mouth_by_its_table_entry_eased_between_frames(monkeypatch):
    monkeypatch.setattr(phones, "PHONE_OPENING", {"AA": 1.6, "UW": 0.4})
    segments = [PhoneSegment("AA", 0.0, 0.2), PhoneSegment("UW", 0.2, 0.32),
                PhoneSegment("T", 0.32, 0.4)]  # frames 0-4, 5-7, 8-9
    track = opening_track(segments, FPS, 12)
    assert track.dtype == np.float32
    assert np.allclose(track, [1.6, 1.6, 1.6, 1.6, 1.3, 0.7, 0.4, 0.55, 0.85, 1, 1, 1])
    assert opening_track(segments, FPS, 1).tolist() == [np.float32(1.6)]
    assert opening_track([], FPS, 3).tolist() == [1, 1, 1]


def test_the_mouth_factor_is_the_opening_where_the_lips_are_not_shut():
    cues = PhoneCues(np.array([0, 0.5, 1], np.float32), np.array([1.5, 0.8, 1.2], np.float32))
    assert np.allclose(cues.mouth_factor, [1.5, 0.4, 0])


def test_the_table_opens_open_vowels_wider_than_rounded_phones():
    """The measured table (tools/fit_phone_openings.py): a sanity check on what it says."""
    table = phones.PHONE_OPENING
    assert {"AA", "AE", "UW", "W", "M"} <= set(table)
    assert min(table["AA"], table["AE"]) > 1.2 and max(table["UW"], table["W"]) < 0.8
    assert all(0.2 < value < 2.0 for value in table.values())


def test_decoder_available_says_whether_pocketsphinx_imports(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pocketsphinx(name, *args, **kwargs):
        if name == "pocketsphinx":
            raise ImportError("no module named pocketsphinx")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pocketsphinx)
    assert phones.decoder_available() is False


def test_the_decoder_takes_16_khz_audio_only():
    with pytest.raises(ValueError, match="expected audio at 16000 Hz .* got 22050 Hz"):
        decode_phones(AudioClip(np.zeros(100, np.float32), 22050))
    pcm = pcm16(np.array([0.0, 1.0, -2.0], np.float32))
    assert np.frombuffer(pcm, "<i2").tolist() == [0, 32767, -32767]


def test_long_audio_is_cut_into_utterances_in_its_pauses():
    rate = 1000  # 10 samples a decoder frame
    samples = np.ones(10_000, np.float32)
    samples[2_600:2_610] = 0.0  # a pause 0.4 s before the 3-s limit, inside the last 1 s
    samples[5_305:5_315] = 0.0  # the next: 0.3 s before its limit (2.605 + 3 s)
    bounds = utterance_bounds(samples, rate, longest_s=3.0, search_s=1.0)
    assert bounds[0] == (0, 2_605) and bounds[1] == (2_605, 5_310)
    assert bounds[-1][1] == 10_000 and all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert all(stop - start <= 3_000 for start, stop in bounds)
    assert utterance_bounds(samples[:3_000], rate, longest_s=3.0) == [(0, 3_000)]


def test_silence_has_no_bilabials():
    pytest.importorskip("pocketsphinx", reason="the phone decoder (pocketsphinx) is not installed")
    clip = AudioClip(np.zeros(16000, np.float32), 16000)
    cues = phone_cues(clip, FPS, 25)
    assert not cues.closure.any() and (cues.mouth_factor > 0).all()
    assert decode_phones(AudioClip(np.zeros(0, np.float32), 16000)) == []


@pytest.mark.parametrize("samples", [1, 100, 800])
def test_a_clip_too_short_for_a_phone_has_none(samples):
    pytest.importorskip("pocketsphinx", reason="the phone decoder (pocketsphinx) is not installed")
    noise = np.random.default_rng(0).normal(0, 0.1, samples).astype(np.float32)
    cues = phone_cues(AudioClip(noise, 16000), FPS, 1)
    assert cues.closure.shape == cues.opening.shape == (1,)
    assert np.isfinite(cues.mouth_factor).all()


def test_utterances_decode_like_one_pass(monkeypatch, caplog):
    """A clip decoded in 1-s utterances keeps its phones in order, timed on the whole clip."""
    pytest.importorskip("pocketsphinx", reason="the phone decoder (pocketsphinx) is not installed")
    clip = load_audio(require(MEDIA / "talking" / "grid_pwij3p.mpg"), 16000)
    whole = decode_phones(clip)
    monkeypatch.setattr(phones, "UTTERANCE_S", 1.0)
    monkeypatch.setattr(phones, "SPLIT_SEARCH_S", 0.5)
    with caplog.at_level("INFO", logger="reenact.audio.phones"):
        cut = decode_phones(clip)
    assert "finding the phones of 3 s of speech (" in caplog.text  # long speech says so
    assert all(a.end <= b.start + 1e-9 for a, b in zip(cut, cut[1:]))
    assert abs(cut[-1].end - clip.duration_s) < 0.05 and len(cut) > len(whole) // 2
    starts = [s.start for s in cut if s.label in BILABIALS]
    assert any(abs(t - b.start) < 0.1 for t in starts for b in whole if b.label in BILABIALS)


def test_the_decoder_hears_the_bilabials_of_a_grid_sentence():
    """"place white in j three please" (GRID pwij3p, outside eval): p in "place" and "please"."""
    pytest.importorskip("pocketsphinx", reason="the phone decoder (pocketsphinx) is not installed")
    clip = load_audio(require(MEDIA / "talking" / "grid_pwij3p.mpg"), 16000)
    segments = decode_phones(clip)
    assert segments[0].start == 0 and abs(segments[-1].end - clip.duration_s) < 0.05
    bilabial = [s for s in segments if s.label in BILABIALS]
    assert len(bilabial) >= 2
    # "place" opens the sentence after ~0.4 s of silence; "please" ends it
    assert 0.3 < bilabial[0].start < 0.7 and bilabial[-1].start > 1.4
    closure = phone_cues(clip, FPS, 75).closure
    assert 2 <= (closure == 1).sum() <= 15
