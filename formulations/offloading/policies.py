"""Offloading policies: per request, a tier (local, edge, cloud) and a model variant.

Every policy is a :class:`~idnopt.sim.scheduling.Scheduler` whose targets are
the scenario's ``tier/variant`` pairs, and is judged by the cost of each
request: response time plus the penalty for accuracy below the request's
floor (:func:`idnopt.sim.outcome.penalised_response`).

* :class:`Tier` - ``local``, ``edge`` or ``cloud`` always, with the variant
  of least nominal cost there (no load, nominal bandwidth);
* :class:`Fixed` - a fixed target per class (the best static policy in
  hindsight is found among these by :func:`~.simulation.best_static`);
* :class:`Greedy` - the least estimated cost from what the device knows now:
  its current bandwidth and load, the reported backlogs, nominal service times;
* :class:`Oracle` - the least cost with perfect knowledge of the current
  state: the exact queues (queries on their way included), this request's
  service time and network draws. It is the per-request optimum given the
  state, not a bound on what foresight could do; the bound is
  :func:`~.simulation.lower_bound` (no waiting at all);
* :class:`TabularQ` - Q-learning over a discretised state (see its notes),
  learning online from every answer; ``variants="most-accurate"`` restricts
  it to offloading only (the most accurate variant of each tier), the
  learned offloader without model selection that plays the prior state of
  the art in the benchmarks;
* DQN - :func:`idnopt.sim.learning.train_scheduler` on the simulator's
  Gymnasium environment with the ``response`` reward (built in :mod:`.simulation`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from idnopt.errors import InputError
from idnopt.formulations.offloading.compiled import TIERS, OffloadingScenario
from idnopt.online.tabular import QLearning
from idnopt.sim.outcome import penalised_response
from idnopt.sim.scheduling import Scheduler, cost_reward
from idnopt.sim.workload import Queries

NETWORK_BINS = (1.5, 4.0, 12.0)
"""Upper edges of the network-factor bins (nominal over current bandwidth) of the Q-table state."""

LOAD_BINS = (1.25, 2.0)
"""Upper edges of the device-load bins (service-time multiplier)."""

BACKLOG_BINS = (0.1, 0.5)
"""Upper edges of the backlog bins, in deadlines of the request's class."""

Q_TABLE_FORMAT = "idnopt-q-table"


@dataclass(frozen=True, eq=False)
class CostTables:
    """(classes, targets) arrays every offloading policy reads (built once per scenario).

    Attributes
    ----------
    valid : numpy.ndarray
        Whether the class can use the target.
    fixed, scaled : numpy.ndarray
        Round-trip delay (ms, mean jitter included) that does not vary, and the
        transfer time over the access link at nominal bandwidth (scaled by a
        request's network factor).
    service : numpy.ndarray
        Nominal service time (ms; ``inf`` where not valid).
    loaded : numpy.ndarray
        Whether the service time is scaled by the device's load.
    penalty : numpy.ndarray
        Accuracy penalty (ms; ``inf`` where not valid).
    """

    valid: np.ndarray
    fixed: np.ndarray
    scaled: np.ndarray
    service: np.ndarray
    loaded: np.ndarray
    penalty: np.ndarray

    def nominal(self) -> np.ndarray:
        """Cost with nominal conditions and no waiting (``inf``: cannot serve)."""
        return self.fixed + self.scaled + self.service + self.penalty


def cost_tables(scenario: OffloadingScenario) -> CostTables:
    """The :class:`CostTables` of ``scenario``."""
    system = scenario.system
    table = system.target_deployment
    valid = table >= 0
    safe = np.maximum(table, 0)
    classes = np.arange(len(system.classes))[:, None]
    deployments = system.deployments
    penalty = penalised_response(
        0.0,
        deployments.accuracy[safe],
        system.classes.min_accuracy[:, None],
        scenario.penalty,
    )
    return CostTables(
        valid=valid,
        fixed=np.where(valid, system.round_trip[classes, safe], 0.0),
        scaled=np.where(valid, (system.transfer_up + system.transfer_down)[classes, safe], 0.0),
        service=np.where(valid, deployments.latency[safe], np.inf),
        loaded=np.where(valid, deployments.loaded[safe], False),
        penalty=np.where(valid, penalty, np.inf),
    )


