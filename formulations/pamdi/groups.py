r"""A lower bound from disjoint groups of sources, each solved on its own.

**Claim.** Split the sources into disjoint groups :math:`G_1, \dots, G_m`. Let
:math:`F_g(p_g)` be the objective counting only the sources of :math:`G_g`,
with the waits their own loads cause (the instance with every other source
removed, its weights kept: :meth:`Compiled.subset` times the group's weight
share). Then for every split :math:`p`,
:math:`F(p) \ge \sum_g F_g(p_g)`, hence
:math:`\min F \ge \sum_g \min F_g \ge \sum_g \underline{F}_g` for any proven
lower bounds :math:`\underline{F}_g` of the groups.

*Proof.* :math:`F(p) = \sum_s a_s T_s(p)`. A source's compute and transfer
times do not depend on other sources, and each of its waits
(:math:`W_k = R / ((1 - \sigma_{k-1})(1 - \sigma_k))`, or Pollaczek–Khinchine)
is non-decreasing in the residual work and the class loads at the device,
which only grow when other sources' segments are added. So
:math:`T_s(p) \ge T_s(p_g)` computed with :math:`G_g` alone, for
:math:`s \in G_g`; sum over groups. Removing sources also relaxes the load and
memory limits, so every feasible :math:`p` restricts to feasible
:math:`p_g`. ∎

With singleton groups the bound is the search's root bound (every source's
least increase alone; at least that where the root's shortest paths relax
the set of devices used, beyond ``branch.EXACT_STATES``, or ignore memory
limits, which the search checks at its leaves); with one group it is the optimum. In between it sees
the crowding *inside* each group exactly, which the per-source bound of
:mod:`.search` does not see at all, and costs one smaller search per group
(``benchmarks/pamdi/README.md``: on 20 devices and 100-layer chains the search
proves five sources in seconds where ten do not finish in a minute).

**Groups.** Two halves of equal size that cut the least shared load of the
incumbent (:func:`bisect`): sources that crowd the same devices are solved
together, where their interaction is seen. Any partition gives a valid bound;
this one is a heuristic for a strong one.

**Recursion.** A group's bound is that of :func:`~.search.branch_and_bound`
on the group; when the search does not finish in its share of the time and the
group has four sources or more, the group is split again and the larger of the
two bounds is kept.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence

import numpy as np

from idnopt.formulations.pamdi.branch import shared_load
from idnopt.formulations.pamdi.compiled import Compiled
from idnopt.formulations.pamdi.delay import Split, evaluate_split
from idnopt.formulations.pamdi.search import branch_and_bound

SEARCH_SHARE = 0.6
"""Share of a group's time given to its own search before it is split again."""

EXHAUSTIVE_BISECTION = 16
"""Up to this many sources every balanced bisection is tried; above, the Fiedler vector."""


def bisect(compiled: Compiled, split: Split) -> tuple[list[int], list[int]]:
    r"""Two halves of the sources cutting the least load that ``split`` makes them share.

    The interaction of two sources is :math:`\sum_d \rho_{j,d} \rho_{k,d}`,
    the product of the loads their segments put on each device. Up to
    :data:`EXHAUSTIVE_BISECTION` sources every balanced bisection is tried;
    above, the sources are ordered by the graph Laplacian's Fiedler vector (the
    classic spectral heuristic for a small cut) and cut at the median.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    split : Split
        A split of every source (e.g. the incumbent).

    Returns
    -------
    tuple of two lists of int
        The halves (the first holds source 0), each sorted.
    """
    count = compiled.num_sources
    shared = shared_load(compiled, split)
    np.fill_diagonal(shared, 0.0)
    if count <= EXHAUSTIVE_BISECTION:
        best, chosen = math.inf, None
        for first in itertools.combinations(range(1, count), count // 2 - 1):
            group = [0, *first]
            rest = [s for s in range(count) if s not in group]
            cut = float(shared[np.ix_(group, rest)].sum())
            if cut < best:
                best, chosen = cut, (group, rest)
        return chosen
    laplacian = np.diag(shared.sum(axis=1)) - shared
    fiedler = np.linalg.eigh(laplacian)[1][:, 1]
    order = np.argsort(fiedler, kind="stable")
    halves = sorted(order[: count // 2].tolist()), sorted(order[count // 2 :].tolist())
    return halves if 0 in halves[0] else (halves[1], halves[0])


def group_bound(compiled: Compiled, split: Split, deadline: float) -> float:
    """A proven lower bound on the optimum from two groups of sources (module docstring).

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays (at least two sources).
    split : Split
        A feasible split (the incumbent), used to choose the groups.
    deadline : float
        ``time.perf_counter()`` value by which the bound is returned.

    Returns
    -------
    float
        The sum of the groups' proven bounds, in this instance's units.
    """
    return partition_bound(compiled, bisect(compiled, split), split, deadline)


def partition_bound(
    compiled: Compiled,
    groups: Sequence[Sequence[int]],
    split: Split,
    deadline: float | None = None,
) -> float:
    """The sum of the groups' proven bounds, each group solved without the others.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    groups : sequence of sequences of int
        Disjoint groups of source indices covering every source.
    split : Split
        A feasible split of every source: each group's search starts from its part.
    deadline : float, optional
        ``time.perf_counter()`` value by which the bound is returned (``None``:
        every group is solved to optimality and the bound is the sum of their optima).

    Returns
    -------
    float
        A lower bound on the optimum of ``compiled``, in its units.
    """
    weight = compiled.weight
    total = 0.0
    for position, group in enumerate(groups):
        group = list(group)
        until = None
        if deadline is not None:  # what one group leaves, the next ones get
            now = time.perf_counter()
            until = now + (deadline - now) / (len(groups) - position)
        sub = compiled.subset(group)
        total += float(weight[group].sum()) * _bound(sub, tuple(split[s] for s in group), until)
    return total


def _bound(compiled: Compiled, split: Split, deadline: float | None) -> float:
    """The proven bound of one group: its search, split again when that does not finish."""
    start = evaluate_split(compiled, split)
    start = start if start.feasible else None
    if deadline is None:
        return branch_and_bound(compiled, start).lower
    now = time.perf_counter()
    again = compiled.num_sources >= 4
    until = now + SEARCH_SHARE * (deadline - now) if again else deadline
    found = branch_and_bound(compiled, start, deadline=until)
    if found.finished or not again:
        return found.lower
    best = found.incumbent.split if found.incumbent is not None else split
    return max(found.lower, group_bound(compiled, best, deadline))
