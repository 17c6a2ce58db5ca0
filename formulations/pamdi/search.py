r"""Branch-and-bound over whole splits, one source at a time, with a proven gap.

A node fixes the splits of the *assigned* sources ``A``; a child fixes one more
source to one of its splits. The node's bound is that of :mod:`.branch`: the
objective of ``A`` plus, for every unassigned source ``j``, its least increase
:math:`\min_{p_j} \Delta_j(p_j)` given ``A`` over its valid splits.

**Pricing.** A segment's increase depends only on the loads of its own device,
so a child re-prices only the devices its new split uses and copies the rest
of its parent's tables (:func:`~idnopt.formulations.pamdi.branch.increments`
with ``parent`` and ``changed``); the costs-to-go are then recomputed.

**Closing a node without branching.** Let ``p_j`` be the best valid splits. If
no two of them use a common device, their completion is optimal for the node.
Proof: every completion has :math:`F(A \cup U) - F(A) = \sum_j \Delta_j(p'_j) + E`
with ``E >= 0`` the excess of supermodularity (the waits the unassigned sources
add to each other, and the part of the assigned sources' extra waits beyond the
sum of single-source increases). For ``p`` itself ``E = 0``: at each device at
most one unassigned source arrives, so every wait there is the one priced in
that source's :math:`\Delta_j`. So ``p`` attains the bound. The completion is
valued by the delay model at every node (a candidate incumbent) and the node is
closed when it is feasible, conflict-free and its value equals the bound to
:data:`CLOSE_TOLERANCE` (rounding; where memory limits make it infeasible the
node branches). With one source left this is the former last-source rule.

**Branching.** On the unassigned source with the largest increase. Its valid
splits below the incumbent are taken route by route (:mod:`.routes`: the
sequence of devices a split visits), in bands of increasing least cost; each
route is priced once with the branching source at its least segment time on
each of the route's devices, which bounds every split of the route (by the
monotonicity of the increases in the assigned loads, ``THEORY.md`` section
4); the routes of a band are explored in order of that bound, and a route's
splits cheapest first, each priced in full when visited.

**Symmetry.** Interchangeable unused devices (same speed, memory and links) are
entered in index order only.
On instances without such devices, twin sources (same device, chain, rate and
priority, :func:`twins`) keep their splits in index order of :func:`split_key`:
swapping two twins' splits changes no wait and no weight, so every split has a
copy of the same value that does. The two rules are not combined (relabelling
devices changes the order of the twins' keys).

When the budget runs out the lower bound is the least bound still open: the
band's next route or the route's next split (both sorted), later bands at
least the band's upper end.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from idnopt.formulations.pamdi.branch import (
    Increments,
    best_split,
    fresh_groups,
    increments,
)
from idnopt.formulations.pamdi.compiled import Compiled
from idnopt.formulations.pamdi.delay import Evaluation, evaluate_split
from idnopt.formulations.pamdi.routes import Route, route_bands, route_floors, route_splits

CLOSE_TOLERANCE = 1e-9
"""Relative difference between a conflict-free completion's value and the bound that closes
the node (rounding only: in exact arithmetic the two are equal)."""


def twins(compiled: Compiled) -> list[list[int]]:
    """Groups of interchangeable sources (two or more).

    Sources with the same device, chain, rate and priority are exchanged by
    relabelling: swapping their splits changes no wait, latency or weight, so
    the objective is unchanged.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.

    Returns
    -------
    list of list of int
        Groups of source indices, each in index order.
    """
    groups: dict[tuple, list[int]] = {}
    for source in range(compiled.num_sources):
        key = (
            int(compiled.origin[source]),
            id(compiled.chains[source]),
            float(compiled.rate[source]),
            float(compiled.priority[source]),
        )
        groups.setdefault(key, []).append(source)
    return [group for group in groups.values() if len(group) > 1]


def split_key(devices: np.ndarray) -> tuple[int, ...]:
    """Total order on one source's splits (lexicographic on the device of each layer).

    Parameters
    ----------
    devices : numpy.ndarray
        Device of each layer.

    Returns
    -------
    tuple of int
        The key.
    """
    return tuple(int(d) for d in devices)


@dataclass
class Outcome:
    """What the search found (see :class:`~idnopt.formulations.pamdi.exact.ExactOutcome`)."""

    incumbent: Evaluation | None
    lower: float
    finished: bool
    nodes: int = 0
    history: list[dict] = field(default_factory=list)


def conflicting(paths: dict[int, np.ndarray]) -> bool:
    """Whether two of the splits in ``paths`` use a common device.

    Parameters
    ----------
    paths : dict of int to numpy.ndarray
        Device of each layer, per source.

    Returns
    -------
    bool
        ``True`` when some device appears in two of the splits.
    """
    seen: set[int] = set()
    for devices in paths.values():
        used = set(np.unique(devices).tolist())
        if seen & used:
            return True
        seen |= used
    return False


def branch_and_bound(
    compiled: Compiled,
    incumbent: Evaluation | None,
    *,
    tolerance: float = 1e-4,
    deadline: float | None = None,
    fixed: dict[int, np.ndarray] | None = None,
) -> Outcome:
    """Search every split of every source (see the module docstring).

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    incumbent : Evaluation, optional
        A feasible split to beat.
    tolerance : float
        Subtrees whose bound is within this relative gap of the incumbent are pruned.
    deadline : float, optional
        ``time.perf_counter()`` value at which the search stops.
    fixed : dict of int to numpy.ndarray, optional
        Splits (device of each layer) of sources that stay as given: the search
        is then over the other sources only, and its bound is a bound for that
        restricted problem (the twin rule is not used, since it would order the
        free twins against fixed ones). The splits are not checked against the
        instance; ``incumbent``, when given, must contain them.

    Returns
    -------
    Outcome
        The best split, a lower bound on the optimum and whether the search
        finished (then ``lower`` is the incumbent's value or the root's bound).
    """
    started = time.perf_counter()
    num_sources, num_devices = compiled.num_sources, compiled.num_devices
    state = {"best": incumbent, "nodes": 0, "stopped": False}
    fixed = {} if fixed is None else {s: np.asarray(d, dtype=np.int64) for s, d in fixed.items()}
    if incumbent is not None and any(
        not np.array_equal(incumbent.split[s], devices) for s, devices in fixed.items()
    ):
        raise ValueError("the incumbent must keep the fixed sources' splits")
    groups = [] if compiled.interchangeable or fixed else twins(compiled)
    twin_of = {s: group for group in groups for s in group}

    def upper() -> float:
        best = state["best"]
        return best.objective if best is not None else math.inf

    def target() -> float:
        value = upper()
        return value * (1 - tolerance) if math.isfinite(value) else math.inf

    def out_of_time() -> bool:
        if state["stopped"] or (deadline is not None and time.perf_counter() > deadline):
            state["stopped"] = True
        return state["stopped"]

    def offer(split: tuple) -> Evaluation:
        evaluation = evaluate_split(compiled, split)
        if evaluation.feasible and evaluation.objective < upper():
            state["best"] = evaluation
        return evaluation

    def in_order(assigned: dict[int, np.ndarray], source: int, devices: np.ndarray) -> bool:
        for other in twin_of.get(source, ()):
            if other == source or other not in assigned:
                continue
            low, high = (devices, assigned[other]) if source < other else (assigned[other], devices)
            if split_key(low) > split_key(high):
                return False
        return True

    def search(
        assigned: dict[int, np.ndarray],
        service: np.ndarray,
        value: float,
        known: float,
        parent: dict[int, Increments],
        changed: np.ndarray | None,
    ) -> float:
        """Explore a node of bound ``known``; return a bound on what it left unexplored.

        ``parent`` holds the parent's tables and ``changed`` the devices whose
        column of ``service`` differs from the parent's (``None``: price afresh).
        """
        if out_of_time():
            return known
        state["nodes"] += 1
        rest = [s for s in range(num_sources) if s not in assigned]
        if not rest:
            offer(tuple(assigned[s] for s in range(num_sources)))
            return math.inf
        tables = {s: increments(compiled, service, s, parent.get(s), changed) for s in rest}
        bests = {s: tables[s].best for s in rest}
        bound = value + sum(bests.values())
        if bound >= target() or out_of_time():
            return bound
        fresh = fresh_groups(compiled, service)
        paths = {}
        for s in sorted(rest, key=lambda s: -bests[s]):
            found = best_split(compiled, s, tables[s], target() - (bound - bests[s]), fresh)
            if found is None:  # no valid split of s keeps the node below the incumbent
                return target()
            bound += found[0] - bests[s]
            bests[s], paths[s] = found[0], found[1]
        if bound >= target():
            return bound
        evaluation = offer(tuple(assigned.get(s, paths.get(s)) for s in range(num_sources)))
        if evaluation.feasible and not conflicting(paths):
            if abs(evaluation.objective - bound) <= CLOSE_TOLERANCE * max(1.0, abs(bound)):
                return target()
        branch = max(rest, key=lambda s: (bests[s], -s))
        others = bound - bests[branch]
        cut = target()
        left = cut if math.isfinite(cut) else math.inf
        table = tables[branch]
        for low, high, band in route_bands(compiled, branch, table, cut - others, fresh):
            if others + low >= target():  # the incumbent improved: the rest is pruned
                left = min(left, others + low)
                break
            priced: list[tuple[float, float, Route]] = []
            for route in band:  # one bound per route, its device floors placed
                if others + route.cost >= target():
                    left = min(left, others + route.cost)
                    break
                if out_of_time():
                    return min([left, others + route.cost] + [item[0] for item in priced])
                floors = route_floors(compiled, branch, table, route, target() - others)
                floor_service = service.copy()
                floor_service[branch] = floors
                used = np.flatnonzero(floors > 0)
                group = value + sum(
                    increments(compiled, floor_service, s, tables[s], used).best
                    for s in rest
                    if s != branch
                )
                priced.append((group + route.cost, group, route))
            priced.sort(key=lambda item: item[0])
            for index, (estimate, group, route) in enumerate(priced):
                if estimate >= target():
                    left = min(left, estimate)
                    break
                # bound of what follows this route: the band's next route, later bands
                later = min(
                    priced[index + 1][0] if index + 1 < len(priced) else math.inf, others + high
                )
                if out_of_time():
                    return min(left, estimate, later)
                for gain, devices in route_splits(compiled, branch, table, route, target() - group):
                    child_bound = group + gain
                    if not in_order(assigned, branch, devices):
                        continue
                    if child_bound >= target():
                        left = min(left, child_bound)
                        break  # the route's later splits cost more
                    if out_of_time():
                        return min(left, child_bound, later)
                    child_service = service.copy()
                    np.add.at(
                        child_service[branch],
                        devices,
                        compiled.chains[branch].work / compiled.speed[devices],
                    )
                    assigned[branch] = devices
                    lower = search(
                        assigned,
                        child_service,
                        value + gain,
                        child_bound,
                        tables,
                        np.unique(devices),
                    )
                    left = min(left, lower)
                    del assigned[branch]
        return left

    root_service = np.zeros((num_sources, num_devices))
    root_value = 0.0
    if fixed:  # F(fixed): the fixed sources' objective with only their own loads
        held = sorted(fixed)
        alone = evaluate_split(compiled.subset(held), tuple(fixed[s] for s in held))
        root_value = float(compiled.weight[held].sum()) * alone.objective
        for source in held:
            devices = fixed[source]
            work = compiled.chains[source].work / compiled.speed[devices]
            np.add.at(root_service[source], devices, work)
    root_bound = root_value + sum(
        increments(compiled, root_service, s).best for s in range(num_sources) if s not in fixed
    )
    unexplored = search(dict(fixed), root_service, root_value, root_bound, {}, None)
    lower = max(root_bound, min(upper(), unexplored))
    return Outcome(
        incumbent=state["best"],
        lower=lower,
        finished=not state["stopped"],
        nodes=state["nodes"],
        history=[
            {
                "nodes": state["nodes"],
                "root_bound": root_bound,
                "seconds": time.perf_counter() - started,
            }
        ],
    )
