"""`clip_features` in a child process, so that importing librosa overlaps with the rest of start-up.

librosa's import (scipy.signal, numba and its cached kernels: ~2-3 s of CPU) is most of `talk`'s
and `dub`'s start-up after torch's. A thread cannot overlap the two: imports, dlib's model load and
the face analysis all hold the GIL. A child process can: started when the command starts (a fresh
interpreter running this module, not multiprocessing's spawn, which would re-run the caller's
main script), it imports librosa at once while this process imports torch and loads the models
and dlib, and then computes each request with the same function on the same inputs (the clip is
sent whole, pickled through a pipe: the same bits as computing here). Errors raised by
`clip_features` come back as themselves; if the child dies, the features are computed here.

The child also finds the speech's phones (`reenact.audio.recognition.speech_phones`: heard, ~0.7
s of CPU for 12 s of speech, which pocketsphinx spends holding the GIL; or aligned to the words
recognised, ~2 s) where the command names its audio file up front (`phones_from`): it reads the
file itself and finds them during start-up, and the phones are used if the child read the very
samples this process asks about (a digest of them is compared), else they are found here.

Where librosa is already imported (a second job in the same process, tests), nothing is started.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import time
from typing import BinaryIO

import numpy as np

from reenact.audio.features import AudioFeatureConfig, _import_librosa, clip_features
from reenact.audio.phones import DECODER_RATE, PhoneSegment
from reenact.audio.recognition import speech_phones
from reenact.io.audio import AudioClip, load_audio

logger = logging.getLogger(__name__)

_CHILD = "from reenact.audio.feature_process import serve; serve()"


def serve() -> None:
    """The child: import librosa, then answer pickled requests on stdin until EOF: (clip, config)
    with pickled ("features", array), ("phones", path, words) with ("phones", (the samples'
    digest, `speech_phones` segments)) for the file read at the decoder's rate; ("error",
    exception) where either raises."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends us
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not corrupt a reply
    try:
        _warm_up(_import_librosa())
    except ImportError:
        pass  # reported by the first request, as in process
    requests = sys.stdin.buffer
    while True:
        try:
            request = pickle.load(requests)
        except EOFError:
            return
        try:
            if request[0] == "phones":
                clip = load_audio(request[1], DECODER_RATE)
                reply = ("phones", (_digest(clip), speech_phones(clip, request[2])))
            else:
                reply = ("features", clip_features(*request))
        except Exception as error:  # noqa: BLE001 (handed to the parent, which raises it)
            reply = ("error", error)
        pickle.dump(reply, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()


def _warm_up(librosa) -> None:
    """Import what `clip_features` calls: librosa's submodules load on first use (lazy_loader),
    and stft's first call imports librosa.util (numba's cached kernels)."""
    librosa.filters.mel(sr=16000, n_fft=512, n_mels=8)
    spectrum = librosa.stft(np.zeros(1024, np.float32), n_fft=512, hop_length=256, center=False)
    librosa.power_to_db(np.abs(spectrum) ** 2)


def _digest(clip: AudioClip) -> str:
    return hashlib.sha256(np.ascontiguousarray(clip.samples, np.float32).tobytes()).hexdigest()


class FeatureProcess:
    """Callable like `clip_features(clip, config)`; `phones(clip)` is `speech_phones(clip,
    words)`; a context manager that ends its child.

    start: start the child now (default: unless librosa is already imported here); phones_from:
    an audio file (or video) whose phones the child finds at once (see the module's docstring);
    words: the phones of the words recognised where they are clear (`speech_phones`).
    """

    def __init__(self, *, start: bool | None = None,
                 phones_from: str | os.PathLike[str] | None = None, words: bool = True) -> None:
        self._process: subprocess.Popen | None = None
        self._phones: tuple[str, list[PhoneSegment]] | None = None  # (digest, segments)
        self._phones_pending = False
        self._words = words
        if start is None:
            start = "librosa" not in sys.modules
        if start:
            path = os.pathsep.join(p for p in sys.path if p)  # this process's reenact
            self._process = subprocess.Popen(
                [sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                env=dict(os.environ, PYTHONPATH=path), start_new_session=True)
            if phones_from is not None:
                self._phones_pending = self._send(("phones", os.fspath(phones_from), words))

    def __call__(self, clip: AudioClip, config: AudioFeatureConfig) -> np.ndarray:
        self._collect_phones()  # replies come in order
        started = time.perf_counter()
        reply = self._receive() if self._send((clip, config)) else None
        if reply is None:
            return clip_features(clip, config)
        logger.debug("audio features from the child process in %.2f s", time.perf_counter() - started)
        kind, value = reply
        if kind == "error":
            raise value
        return value

    def phones(self, clip: AudioClip) -> list[PhoneSegment]:
        """`speech_phones(clip, words)`: the child's where it read these very samples."""
        self._collect_phones()
        if self._phones is not None and self._phones[0] == _digest(clip):
            return self._phones[1]
        return speech_phones(clip, self._words)

    def _collect_phones(self) -> None:
        if not self._phones_pending:
            return
        self._phones_pending = False
        started = time.perf_counter()
        reply = self._receive()
        if reply is not None and reply[0] == "phones":  # an error: decoded here instead
            self._phones = reply[1]
            logger.debug("phones from the child process (waited %.2f s)",
                         time.perf_counter() - started)

    def _send(self, request: tuple) -> bool:
        """Whether `request` reached the child (False: no child, or it ended)."""
        if self._process is None:
            return False
        try:
            pickle.dump(request, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._process.stdin.flush()
        except OSError as error:
            self._ended(error)
            return False
        return True

    def _receive(self) -> tuple[str, object] | None:
        """The child's next reply; None where it ended."""
        if self._process is None:
            return None
        try:
            return pickle.load(self._process.stdout)
        except (EOFError, OSError, pickle.UnpicklingError) as error:
            self._ended(error)
            return None

    def _ended(self, error: BaseException) -> None:
        logger.warning("the audio feature process ended (%s); computing the features here",
                       error or type(error).__name__)
        self.close()

    def close(self) -> None:
        """End the child at once (it holds nothing worth waiting for)."""
        if self._process is None:
            return
        process, self._process = self._process, None
        process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            _close_quietly(pipe)

    def __enter__(self) -> FeatureProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _close_quietly(pipe: BinaryIO | None) -> None:
    try:
        if pipe is not None:
            pipe.close()
    except OSError:  # a request's bytes still buffered for a child that is gone
        pass
