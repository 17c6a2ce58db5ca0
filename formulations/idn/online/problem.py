r"""The online IDN problem: per-slot gains and supergradients, feasibility, messages.

An :class:`IdnOnlineProblem` is what a learner knows before the first slot:
the instance (its sorted serving candidates), the horizon :math:`T`, the
request classes, the slot length and an upper bound :math:`R_\rho` on every
class's demand per slot (by default the trace's peak; it enters the a-priori
regret bounds only). In slot :math:`t` the demand :math:`r_t` (requests per
slot) arrives and an allocation :math:`y` earns

.. math:: L_t(y) = \sum_\rho \sum_{k<K} (\gamma^{k+1} - \gamma^k)
          \min\Big\{r_{t,\rho}, \sum_{k' \le k} l_t^{k'} y^{k'}\Big\},
          \qquad l_t^k = \min(l^k \tau, r_{t,\rho}),

(:math:`\tau` the slot length, :math:`l^k` the server's throughput), equal to
the gain :math:`G_t(x)` on binary allocations. Its supergradient and the
gain itself are computed for all candidates at once with work arrays reused
between slots (:meth:`IdnOnlineProblem.evaluate`).

Messages: to compute its part of the supergradient, a node needs, for every
request class whose path crosses it, the cost of the class's first candidate
that covers the demand (:math:`\gamma^{K^*}`). Following the paper, the
class's request carries the (cost, capacity) of hosted candidates up the path
to the repository, which returns :math:`\gamma^{K^*}` down the same path:
:meth:`IdnOnlineProblem.messages` counts one message per hop each way for
every class with demand in the slot.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np

from idnopt.errors import InputError
from idnopt.formulations.idn import Candidates, IdnInstance, build_candidates
from idnopt.online import Hindsight, Trace

REACHED_TOLERANCE = 1e-9
"""Relative slack under which a class's cumulative capacity counts as covering its demand."""


def path_hops(instance: IdnInstance) -> tuple[np.ndarray, np.ndarray]:
    """Hops of every request class's path, and of every node's route to the repository.

    Paths are the given ones, or the lowest-latency routes to the repository
    (as the candidates use).

    Returns
    -------
    class_hops : numpy.ndarray
        Per request class: links from its ingress to the repository.
    node_hops : numpy.ndarray
        Per node: links on its lowest-latency route to the repository (0 for
        the repository, 1 when it has no route).
    """
    graph = instance.graph()
    _, routes = nx.single_source_dijkstra(
        graph.reverse(copy=False), instance.repository, weight="latency"
    )
    class_hops = np.array(
        [
            len(request.path) - 1 if request.path is not None else len(routes[request.ingress]) - 1
            for request in instance.requests
        ],
        dtype=np.int64,
    )
    node_hops = np.array(
        [len(routes[name]) - 1 if name in routes else 1 for name in instance.node_names],
        dtype=np.int64,
    )
    return class_hops, node_hops


