"""One worker thread fed through a bounded queue, whose errors surface in the caller's thread."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class BackgroundWork:
    """Calls `work(item)` on one daemon thread for each item submitted, in order; at most
    `depth` items wait, so a caller that produces faster than `work` consumes is held back.

    The first exception `work` raises is kept, raised in the caller's thread by the next
    `submit` or by `finish`, and the items after it are dropped unprocessed. The thread holds
    only this object and `work`: whoever owns it can still be garbage collected (and should call
    `stop_soon` from its finalizer).
    """

    _END = object()
    # how often a thread waiting for items looks whether it was stopped: SIGTERM raised in the
    # caller inside `submit`'s put, after the item went in and before the waiting thread was told,
    # left that thread asleep on a full queue that `stop_soon` could not add to, and the CLI's
    # cleanup waited for it forever (seen once: test_termination_mid_render_leaves_nothing hung)
    _POLL_SECONDS = 0.1

    def __init__(self, work: Callable[[Any], None], depth: int, name: str) -> None:
        self._items: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stopping = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), name=name, daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[Any], None]) -> None:
        while not self._stopping.is_set():
            try:
                item = self._items.get(timeout=self._POLL_SECONDS)
            except queue.Empty:
                continue
            if item is self._END:
                return
            if self._error is not None:
                continue  # failed: keep taking items, so that no `submit` waits forever
            try:
                work(item)
            except BaseException as error:  # raised again in the caller's thread
                logger.debug("background work failed: %r", error)
                self._error = error

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, item: Any) -> None:
        """Queue `item`; raises what an earlier item's `work` raised."""
        self._raise_error()
        self._items.put(item)

    def finish(self) -> None:
        """Wait until every item submitted is done; raises what `work` raised, if anything."""
        self._items.put(self._END)
        self._thread.join()
        self._raise_error()

    def stop_soon(self) -> None:
        """Drop the items still waiting; the thread ends after the one in hand. Never blocks."""
        self._stopping.set()
        with contextlib.suppress(queue.Full):
            self._items.put_nowait(self._END)  # wakes a thread waiting for items

    def stop(self) -> None:
        """`stop_soon`, then wait for the thread to end."""
        self.stop_soon()
        self._thread.join()


def prefetched(items: Iterable[T], depth: int, name: str) -> Iterator[T]:
    """`items`, drawn on one daemon thread up to `depth` ahead of the caller: the work that
    produces them runs while the caller works on the one before. An error is raised in the
    caller's thread at the item where it happened; closing the iterator early stops the thread
    after the item in hand."""
    ready: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=depth)
    stopping = threading.Event()

    def put(message: tuple[int, Any]) -> bool:
        while not stopping.is_set():
            try:
                ready.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put((_ITEM, item)):
                    return
        except BaseException as error:  # raised again in the caller's thread
            put((_ERROR, error))
            return
        put((_DONE, None))

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, value = ready.get()
            if kind == _DONE:
                return
            if kind == _ERROR:
                raise value
            yield value
    finally:
        stopping.set()
        thread.join()


_ITEM, _ERROR, _DONE = range(3)