class PerClass(Scheduler):
    """A static policy: one target per class, ``best_``, set by ``prepare``."""

    def choose(self, query: int) -> int:  # noqa: D102
        return int(self.best_[self.view_.queries.klass[query]])

    def choose_all(self, queries: Queries) -> np.ndarray:  # noqa: D102
        return self.best_[queries.klass]


class Tier(PerClass):
    """Every request to one tier, with the variant of least nominal cost there.

    Parameters
    ----------
    scenario : OffloadingScenario
        The compiled scenario.
    tier : {"local", "edge", "cloud"}
        Where every request goes.
    """

    summary = "always one tier, its variant of least nominal cost"

    def __init__(self, scenario: OffloadingScenario, tier: str = "local") -> None:
        self.scenario = scenario
        self.tier = tier

    @property
    def name(self) -> str:  # type: ignore[override]
        """``always-<tier>``."""
        return f"always-{self.tier}"

    def prepare(self) -> None:  # noqa: D102
        if self.tier not in TIERS:
            raise ValueError(f"tier must be one of {TIERS}, not {self.tier!r}")
        self.costs_ = cost_tables(self.scenario)
        cost = np.where(
            self.scenario.target_tier == TIERS.index(self.tier), self.costs_.nominal(), np.inf
        )
        if not np.isfinite(cost.min(axis=1)).all():
            missing = np.flatnonzero(~np.isfinite(cost.min(axis=1)))[0]
            raise InputError(
                f"class {self.view_.system.classes.names[missing]!r} has no variant at the "
                f"{self.tier} tier"
            )
        self.best_ = cost.argmin(axis=1)


class Fixed(PerClass):
    """A fixed target per class.

    Parameters
    ----------
    targets : sequence of int
        Target of each class.
    """

    name = "fixed"
    summary = "a fixed target per class"

    def __init__(self, targets: Any = ()) -> None:
        self.targets = targets

    def prepare(self) -> None:  # noqa: D102
        self.best_ = np.asarray(self.targets, dtype=np.int64)
        if self.best_.shape != (len(self.view_.system.classes),):
            raise ValueError("give one target per class")


class Greedy(Scheduler):
    """The least estimated cost: current bandwidth and load, reported backlog, nominal service."""

    name = "greedy"
    summary = "least cost estimated from current conditions and reported backlogs"
    stateful = True

    def __init__(self, scenario: OffloadingScenario) -> None:
        self.scenario = scenario

    def prepare(self) -> None:  # noqa: D102
        self.costs_ = cost_tables(self.scenario)

    def estimate(self, query: int) -> np.ndarray:
        """Estimated cost of every target for ``query``."""
        view = self.view_
        klass = view.queries.klass[query]
        network, compute = view.conditions(query)
        service = self.costs_.service[klass] * np.where(self.costs_.loaded[klass], compute, 1.0)
        return (
            self.costs_.fixed[klass]
            + network * self.costs_.scaled[klass]
            + view.loads(query)
            + service
            + self.costs_.penalty[klass]
        )

    def choose(self, query: int) -> int:  # noqa: D102
        return int(self.estimate(query).argmin())


class Oracle(Scheduler):
    """The least cost with perfect knowledge of the current state (see the module notes)."""

    name = "oracle"
    summary = "per-request optimum with perfect knowledge of the current state"
    stateful = True
    clairvoyant = True

    def __init__(self, scenario: OffloadingScenario) -> None:
        self.scenario = scenario

    def prepare(self) -> None:  # noqa: D102
        self.costs_ = cost_tables(self.scenario)
        self.time_ = self.view_.queries.time

    def choose(self, query: int) -> int:  # noqa: D102
        engine = self.view_.engine
        klass = self.view_.queries.klass[query]
        best, best_cost = -1, np.inf
        for target in np.flatnonzero(self.costs_.valid[klass]):
            index = int(self.view_.system.target_deployment[klass, target])
            response = engine.predict_finish(query, index) - self.time_[query]
            cost = response + self.costs_.penalty[klass, target]
            if cost < best_cost:
                best, best_cost = int(target), cost
        return best


