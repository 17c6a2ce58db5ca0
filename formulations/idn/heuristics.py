"""Allocation heuristics: lazy greedy, DepRound, knapsack repair and LP rounding."""

from __future__ import annotations

import heapq

import numpy as np

from idnopt.formulations.idn.candidates import Candidates
from idnopt.formulations.idn.gain import gain


def greedy_allocation(candidates: Candidates) -> np.ndarray:
    """Greedy allocation by marginal gain per MB (lazy evaluation, submodularity).

    Parameters
    ----------
    candidates : Candidates
        From :func:`~idnopt.formulations.idn.candidates.build_candidates`.

    Returns
    -------
    numpy.ndarray
        Binary (nodes, models) allocation within every budget.
    """
    allocation = np.zeros(candidates.shape)
    return _greedy_fill(candidates, allocation)


def _class_gains(candidates: Candidates, allocation: np.ndarray, classes: np.ndarray) -> float:
    """Gain of the given request classes only."""
    x = allocation.ravel()
    total = 0.0
    for q in classes:
        lo, hi = candidates.start[q], candidates.start[q + 1]
        pairs = candidates.pair[lo:hi]
        served = np.minimum(candidates.rate[q], np.cumsum(candidates.capacity[lo:hi] * x[pairs]))
        total += float(np.dot(candidates.gap[lo:hi], served))
    return total


def _greedy_fill(candidates: Candidates, allocation: np.ndarray) -> np.ndarray:
    """Add models by largest marginal gain per MB while they fit (lazy greedy)."""
    allocation = allocation.copy()
    models = candidates.shape[1]
    classes_of_pair: dict[int, np.ndarray] = {}
    order = np.argsort(candidates.pair, kind="stable")
    pairs_sorted = candidates.pair[order]
    unique, first = np.unique(pairs_sorted, return_index=True)
    bounds = np.append(first, pairs_sorted.size)
    for p, lo, hi in zip(unique, bounds[:-1], bounds[1:]):
        classes_of_pair[int(p)] = np.unique(candidates.request[order[lo:hi]])
    used = (allocation * candidates.sizes[None, :]).sum(axis=1)

    def marginal(p: int) -> float:
        classes = classes_of_pair[p]
        before = _class_gains(candidates, allocation, classes)
        allocation.flat[p] = 1.0
        after = _class_gains(candidates, allocation, classes)
        allocation.flat[p] = 0.0
        return after - before

    heap = []
    for p in classes_of_pair:
        if allocation.flat[p] == 0 and candidates.hostable.flat[p]:
            size = candidates.sizes[p % models]
            heap.append((-marginal(p) / size, p))
    heapq.heapify(heap)
    while heap:
        negative_ratio, p = heapq.heappop(heap)
        node, model = divmod(p, models)
        size = candidates.sizes[model]
        if used[node] + size > candidates.budgets[node] + 1e-9:
            continue
        fresh = marginal(p) / size
        if heap and fresh < -heap[0][0] - 1e-12:
            heapq.heappush(heap, (-fresh, p))
            continue
        if fresh <= 1e-12:
            break
        allocation.flat[p] = 1.0
        used[node] += size
    return allocation


def depround(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dependent rounding (Byrka et al.): round [0,1] entries keeping their sum.

    Each entry is 1 with probability equal to its value and the number of ones
    is the sum rounded down or up; used per node on the fractional allocation.

    Parameters
    ----------
    weights : numpy.ndarray
        Entries in [0, 1] (clipped).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        0/1 entries of the same shape.
    """
    y = np.clip(np.asarray(weights, dtype=float), 0.0, 1.0).copy()
    tolerance = 1e-9
    fractional = [i for i in range(y.size) if tolerance < y[i] < 1 - tolerance]
    while len(fractional) >= 2:
        i, j = fractional[0], fractional[1]
        up, down = min(1 - y[i], y[j]), min(y[i], 1 - y[j])
        if rng.random() < down / (up + down):
            y[i] += up
            y[j] -= up
        else:
            y[i] -= down
            y[j] += down
        fractional = [k for k in fractional if tolerance < y[k] < 1 - tolerance]
    if fractional:
        k = fractional[0]
        y[k] = 1.0 if rng.random() < y[k] else 0.0
    return np.round(y)


def repair(candidates: Candidates, allocation: np.ndarray) -> np.ndarray:
    """Drop models from over-full nodes (smallest marginal gain per MB first).

    Parameters
    ----------
    candidates : Candidates
        From :func:`~idnopt.formulations.idn.candidates.build_candidates`.
    allocation : numpy.ndarray
        Binary (nodes, models) allocation, possibly over some budgets.

    Returns
    -------
    numpy.ndarray
        A copy within every budget.
    """
    allocation = allocation.copy()
    for node in range(candidates.shape[0]):
        while allocation[node] @ candidates.sizes > candidates.budgets[node] + 1e-9:
            hosted = np.flatnonzero(allocation[node] > 0.5)
            base = gain(candidates, allocation)
            losses = []
            for m in hosted:
                allocation[node, m] = 0.0
                losses.append((base - gain(candidates, allocation)) / candidates.sizes[m])
                allocation[node, m] = 1.0
            allocation[node, hosted[int(np.argmin(losses))]] = 0.0
    return allocation


def rounded_allocation(
    candidates: Candidates, fractional: np.ndarray, *, samples: int = 16, seed: int | None = 0
) -> np.ndarray:
    """Round a fractional allocation: DepRound per node, repair, greedy fill; best of draws.

    Parameters
    ----------
    candidates : Candidates
        From :func:`build_candidates`.
    fractional : numpy.ndarray
        (nodes, models) allocation in [0, 1], typically the LP optimum.
    samples : int
        Number of independent roundings; the best is kept.
    seed : int, optional
        Seed of the random generator.

    Returns
    -------
    numpy.ndarray
        A knapsack-feasible binary allocation.
    """
    rng = np.random.default_rng(seed)
    best, best_gain = None, -np.inf
    for _ in range(max(1, samples)):
        rounded = np.zeros_like(fractional)
        for node in range(fractional.shape[0]):
            if fractional[node].any():
                rounded[node] = depround(fractional[node], rng)
        rounded = _greedy_fill(candidates, repair(candidates, rounded * candidates.hostable))
        value = gain(candidates, rounded)
        if value > best_gain:
            best, best_gain = rounded, value
    return best
