"""Unreachable accuracy targets: the best accuracy any plan can reach, and why.

When no plan meets the target, a second MILP maximises the accuracy subject to
the rates, capacities and tier order (no cost); the result's message names the
best reachable accuracy and its combination, and the best accuracy in the table
when capacity is what prevents it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from idnopt.backends import solve_program
from idnopt.formulations.jellybean.compiled import CompiledWorkflow, compile_workflow
from idnopt.formulations.jellybean.program import MIP_GAP, build_program
from idnopt.formulations.jellybean.schema import JellyBeanInstance
from idnopt.result import Result, Status


def best_reachable_combination(
    workflow: CompiledWorkflow,
    backend: str = "highs",
    time_limit: float | None = None,
    **options: Any,
) -> tuple[float | None, list[int] | None]:
    """Highest accuracy any plan reaches under the rates, capacities and tier order.

    Parameters
    ----------
    workflow : CompiledWorkflow
        The compiled instance.
    backend : {"highs", "pyomo", "cvxpy"}
        Backend of the accuracy-maximising MILP.
    time_limit : float, optional
        Seconds for the solver.
    **options
        Passed to :func:`idnopt.backends.solve_program` (``mip_gap`` defaults
        to :data:`MIP_GAP`).

    Returns
    -------
    tuple
        ``(accuracy, variant index per operator)``; ``(None, None)`` when no
        combination can serve the rates.
    """
    options.setdefault("mip_gap", MIP_GAP)
    program = build_program(workflow, "flows", 0.0, objective="accuracy")
    result = solve_program(program, backend, time_limit=time_limit, explain=False, **options)
    if not result.has_solution:
        return None, None
    x = result.value("x")
    offset = workflow.variant_offset
    combo = [int(np.argmax(x[offset[v] : offset[v + 1]])) for v in range(workflow.num_operators)]
    return workflow.accuracy_of(combo), combo


def explain_infeasible(
    workflow: CompiledWorkflow,
    result: Result,
    target: float,
    backend: str,
    time_limit: float | None,
    **options: Any,
) -> Result:
    """Name the best reachable accuracy in an infeasible result (in place).

    Parameters
    ----------
    workflow : CompiledWorkflow
        The compiled instance.
    result : Result
        The infeasible result; its status, message and metrics are set.
    target : float
        The accuracy target that was not met.
    backend : str
        Backend of the accuracy-maximising MILP.
    time_limit : float, optional
        Seconds for the solver.
    **options
        Passed to :func:`best_reachable_combination`.

    Returns
    -------
    Result
        ``result`` itself, status ``infeasible``, with metrics
        ``best_reachable_accuracy`` and ``best_table_accuracy``.
    """
    best, combo = best_reachable_combination(workflow, backend, time_limit, **options)
    best_table = workflow.best_table_accuracy()
    result.status = Status.INFEASIBLE
    result.objective = result.bound = result.gap = None
    result.metrics.update(
        {"target": target, "best_reachable_accuracy": best, "best_table_accuracy": best_table}
    )
    if best is None:
        rates = ", ".join(
            f"{op} {rate:g} req/s" for op, rate in zip(workflow.operators, workflow.rate)
        )
        result.message = (
            "infeasible at any accuracy: the workers cannot sustain the rates "
            f"({rates}) with any combination under the tier order"
        )
    elif best < target - 1e-12:
        result.message = (
            f"accuracy target {target:g} is unreachable: the best reachable accuracy is "
            f"{best:.6g} ({workflow.combination_text(combo)})"
        )
        if best_table > best + 1e-12:
            result.message += (
                f"; the best combination known, at {best_table:.6g}, needs more capacity "
                "than the workers offer"
            )
        result.metrics["best_combination"] = workflow.combination_text(combo)
    else:  # pragma: no cover - the two programs share every constraint but the target
        result.message = f"infeasible although accuracy {best:.6g} is reachable: {result.message}"
    return result


def best_reachable_accuracy(
    instance: JellyBeanInstance, *, backend: str = "highs", time_limit: float | None = None
) -> tuple[float | None, dict[str, str] | None]:
    """Highest end-to-end accuracy any plan reaches with the instance's workers and rates.

    Parameters
    ----------
    instance : JellyBeanInstance
        A validated instance.
    backend : {"highs", "pyomo", "cvxpy"}
        Backend of the accuracy-maximising MILP.
    time_limit : float, optional
        Seconds for the solver.

    Returns
    -------
    tuple
        ``(accuracy, combination)``; ``(None, None)`` when no combination can
        serve the rates at all.
    """
    workflow = compile_workflow(instance)
    best, combo = best_reachable_combination(workflow, backend, time_limit)
    if combo is None:
        return None, None
    return best, {workflow.operators[v]: workflow.variants[v][c] for v, c in enumerate(combo)}
