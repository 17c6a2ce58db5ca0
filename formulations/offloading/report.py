"""An offloading run in the scenario's words: cost, bound, response, accuracy, decisions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from idnopt.formulations.offloading.compiled import OffloadingScenario
from idnopt.formulations.offloading.cost import lower_bound, request_cost
from idnopt.result import Result, Status
from idnopt.sim.metrics import latency_values, summarize
from idnopt.sim.outcome import Outcome, measured_mask
from idnopt.sim.workload import Queries

if TYPE_CHECKING:  # pragma: no cover
    from idnopt.formulations.offloading.simulation import OffloadingSimulationParameters


def summarize_run(
    scenario: OffloadingScenario,
    queries: Queries,
    outcome: Outcome,
    parameters: OffloadingSimulationParameters,
    *,
    policy: str,
    seconds: float = 0.0,
) -> Result:
    """The result of one run: objective, bound, metrics and tables.

    See :mod:`~idnopt.formulations.offloading.simulation` for what they hold.

    ``parameters`` gives the warm-up, the duration and the ``window`` (seconds
    per point of the cost series).
    """
    system = scenario.system
    measured = measured_mask(queries, parameters.warmup_ms)
    count = int(measured.sum())
    if not count:
        return Result(
            status=Status.ERROR,
            method=policy,
            backend="simulation",
            solver="fast engine",
            message="no request arrived after the warm-up",
        )
    cost = request_cost(scenario, queries, outcome)
    bound = lower_bound(scenario, queries)
    response = outcome.finish - queries.time
    deployment = np.maximum(outcome.deployment, 0)
    accuracy = system.deployments.accuracy[deployment]
    floor = system.classes.min_accuracy[queries.klass]
    loss = scenario.best_accuracy[queries.klass] - accuracy
    below = accuracy < floor - 1e-12
    served = measured & outcome.served
    objective = float(cost[measured].mean())
    result = Result(
        status=Status.FEASIBLE if np.isfinite(objective) else Status.ERROR,
        objective=objective if np.isfinite(objective) else None,
        bound=float(bound[measured].mean()),
        method=policy,
        backend="simulation",
        solver="fast engine",
        solve_seconds=seconds,
        message="" if np.isfinite(objective) else "some requests were dropped",
    )
    times = summarize(response[served])
    result.metrics.update(
        {
            "cost_ms": objective,
            "lower_bound_ms": result.bound,
            "cost_over_bound": objective / result.bound if result.bound else float("nan"),
            "response_mean_ms": times["mean"],
            "response_p95_ms": times["p95"],
            "accuracy": float(accuracy[served].mean()),
            "accuracy_loss_points": float(100.0 * loss[served].mean()),
            "below_floor_share": float(below[served].mean()),
            "requests": float(count),
            "dropped": float((measured & ~outcome.served).sum()),
        }
    )
    rows = []
    for index, name in enumerate(system.applications):
        members = served & (system.classes.application[queries.klass] == index)
        if not members.any():
            continue
        stats = summarize(response[members])
        rows.append(
            {
                "application": name,
                "requests": int(members.sum()),
                "cost_ms": float(cost[members].mean()),
                "response_mean_ms": stats["mean"],
                "response_p95_ms": stats["p95"],
                "accuracy": float(accuracy[members].mean()),
                "min_accuracy": float(floor[members][0]),
                "below_floor_share": float(below[members].mean()),
            }
        )
    result.tables["applications"] = rows
    chosen = outcome.target[measured]
    result.tables["decisions"] = [
        {"target": system.targets[target], "share": float(np.mean(chosen == target))}
        for target in range(system.num_targets)
        if np.any(chosen == target)
    ]
    window = 1000.0 * parameters.window
    edges = np.arange(0.0, parameters.duration_ms + window, window)
    series = []
    for begin, end in zip(edges, edges[1:]):
        members = measured & (queries.time >= begin) & (queries.time < end)
        if members.any():
            series.append(
                {
                    "time_s": float(begin / 1000.0),
                    "cost_ms": float(cost[members].mean()),
                    "lower_bound_ms": float(bound[members].mean()),
                    "network_factor": float(queries.network_factor[members].mean()),
                }
            )
    result.tables["cost_over_time"] = series
    application = system.classes.application[queries.klass]
    samples = {
        name: response[served & (application == index)]
        for index, name in enumerate(system.applications)
    }
    result.values.update(latency_values(samples))
    return result
