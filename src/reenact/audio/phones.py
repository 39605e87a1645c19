"""What the phones of speech say about the mouth, per video frame: where the lips must meet (p, b,
m) and how far each phone opens the mouth.

    AudioClip (mono float32) -> 16-bit PCM at the decoder's 16 kHz
      -> pocketsphinx's English phone decoder (allphone search on its phone language model)
      -> PhoneSegment(label, start, end) in seconds
      -> PhoneCues: closure (T,) 1 where the lips are shut; opening (T,) the phone's typical
         opening over an average speech frame's (`PHONE_OPENING`)
      -> talk and dub multiply the speech's mouth motion by opening * (1 - closure)

Why a phone decoder: a regression from log-mel to the mouth opening (`reenact.models.
audio_to_motion`) predicts the expected opening, which stays above a closed mouth through a /p/
that lasts two frames: on 504 training clips the bundled audio model's openings met the real
closures no more often than another clip's closures (docs/talk-and-dub.md). A probe trained on
log-mel for closures reached only 0.69 AUC on dev clips. The decoder names phones instead, and
p, b and m close the lips in every language. The same regression opens the mouth with loudness
alone, so an "oo" opens it as wide as an "ah": scaling its opening by the phone's typical opening
(rounded and closed phones under 1, open vowels over 1) gives the mouth the speech's shapes.

The decoder and its English acoustic model ship inside the `pocketsphinx` wheel on PyPI (CMU
Sphinx, BSD licence), a dependency of reenact; nothing is downloaded. Where it cannot be imported
(a platform without a wheel) `phone_cues` raises `PhonesUnavailable`, and talk and dub warn and go
on without phones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from reenact.audio.features import check_fps
from reenact.io.audio import AudioClip

logger = logging.getLogger(__name__)

DECODER_RATE = 16000  # the acoustic model's sample rate (Hz)
DECODER_FRAME_S = 0.01  # the decoder's frame step (s)
# the longest utterance the decoder is given (s), cut in a pause found in the last SPLIT_SEARCH_S:
# its search memory grows with an utterance's length (10 minutes in one: +158 MB)
UTTERANCE_S = 30.0
SPLIT_SEARCH_S = 2.0
# forced alignment hears speech through noise this far under its rms: pocketsphinx's alignment
# failed on every espeak-ng sentence tried (7 languages, English among them, 2026-12-05; a quarter
# of their samples exact zeros, as text-to-speech writes between words): with this floor all 7
# align (with the spelt readings of `reenact.audio.transcript`), at -45 dB 2 of 7. A recording's
# own noise lies above it, and a real GRID clip aligns with or without it
ALIGNMENT_NOISE_FLOOR_DB = -35.0
BILABIALS = frozenset({"P", "B", "M"})  # ARPAbet phones made with both lips shut
# the phone decoder's language weight and phone insertion penalty; the values the CMU Sphinx
# documentation gives for allphone decoding (a larger weight trusts phone bigrams over acoustics)
LANGUAGE_WEIGHT = 2.0
PHONE_PENALTY = 0.3
# a closure eases in and out: the frames next to a shut one are drawn this much shut
NEIGHBOUR_CLOSURE = 0.5
# each phone's mean inner-lip gap (FaceMesh, over its clip's largest) on the speech frames it
# covers, over the mean of all speech frames; phones not listed count 1. Measured by
# tools/fit_phone_openings.py (2026-12-05) on the non-eval talking clips (../shared/media/talking,
# train-extra's PC-AVS, V-Express and LivePortrait clips, every 20th Arabic clip) less the 13 dev
# clips the table is judged on (160 videos, 10,161 speech frames). p opens the mouth nearly as much
# as an average frame: the decoder's p is mostly a release or a mistaken t/k, its b and m are
# closures; all three shut the lips through `closure_track` anyway.
PHONE_OPENING: dict[str, float] = {
    "W": 0.42, "UW": 0.53, "M": 0.57, "R": 0.62, "OW": 0.65, "ER": 0.67, "B": 0.71, "UH": 0.77,
    "OY": 0.8, "V": 0.8, "D": 0.82, "Z": 0.83, "AO": 0.84, "TH": 0.85, "L": 0.87, "N": 0.9,
    "NG": 0.91, "G": 0.94, "P": 0.94, "T": 0.96, "AH": 0.97, "CH": 0.99, "JH": 0.99, "Y": 0.99,
    "DH": 1.02, "S": 1.02, "SIL": 1.02, "F": 1.04, "SH": 1.06, "IH": 1.07, "IY": 1.12, "ZH": 1.13,
    "EH": 1.18, "K": 1.2, "AW": 1.27, "EY": 1.27, "AA": 1.46, "HH": 1.46, "AY": 1.48, "AE": 1.56,
}


class PhonesUnavailable(RuntimeError):
    """The phone decoder (the `pocketsphinx` package) cannot be imported."""


@dataclass(frozen=True)
class PhoneSegment:
    """One decoded phone: ARPAbet label ("P", "AA", "SIL", ...), start and end in seconds."""

    label: str
    start: float
    end: float


def decoder_model() -> tuple[object, Path]:
    """(the pocketsphinx module, the folder of its English models: the acoustic model "en-us", the
    phone language model and the pronouncing dictionary); PhonesUnavailable without it."""
    try:
        import pocketsphinx
    except ImportError as error:
        raise PhonesUnavailable(f"the phone decoder needs the pocketsphinx package "
                                f"(pip install pocketsphinx): {error}") from error
    return pocketsphinx, Path(pocketsphinx.get_model_path()) / "en-us"


def word_decoder():
    """A pocketsphinx decoder on the English acoustic model and its pronouncing dictionary, for
    aligning known words (`reenact.audio.word_alignment`, `reenact.audio.transcript`);
    PhonesUnavailable without pocketsphinx."""
    pocketsphinx, model = decoder_model()
    return pocketsphinx.Decoder(hmm=str(model / "en-us"), dict=str(model / "cmudict-en-us.dict"),
                                logfn="/dev/null")


def decoder_available() -> bool:
    """Whether the phone decoder can be imported here (else `phone_cues` raises PhonesUnavailable)."""
    try:
        decoder_model()
    except PhonesUnavailable:
        return False
    return True


def check_decoder_rate(clip: AudioClip) -> None:
    """ValueError unless `clip` is at the decoder's rate (`DECODER_RATE`)."""
    if clip.sample_rate != DECODER_RATE:
        raise ValueError(f"clip: expected audio at {DECODER_RATE} Hz (the phone decoder's rate), got "
                         f"{clip.sample_rate} Hz; load it with load_audio(path, {DECODER_RATE})")


