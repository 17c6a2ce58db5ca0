"""The queue of one deployment: FIFO multi-server, or batching with a maximum wait.

Both kinds serve queries in order of arrival at the deployment and are plain
Python objects driven by whoever owns the clock (the event loop of
:mod:`~idnopt.sim.fast`, or one deployment's own loop when the arrivals are
known in advance).

* :class:`FifoQueue` (batch 1): a query's start and end are known the moment
  it arrives (the earliest free server after every earlier arrival), so it
  needs no further event. A deployment with one server and no queue limit is
  solved for a whole array of arrivals at once by the Lindley recursion in
  max-plus form (:func:`lindley`).
* :class:`BatchQueue`: a free server takes up to ``batch`` waiting queries as
  soon as the batch is full or the oldest has waited ``max_wait`` ms; it asks
  its owner for two kinds of events, *free* (a batch ends) and *timer* (the
  oldest query's wait expires), through the ``schedule`` callback.

Both report their backlog (ms of work per server still to do, in service
included) and the number of waiting queries, which is what load reports carry.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable

import numpy as np

FREE, TIMER = 1, 2
"""Event kinds a :class:`BatchQueue` asks for."""


def lindley(arrival: np.ndarray, work: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of FIFO service at one server, for arrivals in order.

    ``end_i = max(arrival_i, end_{i-1}) + work_i``; with ``S_i`` the running sum
    of the work, ``end_i - S_i = max(arrival_i - S_{i-1}, end_{i-1} - S_{i-1})``
    is a running maximum, computed in one pass of numpy.

    Parameters
    ----------
    arrival : numpy.ndarray
        Non-decreasing arrival times.
    work : numpy.ndarray
        Service times.

    Returns
    -------
    tuple of numpy.ndarray
        ``(start, end)``.
    """
    if arrival.size == 0:
        return arrival.copy(), arrival.copy()
    total = np.cumsum(work)
    before = total - work
    end = np.maximum.accumulate(arrival - before) + total
    return end - work, end


class FifoQueue:
    """First-come first-served service by ``replicas`` servers, at most ``limit`` waiting.

    Parameters
    ----------
    replicas : int
        Identical servers.
    limit : int
        Most queries waiting (not in service); an arrival beyond is refused.
    """

    __slots__ = ("replicas", "limit", "free", "starts", "busy")

    def __init__(self, replicas: int, limit: int) -> None:
        self.replicas = int(replicas)
        self.limit = int(limit)
        self.free = [0.0] * self.replicas
        self.starts: deque[float] = deque()
        self.busy = 0.0

    def arrive(self, now: float, work: float) -> float:
        """Admit a query arriving at ``now``; its start time, or ``-1.0`` when refused."""
        starts = self.starts
        while starts and starts[0] <= now:
            starts.popleft()
        if len(starts) >= self.limit:
            return -1.0
        free = self.free
        first = free[0]
        start = first if first > now else now
        heapq.heapreplace(free, start + work)
        if start > now:
            starts.append(start)
        self.busy += work
        return start

    def backlog(self, now: float) -> float:
        """Work (ms per server) still to do at ``now``."""
        return sum(f - now for f in self.free if f > now) / self.replicas

    def waiting(self, now: float) -> int:
        """Queries waiting at ``now``."""
        starts = self.starts
        while starts and starts[0] <= now:
            starts.popleft()
        return len(starts)

    def predict(self, arrival: float, work: float, ahead: list[tuple[float, float]]) -> float:
        """End of a query arriving at ``arrival`` behind ``ahead`` (queries on their way)."""
        free = list(self.free)
        for time, extra in ahead:
            if time > arrival:
                break
            first = free[0]
            heapq.heapreplace(free, (first if first > time else time) + extra)
        first = free[0]
        return (first if first > arrival else arrival) + work


class BatchQueue:
    """Batches of up to ``batch`` queries on ``replicas`` servers, waiting at most ``max_wait``.

    Parameters
    ----------
    index : int
        The deployment's index (passed back in scheduled events).
    replicas, batch, limit : int
        Servers, largest batch, most waiting queries.
    max_wait : float
        Longest wait (ms) of the oldest query for its batch to fill.
    service : callable
        ``service(size, first_query) -> ms`` of a batch (random factor included).
    schedule : callable
        ``schedule(time, kind, index, payload)`` asks the owner for an event.
    started : callable
        ``started(queries, start, end, size)`` reports a batch put into service.
    """

    __slots__ = (
        "index",
        "replicas",
        "batch",
        "limit",
        "max_wait",
        "service",
        "schedule",
        "started",
        "queue",
        "idle",
        "timer_for",
        "ends",
        "busy",
        "per_query",
    )

    def __init__(
        self,
        index: int,
        replicas: int,
        batch: int,
        limit: int,
        max_wait: float,
        service: Callable[[int, int], float],
        schedule: Callable[[float, int, int, int], None],
        started: Callable[[list[int], float, float, int], None],
        per_query: float = 0.0,
    ) -> None:
        self.index = index
        self.replicas = int(replicas)
        self.batch = int(batch)
        self.limit = int(limit)
        self.max_wait = float(max_wait)
        self.service = service
        self.schedule = schedule
        self.started = started
        self.queue: deque[tuple[int, float]] = deque()
        self.idle = self.replicas
        self.timer_for = -1
        self.ends: list[float] = []
        self.busy = 0.0
        self.per_query = float(per_query)

    def arrive(self, now: float, query: int) -> bool:
        """Admit ``query`` arriving at ``now``; whether it was admitted."""
        if len(self.queue) >= self.limit:
            return False
        self.queue.append((query, now))
        self._try_start(now)
        return True

    def on_free(self, now: float) -> None:
        """A batch ended at ``now``."""
        self.idle += 1
        ends = self.ends
        if ends:
            ends.remove(min(ends))
        self._try_start(now)

    def on_timer(self, now: float, query: int) -> None:
        """The wait of ``query`` (then the oldest) expired at ``now``."""
        if self.timer_for == query:
            self.timer_for = -1
            self._try_start(now)

    def _try_start(self, now: float) -> None:
        queue = self.queue
        while self.idle > 0 and queue:
            head, since = queue[0]
            if len(queue) < self.batch and now < since + self.max_wait:
                if self.timer_for != head:
                    self.timer_for = head
                    self.schedule(since + self.max_wait, TIMER, self.index, head)
                return
            size = min(self.batch, len(queue))
            members = [queue.popleft()[0] for _ in range(size)]
            work = self.service(size, members[0])
            end = now + work
            self.idle -= 1
            self.busy += work
            self.ends.append(end)
            self.started(members, now, end, size)
            self.schedule(end, FREE, self.index, -1)

    def backlog(self, now: float) -> float:
        """Work (ms per server) still to do at ``now``: batches in service, then queued queries."""
        running = sum(e - now for e in self.ends if e > now)
        return (running + len(self.queue) * self.per_query) / self.replicas

    def waiting(self, now: float) -> int:
        """Queries waiting at ``now``."""
        return len(self.queue)

    def predict(self, arrival: float, work: float, ahead: list[tuple[float, float]]) -> float:
        """Rough end of a query arriving at ``arrival``: after the backlog, plus the batch wait."""
        queued = len(self.queue) + sum(1 for time, _ in ahead if time <= arrival)
        free = min(self.ends) if self.idle == 0 and self.ends else arrival
        behind = (queued // self.batch) * self.per_query * self.batch / self.replicas
        wait = 0.0 if queued + 1 >= self.batch else self.max_wait
        return max(arrival + wait, free + behind) + work
