"""`prefetched`: items drawn on a thread ahead of the caller, in order, errors where they happened,
and a thread that stops when the caller does; `BackgroundWork`: a worker that stops when told,
even when its wake-up was lost."""

from __future__ import annotations

import threading
import time

import pytest

from reenact.io.background import BackgroundWork, prefetched


def test_items_come_in_order_and_are_made_ahead_on_another_thread() -> None:
    made: list[tuple[int, str]] = []

    def items():
        for i in range(6):
            made.append((i, threading.current_thread().name))
            yield i

    got = []
    for item in prefetched(items(), 2, "test-prefetch"):
        time.sleep(0.02)  # the caller's work on the item: the producer runs ahead meanwhile
        got.append((item, len(made)))
    assert [item for item, _ in got] == list(range(6))
    assert all(name == "test-prefetch" for _, name in made)
    assert got[0][1] >= 2  # by the time the first item was worked on, more were made


def test_an_error_is_raised_in_the_caller_at_its_item() -> None:
    def items():
        yield 1
        yield 2
        raise ValueError("frame 3 is broken")

    got = []
    with pytest.raises(ValueError, match="frame 3 is broken"):
        for item in prefetched(items(), 1, "test-prefetch"):
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_stops_the_thread() -> None:
    made = []

    def endless():
        i = 0
        while True:
            made.append(i)
            yield i
            i += 1

    before = threading.active_count()
    stream = prefetched(endless(), 1, "test-prefetch")
    assert next(stream) == 0
    stream.close()  # joins the thread
    assert threading.active_count() == before
    count = len(made)
    time.sleep(0.05)
    assert len(made) == count and count <= 4  # no more made after the close


def test_a_worker_whose_wake_up_was_lost_still_stops() -> None:
    """SIGTERM raised in the caller inside `submit`'s put, after the item went into the queue and
    before the worker waiting for it was told: the queue is full, `stop_soon` cannot add its end
    marker, and `stop` waited for a worker asleep for good (the CLI's cleanup hung)."""
    done: list[int] = []
    work = BackgroundWork(done.append, 1, "test-worker")
    time.sleep(0.05)  # the worker waits for an item
    with work._items.mutex:
        work._items._put(7)  # in the queue, nobody told: what the interrupted put leaves
    stopper = threading.Thread(target=work.stop, daemon=True)
    stopper.start()
    stopper.join(timeout=5)
    assert not stopper.is_alive(), "stop() waited for a worker that never woke"
    assert not work._thread.is_alive()
