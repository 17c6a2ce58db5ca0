"""The vectorised path: every decision known in advance, each deployment (pool) simulated alone.

When a scheduler reads no state, its decisions are all known before the
simulation runs: arrivals at each deployment are computed with numpy, and each
server pool is simulated on its own - the Lindley recursion in numpy for one
server without a queue limit, a tight loop otherwise, and for batching
deployments the batch rule of :class:`~idnopt.sim.queues.BatchQueue` without
events when no queue limit can refuse a query. The outcome is the one
:class:`~idnopt.sim.fast.Engine` gives for the same decisions; the tests check
both against the simpy reference.
"""

from __future__ import annotations

import heapq

import numpy as np

from idnopt.sim.outcome import Outcome
from idnopt.sim.queues import FREE, BatchQueue, FifoQueue, lindley
from idnopt.sim.system import UNLIMITED_QUEUE, ServingSystem
from idnopt.sim.workload import Queries

ARRIVE = 0
"""Event kind of an arrival in a deployment's own loop (as the engine's)."""


def simulate_decided(system: ServingSystem, queries: Queries, targets: np.ndarray) -> Outcome:
    """Simulate with every query's target fixed in advance (no state is read).

    Parameters
    ----------
    system : ServingSystem
        What is simulated.
    queries : Queries
        Every query, sorted by arrival time.
    targets : numpy.ndarray
        Target of each query.

    Returns
    -------
    Outcome
        The same as :class:`Engine` gives for these decisions.
    """
    deployments = system.deployments
    count = len(queries)
    outcome = Outcome.empty(count, len(deployments))
    klass = queries.klass
    targets = np.asarray(targets, dtype=np.int64)
    outcome.target[:] = targets
    chosen = system.target_deployment[klass, targets] if count else np.zeros(0, np.int64)
    outcome.deployment[:] = chosen
    valid = chosen >= 0
    safe = np.where(valid, chosen, 0)
    arrival = queries.time + system.way(
        False, klass, safe, queries.jitter_up, queries.network_factor
    )
    outcome.arrival[:] = np.where(valid, arrival, np.nan)
    factor_all = queries.service_factor * np.where(
        deployments.loaded[safe], queries.compute_factor, 1.0
    )  # members of a deployment share its loaded flag
    work_all = deployments.latency[safe] * factor_all
    # deployments sharing a pool are simulated together, as their first one
    pool = np.where(valid, deployments.pool_head()[safe], -1)
    order = np.lexsort((np.arange(count), arrival, pool))
    sorted_pool = pool[order]
    bounds = np.searchsorted(sorted_pool, np.arange(-1, len(deployments) + 1))
    for index in range(len(deployments)):
        members = order[bounds[index + 1] : bounds[index + 2]]
        if members.size == 0:
            continue
        if int(deployments.batch[index]) == 1:
            _fifo_deployment(system, index, members, arrival, work_all, outcome)
        else:
            _batch_deployment(system, factor_all, index, members, arrival, outcome)
    served = ~np.isnan(outcome.end)
    finish = outcome.end + system.way(
        True, klass, safe, queries.jitter_down, queries.network_factor
    )
    outcome.finish[:] = np.where(served, finish, np.nan)
    return outcome


def _fifo_deployment(system, index, members, arrival, work_all, outcome) -> None:
    deployments = system.deployments
    arrivals = arrival[members]
    work = work_all[members]
    replicas = int(deployments.replicas[index])
    limit = int(min(deployments.queue_limit[index], UNLIMITED_QUEUE))
    if replicas == 1 and limit >= UNLIMITED_QUEUE:
        start, end = lindley(arrivals, work)
        outcome.start[members] = start
        outcome.end[members] = end
        outcome.batch[members] = 1
        outcome.busy[index] = float(work.sum())
        return
    queue = FifoQueue(replicas, limit)
    starts = np.full(members.size, np.nan)
    arrive = queue.arrive
    for position, (time, amount) in enumerate(zip(arrivals.tolist(), work.tolist())):
        start = arrive(time, amount)
        if start >= 0:
            starts[position] = start
    refused = np.isnan(starts)
    outcome.refused[members[refused]] = True
    outcome.start[members] = starts
    outcome.end[members] = starts + work
    outcome.batch[members] = np.where(refused, 0, 1)
    outcome.busy[index] = queue.busy


def _batch_deployment(system, factor, index, members, arrival, outcome) -> None:
    deployments = system.deployments
    if int(deployments.queue_limit[index]) >= UNLIMITED_QUEUE:
        _batches_in_order(system, factor, index, members, arrival, outcome)
        return
    heap: list[tuple[float, int, int, int, int]] = []
    counter = [0]

    def schedule(time: float, kind: int, _index: int, payload: int) -> None:
        counter[0] += 1
        heapq.heappush(heap, (time, counter[0], kind, _index, payload))

    def started(batch: list[int], start: float, end: float, size: int) -> None:
        outcome.start[batch] = start
        outcome.end[batch] = end
        outcome.batch[batch] = size

    full = deployments.batch_time(index, int(deployments.batch[index]))
    queue = BatchQueue(
        index,
        int(deployments.replicas[index]),
        int(deployments.batch[index]),
        int(min(deployments.queue_limit[index], UNLIMITED_QUEUE)),
        float(deployments.max_wait[index]),
        lambda size, first: deployments.batch_time(index, size) * float(factor[first]),
        schedule,
        started,
        per_query=full / int(deployments.batch[index]),
    )
    for query in members.tolist():
        schedule(float(arrival[query]), ARRIVE, index, query)
    while heap:
        time, _, kind, _, payload = heapq.heappop(heap)
        if kind == ARRIVE:
            if not queue.arrive(time, payload):
                outcome.refused[payload] = True
        elif kind == FREE:
            queue.on_free(time)
        else:
            queue.on_timer(time, payload)
    outcome.busy[index] = queue.busy


def _batches_in_order(system, factor, index, members, arrival, outcome) -> None:
    """Batches of one deployment without a queue limit, from its arrivals known in advance.

    The next batch goes to the server that frees first, at ``s = max(free,
    min(a_i + max_wait, a_{i+batch-1}))`` (the oldest waiting query ``i`` waits
    for a full batch or its maximum wait, and for a free server), and takes
    every query waiting at ``s``, at most ``batch`` of them: the rule of
    :class:`~idnopt.sim.queues.BatchQueue`, without events.
    """
    from bisect import bisect_right

    deployments = system.deployments
    size_limit = int(deployments.batch[index])
    wait = float(deployments.max_wait[index])
    latency = float(deployments.latency[index])
    cost = float(deployments.batch_cost[index])
    arrivals = arrival[members].tolist()
    factors = factor[members].tolist()
    count = len(arrivals)
    free = [0.0] * int(deployments.replicas[index])
    starts = [0.0] * count
    ends = [0.0] * count
    sizes = [0] * count
    busy = 0.0
    first = 0
    while first < count:
        head = arrivals[first]
        full = first + size_limit - 1
        ready = head + wait
        if full < count and arrivals[full] < ready:
            ready = arrivals[full]
        start = free[0] if free[0] > ready else ready
        stop = bisect_right(arrivals, start, first, min(first + size_limit, count))
        size = stop - first
        work = latency * (1.0 + cost * (size - 1)) * factors[first]
        end = start + work
        heapq.heapreplace(free, end)
        busy += work
        for position in range(first, stop):
            starts[position] = start
            ends[position] = end
            sizes[position] = size
        first = stop
    outcome.start[members] = starts
    outcome.end[members] = ends
    outcome.batch[members] = sizes
    outcome.busy[index] = busy
