"""The fast serving engine: an event loop of its own, and a vectorised path for fixed decisions.

Two ways to simulate a :class:`~idnopt.sim.system.ServingSystem` on a
:class:`~idnopt.sim.workload.Queries` table, exact to the same model as the
simpy reference (:mod:`~idnopt.sim.reference`), which the tests check them against:

* :class:`Engine` - one heap of events (arrival at a deployment, end of a
  batch, expiry of a batch wait, return of an answer when a scheduler wants
  feedback) merged with the queries, which are already sorted by arrival. A
  scheduler decides each query when it arrives, seeing the state the loop has
  reached at that instant: load reports taken every ``report_interval`` ms
  plus the work its own ingress sent since (or the exact loads when the
  interval is 0), and the network delays it measured recently. The engine
  can also be driven one decision at a time (:meth:`Engine.advance`,
  :meth:`Engine.dispatch`), which is what the Gymnasium environment does.
* :func:`~idnopt.sim.decided.simulate_decided` - when every decision is
  known in advance (a scheduler that reads no state), arrivals at each
  deployment are computed with numpy and each deployment is simulated on its
  own (:mod:`idnopt.sim.decided`, re-exported here).

A FIFO deployment needs no event after a query's arrival: its start is the
earliest free server after every earlier arrival. Batching deployments ask
for their own events (:class:`~idnopt.sim.queues.BatchQueue`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import numpy as np

from idnopt.sim.decided import simulate_decided
from idnopt.sim.outcome import Outcome
from idnopt.sim.queues import FREE, TIMER, BatchQueue, FifoQueue
from idnopt.sim.system import UNLIMITED_QUEUE, ServingSystem
from idnopt.sim.workload import Queries

ARRIVE, RETURN = 0, 3
"""Event kinds of the loop besides the queues' own (FREE, TIMER)."""

DELAY_SMOOTHING = 0.2
"""Weight of a new measurement in the moving average of network delays."""

INFINITY = float("inf")


