"""`reenact`'s entry point: parse, set up logging, run the subcommand, turn errors into exit codes.

Exit codes: what the subcommand returns; 2 and one logged line (no traceback) for a usage error or
bad input; 128 + the signal's number on SIGTERM / SIGHUP; 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence

from reenact.cli.errors import UsageError
from reenact.cli.parser import build_parser

logger = logging.getLogger("reenact")


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: unwinds the stack like Ctrl-C, so that every `finally`, context manager
    and partial-output cleanup runs; exit code 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_TERMINATING_SIGNALS = ("SIGTERM", "SIGHUP")


def _terminate(signum: int, frame: object) -> None:
    # a second signal must not cut the cleanup short: ignore the rest (SIGKILL still works)
    for name in _TERMINATING_SIGNALS:
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    raise Terminated(signum)


@contextlib.contextmanager
def _terminating_signals_raise() -> Iterator[None]:
    """While the command runs, SIGTERM and SIGHUP raise `Terminated` (unless ignored, as under
    nohup); the previous handlers are put back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for name in _TERMINATING_SIGNALS:
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) is not signal.SIG_IGN:
            previous[number] = signal.signal(number, _terminate)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _check_common_arguments(args: argparse.Namespace) -> None:
    """Options several commands share, checked before any command runs."""
    threads = getattr(args, "threads", None)
    if threads is not None and threads < 1:
        raise UsageError(f"--threads: expected an integer >= 1, got {threads}")


# GNU OpenMP's threads spin at every barrier before they sleep; on a CPU that other processes
# share, a spinning thread waits for a descheduled sibling for a whole time slice, and a 5 ms
# operation takes 100 ms (the full-resolution compositor's small matrix products on a loaded 2-core
# machine). Sleeping at once costs microseconds where the cores are free.
_OPENMP_WAIT = {"OMP_WAIT_POLICY": "PASSIVE"}
_OPENMP_WAIT_SETTINGS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")


def _prefer_sleeping_threads() -> None:
    """OMP_WAIT_POLICY=PASSIVE for this process, unless the user chose a wait policy or torch
    (which reads it when its OpenMP runtime loads) is already imported."""
    if "torch" in sys.modules or any(name in os.environ for name in _OPENMP_WAIT_SETTINGS):
        return
    os.environ.update(_OPENMP_WAIT)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _prefer_sleeping_threads()
    # set here, not with set_defaults: that would change the default of the -q / -v actions the
    # subcommands share, so that a subcommand reset a -q given before it
    args.quiet, args.verbose = getattr(args, "quiet", False), getattr(args, "verbose", False)
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # CheckpointError and ConfigError are ValueErrors: importing reenact.checkpoint here to name
    # them would import torch for every command, `verify` included
    from reenact.preprocess.face import FaceBackendError

    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        _check_common_arguments(args)
        with _terminating_signals_raise():
            return handler(args)
    except (UsageError, FaceBackendError, ValueError, OSError) as error:
        logger.error("%s", error)
        return 2
    except Terminated as error:
        logger.error("terminated (%s)", error)
        return 128 + error.signum
    except KeyboardInterrupt:
        logger.error("interrupted")
        return 130

