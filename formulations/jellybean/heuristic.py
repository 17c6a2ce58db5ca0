"""A simplified JellyBean-style baseline: beam search over combinations, then greedy fill.

Not the published optimizer (that is :mod:`~idnopt.formulations.jellybean.published`,
method ``published``): this method (``heuristic``) is a lighter variant kept as
a cheap baseline. Combinations start from the most accurate variant of every operator; each step
moves one operator to its next less accurate variant, keeps the children that
still meet the target (accuracy is assumed monotone: a combination below the
target is not expanded) and the ``beam_width`` best by a proxy cost. The
best-ranked combinations then get workers operator by operator, in topological
order, each worker filled to capacity in pick order. It gives no optimality
guarantee and may find no plan although one exists.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from idnopt.formulations.jellybean.compiled import (
    MB_PER_S_TO_GB_PER_H,
    TOLERANCE,
    CompiledWorkflow,
)
from idnopt.formulations.jellybean.evaluation import attach_evaluation, evaluate_plan
from idnopt.formulations.jellybean.plan import Assignment, Evaluation, Plan
from idnopt.result import Result, Status


def _variant_ranking(workflow: CompiledWorkflow) -> list[list[int]]:
    """Variants of every operator, most accurate first (per-variant accuracy, else table mean)."""
    ranking = []
    for v in range(workflow.num_operators):
        n = len(workflow.variants[v])
        score = workflow.variant_accuracy[
            workflow.variant_offset[v] : workflow.variant_offset[v + 1]
        ].copy()
        if (
            np.isnan(score).any()
            and workflow.accuracy_rule == "table"
            and workflow.table_combinations is not None
        ):
            for i in range(n):
                mask = workflow.table_combinations[:, v] == i
                if np.isnan(score[i]):
                    score[i] = workflow.table_accuracy[mask].mean() if mask.any() else -np.inf
        score = np.nan_to_num(score, nan=-np.inf)
        ranking.append(sorted(range(n), key=lambda i, s=score: (-s[i], i)))
    return ranking


def _proxy_cost(workflow: CompiledWorkflow, combo: Sequence[int]) -> float:
    """Compute cost if every operator ran on its cheapest worker per request ($/h)."""
    total = 0.0
    for v, c in enumerate(combo):
        capacity = workflow.capacity[workflow.flat_variant(v, c)]
        ok = (capacity > 0) & workflow.tier_allowed[v]
        if not ok.any():
            return math.inf
        total += workflow.rate[v] * float((workflow.worker_price[ok] / capacity[ok]).min())
    return total


def greedy_assignment(workflow: CompiledWorkflow, combo: Sequence[int]) -> Plan | None:
    """Assign workers operator by operator (topological order), filling each to capacity.

    Candidates are the free workers whose tier is not below the operator's
    sources or predecessors; they are taken in order of cost per request
    (price / capacity plus the network price of receiving the inputs there).
    """
    used = np.zeros(workflow.num_workers, dtype=bool)
    top_rank: dict[int, int] = {}
    main_worker: dict[int, int] = {}
    assignments: list[Assignment] = []
    incoming_ops = {
        v: [(u, sizes) for u, vv, _, sizes in workflow.operator_edges if vv == v]
        for v in range(workflow.num_operators)
    }
    incoming_src = {
        v: [(s, sizes) for s, vv, _, sizes in workflow.source_edges if vv == v]
        for v in range(workflow.num_operators)
    }
    for v in workflow.topological_order:
        rate = workflow.rate[v]
        if rate <= TOLERANCE:
            continue
        flat = workflow.flat_variant(v, combo[v])
        floor = max([top_rank.get(u, -(10**9)) for u, _ in incoming_ops[v]], default=-(10**9))
        capacity = workflow.capacity[flat]
        candidates = np.flatnonzero(
            (capacity > 0) & ~used & workflow.tier_allowed[v] & (workflow.worker_tier_rank >= floor)
        )
        if candidates.size == 0:
            return None
        per_request = workflow.worker_price[candidates] / capacity[candidates]
        for u, sizes in incoming_ops[v]:
            if u in main_worker:
                size = sizes[combo[u], combo[v]]
                per_request = (
                    per_request
                    + MB_PER_S_TO_GB_PER_H
                    * size
                    * workflow.network_price[main_worker[u], candidates]
                )
        for s, sizes in incoming_src[v]:
            per_request = (
                per_request
                + MB_PER_S_TO_GB_PER_H
                * sizes[combo[v]]
                * workflow.source_network_price[s, candidates]
            )
        order = candidates[
            np.lexsort((candidates, workflow.worker_tier_rank[candidates], per_request))
        ]
        remaining = rate
        picked = []
        for w in order:
            share = min(capacity[w], remaining)
            picked.append((w, share))
            remaining -= share
            if remaining <= TOLERANCE * max(1.0, rate):
                break
        if remaining > TOLERANCE * max(1.0, rate):
            return None
        for w, share in picked:
            used[w] = True
            assignments.append(Assignment(workflow.operators[v], workflow.workers[w], float(share)))
        top_rank[v] = int(max(workflow.worker_tier_rank[w] for w, _ in picked))
        main_worker[v] = int(max(picked, key=lambda item: item[1])[0])
    combination = {workflow.operators[v]: workflow.variants[v][c] for v, c in enumerate(combo)}
    return Plan(combination, tuple(assignments))


def heuristic_plan(
    workflow: CompiledWorkflow, target: float, routing: str, beam_width: int = 3
) -> tuple[Plan | None, Evaluation | None, str, int]:
    """Beam search over combinations, then greedy worker assignment of the best-ranked ones.

    Parameters
    ----------
    workflow : CompiledWorkflow
        The compiled instance.
    target : float
        Accuracy target.
    routing : {"flows", "proportional"}
        Rule the candidate plans are priced under.
    beam_width : int
        Combinations kept per step, and best-ranked combinations assigned.

    Returns
    -------
    tuple
        ``(plan, evaluation, note, combinations explored)``; plan and evaluation
        are None, and the note says why, when no feasible plan was found.
    """
    ranking = _variant_ranking(workflow)
    position = [{i: k for k, i in enumerate(r)} for r in ranking]
    start = tuple(r[0] for r in ranking)
    start_acc = workflow.accuracy_of(start)
    if start_acc is None and workflow.accuracy_rule == "table" and workflow.table_accuracy.size:
        best_row = int(np.argmax(workflow.table_accuracy))
        start = tuple(int(c) for c in workflow.table_combinations[best_row])
        start_acc = float(workflow.table_accuracy[best_row])
    if start_acc is None or start_acc < target - 1e-12:
        note = (
            f"the heuristic found no combination: its starting point, the most accurate "
            f"variants ({workflow.combination_text(start)}), reaches "
            f"{start_acc if start_acc is not None else 'no'}"
            f" accuracy, below the target {target:g}"
        )
        return None, None, note, 1
    visited = {start}
    frontier = [start]
    found = [start]
    while frontier:
        children = []
        for combo in frontier:
            for v in range(workflow.num_operators):
                k = position[v][combo[v]] + 1
                if k >= len(ranking[v]):
                    continue
                child = combo[:v] + (ranking[v][k],) + combo[v + 1 :]
                if child in visited:
                    continue
                visited.add(child)
                accuracy = workflow.accuracy_of(child)
                # monotonicity assumption: a combination below the target is not expanded
                if accuracy is not None and accuracy >= target - 1e-12:
                    children.append(child)
        children.sort(key=lambda c: (_proxy_cost(workflow, c), c))
        frontier = children[:beam_width]
        found += frontier
    found.sort(key=lambda c: (_proxy_cost(workflow, c), c))
    best_plan, best_eval = None, None
    for combo in found[:beam_width]:
        plan = greedy_assignment(workflow, combo)
        if plan is None:
            continue
        evaluation = evaluate_plan(workflow, plan, routing, target)
        if evaluation.feasible and (
            best_eval is None or evaluation.cost_per_hour < best_eval.cost_per_hour
        ):
            best_plan, best_eval = plan, evaluation
    if best_plan is None:
        note = (
            "the heuristic's greedy assignment ran out of workers for its "
            f"{min(beam_width, len(found))}"
            f" best-ranked combinations"
        )
        return None, None, note, len(visited)
    return best_plan, best_eval, "", len(visited)


def solve_heuristic(
    workflow: CompiledWorkflow, routing: str, target: float, beam_width: int
) -> Result:
    """Run :func:`heuristic_plan` and report it as a result (``feasible`` or ``infeasible``).

    Parameters
    ----------
    workflow : CompiledWorkflow
        The compiled instance.
    routing : {"flows", "proportional"}
        Routing rule of the plan's price.
    target : float
        Accuracy target.
    beam_width : int
        Beam width.

    Returns
    -------
    Result
        Method ``heuristic``; metrics and tables as for the MILP when a plan is found.
    """
    started = time.perf_counter()
    plan, evaluation, note, explored = heuristic_plan(workflow, target, routing, beam_width)
    elapsed = time.perf_counter() - started
    result = Result(
        status=Status.INFEASIBLE if plan is None else Status.FEASIBLE,
        solve_seconds=elapsed,
        backend="heuristic",
        solver=f"beam search (width {beam_width}) + greedy fill",
        method="heuristic",
        message=note,
        metrics={"routing": routing, "target": target, "combinations_explored": explored},
    )
    if plan is not None:
        result.objective = evaluation.cost_per_hour
        attach_evaluation(result, workflow, evaluation, exact=False)
    return result
