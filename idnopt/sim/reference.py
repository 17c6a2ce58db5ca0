"""The simpy reference of the serving simulator: one process per query, written for clarity.

The same model as the fast engine (:mod:`~idnopt.sim.fast`), built on the
PA-MDI simulation's engine: a :class:`~idnopt.sim.engine.Simulator` clock, a
FIFO :class:`~idnopt.sim.servers.Server` per single-server deployment (a
``simpy.Resource`` for several servers), a batching process per batching
deployment, a load-report process, and one process per query (uplink, queue,
service, downlink). It is slow - tens of thousands of queries per second at
best - and exists to check the fast engine: the tests run both on the same
queries and policies and compare every query's times.

Same-time events may be ordered differently by the two engines; with the
continuous random times of real scenarios such ties do not occur.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from idnopt.sim.engine import Simulator
from idnopt.sim.fast import DELAY_SMOOTHING
from idnopt.sim.outcome import Outcome
from idnopt.sim.scheduling import Scheduler, SchedulingView
from idnopt.sim.servers import Server
from idnopt.sim.system import UNLIMITED_QUEUE, ServingSystem
from idnopt.sim.workload import Queries


class _Pool:
    """Several FIFO servers sharing one queue (``simpy.Resource``), with its backlog."""

    def __init__(self, env, replicas: int) -> None:
        import simpy

        self.env = env
        self.replicas = replicas
        self.resource = simpy.Resource(env, capacity=replicas)
        self.ends: list[float] = []
        self.queued: list[float] = []
        self.busy_time = 0.0

    @property
    def queue_length(self) -> int:
        return len(self.queued)

    def backlog(self) -> float:
        now = self.env.now
        running = sum(end - now for end in self.ends if end > now)
        return (running + sum(self.queued)) / self.replicas

    def serve(self, work: float):
        self.queued.append(work)
        with self.resource.request() as request:
            yield request
            self.queued.remove(work)
            start = self.env.now
            self.ends.append(start + work)
            yield self.env.timeout(work)
            self.ends.remove(start + work)
            self.busy_time += work
        return start


class _Batcher:
    """Batches of up to ``batch`` queries on ``replicas`` servers, waiting at most ``max_wait``."""

    def __init__(self, env, system: ServingSystem, index: int, factor: np.ndarray) -> None:
        deployments = system.deployments
        self.env = env
        self.index = index
        self.system = system
        self.factor = factor
        self.replicas = int(deployments.replicas[index])
        self.batch = int(deployments.batch[index])
        self.max_wait = float(deployments.max_wait[index])
        self.per_query = deployments.batch_time(index, self.batch) / self.batch
        self.queue: deque = deque()
        self.idle = self.replicas
        self.ends: list[float] = []
        self.busy_time = 0.0
        self.wake = env.event()
        env.process(self._run())

    @property
    def queue_length(self) -> int:
        return len(self.queue)

    def backlog(self) -> float:
        now = self.env.now
        running = sum(end - now for end in self.ends if end > now)
        return (running + len(self.queue) * self.per_query) / self.replicas

    def join(self, query: int):
        done = self.env.event()
        self.queue.append((query, self.env.now, done))
        self._poke()
        return done

    def _poke(self) -> None:
        if not self.wake.triggered:
            self.wake.succeed()

    def _run(self):
        env = self.env
        while True:
            if self.idle == 0 or not self.queue:
                self.wake = env.event()
                yield self.wake
                continue
            _, since, _ = self.queue[0]
            if len(self.queue) < self.batch and env.now < since + self.max_wait:
                self.wake = env.event()
                yield env.any_of([self.wake, env.timeout(since + self.max_wait - env.now)])
                continue
            size = min(self.batch, len(self.queue))
            members = [self.queue.popleft() for _ in range(size)]
            work = self.system.deployments.batch_time(self.index, size) * float(
                self.factor[members[0][0]]
            )
            self.idle -= 1
            self.ends.append(env.now + work)
            env.process(self._serve(members, work, size))

    def _serve(self, members, work: float, size: int):
        start = self.env.now
        yield self.env.timeout(work)
        self.ends.remove(start + work)
        self.busy_time += work
        self.idle += 1
        for _, _, done in members:
            done.succeed((start, size))
        self._poke()


class ReferenceState:
    """What the ingresses observe in the reference: load reports, own work, measured delays."""

    def __init__(self, system: ServingSystem, queries: Queries, stations: list) -> None:
        self.system = system
        self.queries = queries
        self.stations = stations
        count = len(system.deployments)
        self.reported = np.zeros(count)
        self.own = np.zeros((len(system.nodes), count))
        self.delay_estimate = system.uplink + system.jitter + system.transfer_up
        self.per_query = system.deployments.latency / system.deployments.replicas

    def snapshot(self) -> None:
        """Take a load report: every deployment's backlog; forget the ingresses' own work."""
        self.reported = np.array([station.backlog() for station in self.stations])
        self.own[:] = 0.0

    def loads(self, query: int) -> np.ndarray:
        """Estimated backlog of each target for the query's ingress (as the fast engine's)."""
        klass = self.queries.klass[query]
        if self.system.report_interval > 0:
            per = self.reported + self.own[self.system.classes.ingress[klass]]
        else:
            per = np.array([station.backlog() for station in self.stations])
        table = self.system.target_deployment[klass]
        return np.where(table >= 0, per[table], np.inf)

    def delays(self, query: int) -> np.ndarray:
        """Measured round-trip delay to each target for the query's class."""
        klass = self.queries.klass[query]
        table = self.system.target_deployment[klass]
        valid = table >= 0
        safe = np.where(valid, table, 0)
        both = (
            self.delay_estimate[klass, safe]
            + self.system.downlink[klass, safe]
            + self.system.transfer_down[klass, safe]
            + self.system.jitter[klass, safe]
        )
        return np.where(valid, both, np.inf)


