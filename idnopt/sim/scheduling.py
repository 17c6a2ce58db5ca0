"""Per-query schedulers on the online policy contract, and running one over a simulation.

A :class:`Scheduler` is an :class:`idnopt.online.Policy` whose slot is a
query: ``reset(view, rng)`` receives a :class:`SchedulingView` (the system's
arrays and, while a simulation runs, what the query's ingress observes),
``act(query)`` returns the :class:`~idnopt.online.Decision` whose ``served``
holds the chosen target, and ``observe(query, demand, gain)`` - only for
schedulers that ask for feedback - receives the query's class as a one-hot
``demand`` and its success (1 served on time by an accurate model, else 0)
when its answer returns. Feedback is delayed: other queries are decided in
between, as in a real network. The engines call :meth:`Scheduler.choose`
(the target as an ``int``, no allocation) and, for schedulers that read no
state, :meth:`Scheduler.choose_all` (every decision at once, vectorised).

Static schedulers: :class:`Closest` (smallest network round trip),
:class:`LeastLoaded` (smallest reported backlog, the closest among equals),
:class:`Random`, :class:`RoundRobin` (per class), :class:`Cloud`, and
:class:`Weighted` (fixed shares per class, e.g. the flows of a placement);
:class:`ExpectedDelay` (round trip + backlog + service, a stronger heuristic
than ASET's baselines).
Learned schedulers live in :mod:`idnopt.sim.learning`.

What a scheduler may observe (:meth:`SchedulingView.loads`,
:meth:`SchedulingView.delays`, :func:`encode_observation`) is what an ingress
knows: periodic load reports plus the work it sent itself since the last one,
and round-trip delays it measured.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from idnopt.online.policy import Policy
from idnopt.online.problem import Decision
from idnopt.sim.fast import Engine, simulate_decided
from idnopt.sim.outcome import Outcome
from idnopt.sim.system import ServingSystem
from idnopt.sim.workload import Queries

OBSERVATION_CLIP = 4.0
"""Largest value of an observation entry (times are in deadlines of the query's class)."""


def cost_reward(cost: float, deadline: float) -> float:
    """A learner's reward for a request's cost: minus the cost in deadlines, clipped.

    At most :data:`OBSERVATION_CLIP` deadlines are counted; a request not
    answered (``cost`` infinite or ``nan``) gets the clip.

    Parameters
    ----------
    cost : float
        Response time plus any accuracy penalty (ms).
    deadline : float
        The request class's deadline (ms).

    Returns
    -------
    float
        In ``[-OBSERVATION_CLIP, 0]`` for a non-negative cost.
    """
    cost = float(cost)
    if not math.isfinite(cost):
        return -OBSERVATION_CLIP
    return -min(cost / float(deadline), OBSERVATION_CLIP)


class SchedulingView:
    """What a scheduler is told: the system, the queries' classes, and live observations.

    Parameters
    ----------
    system : ServingSystem
        The simulated system.
    queries : Queries
        The queries (a scheduler reads only the class and time of the query it decides).
    engine : Engine, optional
        The running event loop (``None`` when no state is observed).
    """

    kind = "serving"

    def __init__(self, system: ServingSystem, queries: Queries, engine: Engine | None = None):
        self.system = system
        self.queries = queries
        self.engine = engine
        self.horizon = len(queries)
        self.classes = tuple(system.classes.names)
        self.shape = (system.num_targets,)
        self.round_trip = system.round_trip

    def klass(self, query: int) -> int:
        """Request class of ``query``."""
        return int(self.queries.klass[query])

    def loads(self, query: int) -> np.ndarray:
        """Estimated backlog (ms per server) of each target, ``inf`` where it cannot serve."""
        if self.engine is None:
            raise RuntimeError("this scheduler reads loads but was run without observed state")
        return self.engine.loads(query)

    def delays(self, query: int) -> np.ndarray:
        """Measured round-trip network delay (ms) to each target, ``inf`` where it cannot serve."""
        if self.engine is None:
            raise RuntimeError("this scheduler reads delays but was run without observed state")
        return self.engine.delays(query)

    def conditions(self, query: int) -> tuple[float, float]:
        """Conditions the query's device sees at its arrival: ``(network_factor, compute_factor)``.

        The first multiplies the transfer over its access link (nominal over
        current bandwidth), the second the service time on its own device (its
        background load); both are 1 in a system whose conditions do not vary.
        """
        return float(self.queries.network_factor[query]), float(self.queries.compute_factor[query])

    def network(self, klass: int) -> np.ndarray:
        """Mean round-trip network delay (ms) to each target for ``klass`` (``inf``: none)."""
        return self._per_target[0][klass]

    def service(self, klass: int) -> np.ndarray:
        """Single-query service time (ms) at each target for ``klass`` (``inf``: cannot serve)."""
        return self._per_target[1][klass]

    @cached_property
    def _per_target(self) -> tuple[np.ndarray, np.ndarray]:
        """(classes, targets) mean round trips and service times, ``inf`` where none."""
        table = self.system.target_deployment
        valid = table >= 0
        safe = np.where(valid, table, 0)
        rows = np.arange(table.shape[0])[:, None]
        network = np.where(valid, self.round_trip[rows, safe], np.inf)
        service = np.where(valid, self.system.deployments.latency[safe], np.inf)
        network.setflags(write=False)
        service.setflags(write=False)
        return network, service

    def describe(self) -> dict[str, Any]:
        """Sizes for logs."""
        return {
            "queries": self.horizon,
            "classes": len(self.classes),
            "targets": self.system.num_targets,
            "level": self.system.level,
        }


def observation_size(system: ServingSystem) -> int:
    """Length of :func:`encode_observation`'s vector."""
    return 3 * system.num_targets + len(system.classes) + (2 if system.varies else 0)


def encode_observation(view: SchedulingView, query: int) -> np.ndarray:
    """The observation of ``query``'s ingress, in units of the class's deadline.

    Per target: estimated backlog, measured round-trip delay, service time;
    then the one-hot request class; then, in a system whose conditions vary,
    the query's network and compute factors (:meth:`SchedulingView.conditions`).
    Targets that cannot serve the class, and anything longer, read
    :data:`OBSERVATION_CLIP`.
    """
    system = view.system
    klass = view.klass(query)
    deadline = float(system.classes.deadline[klass])
    parts = np.concatenate((view.loads(query), view.delays(query), view.service(klass))) / deadline
    vector = np.zeros(observation_size(system), dtype=np.float32)
    size = parts.size
    vector[:size] = np.minimum(parts, OBSERVATION_CLIP)
    vector[size + klass] = 1.0
    if system.varies:
        network, compute = view.conditions(query)
        vector[-2] = min(network, OBSERVATION_CLIP)
        vector[-1] = min(compute, OBSERVATION_CLIP)
    return vector


class Scheduler(Policy):
    """Base of per-query schedulers (slot = query, decision = target).

    Class attributes :attr:`stateful` (reads loads and delays),
    :attr:`wants_feedback` (learns from outcomes through :meth:`observe`) and
    :attr:`clairvoyant` (reads the engine's exact predictions through
    ``view.engine.predict_end``, which needs queries in flight tracked) tell
    the engines what to provide.
    """

    stateful: ClassVar[bool] = False
    wants_feedback: ClassVar[bool] = False
    clairvoyant: ClassVar[bool] = False

    def reset(self, problem: SchedulingView, rng: np.random.Generator) -> Scheduler:
        """Prepare to schedule the queries of ``problem``."""
        self.view_ = problem
        self.rng_ = rng
        self.prepare()
        return self

    def prepare(self) -> None:
        """Build per-class tables after :meth:`reset` (learned state, names ending ``_``)."""

    def choose(self, query: int) -> int:
        """Target of ``query``."""
        raise NotImplementedError

    def choose_all(self, queries: Queries) -> np.ndarray | None:
        """Every target at once when no state is read (``None``: decide one by one)."""
        return None

    def act(self, slot: int) -> Decision:
        """The decision for query ``slot``: ``served`` is the one-element array of its target."""
        return Decision(served=np.array([self.choose(slot)], dtype=np.int64))

    def observe(self, slot: int, demand: np.ndarray, gain: float) -> Mapping[str, float] | None:
        """Outcome of query ``slot`` (class one-hot, success); static schedulers ignore it."""
        return None

    # -- helpers for subclasses -----------------------------------------------------------
    def _admissible_table(self) -> tuple[np.ndarray, np.ndarray]:
        """(classes, targets) padded table of admissible targets and their counts per class."""
        system = self.view_.system
        lists = [system.admissible(c) for c in range(len(system.classes))]
        width = max((len(a) for a in lists), default=1) or 1
        table = np.zeros((len(lists), width), dtype=np.int64)
        for klass, targets in enumerate(lists):
            table[klass, : len(targets)] = targets
        return table, np.array([max(len(a), 1) for a in lists], dtype=np.int64)


class Closest(Scheduler):
    """The target with the smallest mean network round trip (then the fastest service)."""

    name = "closest"
    summary = "smallest network round trip"

    def __init__(self) -> None:
        pass

    def prepare(self) -> None:  # noqa: D102
        view = self.view_
        best = []
        for klass in range(len(view.system.classes)):
            order = np.lexsort((view.service(klass), view.network(klass)))
            best.append(int(order[0]))
        self.best_ = np.array(best, dtype=np.int64)

    def choose(self, query: int) -> int:  # noqa: D102
        return int(self.best_[self.view_.queries.klass[query]])

    def choose_all(self, queries: Queries) -> np.ndarray:  # noqa: D102
        return self.best_[queries.klass]


class Cloud(Scheduler):
    """Every query to the cloud (with deployment targets: its fastest accurate model there)."""

    name = "cloud"
    summary = "everything to the cloud"

    def __init__(self) -> None:
        pass

    def prepare(self) -> None:  # noqa: D102
        system = self.view_.system
        if system.cloud < 0:
            raise ValueError("the system has no cloud target")
        deployments, classes = system.deployments, system.classes
        best = np.full(len(classes), int(system.cloud), dtype=np.int64)
        if system.level == "deployment":
            for klass in range(len(classes)):
                table = system.target_deployment[klass]
                here = [
                    t
                    for t in np.flatnonzero(table >= 0)
                    if deployments.node[table[t]] == system.cloud_node
                ]
                if here:
                    best[klass] = min(
                        here,
                        key=lambda t, k=klass: (
                            deployments.accuracy[table[t]] < classes.min_accuracy[k] - 1e-12,
                            deployments.latency[table[t]],
                        ),
                    )
        self.best_ = best

    def choose(self, query: int) -> int:  # noqa: D102
        return int(self.best_[self.view_.queries.klass[query]])

    def choose_all(self, queries: Queries) -> np.ndarray:  # noqa: D102
        return self.best_[queries.klass]


class Random(Scheduler):
    """A target drawn uniformly among those that can serve the query's class."""

    name = "random"
    summary = "uniformly random among capable targets"

    def __init__(self) -> None:
        pass

    def prepare(self) -> None:  # noqa: D102
        self.table_, self.counts_ = self._admissible_table()

    def choose(self, query: int) -> int:  # noqa: D102
        klass = self.view_.queries.klass[query]
        pick = int(self.rng_.random() * self.counts_[klass])
        return int(self.table_[klass, pick])

    def choose_all(self, queries: Queries) -> np.ndarray:  # noqa: D102
        draws = self.rng_.random(len(queries))
        counts = self.counts_[queries.klass]
        return self.table_[queries.klass, (draws * counts).astype(np.int64)]


class RoundRobin(Scheduler):
    """Each class cycles through the targets that can serve it."""

    name = "round-robin"
    summary = "cycle through capable targets, per class"

    def __init__(self) -> None:
        pass

    def prepare(self) -> None:  # noqa: D102
        self.table_, self.counts_ = self._admissible_table()
        self.turn_ = np.zeros(len(self.counts_), dtype=np.int64)

    def choose(self, query: int) -> int:  # noqa: D102
        klass = self.view_.queries.klass[query]
        turn = self.turn_[klass]
        self.turn_[klass] = turn + 1
        return int(self.table_[klass, turn % self.counts_[klass]])

    def choose_all(self, queries: Queries) -> np.ndarray:  # noqa: D102
        klass = queries.klass
        rank = np.zeros(len(queries), dtype=np.int64)
        for index in range(len(self.counts_)):
            members = np.flatnonzero(klass == index)
            rank[members] = self.turn_[index] + np.arange(members.size)
            self.turn_[index] += members.size
        return self.table_[klass, rank % self.counts_[klass]]


class LeastLoaded(Scheduler):
    """The smallest estimated backlog (reports plus own dispatches); the closest among equals."""

    name = "least-loaded"
    summary = "smallest reported backlog, closest among equals"
    stateful = True

    def __init__(self) -> None:
        pass

    def prepare(self) -> None:  # noqa: D102
        view = self.view_
        networks = np.array([view.network(c) for c in range(len(view.system.classes))])
        scale = np.nanmax(np.where(np.isfinite(networks), networks, 0.0)) + 1.0
        self.tie_break_ = list(np.where(np.isfinite(networks), networks / scale * 1e-6, 0.0))
        self.klass_ = view.queries.klass.tolist()

    def choose(self, query: int) -> int:  # noqa: D102
        return int((self.view_.loads(query) + self.tie_break_[self.klass_[query]]).argmin())


class ExpectedDelay(Scheduler):
    """The smallest expected response: measured round trip + estimated backlog + service time.

    Not one of ASET's static baselines: a load- and delay-aware heuristic on
    the same information the learned scheduler sees, to tell how much of a
    learned policy's advantage a simple rule already gets.
    """

    name = "expected-delay"
    summary = "smallest round trip + reported backlog + service time"
    stateful = True

    def __init__(self) -> None:
        pass

    def prepare(self) -> None:  # noqa: D102
        view = self.view_
        self.service_ = np.array([view.service(c) for c in range(len(view.system.classes))])

    def choose(self, query: int) -> int:  # noqa: D102
        view = self.view_
        klass = view.queries.klass[query]
        total = view.delays(query) + view.loads(query) + self.service_[klass]
        return int(total.argmin())


class Weighted(Scheduler):
    """Fixed shares of each class over the targets (a static dispatch plan).

    Parameters
    ----------
    weights : numpy.ndarray
        (classes, targets) non-negative shares; a class without weight goes to
        its closest target.
    """

    name = "weighted"
    summary = "fixed shares per class"

    def __init__(self, weights: Any = None) -> None:
        self.weights = weights

    def prepare(self) -> None:  # noqa: D102
        system = self.view_.system
        weights = np.zeros((len(system.classes), system.num_targets))
        if self.weights is not None:
            weights = np.array(self.weights, dtype=float, copy=True)
        if weights.shape != (len(system.classes), system.num_targets):
            raise ValueError(
                f"weights must be (classes, targets) = {(len(system.classes), system.num_targets)}"
                f", not {weights.shape}"
            )
        weights[system.target_deployment < 0] = 0.0
        for klass in np.flatnonzero(weights.sum(axis=1) <= 0):
            view = self.view_
            order = np.lexsort((view.service(klass), view.network(klass)))
            weights[klass, order[0]] = 1.0
        self.cumulative_ = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)

    def choose(self, query: int) -> int:  # noqa: D102
        klass = self.view_.queries.klass[query]
        row = self.cumulative_[klass]
        return int(min(np.searchsorted(row, self.rng_.random(), side="right"), row.size - 1))

    def choose_all(self, queries: Queries) -> np.ndarray:  # noqa: D102
        draws = self.rng_.random(len(queries))
        targets = np.zeros(len(queries), dtype=np.int64)
        for klass in range(self.cumulative_.shape[0]):
            members = np.flatnonzero(queries.klass == klass)
            row = self.cumulative_[klass]
            found = np.searchsorted(row, draws[members], side="right")
            targets[members] = np.minimum(found, row.size - 1)
        return targets


