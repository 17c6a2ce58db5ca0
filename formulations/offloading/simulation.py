"""The offloading family's simulation: every policy on the serving engine, with its cost.

Policies (``idnopt simulate FILE --policy NAME``): ``q-learning`` (default),
``dqn``, ``offload-only`` (Q-learning without model selection), ``greedy``,
``always-local``, ``always-edge``, ``always-cloud``, ``best-static`` (the
fixed target per class of least cost on this very run, found in hindsight)
and ``oracle`` (per-request optimum with perfect knowledge of the state).

Learned policies train first for ``train_steps`` decisions on runs drawn with
another seed (episodes of ``episode`` seconds at random times of the
``duration``), or are read from ``load_policy``; the measured run then acts
greedily (Q-learning keeps updating its table from every answer).

The result's objective is the mean cost of the measured requests (response
time plus ``accuracy_penalty`` ms per accuracy point below the request's
floor; lower is better); its bound is :func:`lower_bound`, the mean over
requests of the least cost any target could give them if nothing waited, so
``objective / bound`` tells how far any policy is from perfect. Metrics give
the mean and p95 response time, the mean accuracy, the accuracy loss (mean
points below the most accurate variant the request could have had) and the
share of requests below their floor; tables give them per application, the
share of decisions per target, the cost over time, and for learned policies
the cost and accuracy over training.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from idnopt.formulations.offloading.compiled import OffloadingScenario, compile_offloading, draw
from idnopt.formulations.offloading.cost import lower_bound, request_cost
from idnopt.formulations.offloading.policies import (
    Fixed,
    Greedy,
    Oracle,
    TabularQ,
    Tier,
    cost_tables,
)
from idnopt.formulations.offloading.report import summarize_run
from idnopt.formulations.offloading.schema import OffloadingInstance
from idnopt.result import Result
from idnopt.sim.engine import Streams
from idnopt.sim.learning import TRAINING_SEED_OFFSET, LearningParameters
from idnopt.sim.outcome import Outcome, measured_mask
from idnopt.sim.scheduling import Scheduler, simulate
from idnopt.sim.workload import Queries

if TYPE_CHECKING:  # pragma: no cover
    from idnopt.sim.env import ServingEnv

POLICIES = (
    "q-learning",
    "dqn",
    "offload-only",
    "greedy",
    "always-local",
    "always-edge",
    "always-cloud",
    "best-static",
    "oracle",
)
"""Policies of ``idnopt simulate`` on an offloading scenario; the first is the default."""

LEARNED = ("q-learning", "dqn", "offload-only")
TRAINING_SHARE = 0.9


class OffloadingSimulationParameters(LearningParameters):
    """Options of the offloading simulation."""

    load: float = Field(1.0, gt=0, description="multiplies every arrival rate (users)")
    episode: float = Field(60.0, gt=0, description="seconds of arrivals per training episode")
    exploration_steps: float = Field(
        5_000.0, gt=0, description="q-learning: decisions per e-fold decay of exploration"
    )
    final_epsilon: float = Field(0.02, ge=0, le=1, description="q-learning: final exploration")
    window: float = Field(10.0, gt=0, description="seconds per point of the cost series")


def run_policy(
    scenario: OffloadingScenario,
    scheduler: Scheduler,
    queries: Queries,
    seed: int,
    progress: Callable[[float], None] | None = None,
) -> Outcome:
    """Simulate ``queries`` under ``scheduler`` and check conservation."""
    outcome = simulate(
        scenario.system, queries, scheduler, Streams(seed)("scheduler"), progress=progress
    )
    outcome.check_conservation()
    return outcome


def best_static(
    scenario: OffloadingScenario, queries: Queries, seed: int, warmup: float
) -> tuple[np.ndarray, dict[str, float]]:
    """The best fixed target per class on these queries, found in hindsight.

    Every target is simulated for every class that can use it at once (one
    run per target; a class that cannot use it takes its target of least
    nominal cost meanwhile). Each class takes the target of least mean cost
    in those runs, and that combination is kept if it beats the best of the
    per-target runs themselves (classes share the edge and the cloud, so the
    combination is simulated again to know). A heuristic search over static
    policies, exact for classes that share no server.
    """
    system = scenario.system
    measured = measured_mask(queries, warmup)
    classes = len(system.classes)
    fallback = cost_tables(scenario).nominal().argmin(axis=1)
    means = np.full((classes, system.num_targets), np.inf)
    runs: list[tuple[float, np.ndarray]] = []
    for target in range(system.num_targets):
        valid = system.target_deployment[:, target] >= 0
        if not valid.any():
            continue
        choice = np.where(valid, target, fallback)
        cost = request_cost(scenario, queries, run_policy(scenario, Fixed(choice), queries, seed))
        runs.append((float(cost[measured].mean()) if measured.any() else np.inf, choice))
        for klass in np.flatnonzero(valid):
            members = measured & (queries.klass == klass)
            if members.any():
                means[klass, target] = cost[members].mean()
    per_class = np.where(np.isfinite(means).any(axis=1), means.argmin(axis=1), fallback)
    combined = request_cost(
        scenario, queries, run_policy(scenario, Fixed(per_class), queries, seed)
    )
    combined_mean = combined[measured].mean() if measured.any() else np.inf
    facts = {"static_runs": float(len(runs) + 1)}
    best_mean, best_choice = min(runs, key=lambda run: run[0], default=(np.inf, per_class))
    if best_mean < combined_mean:
        return best_choice, facts
    return per_class, facts


def make_env(
    scenario: OffloadingScenario, parameters: OffloadingSimulationParameters
) -> ServingEnv:
    """The Gymnasium environment: episodes at random times of the run, ``response`` reward."""
    from idnopt.sim.env import ServingEnv  # gymnasium is imported only here

    def sample(rng: np.random.Generator) -> Queries:
        return draw_episode(scenario, parameters, rng)

    return ServingEnv(scenario.system, sample, reward="response", accuracy_penalty=scenario.penalty)


def draw_episode(
    scenario: OffloadingScenario,
    parameters: OffloadingSimulationParameters,
    rng: np.random.Generator,
) -> Queries:
    """The requests of one training episode: ``parameters.episode`` seconds at a random time.

    Parameters
    ----------
    scenario : OffloadingScenario
        The compiled scenario.
    parameters : OffloadingSimulationParameters
        Run length, episode length and load.
    rng : numpy.random.Generator
        Draws the episode's start and its seed (two draws, in that order).

    Returns
    -------
    Queries
        The episode's requests, with the conditions at their arrivals.
    """
    length = 1000.0 * parameters.episode
    latest = max(parameters.duration_ms - length, 0.0)
    start = float(rng.uniform(0.0, latest)) if latest > 0 else 0.0
    seed = int(rng.integers(2**31))
    return draw(scenario, start + length, seed, load=parameters.load, start=start)


def train_tabular(
    scenario: OffloadingScenario,
    scheduler: TabularQ,
    parameters: OffloadingSimulationParameters,
    steps: int,
    progress: Callable[[float], None] | None = None,
) -> list[dict[str, float]]:
    """Train ``scheduler`` for about ``steps`` decisions on episodes of other seeds.

    Returns one row per episode: decisions so far, mean cost, mean response
    and mean accuracy of the episode (the learning curve).
    """
    rng = np.random.default_rng(parameters.seed + TRAINING_SEED_OFFSET)
    scheduler.explore = True
    done, curve = 0, []
    while done < steps:
        queries = draw_episode(scenario, parameters, rng)
        if len(queries) > steps - done:
            queries = queries.head(steps - done)
        if not len(queries):
            continue
        outcome = run_policy(scenario, scheduler, queries, int(rng.integers(2**31)))
        done += len(queries)
        cost = request_cost(scenario, queries, outcome)
        accuracy = scenario.system.deployments.accuracy[np.maximum(outcome.deployment, 0)]
        curve.append(
            {
                "decisions": float(done),
                "cost_ms": float(np.mean(np.minimum(cost, 1e9))),
                "response_ms": float(np.nanmean(outcome.finish - queries.time)),
                "accuracy": float(accuracy.mean()),
            }
        )
        if progress is not None:
            progress(min(done / steps, 1.0))
    scheduler.explore = False
    return curve


def scheduler_for(
    scenario: OffloadingScenario,
    policy: str,
    parameters: OffloadingSimulationParameters,
    queries: Queries,
) -> tuple[Scheduler, dict[str, float], list[dict[str, float]]]:
    """The scheduler of ``policy`` (trained, loaded or found), facts and a learning curve."""
    facts: dict[str, float] = {}
    if policy.startswith("always-"):
        return Tier(scenario, policy.removeprefix("always-")), facts, []
    if policy == "greedy":
        return Greedy(scenario), facts, []
    if policy == "oracle":
        return Oracle(scenario), facts, []
    if policy == "best-static":
        started = time.perf_counter()
        targets, facts = best_static(scenario, queries, parameters.seed, parameters.warmup_ms)
        facts["search_seconds"] = time.perf_counter() - started
        return Fixed(targets), facts, []
    if policy not in LEARNED:
        raise ValueError(f"unknown policy {policy!r}")
    steps = parameters.training_steps()
    report = parameters.progress
    training = None if report is None else (lambda done: report(TRAINING_SHARE * done))
    if policy == "dqn":
        scheduler = _deep(scenario, parameters, training, facts)
        curve = (scheduler.metadata or {}).get("curve", []) if steps else []
        return scheduler, facts, [{k: v for k, v in row.items() if k != "queries"} for row in curve]
    variants = "most-accurate" if policy == "offload-only" else "all"
    scheduler = TabularQ(
        scenario,
        variants=variants,
        final_epsilon=parameters.final_epsilon,
        exploration_steps=parameters.exploration_steps,
    )
    if parameters.load_policy is not None:
        scheduler.load(parameters.load_policy)
    curve: list[dict[str, float]] = []
    if steps:
        started = time.perf_counter()
        curve = train_tabular(scenario, scheduler, parameters, steps, training)
        facts["training_seconds"] = time.perf_counter() - started
        facts["training_steps"] = float(steps)
    elif parameters.load_policy is None:
        from idnopt.errors import InputError

        raise InputError(f"policy {policy!r} needs train_steps > 0 or a load_policy file")
    scheduler.explore = False
    if parameters.save_policy is not None:
        scheduler.to_file(parameters.save_policy)
    return scheduler, facts, curve


def _deep(scenario, parameters, training, facts) -> Scheduler:
    from idnopt.sim.learning import obtain_scheduler

    return obtain_scheduler(
        lambda: make_env(scenario, parameters),
        scenario.system,
        parameters,
        policy="dqn",
        progress=training,
        facts=facts,
    )


def run_simulation(
    instance: OffloadingInstance, policy: str, parameters: OffloadingSimulationParameters
) -> Result:
    """Simulate ``instance`` under ``policy`` (the family's :class:`~idnopt.family.Simulation`)."""
    scenario = compile_offloading(instance)
    queries = draw(scenario, parameters.duration_ms, parameters.seed, load=parameters.load)
    scheduler, facts, curve = scheduler_for(scenario, policy, parameters, queries)
    progress = parameters.progress
    if progress is not None and "training_seconds" in facts:
        report = progress

        def progress(done: float) -> None:
            report(TRAINING_SHARE + (1 - TRAINING_SHARE) * done)

    started = time.perf_counter()
    outcome = run_policy(scenario, scheduler, queries, parameters.seed, progress)
    seconds = time.perf_counter() - started
    result = summarize_run(scenario, queries, outcome, parameters, policy=policy, seconds=seconds)
    result.metrics.update(facts)
    if curve:
        result.tables["training"] = curve
    return result


__all__ = [
    "POLICIES",
    "OffloadingSimulationParameters",
    "best_static",
    "lower_bound",
    "make_env",
    "request_cost",
    "run_simulation",
    "scheduler_for",
    "summarize_run",
    "train_tabular",
]
