"""Single non-preemptive servers with priority or FIFO queues, and what they can report.

A :class:`Server` serves one :class:`Job` at a time. Jobs wait in a queue
ordered by ``(rank, arrival order)`` under ``priority`` (rank 0 first; a job in
service is never interrupted) or by arrival order alone under ``fifo``. A
submitted job returns an event that fires, with the job, when its service ends.
Between two jobs the server lets the owner of the job just finished submit a
*continuation* (``submit(..., first=True)``), served before anything queued:
a multi-step job can keep the server at its step boundaries, which are then
the only points where another job may take over.

What a scheduler may observe (:meth:`Server.backlog`): the remaining work of
the job in service plus the work queued ahead of a new job of a given rank,
plus work *reserved* by jobs announced but not yet arrived
(:meth:`Server.reserve`). Utilisation and the time-average queue length are
accumulated for metrics.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any

DISCIPLINES = ("priority", "fifo")


@dataclass(eq=False)
class Job:
    """A unit of work at a server.

    Attributes
    ----------
    work : float
        Service time in ms.
    rank : int
        Priority rank, 0 the highest (ignored under FIFO).
    tag : Any
        Whatever the caller attaches (request, source, partition).
    submitted, started, finished : float
        Times in ms (``nan`` until known).
    """

    work: float
    rank: int = 0
    tag: Any = None
    submitted: float = float("nan")
    started: float = float("nan")
    finished: float = float("nan")
    done: Any = field(default=None, repr=False)

    @property
    def wait(self) -> float:
        """Time from submission to the start of service."""
        return self.started - self.submitted


class Server:
    """A non-preemptive single server.

    Parameters
    ----------
    simulator : Simulator
        Owner of the event loop.
    name : str
        For metrics.
    discipline : {"priority", "fifo"}
        Queue order.
    """

    def __init__(self, simulator, name: str, discipline: str = "priority") -> None:
        if discipline not in DISCIPLINES:
            raise ValueError(f"discipline must be one of {DISCIPLINES}, not {discipline!r}")
        self.env = simulator.env
        self.name = name
        self.discipline = discipline
        self._queue: list[tuple[int, int, Job]] = []
        self._order = itertools.count()
        self._current: Job | None = None
        self._wakeup = None
        self._reserved: dict[int, tuple[float, int]] = {}
        self.busy_time = 0.0
        self.served = 0
        self._queue_area = 0.0
        self._last_change = 0.0
        self.env.process(self._serve())

    # -- submitting ---------------------------------------------------------------------
    def submit(self, work: float, rank: int = 0, tag: Any = None, *, first: bool = False):
        """Queue a job; return the event that fires with it when its service ends.

        ``first`` puts it ahead of every queued job (a continuation submitted at
        the instant the owner's previous job ended).
        """
        job = Job(work=float(work), rank=int(rank), tag=tag, submitted=float(self.env.now))
        job.done = self.env.event()
        self._account()
        key = -1 if first else (job.rank if self.discipline == "priority" else 0)
        heapq.heappush(self._queue, (key, next(self._order), job))
        if self._wakeup is not None and not self._wakeup.triggered:
            self._wakeup.succeed()
        return job.done

    def reserve(self, work: float, rank: int = 0) -> int:
        """Count ``work`` in :meth:`backlog` until :meth:`release` (a job on its way)."""
        token = next(self._order)
        self._reserved[token] = (float(work), int(rank))
        return token

    def release(self, token: int) -> None:
        """Forget a reservation."""
        self._reserved.pop(token, None)

    # -- observing ----------------------------------------------------------------------
    def backlog(self, rank: int | None = None) -> float:
        """Work a new job of ``rank`` would wait behind (ms).

        The residual of the job in service, plus queued and reserved work of rank
        ``<= rank`` under priority (all of it under FIFO, or when ``rank`` is None).
        """
        total = 0.0
        if self._current is not None:
            total += max(self._current.started + self._current.work - float(self.env.now), 0.0)
        counts_all = rank is None or self.discipline == "fifo"
        for _, _, job in self._queue:
            if counts_all or job.rank <= rank:
                total += job.work
        for work, reserved_rank in self._reserved.values():
            if counts_all or reserved_rank <= rank:
                total += work
        return total

    def backlog_above(self, rank: int) -> float:
        """Queued and reserved work of ranks strictly below ``rank`` (0 under FIFO)."""
        if self.discipline == "fifo":
            return 0.0
        queued = sum(job.work for _, _, job in self._queue if job.rank < rank)
        return queued + sum(work for work, r in self._reserved.values() if r < rank)

    @property
    def queue_length(self) -> int:
        """Jobs waiting (not in service)."""
        return len(self._queue)

    def utilisation(self, elapsed: float) -> float:
        """Share of ``elapsed`` ms spent serving."""
        return self.busy_time / elapsed if elapsed > 0 else 0.0

    def mean_queue_length(self, elapsed: float) -> float:
        """Time-average number of waiting jobs over ``elapsed`` ms."""
        self._account()
        return self._queue_area / elapsed if elapsed > 0 else 0.0

    # -- internals ----------------------------------------------------------------------
    def _account(self) -> None:
        now = float(self.env.now)
        self._queue_area += len(self._queue) * (now - self._last_change)
        self._last_change = now

    def _serve(self):
        while True:
            while not self._queue:
                self._wakeup = self.env.event()
                yield self._wakeup
            self._account()
            _, _, job = heapq.heappop(self._queue)
            job.started = float(self.env.now)
            self._current = job
            yield self.env.timeout(job.work)
            job.finished = float(self.env.now)
            self.busy_time += job.work
            self.served += 1
            self._current = None
            job.done.succeed(job)
            # let the owner, resumed at this instant, submit a continuation first
            yield self.env.timeout(0)
