"""Best-response descent: re-split one source at a time, optimally given the others.

With the other sources' splits fixed, the objective changes with one source's
split by a sum over its segments of the segment's weighted compute time plus
the exact change of every weighted wait at the segment's device, plus its
weighted transfers (:func:`~idnopt.formulations.pamdi.branch.increments`). Its
best split is therefore found by the pruned depth-first search of
:func:`~idnopt.formulations.pamdi.branch.best_split` below the current
split's increase (only splits that do not return to a device).
Repeating it over the sources never raises the objective and stops at a split
no single source can improve: the incumbents that seed the exact method.
:func:`pair_descent` goes one step further and re-splits two sources at a
time, optimally given the others, with the exact search of
:mod:`~idnopt.formulations.pamdi.search` restricted to the pair.
"""

from __future__ import annotations

import time

import numpy as np

from idnopt.formulations.pamdi.branch import (
    best_split,
    increments,
    shared_load,
    source_service,
    split_increase,
)
from idnopt.formulations.pamdi.compiled import Compiled
from idnopt.formulations.pamdi.delay import Evaluation, Split, evaluate_split
from idnopt.formulations.pamdi.search import branch_and_bound


def best_response(compiled: Compiled, split: Split, source: int) -> np.ndarray | None:
    """The valid split of ``source`` minimising the objective with the other splits fixed.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    split : Split
        The current splits (the source's own gives the threshold).
    source : int
        Source to re-split.

    Returns
    -------
    numpy.ndarray or None
        Device of each layer, or ``None`` when nothing beats the current split.
    """
    service = source_service(compiled, split)
    service[source] = 0.0
    table = increments(compiled, service, source)
    current = split_increase(compiled, table, source, split[source])
    found = best_split(compiled, source, table, current * (1 - 1e-12))
    return None if found is None else found[1]


def sequential_split(compiled: Compiled, fallback: Split) -> Split:
    """Sources placed one at a time in index order, each on its best split given those placed.

    A start for :func:`descend` that differs from the baselines: every source
    sees the load of the ones placed before it. Each source's search is
    bounded by what its split in ``fallback`` (a valid split, e.g. the best
    seed) would add, and takes that split when nothing beats it, so the
    placement costs at most one pruned search per source.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    fallback : Split
        A valid split of every source.

    Returns
    -------
    Split
        Device of each layer, per source.
    """
    service = np.zeros((compiled.num_sources, compiled.num_devices))
    split = []
    for source in range(compiled.num_sources):
        table = increments(compiled, service, source)
        known = np.asarray(fallback[source], dtype=np.int64)
        threshold = split_increase(compiled, table, source, known)
        found = best_split(compiled, source, table, threshold * (1 - 1e-12))
        devices = known if found is None else np.asarray(found[1], dtype=np.int64)
        chain = compiled.chains[source]
        np.add.at(service[source], devices, chain.work / compiled.speed[devices])
        split.append(devices)
    return tuple(split)


def descend(
    compiled: Compiled,
    split: Split,
    *,
    rounds: int = 20,
    deadline: float | None = None,
) -> Evaluation:
    """Best responses over the sources until none improves the objective.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    split : Split
        A feasible starting split.
    rounds : int
        Most passes over the sources.
    deadline : float, optional
        ``time.perf_counter()`` value after which no new response is computed.

    Returns
    -------
    Evaluation
        The final split's evaluation (never worse than the start's).
    """
    best = evaluate_split(compiled, split)
    order = np.lexsort((np.arange(compiled.num_sources), -compiled.weight))
    for _ in range(rounds):
        improved = False
        for source in order:
            if deadline is not None and time.perf_counter() > deadline:
                return best
            devices = best_response(compiled, best.split, int(source))
            if devices is None:
                continue
            candidate = list(best.split)
            candidate[source] = devices
            trial = evaluate_split(compiled, tuple(candidate))
            if trial.feasible and trial.objective < best.objective * (1 - 1e-12):
                best, improved = trial, True
        if not improved:
            break
    return best


def pair_descent(
    compiled: Compiled,
    start: Evaluation,
    *,
    per_pair: float = 2.0,
    rounds: int = 5,
    deadline: float | None = None,
) -> Evaluation:
    r"""Re-split two sources at a time, jointly and optimally given the others.

    For each pair of sources the branch-and-bound of
    :mod:`~idnopt.formulations.pamdi.search` runs with every other split fixed
    (``fixed``), so a pair whose search finishes holds the best splits the two
    can take together (within the search's tolerance); a search cut off after
    ``per_pair`` seconds contributes the best it found. Pairs are taken in
    order of the load their splits share (:math:`\sum_d \rho_{j,d}\rho_{k,d}`:
    the ones that crowd each other first), and passes repeat until one improves
    nothing; without a deadline a pass costs at most ``per_pair`` seconds per
    pair. It escapes the points where no single source can improve
    (:func:`descend`) but two moving together can, e.g. two sources swapping a
    fast device.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    start : Evaluation
        A feasible split's evaluation.
    per_pair : float
        Seconds each pair's search may take.
    rounds : int
        Most passes over the pairs.
    deadline : float, optional
        ``time.perf_counter()`` value after which no new pair is searched.

    Returns
    -------
    Evaluation
        The final split's evaluation (never worse than ``start``).
    """
    best = start
    count = compiled.num_sources
    if count < 3:  # the pair is the whole problem: that is the exact method's job
        return best
    for _ in range(rounds):
        shared = shared_load(compiled, best.split)  # pairs that crowd each other first
        pairs = sorted(
            ((a, b) for a in range(count) for b in range(a + 1, count)),
            key=lambda pair: (-shared[pair], pair),
        )
        improved = False
        for pair in pairs:
            now = time.perf_counter()
            if deadline is not None and now > deadline:
                return best
            limit = now + per_pair if deadline is None else min(deadline, now + per_pair)
            fixed = {s: best.split[s] for s in range(count) if s not in pair}
            found = branch_and_bound(compiled, best, deadline=limit, fixed=fixed).incumbent
            if found is not None and found.objective < best.objective * (1 - 1e-12):
                best, improved = found, True
        if not improved:
            break
    return best
