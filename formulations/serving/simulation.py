"""The serving family's simulation: the static policies and ASET on the fast engine.

Policies (``idnopt simulate FILE --policy NAME``):

* ``closest``, ``least-loaded``, ``random``, ``round-robin``, ``cloud`` - the
  static schedulers of :mod:`idnopt.sim.scheduling`, ASET's baselines;
* ``expected-delay`` - measured round trip + reported backlog + service time,
  a load- and delay-aware heuristic outside ASET's baseline set;
* ``placement`` - fixed shares per class from the flows of the scenario's IDN
  allocation (:mod:`~idnopt.formulations.serving.placement`);
* ``aset`` - a learned scheduler: loaded from ``load_policy``, or trained
  for ``train_steps`` decisions with Stable-Baselines3 (``algorithm``: DQN,
  as ASET, or PPO) on episodes whose queries are drawn with another seed than
  the measured run; saved to ``save_policy`` when asked.

Every policy sees the same queries for one seed (common random numbers). The
result's objective is the on-time-and-accurate ratio of all measured queries;
its tables give it per application with latency percentiles and drops
(``applications``), the busy share of each node (``utilisation``) and the
ratio per window of arrival time (``on_time``); ``values`` holds each
application's latency samples (``latency:<application>``) for CDFs.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
from pydantic import Field

from idnopt.formulations.serving.compiled import Scenario, compile_scenario, draw
from idnopt.formulations.serving.schema import ServingInstance
from idnopt.result import Result, Status
from idnopt.sim.engine import Streams
from idnopt.sim.learning import LearningParameters
from idnopt.sim.metrics import latency_values
from idnopt.sim.outcome import (
    application_metrics,
    measured_mask,
    on_time_series,
    utilisation,
)
from idnopt.sim.scheduling import STATIC_SCHEDULERS, Scheduler, Weighted, simulate

POLICIES = (
    "closest",
    "least-loaded",
    "random",
    "round-robin",
    "cloud",
    "placement",
    "aset",
    "expected-delay",
)
"""Policies of ``idnopt simulate`` on a serving scenario; the first is the default."""

TRAINING_SHARE = 0.9
"""Share of the progress bar given to training when ``aset`` trains before simulating."""


class ServingSimulationParameters(LearningParameters):
    """Options of the serving simulation."""

    load: float = Field(1.0, gt=0, description="multiplies every arrival rate")
    level: Literal["node", "deployment"] = Field(
        "node", description="what a policy chooses: a node (cluster) or a deployment (model)"
    )
    report_interval: float | None = Field(
        None, ge=0, description="ms between load reports (default: the scenario's; 0: exact)"
    )
    window: float = Field(1.0, gt=0, description="seconds per point of the on-time series")
    alpha: float = Field(100.0, ge=0, description="placement: ms of IDN cost per unit of accuracy")


def scheduler_for(
    instance: ServingInstance,
    scenario: Scenario,
    policy: str,
    parameters: ServingSimulationParameters,
) -> tuple[Scheduler, dict[str, float]]:
    """The scheduler of ``policy`` (trained or loaded for ``aset``) and facts about making it."""
    facts: dict[str, float] = {}
    if policy in STATIC_SCHEDULERS:
        return STATIC_SCHEDULERS[policy](), facts
    if policy == "placement":
        from idnopt.formulations.serving.placement import dispatch_shares, solve_placement

        started = time.perf_counter()
        allocation = solve_placement(instance, alpha=parameters.alpha)
        facts["placement_seconds"] = time.perf_counter() - started
        facts["placement_gain"] = float(allocation.objective or 0.0)
        return Weighted(dispatch_shares(scenario, allocation)), facts
    if policy == "aset":
        return _learned(scenario, parameters, facts), facts
    raise ValueError(f"unknown policy {policy!r}")


def make_env(scenario: Scenario, parameters: ServingSimulationParameters):
    """The Gymnasium environment of a scenario at ``load``.

    An episode is ``episode`` seconds of arrivals starting at a random time of
    the run's ``duration``, so that training sees every phase of scheduled
    arrivals (a load that shifts half-way through, a diurnal wave).
    """
    from idnopt.sim.env import ServingEnv

    length = 1000.0 * parameters.episode
    latest = max(parameters.duration_ms - length, 0.0)

    def sample(rng: np.random.Generator):
        start = float(rng.uniform(0.0, latest)) if latest > 0 else 0.0
        seed = int(rng.integers(2**31))
        return draw(scenario, start + length, seed, load=parameters.load, start=start)

    return ServingEnv(scenario.system, sample)


def _learned(scenario: Scenario, parameters: ServingSimulationParameters, facts) -> Scheduler:
    from idnopt.sim.learning import obtain_scheduler

    report = parameters.progress
    return obtain_scheduler(
        lambda: make_env(scenario, parameters),
        scenario.system,
        parameters,
        policy="aset",
        progress=None if report is None else lambda done: report(TRAINING_SHARE * done),
        facts=facts,
    )


def run_simulation(
    instance: ServingInstance, policy: str, parameters: ServingSimulationParameters
) -> Result:
    """Simulate ``instance`` under ``policy`` (the family's :class:`~idnopt.family.Simulation`)."""
    scenario = compile_scenario(
        instance, level=parameters.level, report_interval=parameters.report_interval
    )
    scheduler, facts = scheduler_for(instance, scenario, policy, parameters)
    if "training_seconds" in facts and parameters.progress is not None:
        report = parameters.progress
        parameters = parameters.model_copy(
            update={"progress": lambda done: report(TRAINING_SHARE + (1 - TRAINING_SHARE) * done)}
        )
    return simulate_scenario(scenario, scheduler, parameters, policy=policy, facts=facts)


def simulate_scenario(
    scenario: Scenario,
    scheduler: Scheduler,
    parameters: ServingSimulationParameters,
    *,
    policy: str,
    facts: dict[str, float] | None = None,
) -> Result:
    """Draw the run's queries, simulate them under ``scheduler`` and summarise."""
    system = scenario.system
    duration = parameters.duration_ms
    queries = draw(scenario, duration, parameters.seed, load=parameters.load)
    started = time.perf_counter()
    outcome = simulate(
        system,
        queries,
        scheduler,
        Streams(parameters.seed)("scheduler"),
        progress=parameters.progress,
    )
    seconds = time.perf_counter() - started
    outcome.check_conservation()
    warmup = parameters.warmup_ms
    rows = application_metrics(system, queries, outcome, warmup)
    overall = rows[-1]
    measured = measured_mask(queries, warmup)
    result = Result(
        status=Status.FEASIBLE if overall["queries"] else Status.ERROR,
        objective=overall["on_time_accurate"] if overall["queries"] else None,
        method=policy,
        backend="simulation",
        solver="fast engine",
        solve_seconds=seconds,
        message="" if overall["queries"] else "no query arrived after the warm-up",
    )
    result.metrics.update(
        {
            "on_time_accurate": overall["on_time_accurate"],
            "ci95": overall["ci95"],
            "latency_mean_ms": overall["latency_mean"],
            "latency_p95_ms": overall["latency_p95"],
            "latency_p99_ms": overall["latency_p99"],
            "queries": overall["queries"],
            "dropped": overall["dropped"],
            "queries_per_second": len(queries) / seconds if seconds > 0 else float("nan"),
        }
    )
    result.metrics.update(facts or {})
    result.tables["applications"] = rows
    span = max(duration, float(np.nanmax(outcome.end, initial=duration)))
    result.tables["utilisation"] = [
        {"node": node, "utilisation": share}
        for node, share in utilisation(system, outcome, span).items()
    ]
    series = on_time_series(system, queries, outcome, 1000.0 * parameters.window, duration)
    names = [name for name in series if name != "time"]
    result.tables["on_time"] = [
        {"time_s": float(t), **{name: float(series[name][i]) for name in names}}
        for i, t in enumerate(series["time"])
    ]
    latency = outcome.finish - queries.time
    application = system.classes.application[queries.klass]
    samples = {
        name: latency[measured & outcome.served & (application == index)]
        for index, name in enumerate(system.applications)
    }
    result.values.update(latency_values(samples))
    return result
