"""Baselines for online IDN allocation: static, periodic re-solve, LFU and LRU caching.

* :class:`StaticAllocation` — serves nothing at the edge during a first window
  of ``window`` slots, then fixes the allocation that is best for that window
  (greedy on its mean demand, or the window's MILP) for the rest of the run.
* :class:`PeriodicResolve` — re-solves the same way every ``window`` slots on
  the demand of the last window. Both are centralised: each re-solve costs one
  message per hop for every class with demand (reports to the repository) and
  per hop to every node whose allocation changes (orders back).
* :class:`LeastFrequentlyUsed` and :class:`LeastRecentlyUsed` — caching at
  each node with what it sees: a request of a class crossing node ``v``
  names the model ``v`` would serve it with (its cheapest candidate there);
  each node keeps the most frequently (LFU) or most recently (LRU) named
  models that fit its budget, taken in that order and skipping those that do
  not fit. No messages.

None of them states a regret bound.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from idnopt.backends import solve_program
from idnopt.errors import InputError
from idnopt.formulations.idn.online.hindsight import greedy_for_mean_demand, hindsight_program
from idnopt.formulations.idn.online.rounding import repair_rows
from idnopt.online import Decision, Policy

WINDOW_METHODS = ("greedy", "milp")
"""How a window's allocation is computed."""


def window_allocation(
    problem, demand: np.ndarray, method: str = "greedy", time_limit: float | None = 10.0
) -> np.ndarray:
    """The allocation best suited to a window of demand (slots, classes).

    Parameters
    ----------
    problem : IdnOnlineProblem
        The problem.
    demand : numpy.ndarray
        The window's demand.
    method : {"greedy", "milp"}
        ``greedy``: largest marginal gain per MB for the window's mean demand;
        ``milp``: the window's best static integral allocation (per-slot caps).
    time_limit : float, optional
        Seconds for the MILP (its incumbent is used when it expires).
    """
    if method not in WINDOW_METHODS:
        raise InputError(
            f"unknown window method {method!r}; choose one of {', '.join(WINDOW_METHODS)}"
        )
    demand = np.atleast_2d(np.asarray(demand, dtype=float))
    if method == "greedy":
        return greedy_for_mean_demand(problem, demand)
    result = solve_program(
        hindsight_program(problem, demand, integral=True), "highs", time_limit=time_limit
    )
    if not result.has_solution:
        return np.zeros(problem.shape)
    return np.round(np.clip(result.value("x"), 0.0, 1.0)) * problem.hostable


class _WindowPolicy(Policy):
    def __init__(
        self, window: int = 10, method: str = "greedy", time_limit: float | None = 10.0
    ) -> None:
        self.window = window
        self.method = method
        self.time_limit = time_limit

    def reset(self, problem, rng: np.random.Generator) -> _WindowPolicy:
        """Start with nothing allocated at the edge."""
        if int(self.window) != self.window or self.window < 1:
            raise InputError(f"window must be a positive number of slots, not {self.window!r}")
        if self.method not in WINDOW_METHODS:
            raise InputError(
                f"unknown window method {self.method!r}; choose one of {', '.join(WINDOW_METHODS)}"
            )
        self.problem_ = problem
        self.allocation_ = np.zeros(problem.shape)
        self.history_ = np.zeros((int(self.window), len(problem.classes)))
        self.seen_ = 0
        self.resolves_ = 0
        return self

    def act(self, slot: int) -> Decision:
        """The current allocation."""
        return Decision(served=self.allocation_.copy())

    def observe(self, slot: int, demand: np.ndarray, gain: float) -> Mapping[str, float]:
        """Record the demand; re-solve at the end of a window when due."""
        window = int(self.window)
        self.history_[self.seen_ % window] = demand
        self.seen_ += 1
        messages = 0
        if self.seen_ % window == 0 and self._due():
            fresh = window_allocation(self.problem_, self.history_, self.method, self.time_limit)
            changed = np.any(fresh != self.allocation_, axis=1)
            active = self.history_.sum(axis=0) > 0
            messages = int(
                self.problem_.class_hops[active].sum() + self.problem_.node_hops[changed].sum()
            )
            self.allocation_ = fresh
            self.resolves_ += 1
        return {"messages": messages}

    def _due(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


class StaticAllocation(_WindowPolicy):
    """The allocation computed once from the first ``window`` slots, kept afterwards.

    Parameters
    ----------
    window : int
        Slots observed before allocating (nothing is cached meanwhile).
    method : {"greedy", "milp"}
        How the window's allocation is computed.
    time_limit : float, optional
        Seconds for the MILP.
    """

    name = "static"
    summary = "allocation of the first window, kept for the rest of the run"

    def _due(self) -> bool:
        return self.resolves_ == 0


class PeriodicResolve(_WindowPolicy):
    """Re-solve every ``window`` slots on the last window's demand.

    Parameters
    ----------
    window : int
        Slots between re-solves (and the demand each one looks at).
    method : {"greedy", "milp"}
        How a window's allocation is computed.
    time_limit : float, optional
        Seconds for each MILP.
    """

    name = "resolve"
    summary = "re-solve (greedy or MILP) every window on the last window's demand"

    def _due(self) -> bool:
        return True


def named_models(problem) -> tuple[np.ndarray, np.ndarray]:
    """For every (class, node on its path), the model the node would serve it with.

    Returns
    -------
    classes, pairs : numpy.ndarray
        One entry per (class, node): the class and the flat (node, model) index
        of its cheapest candidate at that node.
    """
    c = problem.candidates
    nodes = problem.shape[0]
    key = c.request.astype(np.int64) * nodes + c.node
    _, first = np.unique(key, return_index=True)  # candidates are sorted by cost per class
    return c.request[first], c.pair[first]


class _CachingPolicy(Policy):
    def __init__(self) -> None:
        pass

    def reset(self, problem, rng: np.random.Generator) -> _CachingPolicy:
        """Start with empty caches."""
        self.problem_ = problem
        self.classes_, self.pairs_ = named_models(problem)
        self.score_ = np.zeros(problem.size)
        self.allocation_ = np.zeros(problem.shape)
        return self

    def act(self, slot: int) -> Decision:
        """The cached models."""
        return Decision(served=self.allocation_.copy())

    def observe(self, slot: int, demand: np.ndarray, gain: float) -> Mapping[str, float]:
        """Count the requests each node saw for each model; refill the caches."""
        hits = np.bincount(
            self.pairs_, weights=np.asarray(demand)[self.classes_], minlength=self.problem_.size
        )
        self._record(slot, hits)
        score = self.score_.reshape(self.problem_.shape)
        wanted = (score > 0) & self.problem_.hostable
        self.allocation_ = repair_rows(
            wanted.astype(float), self.problem_.sizes, self.problem_.budgets, score
        )
        return {"messages": 0}

    def _record(self, slot: int, hits: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class LeastFrequentlyUsed(_CachingPolicy):
    """Per-node LFU caching: keep the models named most often so far."""

    name = "lfu"
    summary = "each node caches the models its passing requests named most often"

    def _record(self, slot: int, hits: np.ndarray) -> None:
        self.score_ += hits


class LeastRecentlyUsed(_CachingPolicy):
    """Per-node LRU caching: keep the models named most recently (ties: by that slot's count)."""

    name = "lru"
    summary = "each node caches the models its passing requests named most recently"

    def _record(self, slot: int, hits: np.ndarray) -> None:
        named = hits > 0
        if named.any():
            share = hits[named] / (2.0 * hits[named].max())
            self.score_[named] = slot + 1 + share
