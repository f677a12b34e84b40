"""Stopping cleanly on Ctrl-C (SIGINT) and SIGTERM (a scheduler's preemption, `kill`).

``handle_signals()`` turns both signals into an ``Interrupted`` exception (a KeyboardInterrupt
that knows its signal) and sets a stop flag that the long loops poll with ``check_stop()``:
Python drops an exception raised while a weakref callback or ``__del__`` runs, so the flag makes
sure the stop is never lost. Every command runs inside it (``cli.main``), which prints one line
and exits 128 + the signal number (130 for Ctrl-C, 143 for SIGTERM), the shell's convention.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

_STOP = threading.Event()
_STOP_SIGNAL: list[int] = [signal.SIGINT]  # the signal of the last request
_DEFER_DEPTH: list[int] = [0]  # > 0: the main thread is in a step that must not be cut in two
_PENDING: list[int] = []  # signals that arrived during such a step


class Interrupted(KeyboardInterrupt):
    """Raised on SIGINT or SIGTERM; ``exit_code`` is 128 + the signal number."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def request_stop(signum: int = signal.SIGINT) -> None:
    """Ask every running loop to stop (``check_stop`` raises ``Interrupted`` at its next call)."""
    _STOP_SIGNAL[0] = int(signum)
    _STOP.set()


def clear_stop() -> None:
    _STOP.clear()


def check_stop() -> None:
    """Raise ``Interrupted`` if a stop was requested."""
    if _STOP.is_set():
        raise Interrupted(_STOP_SIGNAL[0])


def exit_code(exc: KeyboardInterrupt) -> int:
    """The process exit status for an interrupt: 128 + its signal (130 for a plain Ctrl-C)."""
    return exc.exit_code if isinstance(exc, Interrupted) else 128 + signal.SIGINT


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def defer_interrupts() -> None:
    """Begin a step of the main thread that a SIGINT / SIGTERM must not cut in two (creating a
    temporary file, starting a child that writes one): under ``handle_signals`` the signal is
    only recorded until ``resume_interrupts``. (Blocking the signal in this thread is not
    enough: with other threads running, the kernel delivers it to one of them and Python still
    runs the handler in the main thread.) A no-op in other threads, where handlers never run."""
    if _main_thread():
        _DEFER_DEPTH[0] += 1


def resume_interrupts() -> None:
    """End the step of ``defer_interrupts``; raise ``Interrupted`` now for a signal that came
    during it."""
    if not _main_thread() or _DEFER_DEPTH[0] == 0:
        return
    _DEFER_DEPTH[0] -= 1
    if _DEFER_DEPTH[0] == 0 and _PENDING:
        signum = _PENDING[-1]
        _PENDING.clear()
        raise Interrupted(signum)


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Interrupted`` and set the stop flag while the block runs.

    Handlers are restored afterwards; only in the main thread (where signal handlers live).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        request_stop(signum)
        if _DEFER_DEPTH[0] > 0:  # inside a step that must finish first: resume_interrupts raises
            _PENDING.append(signum)
            return
        raise Interrupted(signum)

    unraisable = sys.unraisablehook

    def dropped(info):  # an Interrupted raised inside a __del__ or a finaliser: Python would print
        if not isinstance(info.exc_value, Interrupted):  # "Exception ignored" and its traceback;
            unraisable(info)  # the stop flag already carries the stop to the next check_stop

    clear_stop()
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    sys.unraisablehook = dropped
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sys.unraisablehook = unraisable
        clear_stop()
        _PENDING.clear()