STATIC_SCHEDULERS: dict[str, type[Scheduler]] = {
    cls.name: cls
    for cls in (Closest, LeastLoaded, Random, RoundRobin, Cloud, Weighted, ExpectedDelay)
}
"""Static schedulers by name."""


def simulate(
    system: ServingSystem,
    queries: Queries,
    scheduler: Scheduler,
    rng: np.random.Generator,
    *,
    progress: Callable[[float], None] | None = None,
    vectorised: bool = True,
) -> Outcome:
    """Schedule and simulate every query.

    Parameters
    ----------
    system : ServingSystem
        What is simulated.
    queries : Queries
        Every query, sorted by arrival time.
    scheduler : Scheduler
        Reset here on a :class:`SchedulingView` of ``system`` with ``rng``.
    rng : numpy.random.Generator
        The scheduler's only source of randomness.
    progress : callable, optional
        ``progress(fraction)`` as decisions are made.
    vectorised : bool
        Use :func:`~idnopt.sim.fast.simulate_decided` when the scheduler reads
        no state and wants no feedback (same outcome, much faster).

    Returns
    -------
    Outcome
        Per-query results.
    """
    view = SchedulingView(system, queries)
    scheduler.reset(view, rng)
    if vectorised and not scheduler.stateful and not scheduler.wants_feedback:
        targets = scheduler.choose_all(queries)
        if targets is not None:
            outcome = simulate_decided(system, queries, targets)
            if progress is not None:
                progress(1.0)
            return outcome
    feedback = None
    if scheduler.wants_feedback:
        classes = len(system.classes)

        def feedback(query: int, success: bool) -> None:
            demand = np.zeros(classes)
            demand[queries.klass[query]] = 1.0
            scheduler.observe(query, demand, float(success))

    engine = Engine(
        system,
        queries,
        observe_state=scheduler.stateful,
        feedback=feedback,
        track_inflight=scheduler.clairvoyant,
    )
    view.engine = engine
    return engine.run(scheduler.choose, progress)
