"""`clip_features` in a child process, so that importing librosa overlaps with the rest of start-up.

librosa's import (scipy.signal, numba and its cached kernels: ~2-3 s of CPU) is most of `talk`'s
and `dub`'s start-up after torch's. A thread cannot overlap the two: imports, dlib's model load and
the face analysis all hold the GIL. A child process can: started when the command starts (a fresh
interpreter running this module, not multiprocessing's spawn, which would re-run the caller's
main script), it imports librosa at once while this process imports torch and loads the models
and dlib, and then computes each request with the same function on the same inputs (the clip is
sent whole, pickled through a pipe: the same bits as computing here). Errors raised by
`clip_features` come back as themselves; if the child dies, the features are computed here.

Where librosa is already imported (a second job in the same process, tests), nothing is started.
"""

from __future__ import annotations

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
from reenact.io.audio import AudioClip

logger = logging.getLogger(__name__)

_CHILD = "from reenact.audio.feature_process import serve; serve()"


def serve() -> None:
    """The child: import librosa, then answer pickled (clip, config) requests on stdin with
    pickled ("features", array) or ("error", exception) on stdout, until EOF."""
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
            clip, config = pickle.load(requests)
        except EOFError:
            return
        try:
            reply = ("features", clip_features(clip, config))
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


class FeatureProcess:
    """Callable like `clip_features(clip, config)`; a context manager that ends its child.

    start: start the child now (default: unless librosa is already imported here).
    """

    def __init__(self, *, start: bool | None = None) -> None:
        self._process: subprocess.Popen | None = None
        if start is None:
            start = "librosa" not in sys.modules
        if start:
            path = os.pathsep.join(p for p in sys.path if p)  # this process's reenact
            self._process = subprocess.Popen(
                [sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                env=dict(os.environ, PYTHONPATH=path), start_new_session=True)

    def __call__(self, clip: AudioClip, config: AudioFeatureConfig) -> np.ndarray:
        if self._process is None:
            return clip_features(clip, config)
        started = time.perf_counter()
        try:
            pickle.dump((clip, config), self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._process.stdin.flush()
            kind, value = pickle.load(self._process.stdout)
        except (EOFError, OSError, pickle.UnpicklingError) as error:
            logger.warning("the audio feature process ended (%s); computing the features here",
                           error or type(error).__name__)
            self.close()
            return clip_features(clip, config)
        logger.debug("audio features from the child process in %.2f s", time.perf_counter() - started)
        if kind == "error":
            raise value
        return value

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
