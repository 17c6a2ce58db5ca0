"""The per-operator integer oracle: cover an operator's rate with whole workers, exactly.

For one operator, one variant and one tier interval, choose how many workers of
each pool to take (at most ``count[p]``, each paid ``worker_cost[p]``) and how
many requests/s each serves (at most ``capacity[p]`` per worker, each request
paid ``share_cost[p]``) so that the shares add up to the rate, at least cost.
Given the workers, the cheapest shares fill pools by increasing share cost, so
an optimal choice visits pools in that order and keeps, after each pool, only
the states (filled rate, cost) that no other state beats on both counts. With
share costs made non-negative first (adding a constant per request changes
every cover alike), a state that has filled more for less stays better whatever
comes next: the dominance that makes this small Pareto search exact.

These minima, on prices adjusted by multipliers, are the operator terms of the
Lagrangian bounds of :mod:`~idnopt.formulations.jellybean.bounds`.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

FILL_TOLERANCE = 1e-9
"""Relative shortfall of a cover that still counts as covering the rate."""
MAX_STATES = 64
"""Pareto states beyond which :func:`cover_cost` settles for a lower bound."""


def cover_cost(
    capacity: np.ndarray,
    count: np.ndarray,
    worker_cost: np.ndarray,
    share_cost: np.ndarray,
    need: float,
) -> float:
    """Least cost of covering ``need`` requests/s with whole workers of some pools.

    Parameters
    ----------
    capacity : numpy.ndarray
        ``(P,)`` requests/s one worker of each pool sustains (0: cannot run).
    count : numpy.ndarray
        ``(P,)`` most workers of each pool that may be taken.
    worker_cost : numpy.ndarray
        ``(P,)`` cost of one worker ($/h, possibly adjusted by multipliers), at least 0.
    share_cost : numpy.ndarray
        ``(P,)`` cost per request/s served on each pool (any sign).
    need : float
        Requests/s to cover.

    Returns
    -------
    float
        The minimum of ``sum(worker_cost * n) + sum(share_cost * t)`` over integer
        ``0 <= n <= count`` and ``0 <= t <= capacity * n`` with ``sum(t) == need``;
        ``inf`` when the pools cannot cover ``need``. When the Pareto front
        outgrows :data:`MAX_STATES` (many workers of equal cost per request/s,
        as multipliers tend to make them), only the states with the least cost
        plus fractional cover of what is left go on, and the result is a lower
        bound: the least of the best cover found and the bounds of the states
        dropped.
    """
    if need <= 0:
        return 0.0
    pools = []
    reach = 0.0
    # plain floats: a handful of pools, where numpy's per-call cost would dominate
    for a, n, c, d in zip(
        capacity.tolist(), count.tolist(), worker_cost.tolist(), share_cost.tolist()
    ):
        if a > 0 and n > 0:
            alone = need / a  # workers of this pool alone that cover the need
            most = int(n) if alone > n else max(1, math.ceil(alone - FILL_TOLERANCE))
            pools.append((d, max(c, 0.0), a, most))
            reach += a * n
    if not pools or reach < need * (1 - FILL_TOLERANCE):
        return math.inf
    shift = min(0.0, min(pool[0] for pool in pools))
    pools = sorted((d - shift, c / a, c, a, most) for d, c, a, most in pools)
    # covering what is left with fractions of the later pools' workers: a lower bound
    later = [_FractionalCover(pools[p:]) for p in range(1, len(pools) + 1)]
    done = need * (1 - FILL_TOLERANCE)
    states = [(0.0, 0.0)]  # (filled, cost), a Pareto front
    best = _greedy_cover(pools, need)
    floor = math.inf  # least bound of the states left unexplored (none while exact)
    for p, (d, _, c, a, most) in enumerate(pools):
        if len(states) > MAX_STATES:
            # keep the most promising states; the others are bounded, not explored
            rest = _FractionalCover(pools[p:])
            ranked = sorted((cost + rest(need - filled), filled, cost) for filled, cost in states)
            floor = min(floor, ranked[MAX_STATES][0])
            states = [(filled, cost) for _, filled, cost in ranked[:MAX_STATES]]
            states.sort(key=lambda state: (-state[0], state[1]))
        bound = later[p]
        grown = []
        for filled, cost in states:
            for k in range(most + 1):
                reached = filled + k * a
                if reached >= done:  # more workers of this pool only cost more
                    best = min(best, cost + k * c + d * (need - filled))
                    break
                spent = cost + k * c + d * (reached - filled)
                if spent + bound(need - reached) < best - 1e-12:
                    grown.append((reached, spent))
        if not grown:
            break
        grown.sort(key=lambda state: (-state[0], state[1]))
        states, least = [], math.inf
        for filled, cost in grown:
            if cost < least:
                states.append((filled, cost))
                least = cost
    best = min(best, floor)
    return best + shift * need if math.isfinite(best) else math.inf


def _greedy_cover(pools: list[tuple[float, float, float, float, int]], need: float) -> float:
    """A feasible cover (an upper bound): whole workers by increasing cost per request/s.

    ``pools`` are ``(share cost, worker cost / capacity, worker cost, capacity,
    count)`` sorted by share cost, as :func:`cover_cost` prepares them.
    """
    taken = [0] * len(pools)
    reach = 0.0
    for p in sorted(range(len(pools)), key=lambda p: pools[p][0] + pools[p][1]):
        d, _, c, a, most = pools[p]
        while taken[p] < most and reach < need * (1 - FILL_TOLERANCE):
            taken[p] += 1
            reach += a
    if reach < need * (1 - FILL_TOLERANCE):
        return math.inf
    cost, left = 0.0, need
    for (d, _, c, a, _), k in zip(pools, taken):  # fill by increasing share cost
        share = min(left, k * a)
        cost += k * c + d * share
        left -= share
    return cost


class _FractionalCover:
    """Least cost of covering ``x`` with fractions of the given pools' workers (piecewise linear).

    ``pools`` are ``(share cost, worker cost / capacity, worker cost, capacity,
    count)``; a worker's cost spread over its capacity makes covering with
    fractions of workers a lower bound on covering with whole ones.
    """

    def __init__(self, pools: list[tuple[float, float, float, float, int]]) -> None:
        ranked = sorted((d + spread, a * most) for d, spread, _, a, most in pools)
        # any cover of a positive need takes at least one whole worker
        self.one = min((c for _, _, c, _, _ in pools), default=math.inf)
        self.unit = [unit for unit, _ in ranked]
        self.reach = [0.0]
        self.cost = [0.0]
        for unit, capacity in ranked:
            self.reach.append(self.reach[-1] + capacity)
            self.cost.append(self.cost[-1] + unit * capacity)

    def __call__(self, x: float) -> float:
        if x <= 0:
            return 0.0
        if x > self.reach[-1] * (1 + FILL_TOLERANCE):
            return math.inf
        k = min(bisect.bisect_left(self.reach, x), len(self.unit))
        return max(self.cost[k - 1] + self.unit[k - 1] * (x - self.reach[k - 1]), self.one)


def fewest_workers(capacity: np.ndarray, count: np.ndarray, need: float) -> float:
    """Fewest whole workers whose capacities cover ``need`` (the largest ones first).

    Returns
    -------
    float
        The count, ``inf`` when even all of them fall short.
    """
    if need <= 0:
        return 0.0
    keep = (capacity > 0) & (count > 0)
    a = np.repeat(capacity[keep], count[keep].astype(np.int64))
    if a.size == 0:
        return math.inf
    a = np.sort(a)[::-1]
    reach = np.cumsum(a)
    enough = np.flatnonzero(reach >= need * (1 - FILL_TOLERANCE))
    return float(enough[0] + 1) if enough.size else math.inf
