"""One wall-clock budget for a whole call, and an account of how it was spent.

A method may solve several programs (a relaxation for its bound, the exact
program, a re-solve to explain infeasibility, a conflict search) and decode the
answer. ``time_limit`` bounds all of that together: each step asks the
:class:`Budget` what is left and books its own time under a named phase, so the
result can say where the time went (``Result.timings``).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

MINIMUM_STEP_SECONDS = 1e-3
"""Time handed to a solver when the budget is spent: it returns at once with what it has."""

RESERVE_FRACTION = 0.1
"""Share of the limit a solver call leaves for what follows it (decoding, explaining)
and for solvers that check their clock only now and then (at most :data:`RESERVE_CAP`)."""

RESERVE_CAP = 1.0
"""Most seconds held back by :meth:`Budget.solver_time`."""


_INTERRUPT = threading.Event()


def interrupt_requested() -> bool:
    """Whether the user asked to stop (Ctrl-C) during an :func:`interruptible` block."""
    return _INTERRUPT.is_set()


@contextmanager
def interruptible() -> Iterator[None]:
    """Turn Ctrl-C into a stop request instead of an exception, for the enclosed block.

    Solvers poll :func:`interrupt_requested` (HiGHS from its interrupt
    callbacks) and return their incumbent; every :class:`Budget` reads as
    expired, so the remaining steps of a method finish at once and the answer
    found so far is reported with status ``interrupted``. A second Ctrl-C
    raises :class:`KeyboardInterrupt` as usual. Outside the main thread this
    does nothing (signals are delivered to the main thread only).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def request_stop(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
        if _INTERRUPT.is_set():
            raise KeyboardInterrupt
        _INTERRUPT.set()

    _INTERRUPT.clear()
    signal.signal(signal.SIGINT, request_stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _INTERRUPT.clear()  # a stop request ends with the block that received it


class Budget:
    """A wall-clock budget started at construction.

    Parameters
    ----------
    time_limit : float, optional
        Seconds for everything done under this budget; ``None`` for no limit.

    Examples
    --------
    >>> budget = Budget(10.0)
    >>> with budget.phase("relaxation"):
    ...     pass
    >>> sorted(budget.spent)
    ['relaxation']
    """

    def __init__(self, time_limit: float | None = None) -> None:
        if time_limit is not None and not time_limit > 0:
            raise ValueError(f"time_limit must be positive, not {time_limit!r}")
        self.time_limit = None if time_limit is None else float(time_limit)
        self.started = time.perf_counter()
        self.spent: dict[str, float] = {}

    @property
    def elapsed(self) -> float:
        """Seconds since the budget started."""
        return time.perf_counter() - self.started

    def remaining(self) -> float | None:
        """Seconds left (at least :data:`MINIMUM_STEP_SECONDS`), or ``None`` without a limit."""
        if _INTERRUPT.is_set():
            return MINIMUM_STEP_SECONDS
        if self.time_limit is None:
            return None
        return max(self.time_limit - self.elapsed, MINIMUM_STEP_SECONDS)

    def solver_time(self) -> float | None:
        """Seconds to hand a solver: what is left less a small reserve, ``None`` without a limit.

        Solvers overrun their own limit by the interval at which they check
        the clock, and the answer must still be decoded; the reserve keeps the
        whole call inside ``time_limit``.
        """
        if _INTERRUPT.is_set():
            return MINIMUM_STEP_SECONDS
        if self.time_limit is None:
            return None
        reserve = min(RESERVE_FRACTION * self.time_limit, RESERVE_CAP)
        return max(self.time_limit - reserve - self.elapsed, MINIMUM_STEP_SECONDS)

    @property
    def expired(self) -> bool:
        """Whether the limit has been reached (or the user asked to stop)."""
        if _INTERRUPT.is_set():
            return True
        return self.time_limit is not None and self.elapsed >= self.time_limit

    def book(self, phase: str, seconds: float) -> None:
        """Add ``seconds`` to ``phase`` in :attr:`spent`."""
        self.spent[phase] = self.spent.get(phase, 0.0) + float(seconds)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the enclosed block and book it under ``name``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.book(name, time.perf_counter() - started)

    def timings(self) -> dict[str, float]:
        """The phases with their seconds, plus ``total`` (wall time since the start)."""
        return {**self.spent, "total": self.elapsed}
