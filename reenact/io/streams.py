"""Streaming helpers: chunks of frames through bounded queues, so memory stays flat.

- ``prefetched``: run an iterator in a thread, a few items ahead (decoding overlaps tracking).
- ``WriterThread``: the other direction, a consumer thread behind a bounded queue (frame
  assembly + encoding overlap rendering).
- ``Timed``, ``limited``, ``single_frames``, ``until``: small iterator wrappers of chunk streams.

Every loop polls ``reenact.interrupt.check_stop`` so Ctrl-C / SIGTERM stop it at the next item;
errors in a thread re-raise in the caller.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import numpy as np

from reenact.errors import OutputError
from reenact.interrupt import check_stop

T = TypeVar("T")
_DONE = object()  # end-of-stream marker in the queues


_RUNNING: set[tuple[threading.Event, threading.Thread]] = set()  # prefetch threads not yet done
_RUNNING_LOCK = threading.Lock()


@atexit.register
def _stop_prefetching() -> None:
    """Stop every prefetch thread still running and wait for it, before the interpreter
    finalises. A daemon thread left decoding (its generator still referenced, e.g. by the
    traceback of an interruption) is otherwise killed mid-call at exit: a native decoder torn
    down under it aborted the process ("pure virtual method called", exit -6 instead of 143)."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for stop, _ in running:
        stop.set()
    for _, thread in running:
        thread.join(timeout=5.0)


def prefetched(chunks: Iterable[T], depth: int) -> Iterator[T]:
    """Run an iterator in a daemon thread, ``depth`` items ahead (bounded memory); errors
    re-raise in the caller, and closing the generator (or the interpreter's exit) stops the
    thread, which then closes ``chunks`` itself."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:  # release the decoder in this thread, now
                close()

    thread = threading.Thread(target=work, name="reenact-decode", daemon=True)
    entry = (stop, thread)
    with _RUNNING_LOCK:
        _RUNNING.add(entry)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5.0)
        with _RUNNING_LOCK:
            _RUNNING.discard(entry)


class WriterThread:
    """A consumer thread behind a bounded queue: ``put(x)`` hands x to ``write(prepare(x))``.

    Errors in the thread re-raise in the producer at the next ``put`` or at exit; an error in the
    producer stops the thread without finishing the queue. ``seconds`` is the time the thread
    spent in ``prepare`` + ``write``.
    """

    def __init__(self, write: Callable[[np.ndarray], None], depth: int,
                 prepare: Callable[[np.ndarray], np.ndarray] | None = None):
        self.write = write
        self.prepare = prepare or (lambda x: x)
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self.seconds = 0.0
        self.thread = threading.Thread(target=self._run, name="reenact-writer", daemon=True)

    def __enter__(self) -> WriterThread:
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                item = self.q.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _DONE:
                return
            t = time.perf_counter()
            try:
                self.write(self.prepare(item))
            except BaseException as exc:
                self.error = exc
                return
            self.seconds += time.perf_counter() - t

    def put(self, item) -> None:
        while True:
            check_stop()
            if self.error is not None:
                raise self.error
            if not self.thread.is_alive():
                raise OutputError("the writer thread stopped unexpectedly")
            try:
                self.q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            while self.thread.is_alive():
                try:
                    self.q.put(_DONE, timeout=0.1)
                    break
                except queue.Full:
                    continue
            self.thread.join()
            if self.error is not None:
                raise self.error
        else:
            self.stop.set()
            self.thread.join(timeout=10.0)


class Timed:
    """Iterator wrapper that adds up the seconds spent producing items (``seconds``)."""

    def __init__(self, it: Iterable):
        self.it = iter(it)
        self.seconds = 0.0

    def __iter__(self):
        return self

    def __next__(self):
        t = time.perf_counter()
        try:
            return next(self.it)
        finally:
            self.seconds += time.perf_counter() - t


class Stopped(Exception):
    """Raised by ``until``: another part of the work failed."""


def until(event: threading.Event, chunks: Iterable[T]) -> Iterator[T]:
    """The items of ``chunks`` until ``event`` is set (then ``Stopped``, before the next item)."""
    for chunk in chunks:
        if event.is_set():
            raise Stopped()
        yield chunk


def limited(chunks: Iterable[np.ndarray], limit: int | None) -> Iterator[np.ndarray]:
    """The chunks' first ``limit`` frames (all for None); stops reading there."""
    if limit is None:
        yield from chunks
        return
    seen = 0
    for chunk in chunks:
        if seen >= limit:
            return
        chunk = chunk[: limit - seen]
        seen += len(chunk)
        yield chunk
    # stop here: the generator's finally closes the decoder


def single_frames(chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """(n, H, W, 3) chunks -> (H, W, 3) frames, one at a time."""
    for chunk in chunks:
        yield from chunk
