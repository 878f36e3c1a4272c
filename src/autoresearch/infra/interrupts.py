"""Ctrl-C and SIGTERM: finish the experiment in flight on the first Ctrl-C, stop at once otherwise."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while a block runs, so a commit and its ledger line land together.

    A Ctrl-C (or a SIGTERM) sent meanwhile is delivered as soon as the block ends. Masking
    alone is not enough while other threads run (the parallel loop's proposers): the kernel
    hands the signal to one of them and Python still runs its handler here, so the handlers
    only note it until the block ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)
    caught: list[int] = []
    handlers = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in held}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, set(held))
    try:
        yield
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        for s in dict.fromkeys(caught):
            signal.raise_signal(s)


class StopRequest:
    """The first Ctrl-C asks the loop to stop after the current experiment; the second stops now.

    >>> with StopRequest() as stop:  # doctest: +SKIP
    ...     while not stop.requested: ...
    """

    def __init__(self, on_first: Callable[[], None] = lambda: None):
        self.requested = False
        self._on_first = on_first
        self._previous: Callable[[int, FrameType | None], Any] | int | None = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self._on_first()

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def stop_now_on_sigterm() -> None:
    """Treat SIGTERM as a second Ctrl-C: what runs is killed with its process group, and the
    ledger and the working tree are left as an interruption leaves them (the next command
    recovers). Without this, SIGTERM ends the interpreter at once and a benchmark it started
    runs on."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