class Engine:
    """Event loop over the queries of one simulation.

    Parameters
    ----------
    system : ServingSystem
        What is simulated.
    queries : Queries
        Every query, sorted by arrival time.
    observe_state : bool
        Keep load reports, per-ingress dispatched work and measured delays
        (what stateful schedulers read).
    feedback : callable, optional
        ``feedback(query, success)`` called when a query's answer returns (or
        it is dropped), in time order.
    track_inflight : bool
        Remember queries on their way to each deployment (for :meth:`predict_end`).

    Attributes
    ----------
    now : float
        Time of the last decision or processed event (ms).
    """

    def __init__(
        self,
        system: ServingSystem,
        queries: Queries,
        *,
        observe_state: bool = False,
        feedback: Callable[[int, bool], None] | None = None,
        track_inflight: bool = False,
    ) -> None:
        self.system = system
        self.queries = queries
        deployments = system.deployments
        count = len(deployments)
        size = len(queries)
        # per-query state in Python lists: scalar access is several times cheaper than numpy's
        self._time = queries.time.tolist()
        self._klass = queries.klass.tolist()
        self._factor = queries.service_factor.tolist()
        self._jitter_up = queries.jitter_up.tolist()
        self._jitter_down = queries.jitter_down.tolist()
        self._table = system.target_deployment.tolist()
        self._uplink = system.uplink.tolist()
        self._downlink = system.downlink.tolist()
        self._jitter = system.jitter.tolist()
        self._latency = deployments.latency.tolist()
        self._ingress = system.classes.ingress.tolist()
        # conditions of each query (bandwidth, background load): only read when the system varies
        self._varies = system.varies
        self._network = queries.network_factor.tolist()
        self._slow = queries.compute_factor.tolist()
        self._up_scaled = system.transfer_up.tolist()
        self._down_scaled = system.transfer_down.tolist()
        self._loaded = deployments.loaded.tolist()
        head = deployments.pool_head().tolist()
        self._head = head
        by_pool: dict[int, list[int]] = {}
        for index, first in enumerate(head):
            by_pool.setdefault(first, []).append(index)
        self._members = [by_pool[first] for first in head]  # the deployments of each one's pool
        self._pooled = len(by_pool) < count
        nan = float("nan")
        self._target = [-1] * size
        self._deployment = [-1] * size
        self._arrival = [nan] * size
        self._start = [nan] * size
        self._end = [nan] * size
        self._finish = [nan] * size
        self._batch = [0] * size
        self._refused = [False] * size
        self.heap: list[tuple[float, int, int, int, int]] = []
        self._sequence = 0
        self.now = 0.0
        self.feedback = feedback
        self.observe_state = observe_state
        self.track_inflight = track_inflight
        self.inflight: list[dict[int, tuple[float, float]]] = [{} for _ in range(count)]
        self.per_query = (deployments.latency / deployments.replicas).tolist()
        self.fifo = [int(b) == 1 for b in deployments.batch]
        self.queues: list[FifoQueue | BatchQueue] = []
        for index in range(count):
            limit = int(min(deployments.queue_limit[index], UNLIMITED_QUEUE))
            if head[index] != index:  # a pool's deployments share its first one's servers
                self.queues.append(self.queues[head[index]])
            elif self.fifo[index]:
                self.queues.append(FifoQueue(int(deployments.replicas[index]), limit))
            else:
                full = deployments.batch_time(index, int(deployments.batch[index]))
                self.queues.append(
                    BatchQueue(
                        index,
                        int(deployments.replicas[index]),
                        int(deployments.batch[index]),
                        limit,
                        float(deployments.max_wait[index]),
                        self._batch_service(index),
                        self._schedule,
                        self._batch_started,
                        per_query=full / int(deployments.batch[index]),
                    )
                )
        interval = system.report_interval
        self.report_interval = interval
        self.next_report = interval if (observe_state and interval > 0) else INFINITY
        # estimated backlog per ingress node and deployment, plus a column of inf for
        # targets that cannot serve a class (index -1 of the target table)
        self._estimate = np.zeros((len(system.nodes), count + 1))
        self._estimate[:, count] = INFINITY
        self._rows = list(self._estimate)  # row views: 1-d scalar updates are cheaper
        self._lookup = np.where(system.target_deployment >= 0, system.target_deployment, count)
        # a pool's deployments share one queue: backlogs are read once per queue (slot)
        heads, slot = np.unique(np.asarray(head), return_inverse=True)
        self._distinct = [self.queues[int(first)] for first in heads]
        self._slot = slot
        self._slot_lookup = np.append(slot, len(heads))[self._lookup]
        # per class, the flat positions in the estimate table of its ingress's row at its targets
        ingress = system.classes.ingress[:, None]
        self._flat_estimate = self._estimate.reshape(-1)
        self._flat_lookup = list(ingress * (count + 1) + self._lookup)
        # measured uplink delays per class and deployment (moving averages), and what
        # delays() adds to them per class: the way back, or inf where a target cannot serve
        delay = system.uplink + system.jitter + system.transfer_up
        self._delay = list(delay)  # row views: 1-d scalar updates are cheaper
        safe = np.where(system.target_deployment >= 0, system.target_deployment, 0)
        rows = np.arange(len(system.classes))[:, None]
        back = (system.downlink + system.transfer_down + system.jitter)[rows, safe]
        self._delay_safe = safe
        self._delay_back = np.where(system.target_deployment >= 0, back, INFINITY)
        self._outcome: Outcome | None = None
        self.decided = 0

    # -- events ---------------------------------------------------------------------------
    def _schedule(self, time: float, kind: int, index: int, payload: int) -> None:
        self._sequence += 1
        heapq.heappush(self.heap, (time, self._sequence, kind, index, payload))

    def _batch_service(self, index: int) -> Callable[[int, int], float]:
        deployments = self.system.deployments
        factor = self._factor
        slow = self._slow if self._loaded[index] else None

        def service(size: int, first: int) -> float:
            work = deployments.batch_time(index, size) * factor[first]
            return work * slow[first] if slow is not None else work

        return service

    def _batch_started(self, members: list[int], start: float, end: float, size: int) -> None:
        for query in members:
            self._start[query] = start
            self._end[query] = end
            self._batch[query] = size
            self._returns(query, self._deployment[query], end)

    def _returns(self, query: int, index: int, end: float) -> None:
        # ServingSystem.way on the engine's lists (this runs once per query)
        klass = self._klass[query]
        finish = (
            end
            + self._downlink[klass][index]
            + self._jitter_down[query] * self._jitter[klass][index]
        )
        if self._varies:
            finish += self._network[query] * self._down_scaled[klass][index]
        self._finish[query] = finish
        if self.feedback is not None:
            self._schedule(finish, RETURN, index, query)

    def _arrive(self, time: float, index: int, query: int) -> None:
        if self.track_inflight:
            self.inflight[self._head[index]].pop(query, None)
        if self.observe_state:
            estimate = self._delay[self._klass[query]]
            estimate[index] += DELAY_SMOOTHING * (time - self._time[query] - estimate[index])
        queue = self.queues[index]
        if self.fifo[index]:
            # self.work and self._returns written out: calling them here costs about 8 %
            # of the event loop's speed (bench_speed.py --quick, closest: 354k -> 310-329k/s)
            work = self._latency[index] * self._factor[query]
            if self._varies and self._loaded[index]:
                work *= self._slow[query]
            start = queue.arrive(time, work)
            if start < 0:
                self._refuse(query)
                return
            end = start + work
            self._start[query] = start
            self._end[query] = end
            self._batch[query] = 1
            klass = self._klass[query]
            finish = (
                end
                + self._downlink[klass][index]
                + self._jitter_down[query] * self._jitter[klass][index]
            )
            if self._varies:
                finish += self._network[query] * self._down_scaled[klass][index]
            self._finish[query] = finish
            if self.feedback is not None:
                self._schedule(finish, RETURN, index, query)
        elif not queue.arrive(time, query):
            self._refuse(query)

    def _refuse(self, query: int) -> None:
        self._refused[query] = True
        if self.feedback is not None:
            self.feedback(query, False)

    def _report(self, time: float) -> None:
        per_queue = np.array([queue.backlog(time) for queue in self._distinct])
        self._estimate[:, :-1] = per_queue[self._slot][None, :]

    def advance(self, until: float) -> None:
        """Process every event and load report due at or before ``until`` ms."""
        heap = self.heap
        queues = self.queues
        arrive = self._arrive
        pop = heapq.heappop
        while True:
            head = heap[0][0] if heap else INFINITY
            if self.next_report <= until and self.next_report < head:
                self._report(self.next_report)
                self.next_report += self.report_interval
                continue
            if head > until or not heap:
                break
            time, _, kind, index, payload = pop(heap)
            if kind == ARRIVE:
                arrive(time, index, payload)
            elif kind == FREE:
                queues[index].on_free(time)
            elif kind == TIMER:
                queues[index].on_timer(time, payload)
            else:
                self._feedback(payload)
        if until < INFINITY:
            self.now = max(self.now, until)

    def _feedback(self, query: int) -> None:
        # the rule of idnopt.sim.outcome.query_success, for one query
        klass = self._klass[query]
        classes = self.system.classes
        index = self._deployment[query]
        success = bool(
            self._finish[query] - self._time[query] <= classes.deadline[klass] + 1e-9
            and self.system.deployments.accuracy[index] >= classes.min_accuracy[klass] - 1e-12
        )
        self.feedback(query, success)

    # -- decisions ------------------------------------------------------------------------
    def dispatch(self, query: int, target: int) -> int:
        """Send ``query`` to ``target`` now; the deployment it goes to (``-1``: dropped)."""
        klass = self._klass[query]
        index = self._table[klass][target]
        self._target[query] = target
        if query >= self.decided:
            self.decided = query + 1
        if index < 0:
            if self.feedback is not None:
                self.feedback(query, False)
            return -1
        self._deployment[query] = index
        arrival = (
            self._time[query]
            + self._uplink[klass][index]
            + self._jitter_up[query] * self._jitter[klass][index]
        )
        if self._varies:
            arrival += self._network[query] * self._up_scaled[klass][index]
        self._arrival[query] = arrival
        self._sequence += 1
        heapq.heappush(self.heap, (arrival, self._sequence, ARRIVE, index, query))
        if self.observe_state:
            row = self._rows[self._ingress[klass]]
            if self._pooled:
                for member in self._members[index]:
                    row[member] += self.per_query[index]
            else:
                row[index] += self.per_query[index]
        if self.track_inflight:
            self.inflight[self._head[index]][query] = (arrival, self.work(query, index))
        return index

    def work(self, query: int, index: int) -> float:
        """Service time (ms) of ``query`` alone at deployment ``index``."""
        work = self._latency[index] * self._factor[query]
        if self._varies and self._loaded[index]:
            work *= self._slow[query]
        return work

    def network_delays(self, query: int, index: int) -> tuple[float, float]:
        """Delays (ms) of ``query`` to deployment ``index`` and of its answer back, with jitter."""
        klass = self._klass[query]
        up = self._uplink[klass][index] + self._jitter_up[query] * self._jitter[klass][index]
        down = self._downlink[klass][index] + self._jitter_down[query] * self._jitter[klass][index]
        if self._varies:
            up += self._network[query] * self._up_scaled[klass][index]
            down += self._network[query] * self._down_scaled[klass][index]
        return up, down

    def response(self, query: int) -> float:
        """Response time (ms) of ``query`` once answered (``nan`` before, or if dropped)."""
        return self._finish[query] - self._time[query]

    def loads(self, query: int) -> np.ndarray:
        """Estimated backlog (ms per server) of each target, as the query's ingress sees it.

        Load reports plus the work this ingress sent since the last one, or the
        exact backlogs when the report interval is 0; ``inf`` for targets that
        cannot serve the query's class.
        """
        klass = self._klass[query]
        if self.report_interval > 0:
            return self._flat_estimate.take(self._flat_lookup[klass])
        now = self._time[query]
        per_queue = np.array([queue.backlog(now) for queue in self._distinct] + [INFINITY])
        return per_queue[self._slot_lookup[klass]]

    def delays(self, query: int) -> np.ndarray:
        """Recently measured round-trip network delay (ms) to each target for the query's class."""
        klass = self._klass[query]
        return self._delay[klass][self._delay_safe[klass]] + self._delay_back[klass]

    def predict_end(self, query: int, index: int) -> float:
        """End of service of ``query`` at deployment ``index`` if no later query overtook it.

        Exact for FIFO deployments given the queries already dispatched (those
        still on their way included); a rough estimate for batching ones.
        """
        return self._predicted_end(query, index, self.network_delays(query, index)[0])

    def predict_finish(self, query: int, index: int) -> float:
        """When the answer of ``query`` would be back if sent to ``index`` now.

        :meth:`predict_end` plus the way back, with one computation of the
        query's network delays.
        """
        up, down = self.network_delays(query, index)
        return self._predicted_end(query, index, up) + down

    def _predicted_end(self, query: int, index: int, up: float) -> float:
        arrival = self._time[query] + up
        work = self.work(query, index)
        ahead = sorted(v for q, v in self.inflight[self._head[index]].items() if q != query)
        return self.queues[index].predict(arrival, work, ahead)

    def run(
        self, choose: Callable[[int], int], progress: Callable[[float], None] | None = None
    ) -> Outcome:
        """Decide every query with ``choose(query) -> target``, then drain; returns the outcome."""
        times = self._time
        heap = self.heap
        advance, dispatch = self.advance, self.dispatch
        count = len(times)
        step = max(count // 100, 1)
        for query in range(count):
            time = times[query]
            if (heap and heap[0][0] <= time) or self.next_report <= time:
                advance(time)
            self.now = time
            dispatch(query, choose(query))
            if progress is not None and query % step == 0:
                progress(query / count)
        return self.drain(progress)

    def drain(self, progress: Callable[[float], None] | None = None) -> Outcome:
        """Process every remaining event (no more reports); returns the outcome."""
        self.next_report = INFINITY
        self.advance(INFINITY)
        if progress is not None:
            progress(1.0)
        self._outcome = None
        return self.outcome

    @property
    def outcome(self) -> Outcome:
        """Per-query results so far (complete after :meth:`drain`)."""
        if self._outcome is None or self.heap:
            self._outcome = Outcome(
                target=np.array(self._target, dtype=np.int64),
                deployment=np.array(self._deployment, dtype=np.int64),
                arrival=np.array(self._arrival),
                start=np.array(self._start),
                end=np.array(self._end),
                finish=np.array(self._finish),
                batch=np.array(self._batch, dtype=np.int64),
                refused=np.array(self._refused, dtype=bool),
                busy=np.array(
                    [
                        queue.busy if self._head[index] == index else 0.0
                        for index, queue in enumerate(self.queues)
                    ]
                ),
            )
        return self._outcome


__all__ = ["Engine", "simulate_decided"]
