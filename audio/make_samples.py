"""Write the sample speech clips the talking-head and dubbing demos use.

audio/en.wav, de.wav, es.wav, fr.wav: one sentence each, synthesized with espeak-ng (GPL-3.0
program; its output is not covered by its licence), 16 kHz mono 16-bit, with 0.3 s of silence
before and after (the mouth should rest there). The sentences are written for this project.

espeak-ng is needed only to regenerate the files, which are committed:
    apt-get install espeak-ng && python audio/make_samples.py [OUTPUT_DIR]
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from reenact.io.audio import AudioClip, load_audio, write_wav

logger = logging.getLogger("make_samples")

SAMPLE_RATE = 16000
PAUSE_S = 0.3
WORDS_PER_MINUTE = 150
SENTENCES = {
    "en": ("en-us", "Hello! I am a portrait, and today I can finally speak to you."),
    "de": ("de", "Guten Tag! Ich bin ein Porträt, und heute kann ich endlich sprechen."),
    "es": ("es", "¡Hola! Soy un retrato, y hoy por fin puedo hablar contigo."),
    "fr": ("fr-fr", "Bonjour ! Je suis un portrait, et aujourd'hui je peux enfin parler."),
}


def synthesize(voice: str, text: str, work: Path) -> np.ndarray:
    """espeak-ng's speech for `text`, as (N,) float32 at SAMPLE_RATE, peak at -3 dBFS."""
    raw = work / f"{voice}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(WORDS_PER_MINUTE), "-w", str(raw), text],
                   check=True)
    samples = load_audio(raw, SAMPLE_RATE).samples
    samples = np.trim_zeros(np.where(np.abs(samples) < 1e-4, 0, samples))
    return (samples * (0.7 / max(float(np.abs(samples).max()), 1e-9))).astype(np.float32)


def main(output_dir: str = str(Path(__file__).resolve().parent)) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if shutil.which("espeak-ng") is None:
        sys.exit("make_samples: espeak-ng is not installed (apt-get install espeak-ng)")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    pause = np.zeros(round(PAUSE_S * SAMPLE_RATE), np.float32)
    with tempfile.TemporaryDirectory() as temp:
        for name, (voice, text) in SENTENCES.items():
            speech = np.concatenate([pause, synthesize(voice, text, Path(temp)), pause])
            path = write_wav(out / f"{name}.wav", AudioClip(speech, SAMPLE_RATE))
            logger.info("wrote %s (%.1f s): %s", path, speech.size / SAMPLE_RATE, text)


if __name__ == "__main__":
    main(*sys.argv[1:])