def pcm16(samples: np.ndarray, noise_floor_db: float | None = None) -> bytes:
    """Mono 16-bit little-endian PCM of (N,) float samples in [-1, 1]; with `noise_floor_db`,
    seeded Gaussian noise that many dB under the samples' rms is added first (the same noise for
    the same samples), as `ALIGNMENT_NOISE_FLOOR_DB` for the aligners."""
    if noise_floor_db is not None and samples.size:
        rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
        noise = np.random.default_rng(0).standard_normal(samples.shape[0]).astype(np.float32)
        samples = samples + np.float32(rms * 10 ** (noise_floor_db / 20)) * noise
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def utterance_bounds(samples: np.ndarray, rate: int = DECODER_RATE, *,
                     longest_s: float = UTTERANCE_S, search_s: float = SPLIT_SEARCH_S,
                     ) -> list[tuple[int, int]]:
    """[(start, stop), ...] sample ranges that tile (N,) samples, each at most `longest_s` long,
    cut at the quietest 10-ms frame of the last `search_s` before that limit (a pause between
    words, where a cut splits no phone)."""
    frame = round(rate * DECODER_FRAME_S)
    longest, search = round(longest_s * rate), round(search_s * rate) // frame * frame
    bounds, start = [], 0
    while samples.size - start > longest:
        low = start + longest - search
        window = samples[low:start + longest].astype(np.float64)
        energy = (window[:window.size // frame * frame].reshape(-1, frame) ** 2).sum(axis=1)
        cut = low + int(np.argmin(energy)) * frame + frame // 2
        bounds.append((start, cut))
        start = cut
    bounds.append((start, samples.size))
    return bounds


def decode_phones(clip: AudioClip) -> list[PhoneSegment]:
    """The phones of a 16 kHz clip, in order, covering it (silence is "SIL", noise "+NSN+" etc.).
    A long clip is decoded as utterances of at most `UTTERANCE_S` (`utterance_bounds`), so that
    the decoder's memory does not grow with the clip."""
    check_decoder_rate(clip)
    pocketsphinx, model = decoder_model()
    if clip.num_samples == 0:
        return []
    decoder = pocketsphinx.Decoder(hmm=str(model / "en-us"),
                                   allphone=str(model / "en-us-phone.lm.bin"),
                                   lw=LANGUAGE_WEIGHT, pip=PHONE_PENALTY, logfn="/dev/null")
    phones = []
    bounds = utterance_bounds(clip.samples, longest_s=UTTERANCE_S, search_s=SPLIT_SEARCH_S)
    if len(bounds) > 1:  # long speech takes a while (10 minutes: ~50 s): say so
        logger.info("finding the phones of %.0f s of speech (%d utterances)", clip.duration_s,
                    len(bounds))
    for start, stop in bounds:
        decoder.start_utt()
        decoder.process_raw(pcm16(clip.samples[start:stop]), full_utt=True)
        decoder.end_utt()
        offset = start / DECODER_RATE
        # None where it found no hypothesis (a few samples)
        phones += [PhoneSegment(segment.word, offset + segment.start_frame * DECODER_FRAME_S,
                                offset + (segment.end_frame + 1) * DECODER_FRAME_S)
                   for segment in decoder.seg() or ()]
    return phones


def _check_count(num_frames: object) -> None:
    if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)) \
            or num_frames < 0:
        raise ValueError(f"num_frames: expected an integer >= 0, got {num_frames!r}")