class IdnOnlineProblem:
    """Online IDN allocation over a horizon (see the module docstring).

    Parameters
    ----------
    instance : IdnInstance
        The network, models and request classes (their rates are not used:
        demand comes from the trace).
    horizon : int
        Number of slots.
    demand_bound : numpy.ndarray, optional
        Upper bound on every class's demand per slot (default: the instance's
        rates times the slot length).
    slot_seconds : float
        Slot length; a server serves at most ``throughput * slot_seconds``
        requests per slot.
    candidates : Candidates, optional
        Reuse already derived candidates of ``instance``.

    Attributes
    ----------
    candidates : Candidates
        Sorted serving candidates.
    classes : tuple of str
        Request class names (trace columns).
    shape : tuple of int
        (nodes, models).
    sizes, budgets, hostable : numpy.ndarray
        Model sizes, node budgets, (node, model) hostability.
    class_hops, node_hops : numpy.ndarray
        Path lengths for message counting.
    """

    kind = "idn"

    def __init__(
        self,
        instance: IdnInstance,
        *,
        horizon: int,
        demand_bound: np.ndarray | None = None,
        slot_seconds: float = 1.0,
        candidates: Candidates | None = None,
    ) -> None:
        if instance.capacity != "per_request":
            raise InputError(
                "online allocation uses the per-request capacity model; "
                f"instance {instance.name or ''!r} has capacity {instance.capacity!r}"
            )
        self.instance = instance
        self.candidates = candidates if candidates is not None else build_candidates(instance)
        c = self.candidates
        self.classes = tuple(c.request_names)
        self.shape = c.shape
        self.horizon = int(horizon)
        self.slot_seconds = float(slot_seconds)
        self.sizes = np.asarray(c.sizes, dtype=float)
        self.budgets = np.asarray(c.budgets, dtype=float)
        self.hostable = np.asarray(c.hostable, dtype=bool)
        bound = c.rate * self.slot_seconds if demand_bound is None else demand_bound
        self.demand_bound = np.asarray(bound, dtype=float)
        if self.demand_bound.shape != (len(self.classes),):
            raise InputError(
                f"demand_bound needs one value per request class ({len(self.classes)}), "
                f"got shape {self.demand_bound.shape}"
            )
        self.class_hops, self.node_hops = path_hops(instance)
        self.slot_throughput = c.throughput * self.slot_seconds
        self.threshold_gap = c.repository_cost[c.request] - c.cost
        counts = np.diff(c.start)
        self._class_first = c.start[:-1]
        self._class_end = c.start[1:]
        self._has_candidates = counts > 0
        size = c.num_candidates
        self._work = {
            name: np.empty(size) for name in ("demand", "capacity", "served", "share", "before")
        }
        self._before_index = np.maximum(c.start[:-1] - 1, 0)
        self._has_before = c.start[:-1] > 0
        self._reached = np.empty(size, dtype=bool)

    # -- what the runner needs ----------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Sizes of the problem."""
        nodes, models = self.shape
        return {
            "kind": self.kind,
            "instance": self.instance.name,
            "nodes": nodes,
            "models": models,
            "classes": len(self.classes),
            "candidates": self.candidates.num_candidates,
            "horizon": self.horizon,
            "slot_seconds": self.slot_seconds,
        }

    def gain(self, decision: np.ndarray, demand: np.ndarray) -> float:
        """:math:`L_t(y)` of ``decision`` for one slot's ``demand``."""
        return self.evaluate(decision, demand)[0]

    def slot_gains(self, decision: np.ndarray, demand: np.ndarray) -> np.ndarray:
        """Gains of a static ``decision`` in every slot of a (slots, classes) ``demand``."""
        demand = np.asarray(demand, dtype=float)
        return np.array([self.evaluate(decision, row)[0] for row in demand])

    def violation(self, decision: np.ndarray) -> float:
        """Largest violation of the box, hostability and budget constraints (0 if feasible).

        Budget excess is relative to the node's budget (at least one unit).
        """
        decision = np.asarray(decision, dtype=float)
        box = max(0.0, -float(decision.min()), float(decision.max()) - 1.0) if decision.size else 0
        outside = float(np.abs(decision[~self.hostable]).max()) if (~self.hostable).any() else 0.0
        excess = (decision @ self.sizes - self.budgets) / np.maximum(self.budgets, 1.0)
        return max(box, outside, float(excess.max(initial=0.0)))

    def hindsight(self, trace: Trace, *, integral: bool = False, **options: Any) -> Hindsight:
        """Best static allocation for ``trace``; see :func:`solve_hindsight`."""
        from idnopt.formulations.idn.online.hindsight import solve_hindsight

        return solve_hindsight(self, trace, integral=integral, **options)

    # -- what IDN policies use ----------------------------------------------------------
    def evaluate(
        self,
        decision: np.ndarray,
        demand: np.ndarray,
        *,
        gradient: np.ndarray | None = None,
    ) -> tuple[float, np.ndarray | None]:
        r"""Gain of ``decision`` for ``demand``, and optionally a supergradient.

        Parameters
        ----------
        decision : numpy.ndarray
            (nodes, models) allocation in [0, 1].
        demand : numpy.ndarray
            Requests of every class in the slot.
        gradient : numpy.ndarray, optional
            (nodes, models) array that receives a supergradient of :math:`L_t` at
            ``decision``: for each class, :math:`K^*` is its first candidate whose
            cumulative capacity covers the demand (the repository if none), and
            candidate :math:`k` adds :math:`l_t^k \max(0, \gamma^{K^*} - \gamma^k)`.

        Returns
        -------
        gain : float
        gradient : numpy.ndarray or None
            The ``gradient`` array, filled.
        """
        c = self.candidates
        work = self._work
        if c.num_candidates == 0:
            if gradient is not None:
                gradient[...] = 0.0
            return 0.0, gradient
        class_demand = np.take(np.asarray(demand, dtype=float), c.request, out=work["demand"])
        capacity = np.minimum(self.slot_throughput, class_demand, out=work["capacity"])
        share = np.take(np.asarray(decision, dtype=float).ravel(), c.pair, out=work["share"])
        np.multiply(capacity, share, out=share)
        cumulative = np.cumsum(share, out=work["served"])
        # restart the running sum at every class: subtract the total before its first candidate
        before = np.where(self._has_before, cumulative[self._before_index], 0.0)
        cumulative -= np.take(before, c.request, out=work["before"])
        reached = np.greater_equal(
            cumulative, class_demand * (1 - REACHED_TOLERANCE) - 1e-12, out=self._reached
        )
        served = np.minimum(cumulative, class_demand, out=share)
        value = float(np.einsum("i,i->", c.gap, served))  # no BLAS threads (see row_loads)
        if gradient is None:
            return value, None
        np.logical_not(reached, out=reached)
        waiting = np.bincount(c.request, weights=reached, minlength=len(self.classes))
        first = self._class_first + waiting.astype(np.int64)
        covered = first < self._class_end
        threshold = c.repository_cost.copy()
        threshold[covered] = c.cost[first[covered]]
        per_candidate = np.take(threshold, c.request, out=work["served"])
        per_candidate -= c.cost
        np.maximum(per_candidate, 0.0, out=per_candidate)
        per_candidate *= capacity
        flat = np.bincount(c.pair, weights=per_candidate, minlength=gradient.size)
        gradient[...] = flat.reshape(gradient.shape)
        return value, gradient

    def supergradient(self, decision: np.ndarray, demand: np.ndarray) -> np.ndarray:
        """A supergradient of :math:`L_t` at ``decision``; see :meth:`evaluate`."""
        return self.evaluate(decision, demand, gradient=np.empty(self.shape))[1]

    def messages(self, demand: np.ndarray) -> int:
        """Messages exchanged on request paths for one distributed supergradient step."""
        return int(2 * self.class_hops[np.asarray(demand) > 0].sum())

    def gradient_bound(self) -> np.ndarray:
        r"""Entry-wise bound on every supergradient over the horizon.

        :math:`G_{v,m} = \sum_{k \to (v,m)} \min(l^k\tau, R_\rho)\,(\gamma^K_\rho - \gamma^k)`,
        since :math:`\gamma^{K^*} \le \gamma^K` and the demand stays below :math:`R`.
        """
        c = self.candidates
        capacity = np.minimum(self.slot_throughput, self.demand_bound[c.request])
        flat = np.bincount(c.pair, weights=capacity * self.threshold_gap, minlength=self.size)
        return flat.reshape(self.shape)

    @property
    def size(self) -> int:
        """Number of (node, model) entries."""
        return int(self.shape[0] * self.shape[1])

    @property
    def learning_rows(self) -> np.ndarray:
        """Nodes with a budget and at least one hostable model (the others stay empty)."""
        return np.flatnonzero((self.budgets > 0) & self.hostable.any(axis=1))