def simulate_reference(
    system: ServingSystem,
    queries: Queries,
    scheduler: Scheduler,
    rng: np.random.Generator,
    *,
    targets: np.ndarray | None = None,
) -> Outcome:
    """Simulate with simpy, one process per query.

    Parameters
    ----------
    system : ServingSystem
        What is simulated.
    queries : Queries
        Every query, sorted by arrival time.
    scheduler : Scheduler
        Reset here on a view of the reference's state; decides each query on arrival.
    rng : numpy.random.Generator
        The scheduler's randomness.
    targets : numpy.ndarray, optional
        Fixed decisions instead of the scheduler's (the scheduler is then not consulted).

    Returns
    -------
    Outcome
        Per-query results, to compare with the fast engine's.
    """
    simulator = Simulator()
    env = simulator.env
    deployments = system.deployments
    outcome = Outcome.empty(len(queries), len(deployments))
    stations: list = []
    head = deployments.pool_head()
    pool_members = [np.flatnonzero(deployments.pool == group) for group in deployments.pool]
    for index in range(len(deployments)):
        if head[index] != index:  # a pool's deployments share its first one's servers
            stations.append(stations[head[index]])
        elif int(deployments.batch[index]) > 1:
            factor = queries.service_factor
            if deployments.loaded[index]:
                factor = factor * queries.compute_factor
            stations.append(_Batcher(env, system, index, factor))
        elif int(deployments.replicas[index]) == 1:
            stations.append(Server(simulator, deployments.names[index], "fifo"))
        else:
            stations.append(_Pool(env, int(deployments.replicas[index])))
    state = ReferenceState(system, queries, stations)
    view = SchedulingView(system, queries, state)
    scheduler.reset(view, rng)
    if system.report_interval > 0 and scheduler.stateful:
        last = float(queries.time[-1]) if len(queries) else 0.0

        def report():
            while env.now + system.report_interval <= last:
                yield env.timeout(system.report_interval)
                state.snapshot()

        env.process(report())

    def query_process(query: int, index: int):
        klass = queries.klass[query]
        network = queries.network_factor[query]
        arrival = queries.time[query] + system.way(
            False, klass, index, queries.jitter_up[query], network
        )
        yield env.timeout(arrival - env.now)
        outcome.arrival[query] = env.now
        estimate = state.delay_estimate[klass]
        estimate[index] += DELAY_SMOOTHING * (env.now - queries.time[query] - estimate[index])
        station = stations[index]
        limit = int(min(deployments.queue_limit[index], UNLIMITED_QUEUE))
        if station.queue_length >= limit:
            outcome.refused[query] = True
            return
        if isinstance(station, _Batcher):
            start, size = yield station.join(query)
            end = env.now
        else:
            work = deployments.latency[index] * queries.service_factor[query]
            if deployments.loaded[index]:
                work *= queries.compute_factor[query]
            if isinstance(station, Server):
                job = yield station.submit(work)
                start, end = job.started, job.finished
            else:
                start = yield env.process(station.serve(work))
                end = env.now
            size = 1
        outcome.start[query] = start
        outcome.end[query] = end
        outcome.batch[query] = size
        yield env.timeout(system.way(True, klass, index, queries.jitter_down[query], network))
        outcome.finish[query] = env.now

    def arrivals():
        for query in range(len(queries)):
            yield env.timeout(queries.time[query] - env.now)
            target = int(targets[query]) if targets is not None else scheduler.choose(query)
            klass = queries.klass[query]
            outcome.target[query] = target
            index = int(system.target_deployment[klass, target])
            if index < 0:
                continue
            outcome.deployment[query] = index
            state.own[system.classes.ingress[klass], pool_members[index]] += state.per_query[index]
            env.process(query_process(query, index))

    env.process(arrivals())
    env.run()
    for index, station in enumerate(stations):
        outcome.busy[index] = station.busy_time if head[index] == index else 0.0
    return outcome