def frame_span(segment: PhoneSegment, fps: Fraction) -> tuple[int, int]:
    """(first, stop): the video frames at `fps` whose centre time ((i + 0.5) / fps) falls inside
    the segment, frames first .. stop - 1 (stop <= first: none does); not clipped to a clip."""
    rate = float(fps)
    return int(np.ceil(segment.start * rate - 0.5)), int(np.ceil(segment.end * rate - 0.5))


def closure_track(segments: list[PhoneSegment], fps: Fraction, num_frames: int) -> np.ndarray:
    """(num_frames,) float32 in [0, 1]: 1 on video frames whose centre time falls inside a bilabial
    segment (the frame nearest its middle where none does: a phone shorter than a frame still
    closes the lips once), `NEIGHBOUR_CLOSURE` on the frames either side, 0 elsewhere."""
    fps = check_fps(fps)
    _check_count(num_frames)
    shut = np.zeros(num_frames, bool)
    for segment in segments:
        if segment.label not in BILABIALS:
            continue
        first, stop = frame_span(segment, fps)
        if stop <= first:
            first = int((segment.start + segment.end) / 2 * float(fps))
            stop = first + 1
        shut[max(first, 0):min(stop, num_frames)] = True
    track = shut.astype(np.float32)
    near = np.zeros(num_frames, bool)
    near[1:] |= shut[:-1]
    near[:-1] |= shut[1:]
    track[near & ~shut] = NEIGHBOUR_CLOSURE
    return track


def opening_track(segments: list[PhoneSegment], fps: Fraction, num_frames: int) -> np.ndarray:
    """(num_frames,) float32: each video frame's `PHONE_OPENING` for the phone covering its centre
    time (1 where none is listed or none covers it), low-passed by [1/4, 1/2, 1/4] over frames so
    that the mouth moves between phones instead of stepping."""
    fps = check_fps(fps)
    _check_count(num_frames)
    factor = np.ones(num_frames, np.float64)
    for segment in segments:
        first, stop = frame_span(segment, fps)
        factor[max(first, 0):max(min(stop, num_frames), 0)] = PHONE_OPENING.get(segment.label, 1.0)
    if num_frames < 2:
        return factor.astype(np.float32)
    padded = np.concatenate([factor[:1], factor, factor[-1:]])
    return (0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]).astype(np.float32)


@dataclass(frozen=True, eq=False)
class PhoneCues:
    """Per video frame: closure (T,) float32 in [0, 1] (`closure_track`), opening (T,) float32
    (`opening_track`)."""

    closure: np.ndarray
    opening: np.ndarray

    @property
    def mouth_factor(self) -> np.ndarray:
        """(T,) float32: what the speech's mouth motion is multiplied by."""
        return (self.opening * (1 - self.closure)).astype(np.float32)


def phone_cues(clip: AudioClip, fps: Fraction, num_frames: int) -> PhoneCues:
    """The cues of `clip`'s phones (16 kHz) as the decoder hears them, for `num_frames` video
    frames at `fps`. Raises PhonesUnavailable without the decoder."""
    return segment_cues(decode_phones(clip), fps, num_frames)


def segment_cues(segments: list[PhoneSegment], fps: Fraction, num_frames: int) -> PhoneCues:
    """The cues of phones found in any way (decoded, or aligned to a transcript)."""
    logger.debug("phones: %d, %d bilabial", len(segments),
                 sum(s.label in BILABIALS for s in segments))
    return PhoneCues(closure_track(segments, fps, num_frames),
                     opening_track(segments, fps, num_frames))
