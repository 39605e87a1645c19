"""Pass 1 of animate in a second process, started before the first one imports torch and loads the
model, so that dlib's models load and the driving video's face is followed on the other core
meanwhile (pass 1 holds the GIL: in a thread it would not overlap).

    reenact animate -> FacePassProcess.start --------------> child: run_face_pass (no torch)
                    -> import torch, load the model             |  progress, log records
                    -> FacePassProcess.result  <----------------+  the FacePass, or the error

The child is a fresh interpreter running this module (`python -m`; forking a process that may
hold torch's thread pool is unsafe, and multiprocessing's spawn would run the caller's script
again). It reads its task from stdin and talks back over a one-way pipe whose reading end only
the parent holds: if the parent dies, the child's next message fails and it ends. An error in
the child is raised again in the parent with its type (one-line errors stay one line); a child
that dies without a word is reported as such (`FacePassError`: `animate` then does the pass
itself). Leaving the `with` block ends a child still running. The child writes no file.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from reenact.pipelines.animate_options import AnimateOptions
from reenact.pipelines.driving_track import FacePass, run_face_pass

logger = logging.getLogger(__name__)

# how often (s) the parent looks whether a silent child is still alive
_POLL_SECONDS = 0.5


class FacePassError(RuntimeError):
    """The face pass's process failed in a way that has no error of its own to raise again."""


class FacePassProcess:
    """`run_face_pass(source_path, driving_path, options)` running in a child process.

    Use as a context manager; `result()` waits for it. Start it before importing torch to gain
    from it (`reenact.cli.animate`).
    """

    def __init__(self, source_path: str | os.PathLike, driving_path: str | os.PathLike,
                 options: AnimateOptions) -> None:
        self.source_path, self.driving_path = Path(source_path), Path(driving_path)
        self.options = options
        self._result: FacePass | None = None
        reading, writing = os.pipe()
        try:
            # the child imports what this process would: its module search path, in order
            path = os.pathsep.join(entry for entry in sys.path if entry)
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(writing)], stdin=subprocess.PIPE,
                pass_fds=(writing,), env=dict(os.environ, PYTHONPATH=path))
        except BaseException:
            os.close(reading)
            raise
        finally:
            os.close(writing)  # the child holds the only writing end
        self._receiver = Connection(reading, writable=False)
        level = logging.getLogger("reenact").getEffectiveLevel()
        task = (str(self.source_path), str(self.driving_path), options, level)
        try:
            self._process.stdin.write(pickle.dumps(task))
            self._process.stdin.close()
        except OSError:  # the child is already gone: `result` says so
            pass

    def __enter__(self) -> FacePassProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """End the child if it still runs, and release the pipe."""
        if self._process.poll() is None:
            self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._receiver.close()

    def matches(self, source_path: str | os.PathLike, driving_path: str | os.PathLike,
                options: AnimateOptions) -> bool:
        """Whether this pass was started for these inputs and options."""
        return (self.source_path == Path(source_path) and self.driving_path == Path(driving_path)
                and self.options == options)

    def result(self, progress: bool = True) -> FacePass:
        """Wait for the pass (a "tracking faces" bar while it runs) and return it; an error in the
        child is raised here."""
        if self._result is not None:
            return self._result
        from tqdm import tqdm

        with tqdm(unit="frame", desc="tracking faces", disable=not progress, leave=False) as bar:
            while True:
                message = self._receive()
                kind = message[0]
                if kind == "total":
                    bar.total = message[1]
                    bar.refresh()
                elif kind == "frame":
                    bar.update(1)
                elif kind == "log":
                    _, name, level, text = message
                    logging.getLogger(name).log(level, "%s", text)
                elif kind == "error":
                    raise message[1]
                else:  # "done"
                    self._result = message[1]
                    return self._result

    def _receive(self) -> tuple[Any, ...]:
        while not self._receiver.poll(_POLL_SECONDS):
            if self._process.poll() is not None and not self._receiver.poll(0):
                raise self._stopped()
        try:
            return self._receiver.recv()
        except EOFError as error:
            raise self._stopped() from error

    def _stopped(self) -> FacePassError:
        try:
            code = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        return FacePassError(f"face tracking stopped unexpectedly (its process ended with exit "
                             f"code {code})")


class _Forward(logging.Handler):
    """Sends the child's log records to the parent, formatted."""

    def __init__(self, sender: Connection) -> None:
        super().__init__()
        self._sender = sender

    def emit(self, record: logging.LogRecord) -> None:
        self._sender.send(("log", record.name, record.levelno, record.getMessage()))


def _child(sender: Connection, source_path: str, driving_path: str, options: AnimateOptions,
           level: int) -> None:
    root = logging.getLogger("reenact")
    root.setLevel(level)
    root.addHandler(_Forward(sender))
    root.propagate = False
    try:
        result = run_face_pass(source_path, driving_path, options,
                               on_total=lambda total: sender.send(("total", total)),
                               on_frame=lambda: sender.send(("frame",)))
        sender.send(("done", result))
    except BaseException as error:  # noqa: BLE001 - every failure goes back to the parent
        try:
            sender.send(("error", _portable(error)))
        except OSError:  # the parent is gone: nobody to tell
            pass
    finally:
        sender.close()


def _portable(error: BaseException) -> BaseException:
    """`error` if it survives pickling as itself; else one of the type the CLI reports in a line
    (ValueError, OSError) with its message, or a FacePassError naming it (its traceback is logged
    at debug level)."""
    try:
        copy = pickle.loads(pickle.dumps(error))
        if type(copy) is type(error) and str(copy) == str(error):
            return error
    except Exception:  # noqa: BLE001 - an error that does not pickle is rebuilt below
        pass
    for kind in (ValueError, OSError):
        if isinstance(error, kind):
            return kind(str(error))
    logger.debug("face pass failed:\n%s", "".join(traceback.format_exception(error)))
    return FacePassError(f"face tracking failed in its process ({type(error).__name__}: {error})")


def _main(argv: list[str]) -> None:
    """The child: the task (pickled by the parent, which started it) from stdin, the messages to
    the pipe whose fd is argv[0]."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends us
    task = pickle.loads(sys.stdin.buffer.read())
    _child(Connection(int(argv[0]), readable=False), *task)


if __name__ == "__main__":
    _main(sys.argv[1:])