def make_problem(
    instance: IdnInstance,
    trace: Trace,
    *,
    demand_bound: np.ndarray | str | None = "peak",
    candidates: Candidates | None = None,
) -> IdnOnlineProblem:
    """The online problem of ``instance`` for ``trace``.

    Parameters
    ----------
    instance : IdnInstance
        The instance.
    trace : Trace
        Gives the horizon, the slot length and (``demand_bound="peak"``) the
        demand bound used by a-priori regret bounds.
    demand_bound : numpy.ndarray or {"peak"} or None
        ``"peak"``: the trace's largest demand per class; an array; ``None``:
        the instance's rates times the slot length.
    candidates : Candidates, optional
        Already derived candidates.

    Raises
    ------
    InputError
        When the trace's classes are not the instance's request classes.
    """
    problem = IdnOnlineProblem(
        instance,
        horizon=trace.slots,
        slot_seconds=trace.slot_seconds,
        candidates=candidates,
        demand_bound=None if isinstance(demand_bound, str) else demand_bound,
    )
    if tuple(trace.classes) != problem.classes:
        raise InputError(
            "the trace's request classes are not the instance's "
            f"({trace.num_classes} vs {len(problem.classes)}); make the trace from this instance"
        )
    if isinstance(demand_bound, str):
        if demand_bound != "peak":
            raise InputError(f"demand_bound must be 'peak', an array or None, not {demand_bound!r}")
        problem.demand_bound = trace.peak.copy()
    return problem