def bin_index(value: float, edges: tuple[float, ...]) -> int:
    """Index of the bin of ``value`` given increasing upper edges."""
    for position, edge in enumerate(edges):
        if value <= edge:
            return position
    return len(edges)


class TabularQ(Scheduler):
    """Q-learning over a discretised state, learning online from every answer.

    State: the request's class (its device and accuracy floor), its access
    link's bandwidth (:data:`NETWORK_BINS` of the network factor), its
    device's load (:data:`LOAD_BINS`), and the reported backlogs of its
    device and of the edge (:data:`BACKLOG_BINS`, in deadlines of the class).
    Action: a target. Reward: minus the request's cost in deadlines of its
    class, known when its answer returns. Each request is its own episode
    (discount 0): a decision changes later states only through the backlogs
    the state already shows, and requests of several devices interleave, so
    there is no "next state" of a decision to bootstrap from (see THEORY.md).
    Exploration and learning rate:
    :class:`~idnopt.online.tabular.QLearning` (epsilon decays from 1 over
    ``exploration_steps`` decisions to ``final_epsilon``; step ``1/(1+n)^0.8``
    per entry). ``explore=False`` acts greedily (and keeps learning).

    Parameters
    ----------
    scenario : OffloadingScenario
        The compiled scenario.
    variants : {"all", "most-accurate"}
        Actions: every target, or the most accurate variant of each tier only.
    final_epsilon, exploration_steps : float
        Learning settings (see :class:`~idnopt.online.tabular.QLearning`).
    explore : bool
        Explore (training) or act greedily (measured runs).
    """

    name = "q-learning"
    summary = "tabular Q-learning over a discretised state"
    stateful = True
    wants_feedback = True

    def __init__(
        self,
        scenario: OffloadingScenario,
        *,
        variants: str = "all",
        final_epsilon: float = 0.02,
        exploration_steps: float = 5_000.0,
        explore: bool = True,
    ) -> None:
        self.scenario = scenario
        self.variants = variants
        self.final_epsilon = final_epsilon
        self.exploration_steps = exploration_steps
        self.explore = explore

    def state_count(self) -> int:
        """Number of discrete states."""
        classes = len(self.scenario.system.classes)
        backlog = len(BACKLOG_BINS) + 1
        return classes * (len(NETWORK_BINS) + 1) * (len(LOAD_BINS) + 1) * backlog * backlog

    def prepare(self) -> None:  # noqa: D102
        scenario = self.scenario
        system = scenario.system
        self.costs_ = cost_tables(scenario)
        allowed = self.costs_.valid.copy()
        if self.variants == "most-accurate":
            accuracy = np.where(
                self.costs_.valid,
                system.deployments.accuracy[np.maximum(system.target_deployment, 0)],
                -1,
            )
            for klass in range(len(system.classes)):
                for tier in range(len(TIERS)):
                    here = np.flatnonzero((scenario.target_tier == tier) & self.costs_.valid[klass])
                    if here.size:
                        keep = here[accuracy[klass, here].argmax()]
                        allowed[klass, here] = False
                        allowed[klass, keep] = True
        elif self.variants != "all":
            raise ValueError(f"variants must be 'all' or 'most-accurate', not {self.variants!r}")
        self.allowed_ = [np.flatnonzero(row) for row in allowed]
        learner = getattr(self, "learner_", None)
        shape = (self.state_count(), system.num_targets)
        if learner is None or learner.q_.shape != shape:
            learner = self._new_learner(shape, self.rng_)
            self.learner_ = learner
        learner.rng_ = self.rng_
        # per class, one local and one edge target it can use (a tier's variants share a pool)
        self.local_ = self._first_usable(scenario.tier_targets("local"))
        self.edge_ = self._first_usable(scenario.tier_targets("edge"))
        self.pending_: dict[int, tuple[int, int]] = {}

    def _first_usable(self, targets: np.ndarray) -> list[int]:
        """Per class, the first of ``targets`` it can use (``-1``: none)."""
        first = []
        for row in self.costs_.valid:
            usable = targets[row[targets]] if targets.size else targets
            first.append(int(usable[0]) if usable.size else -1)
        return first

    def state(self, query: int) -> int:
        """Discrete state of ``query``."""
        view = self.view_
        klass = int(view.queries.klass[query])
        network, compute = view.conditions(query)
        deadline = float(view.system.classes.deadline[klass])
        loads = view.loads(query) / deadline
        local, at_edge = self.local_[klass], self.edge_[klass]
        own = bin_index(float(loads[local]), BACKLOG_BINS) if local >= 0 else 0
        edge = bin_index(float(loads[at_edge]), BACKLOG_BINS) if at_edge >= 0 else 0
        backlog = len(BACKLOG_BINS) + 1
        state = klass
        state = state * (len(NETWORK_BINS) + 1) + bin_index(network, NETWORK_BINS)
        state = state * (len(LOAD_BINS) + 1) + bin_index(compute, LOAD_BINS)
        return (state * backlog + own) * backlog + edge

    def choose(self, query: int) -> int:  # noqa: D102
        state = self.state(query)
        allowed = self.allowed_[self.view_.queries.klass[query]]
        if self.explore:
            action = self.learner_.act(state, allowed)
        else:
            action = self.learner_.greedy(state, allowed)
        self.pending_[query] = (state, action)
        return action

    def observe(self, slot: int, demand: np.ndarray, gain: float) -> None:  # noqa: D102
        state, action = self.pending_.pop(slot)
        view = self.view_
        klass = int(view.queries.klass[slot])
        response = view.engine.response(slot)
        cost = response + self.costs_.penalty[klass, action]  # nan when not served
        reward = cost_reward(cost, view.system.classes.deadline[klass])
        self.learner_.update(state, action, reward)
        return None

    def _new_learner(self, shape: tuple[int, int], rng: np.random.Generator) -> QLearning:
        """An untrained learner of this policy's settings (discount 0, ``THEORY.md`` §5)."""
        return QLearning(
            *shape,
            discount=0.0,
            final_epsilon=self.final_epsilon,
            exploration_steps=self.exploration_steps,
        ).reset(rng)

    def to_file(self, path: str | Path) -> Path:
        """Write the Q-table and what it was learned for (``.npz``, atomically)."""
        from idnopt.sim.learning import write_npz

        system = self.scenario.system
        metadata = {
            "format": Q_TABLE_FORMAT,
            "targets": list(system.targets),
            "classes": list(system.classes.names),
            "variants": self.variants,
            "decisions": int(self.learner_.decisions_),
        }
        return write_npz(
            path,
            q=self.learner_.q_,
            visits=self.learner_.visits_,
            metadata=np.array(json.dumps(metadata)),
        )

    def load(self, path: str | Path) -> TabularQ:
        """Read a Q-table written by :meth:`to_file` for this scenario."""
        from idnopt.sim.learning import check_compatible

        path = Path(path)
        if not path.is_file():
            raise InputError("policy file not found", path=path)
        try:
            with np.load(path, allow_pickle=False) as data:
                metadata = json.loads(str(data["metadata"]))
                q, visits = data["q"], data["visits"]
        except (OSError, ValueError, KeyError):
            raise InputError("not a Q-table file written by idnopt (.npz)", path=path) from None
        if metadata.get("format") != Q_TABLE_FORMAT:
            raise InputError(f"not a Q-table file (format {metadata.get('format')!r})", path=path)
        check_compatible(metadata, self.scenario.system, where=str(path))
        if metadata.get("variants", self.variants) != self.variants:
            raise InputError(
                f"the Q-table was learned with variants {metadata.get('variants')!r}; this "
                f"policy uses {self.variants!r}",
                path=path,
            )
        if q.shape != (self.state_count(), self.scenario.system.num_targets):
            raise InputError(
                f"the Q-table has shape {q.shape}; this scenario's states x targets are "
                f"{(self.state_count(), self.scenario.system.num_targets)}",
                path=path,
            )
        learner = self._new_learner(q.shape, np.random.default_rng(0))
        learner.q_[:] = q
        learner.visits_[:] = visits
        learner.decisions_ = int(metadata.get("decisions", 0))
        self.learner_ = learner
        return self
