"""Solving the JellyBean MILP: a start from a plan, decoding, and exact pricing of the result.

:func:`solve_milp` builds the program of :mod:`~idnopt.formulations.jellybean.program`,
optionally starts it from the heuristic's plan, decodes the solution into a
:class:`~idnopt.formulations.jellybean.plan.Plan` and prices it exactly with the
evaluator. Under the proportional rule with three or more tiers or worker-level
prices the MILP is a lower bound: the cheaper of its plan and the heuristic's is
returned with the gap (``THEORY.md``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from idnopt.backends import get_backend, solve_program
from idnopt.budget import Budget
from idnopt.formulations.jellybean.compiled import CompiledWorkflow
from idnopt.formulations.jellybean.evaluation import attach_evaluation, evaluate_plan
from idnopt.formulations.jellybean.explain import explain_infeasible
from idnopt.formulations.jellybean.heuristic import heuristic_plan
from idnopt.formulations.jellybean.plan import Assignment, Plan
from idnopt.formulations.jellybean.program import MIP_GAP, build_program, eligible_rows
from idnopt.program import Program
from idnopt.result import Result, Status, relative_gap


def plan_start(
    workflow: CompiledWorkflow, program: Program, plan: Plan, target: float
) -> np.ndarray | None:
    """Integer columns (``z``, ``x``, ``n``, ``h``) of a feasible plan, as a MILP start.

    Continuous columns are ``nan`` (the solver completes them by an LP with the
    integer columns fixed). Returns None when the plan does not fit the program
    (its combination is not an eligible row, or a count exceeds a bound).
    """
    values = np.full(program.num_variables, np.nan)
    combo = [
        workflow.variants[v].index(plan.combination[op]) for v, op in enumerate(workflow.operators)
    ]
    blocks = program.variables

    def put(name: str, array: np.ndarray) -> bool:
        block = blocks[name]
        flat = np.asarray(array, dtype=float).ravel()
        if np.any(flat > block.upper + 1e-9) or np.any(flat < block.lower - 1e-9):
            return False
        values[block.start : block.start + block.size] = flat
        return True

    if "z" in blocks:
        row = workflow.row_of_combination.get(tuple(combo))
        rows = eligible_rows(workflow, target)
        where = np.flatnonzero(rows == row) if row is not None else np.zeros(0, int)
        if where.size == 0:
            return None
        z = np.zeros(rows.size)
        z[where[0]] = 1.0
        put("z", z)
    x = np.zeros(workflow.num_variants)
    x[[workflow.flat_variant(v, c) for v, c in enumerate(combo)]] = 1.0
    n = np.zeros((workflow.num_operators, workflow.num_pools))
    h = np.zeros((workflow.num_operators, workflow.num_tiers))
    for a in plan.assignments:
        if a.share <= 0:
            continue
        v, w = workflow.operator_index[a.operator], workflow.worker_index[a.worker]
        n[v, workflow.worker_pool[w]] += 1
        h[v, workflow.worker_tier[w]] = 1.0
    if not (put("x", x) and put("n", n) and put("h", h)):
        return None
    return values


def decode_plan(workflow: CompiledWorkflow, result: Result, routing: str | None = None) -> Plan:
    """Turn MILP values into a plan: pools are expanded into workers, shares split evenly.

    Parameters
    ----------
    workflow : CompiledWorkflow
        The compiled instance.
    result : Result
        A result with values of the blocks ``x``, ``n`` and ``t``.
    routing : str, optional
        Rule the plan was optimised under (recorded in the plan).

    Returns
    -------
    Plan
        The combination and one assignment per worker used.
    """
    x = result.value("x")
    n = result.value("n")
    t = result.value("t")
    combo = [
        int(np.argmax(x[workflow.variant_offset[v] : workflow.variant_offset[v + 1]]))
        for v in range(workflow.num_operators)
    ]
    taken = [0] * workflow.num_pools
    assignments: list[Assignment] = []
    for v in range(workflow.num_operators):
        flat = workflow.flat_variant(v, combo[v])
        floor = 1e-7 * max(1.0, workflow.rate[v])
        totals = np.where(t[flat] > floor, t[flat], 0.0)
        if totals.sum() > 0:
            totals *= workflow.rate[v] / totals.sum()  # remove solver round-off
        for p in np.flatnonzero(totals):
            free = len(workflow.pools[p]) - taken[p]
            needed = math.ceil(totals[p] / workflow.capacity[flat, workflow.pools[p][0]] - 1e-6)
            k = min(max(1, needed, int(round(n[v, p]))), free)
            if k <= 0:  # pragma: no cover - the "workers" rows forbid it
                continue
            for w in workflow.pools[p][taken[p] : taken[p] + k]:
                assignments.append(
                    Assignment(workflow.operators[v], workflow.workers[w], float(totals[p] / k))
                )
            taken[p] += k
    combination = {workflow.operators[v]: workflow.variants[v][c] for v, c in enumerate(combo)}
    return Plan(combination, tuple(assignments), routing)


def solve_milp(
    workflow: CompiledWorkflow,
    routing: str,
    target: float,
    backend: str,
    relax: bool,
    time_limit: float | None,
    beam_width: int,
    warm_start: bool = False,
    budget: Budget | None = None,
    **options: Any,
) -> Result:
    """Solve the MILP of a compiled workflow and decode, price and explain its plan.

    Parameters
    ----------
    workflow : CompiledWorkflow
        The compiled instance.
    routing : {"flows", "proportional"}
        Routing rule the plan is optimised and priced under.
    target : float
        Accuracy target.
    backend : str
        Backend of the MILP.
    relax : bool
        Solve the continuous relaxation only (a lower bound, no plan).
    time_limit : float, optional
        Seconds for the solver.
    beam_width : int
        Beam width of the heuristic (start, or incumbent when the MILP only bounds).
    warm_start : bool
        Hand the heuristic's plan to a backend that takes a start.
    budget : Budget, optional
        The call's wall-clock budget (default: one of ``time_limit`` seconds);
        building, solving, explaining and pricing all draw on it and are
        booked under their phases.
    **options
        Passed to :func:`idnopt.backends.solve_program` (``mip_gap`` defaults
        to :data:`MIP_GAP`).

    Returns
    -------
    Result
        Method ``milp`` (or ``relaxation``); see ``THEORY.md`` for when the
        proportional rule's status is ``feasible`` with a gap.
    """
    budget = budget if budget is not None else Budget(time_limit)

    def explain(result: Result) -> Result:
        with budget.phase("explain"):
            return explain_infeasible(
                workflow, result, target, backend, budget.solver_time(), **options
            )

    if workflow.accuracy_rule == "table" and eligible_rows(workflow, target).size == 0:
        result = Result(status=Status.INFEASIBLE, method="milp", backend=backend)
        result.metrics["routing"] = routing
        return explain(result)
    options.setdefault("mip_gap", MIP_GAP)
    start = heuristic = None
    with budget.phase("build"):
        program = build_program(workflow, routing, target)
    # the heuristic runs only where the start can reach a MILP solver
    if warm_start and not relax and get_backend(backend).takes_start:
        with budget.phase("heuristic"):
            heuristic = heuristic_plan(workflow, target, routing, beam_width)
            if heuristic[0] is not None:
                start = plan_start(workflow, program, heuristic[0], target)
    with budget.phase("solve"):
        result = solve_program(
            program,
            backend,
            relax=relax,
            time_limit=budget.solver_time(),
            explain=False,
            initial_values=start if start is not None else options.pop("initial_values", None),
            **options,
        )
    result.build_seconds += budget.spent.get("build", 0.0)
    result.method = "relaxation" if relax else "milp"
    result.metrics.update({"routing": routing, "target": target})
    if relax:
        result.metrics["lower_bound"] = result.objective
        return result
    if result.status == Status.INFEASIBLE:
        return explain(result)
    if not result.has_solution:
        return result
    plan = decode_plan(workflow, result, routing)
    evaluation = evaluate_plan(workflow, plan, routing, target)
    exact = routing == "flows" or workflow.proportional_exact
    if exact:
        slack = 1e-6 * max(1.0, abs(result.objective))
        if evaluation.cost_per_hour < result.objective - slack:
            # an incumbent stopped early: re-routing its flows made it cheaper
            result.objective = evaluation.cost_per_hour
            if result.bound is not None:
                result.bound = min(result.bound, result.objective)
            result.gap = relative_gap(result.objective, result.bound)
        elif evaluation.cost_per_hour > result.objective + slack:  # pragma: no cover
            result.message += f"; the decoded plan prices at {evaluation.cost_per_hour:.9g} $/h"
        return attach_evaluation(result, workflow, evaluation, exact)
    # proportional rule, three tiers or worker-level prices: the MILP under-estimates
    bound = result.bound if result.bound is not None else result.objective
    incumbent = "milp"
    with budget.phase("heuristic"):
        other, other_eval, _, _ = heuristic or heuristic_plan(workflow, target, routing, beam_width)
    if other_eval is not None and other_eval.cost_per_hour < evaluation.cost_per_hour - 1e-9:
        plan, evaluation, incumbent = other, other_eval, "heuristic"
    result.objective = evaluation.cost_per_hour
    result.bound = min(bound, evaluation.cost_per_hour)
    result.gap = relative_gap(result.objective, result.bound)
    if result.status == Status.OPTIMAL and (result.gap or 0.0) > options["mip_gap"] + 1e-9:
        result.status = Status.FEASIBLE
    why = f"proportional routing with {workflow.num_tiers} tiers" + (
        " and worker-specific prices" if workflow.num_groups > workflow.num_tiers else ""
    )
    if result.status == Status.OPTIMAL:
        result.message = (
            f"{why}: the MILP under-estimates products of shares, and its bound "
            f"({result.bound:.6g} $/h) meets the exact price of the {incumbent} plan, "
            "which is therefore optimal"
        )
    else:
        result.message = (
            f"{why}: the MILP under-estimates products of shares, so its optimum is only a "
            f"lower bound ({result.bound:.6g} $/h); the {incumbent} plan, priced exactly, "
            f"costs {result.objective:.6g} $/h (gap {100 * (result.gap or 0):.3g} %)"
        )
    result.metrics["incumbent"] = incumbent
    return attach_evaluation(result, workflow, evaluation, exact)
