"""Metrics of an allocation and its decoding into placement and serving tables."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from idnopt.backends import solve_program
from idnopt.formulations.idn.candidates import Candidates
from idnopt.formulations.idn.gain import serving
from idnopt.formulations.idn.programs import build_program
from idnopt.formulations.idn.schema import IdnInstance
from idnopt.program import Program
from idnopt.result import Result, Status, relative_gap


def evaluate(
    candidates: Candidates, allocation: np.ndarray, served: np.ndarray | None = None
) -> dict[str, float]:
    """Metrics of an allocation under greedy serving (per-request capacity).

    Parameters
    ----------
    candidates : Candidates
        From :func:`build_candidates`.
    allocation : numpy.ndarray
        (nodes, models) allocation.
    served : numpy.ndarray, optional
        Requests/s per candidate (e.g. shared-capacity flows); greedy serving
        with per-request capacity when omitted.

    Returns
    -------
    dict
        ``gain``, ``cost`` (total over requests/s), ``average_latency_ms``,
        ``average_accuracy``, ``served_at_edge`` (fraction of requests not sent
        to the repository) and ``memory_used_mb``.
    """
    if served is None:
        served = serving(candidates, allocation)
    edge_served = np.bincount(candidates.request, weights=served, minlength=len(candidates.rate))
    to_repository = candidates.rate - edge_served
    total_rate = candidates.rate.sum()
    cost = float(served @ candidates.cost + to_repository @ candidates.repository_cost)
    latency = float(served @ candidates.latency + to_repository @ candidates.repository_latency)
    accuracy = float(served @ candidates.accuracy + to_repository @ candidates.repository_accuracy)
    scale = 1.0 / total_rate if total_rate > 0 else 0.0
    return {
        "gain": float(candidates.repository_cost @ candidates.rate) - cost,
        "cost": cost,
        "average_latency_ms": float(latency * scale),
        "average_accuracy": float(accuracy * scale),
        "served_at_edge": float(edge_served.sum() * scale),
        "memory_used_mb": float((np.asarray(allocation) * candidates.sizes[None, :]).sum()),
    }


def decode(
    instance: IdnInstance,
    candidates: Candidates,
    result: Result,
    relaxation: Result | None,
    *,
    time_limit: float | None = None,
) -> Result:
    """Complete a method's result: rounded and pruned allocation, metrics, tables.

    A non-relaxed allocation is rounded to binary, then models that serve no
    request are dropped (the gain is unchanged). Under ``shared`` capacity the
    flows of the allocation are routed by a flow LP when the method gave none.
    The metrics of :func:`evaluate` are added; the LP bound :math:`L^*`, when
    known, gives every method its ratio to the bound and a heuristic its proven
    gap. The ``placement`` table lists hosted (node, model) pairs and the
    ``serving`` table the requests/s each candidate, and the repository, serves.

    Parameters
    ----------
    instance : IdnInstance
        The solved instance.
    candidates : Candidates
        From :func:`~idnopt.formulations.idn.candidates.build_candidates`.
    result : Result
        The method's result, with ``method`` set and the allocation in
        ``values["x"]`` when there is a solution; modified in place.
    relaxation : Result, optional
        The solved LP relaxation, when it was computed.
    time_limit : float, optional
        Seconds for the flow LP of ``shared`` capacity.

    Returns
    -------
    Result
        ``result``, completed (unchanged when it has no allocation).
    """
    if not result.has_solution and "x" not in result.values:
        if result.status == Status.INFEASIBLE and not result.message:
            result.message = "infeasible"
        return result
    allocation = result.value("x")
    if result.method != "relaxation":
        allocation = np.round(allocation)
        result.values["x"] = allocation
    served = None
    if instance.capacity == "shared":
        # route the allocation's flows before pruning: a model that greedy
        # per-request serving leaves idle can still carry flow when capacity is shared
        if "flow" not in result.values:
            fixed = solve_program(
                fix_allocation(build_program(candidates, capacity="shared"), allocation),
                "highs",
                time_limit=time_limit,
            )
            result.values["flow"] = fixed.value("flow")
        served = result.values["flow"]
    if result.method != "relaxation":
        allocation = _prune(candidates, allocation, result.values.get("flow"))
        result.values["x"] = allocation
    metrics = evaluate(candidates, allocation, served)
    if result.objective is None:
        result.objective = metrics["gain"]
    if relaxation is not None and relaxation.has_solution:
        metrics["lp_bound"] = float(relaxation.objective)
        metrics["ratio_to_lp_bound"] = (
            metrics["gain"] / relaxation.objective if relaxation.objective > 0 else 1.0
        )
        if result.bound is None and result.method != "relaxation":
            # L* bounds every allocation's gain: a heuristic's answer gets a proven gap
            result.bound = float(relaxation.objective)
            result.gap = relative_gap(result.objective, result.bound)
    result.metrics.update(metrics)
    placement = []
    for node, model in zip(*np.nonzero(allocation > 1e-9)):
        placement.append(
            {
                "node": candidates.node_names[node],
                "model": candidates.model_names[model],
                "task": instance.models[model].task,
                "memory_mb": float(candidates.sizes[model]),
                "budget_mb": float(candidates.budgets[node]),
                "fraction": float(allocation[node, model]),
            }
        )
    if served is None:
        served = serving(candidates, allocation)
    routing = []
    for c in np.flatnonzero(served > 1e-9):
        routing.append(
            {
                "request": candidates.request_names[candidates.request[c]],
                "node": candidates.node_names[candidates.node[c]],
                "model": candidates.model_names[candidates.model[c]],
                "rate": float(served[c]),
                "latency_ms": float(candidates.latency[c]),
            }
        )
    edge = np.bincount(candidates.request, weights=served, minlength=len(candidates.rate))
    for q in np.flatnonzero(candidates.rate - edge > 1e-9):
        routing.append(
            {
                "request": candidates.request_names[q],
                "node": instance.repository,
                "model": "(repository)",
                "rate": float(candidates.rate[q] - edge[q]),
                "latency_ms": float(candidates.repository_latency[q]),
            }
        )
    result.tables["placement"] = placement
    result.tables["serving"] = routing
    return result


def _prune(candidates: Candidates, allocation: np.ndarray, flows: np.ndarray | None) -> np.ndarray:
    """Drop hosted models that serve no request: the gain is unchanged, memory is freed.

    Under greedy serving a hosted candidate that serves nothing sits behind
    candidates that already cover its class's rate, so removing it changes no
    cumulative capacity that matters; with flows, an unused server carries none.
    """
    served = flows if flows is not None else serving(candidates, allocation)
    used = np.bincount(candidates.pair, weights=served, minlength=allocation.size)
    return np.where(used.reshape(allocation.shape) > 1e-9, allocation, 0.0)


def fix_allocation(program: Program, allocation: np.ndarray) -> Program:
    """Copy of a program with the allocation block ``x`` fixed to ``allocation``.

    Parameters
    ----------
    program : Program
        From :func:`~idnopt.formulations.idn.programs.build_program`.
    allocation : numpy.ndarray
        (nodes, models) allocation.

    Returns
    -------
    Program
        The same program with ``x`` continuous and its bounds set to the allocation.
    """
    fixed = program.copy()
    block = program.variables["x"]
    value = np.asarray(allocation, dtype=float).ravel()
    fixed.variables["x"] = replace(block, lower=value, upper=value, integer=False)
    return fixed
