"""The cost of offloaded requests, and the lower bound no policy beats (THEORY.md, 2-3)."""

from __future__ import annotations

import numpy as np

from idnopt.formulations.offloading.compiled import OffloadingScenario
from idnopt.sim.outcome import Outcome, penalised_response
from idnopt.sim.workload import Queries


def request_cost(scenario: OffloadingScenario, queries: Queries, outcome: Outcome) -> np.ndarray:
    """Cost (ms) of every request: response time plus the accuracy penalty (``inf`` if dropped)."""
    system = scenario.system
    deployment = np.maximum(outcome.deployment, 0)
    cost = penalised_response(
        outcome.finish - queries.time,
        system.deployments.accuracy[deployment],
        system.classes.min_accuracy[queries.klass],
        scenario.penalty,
    )
    return np.where(outcome.served, cost, np.inf)


def lower_bound(scenario: OffloadingScenario, queries: Queries) -> np.ndarray:
    """Per request, the least cost any target gives it when nothing waits (ms).

    With this request's own draws (service factor, jitter, bandwidth and load
    at its arrival): no policy, however informed, can do better on any
    request, so the mean is a lower bound on every policy's objective.
    """
    system = scenario.system
    klass = queries.klass
    table = system.target_deployment[klass]
    valid = table >= 0
    safe = np.maximum(table, 0)
    rows = klass[:, None]
    deployments = system.deployments
    slow = np.where(deployments.loaded[safe], queries.compute_factor[:, None], 1.0)
    network = queries.network_factor[:, None]
    cost = (
        system.way(False, rows, safe, queries.jitter_up[:, None], network)
        + system.way(True, rows, safe, queries.jitter_down[:, None], network)
        + deployments.latency[safe] * queries.service_factor[:, None] * slow
    )
    cost = penalised_response(
        cost,
        deployments.accuracy[safe],
        system.classes.min_accuracy[klass][:, None],
        scenario.penalty,
    )
    return np.where(valid, cost, np.inf).min(axis=1)
