"""Pricing and checking JellyBean plans under either routing rule.

:func:`evaluate` prices any plan — from the MILP, the heuristic or elsewhere —
under ``"flows"`` (cheapest flows for the given shares, a small LP per edge) or
``"proportional"`` (all-to-all traffic in proportion to the shares) and lists
every violated constraint in the instance's words, so that plans from anywhere
can be compared on the same terms.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from idnopt.formulations.jellybean.compiled import (
    MB_PER_S_TO_GB_PER_H,
    TOLERANCE,
    CompiledWorkflow,
    compile_workflow,
)
from idnopt.formulations.jellybean.plan import (
    Evaluation,
    Plan,
    Routing,
    check_routing,
    check_target,
)
from idnopt.formulations.jellybean.schema import JellyBeanInstance, tier_name
from idnopt.instance import unknown_name
from idnopt.result import Result


def evaluate(
    instance: JellyBeanInstance,
    plan: Plan | Result | Iterable[Mapping[str, Any]],
    routing: Routing = "flows",
    *,
    target: float | None = None,
) -> Evaluation:
    """Price a plan under one routing rule and check every constraint.

    Parameters
    ----------
    instance : JellyBeanInstance
        The instance the plan is for.
    plan : Plan, Result or iterable of row mappings
        A :class:`Plan`, a result of this family, or rows with ``operator``,
        ``variant``, ``worker`` and ``share``.
    routing : {"flows", "proportional"}
        ``"proportional"``: all-to-all traffic in proportion to the shares (the
        published rule); ``"flows"``: the cheapest flows for the given shares.
    target : float, optional
        Accuracy target (default: the instance's).

    Returns
    -------
    Evaluation
        Cost breakdown, accuracy and the list of violated constraints.
    """
    workflow = compile_workflow(instance)
    if isinstance(plan, Result):
        plan = Plan.from_result(plan)
    elif not isinstance(plan, Plan):
        plan = Plan.from_rows(plan)
    return evaluate_plan(workflow, plan, check_routing(routing), check_target(target, instance))


def evaluate_plan(
    workflow: CompiledWorkflow, plan: Plan, routing: str, target: float
) -> Evaluation:
    """Price a plan of a compiled workflow under ``routing`` and check every constraint.

    Parameters
    ----------
    workflow : CompiledWorkflow
        The compiled instance.
    plan : Plan
        The plan; unknown names and broken constraints become violations.
    routing : {"flows", "proportional"}
        Routing rule of the network cost.
    target : float
        Accuracy target checked.

    Returns
    -------
    Evaluation
        Cost breakdown, accuracy, violations and the ``plan``, ``combination``,
        ``cost`` and ``traffic`` tables.
    """
    violations: list[str] = []
    op_index, worker_index = workflow.operator_index, workflow.worker_index
    # combination
    combo = [-1] * workflow.num_operators
    for name, variant in plan.combination.items():
        if name not in op_index:
            violations.append(f"unknown operator {name!r} in the combination")
            continue
        v = op_index[name]
        if variant not in workflow.variants[v]:
            violations.append(f"unknown variant {variant!r} of operator {name!r}")
            continue
        combo[v] = workflow.variants[v].index(variant)
    for v, c in enumerate(combo):
        if c < 0 and not any(f"{workflow.operators[v]!r}" in s for s in violations):
            violations.append(f"no variant chosen for operator {workflow.operators[v]!r}")
    accuracy = workflow.accuracy_of(combo) if min(combo) >= 0 else None
    if min(combo) >= 0 and accuracy is None:
        violations.append(
            f"combination ({workflow.combination_text(combo)}) is not in the accuracy table"
        )
    elif accuracy is not None and accuracy < target - 1e-9:
        violations.append(f"accuracy {accuracy:.6g} is below the target {target:.6g}")
    # shares
    shares = np.zeros((workflow.num_operators, workflow.num_workers))
    host: dict[int, int] = {}
    for a in plan.assignments:
        if a.operator not in op_index:
            violations.append(f"unknown operator {a.operator!r} in the assignments")
            continue
        if a.worker not in worker_index:
            violations.append(unknown_name("worker", a.worker, workflow.workers))
            continue
        v, w = op_index[a.operator], worker_index[a.worker]
        if not math.isfinite(a.share) or a.share < -TOLERANCE:
            violations.append(
                f"negative or invalid share {a.share!r} of {a.operator} on {a.worker}"
            )
            continue
        if a.share <= TOLERANCE * max(1.0, workflow.rate[v]):
            continue
        if w in host and host[w] != v:
            violations.append(
                f"worker {a.worker!r} hosts two operators "
                f"({workflow.operators[host[w]]!r} and {a.operator!r})"
            )
        host[w] = v
        shares[v, w] += a.share
        if combo[v] >= 0:
            capacity = workflow.capacity[workflow.flat_variant(v, combo[v]), w]
            variant = workflow.variants[v][combo[v]]
            if capacity <= 0:
                violations.append(
                    f"variant {variant!r} of {a.operator!r} cannot run on {a.worker!r}"
                )
            elif shares[v, w] > capacity * (1 + 1e-7) + 1e-9:
                violations.append(
                    f"{a.worker!r} serves {shares[v, w]:.6g} req/s of {a.operator!r} but its "
                    f"capacity with {variant!r} is {capacity:.6g} req/s"
                )
        if not workflow.tier_allowed[v, w]:
            violations.append(f"{a.worker!r} is below the tier of a data source of {a.operator!r}")
    for v in range(workflow.num_operators):
        total = shares[v].sum()
        if abs(total - workflow.rate[v]) > 1e-6 * max(1.0, workflow.rate[v]):
            violations.append(
                f"shares of {workflow.operators[v]!r} sum to {total:.6g} req/s, "
                f"the rate is {workflow.rate[v]:.6g} req/s"
            )
    used = shares > TOLERANCE
    for u, v, _, _ in workflow.operator_edges:
        if used[u].any() and used[v].any():
            high = workflow.worker_tier_rank[used[u]].max()
            low = workflow.worker_tier_rank[used[v]].min()
            if high > low:
                sender, receiver = workflow.operators[u], workflow.operators[v]
                violations.append(
                    f"tier order broken on {sender} -> {receiver}: {sender!r} uses tier "
                    f"{tier_name(int(high))} above {receiver!r}'s tier {tier_name(int(low))}"
                )
    # compute cost
    worker_used = used.any(axis=0)
    compute_by_tier: dict[str, float] = {}
    for k in range(workflow.num_tiers):
        in_tier = worker_used & (workflow.worker_tier == k)
        if in_tier.any():
            compute_by_tier[workflow.tier_label(k)] = float(workflow.worker_price[in_tier].sum())
    compute = float(workflow.worker_price[worker_used].sum())
    # network cost
    network_by_edge: dict[str, float] = {}
    traffic: list[dict[str, Any]] = []
    comb = [max(c, 0) for c in combo]
    for s, v, _, sizes in workflow.source_edges:
        size = sizes[comb[v]]
        key = f"{workflow.sources[s]}->{workflow.operators[v]}"
        cost = 0.0
        for b in np.flatnonzero(used[v]):
            messages = shares[v, b]
            price = workflow.source_network_price[s, b]
            part = MB_PER_S_TO_GB_PER_H * price * size * messages
            cost += part
            traffic.append(
                _traffic_row(key, workflow.sources[s], workflow.workers[b], messages, size, part)
            )
        network_by_edge[key] = float(cost)
    for u, v, ratio, sizes in workflow.operator_edges:
        size = sizes[comb[u], comb[v]]
        key = f"{workflow.operators[u]}->{workflow.operators[v]}"
        senders, receivers = np.flatnonzero(used[u]), np.flatnonzero(used[v])
        flows = None
        if routing == "flows" and senders.size and receivers.size:
            flows = cheapest_flows(
                ratio * shares[u, senders],
                shares[v, receivers],
                workflow.network_price[np.ix_(senders, receivers)],
            )
            if flows is None:
                violations.append(f"{key}: the senders cannot supply the receivers' shares")
        if flows is None and senders.size and receivers.size and workflow.rate[u] > 0:
            flows = np.outer(shares[u, senders] / workflow.rate[u], shares[v, receivers])
        cost = 0.0
        if flows is not None:
            prices = workflow.network_price[np.ix_(senders, receivers)]
            for (ia, ib), messages in np.ndenumerate(flows):
                if messages <= 1e-9:
                    continue
                part = MB_PER_S_TO_GB_PER_H * prices[ia, ib] * size * messages
                cost += part
                a, b = workflow.workers[senders[ia]], workflow.workers[receivers[ib]]
                traffic.append(_traffic_row(key, a, b, float(messages), size, part))
        network_by_edge[key] = float(cost)
    network = float(sum(network_by_edge.values()))
    # tables
    plan_rows = []
    for v in range(workflow.num_operators):
        for w in np.flatnonzero(used[v]):
            capacity = (
                workflow.capacity[workflow.flat_variant(v, combo[v]), w] if combo[v] >= 0 else 0.0
            )
            plan_rows.append(
                {
                    "operator": workflow.operators[v],
                    "variant": workflow.variants[v][combo[v]] if combo[v] >= 0 else None,
                    "worker": workflow.workers[w],
                    "tier": tier_name(int(workflow.worker_tier_rank[w])),
                    "share": float(shares[v, w]),
                    "capacity": float(capacity),
                    "utilisation": float(shares[v, w] / capacity) if capacity > 0 else None,
                    "price": float(workflow.worker_price[w]),
                }
            )
    cost_rows = [
        {"component": "compute", "item": tier, "cost_per_hour": cost}
        for tier, cost in compute_by_tier.items()
    ] + [
        {"component": "network", "item": edge, "cost_per_hour": cost}
        for edge, cost in network_by_edge.items()
    ]
    combination_rows = [
        {
            "operator": workflow.operators[v],
            "variant": workflow.variants[v][combo[v]] if combo[v] >= 0 else None,
            "rate": float(workflow.rate[v]),
        }
        for v in range(workflow.num_operators)
    ]
    return Evaluation(
        routing=routing,
        feasible=not violations,
        violations=violations,
        cost_per_hour=compute + network,
        compute_cost=compute,
        network_cost=network,
        accuracy=accuracy,
        target=target,
        compute_by_tier=compute_by_tier,
        network_by_edge=network_by_edge,
        tables={
            "plan": plan_rows,
            "combination": combination_rows,
            "cost": cost_rows,
            "traffic": traffic,
        },
    )


def _traffic_row(edge: str, a: str, b: str, messages: float, size: float, cost: float) -> dict:
    """One row of the ``traffic`` table."""
    return {
        "edge": edge,
        "from": a,
        "to": b,
        "messages_per_s": float(messages),
        "mb_per_s": float(messages * size),
        "cost_per_hour": float(cost),
    }


def cheapest_flows(supply: np.ndarray, demand: np.ndarray, prices: np.ndarray) -> np.ndarray | None:
    """Cheapest transport of ``demand`` from ``supply`` at ``prices`` per message (LP)."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    na, nb = prices.shape
    if not prices.any():  # every pair free: any feasible split will do
        if supply.sum() < demand.sum() * (1 - 1e-9) - 1e-9:
            return None
        return np.outer(supply / supply.sum(), demand)
    cols = np.arange(na * nb)
    a_ub = coo_matrix((np.ones(na * nb), (cols // nb, cols)), shape=(na, na * nb))
    a_eq = coo_matrix((np.ones(na * nb), (cols % nb, cols)), shape=(nb, na * nb))
    outcome = linprog(
        prices.ravel(),
        A_ub=a_ub,
        b_ub=supply * (1 + 1e-9) + 1e-9,
        A_eq=a_eq,
        b_eq=demand,
        bounds=(0, None),
        method="highs",
    )
    if outcome.status != 0:
        return None
    return outcome.x.reshape(na, nb)


def attach_evaluation(
    result: Result, workflow: CompiledWorkflow, evaluation: Evaluation, exact: bool
) -> Result:
    """Copy an evaluation's costs, accuracy and tables into a result (in place).

    Parameters
    ----------
    result : Result
        The result to complete.
    workflow : CompiledWorkflow
        The compiled instance.
    evaluation : Evaluation
        The plan's evaluation.
    exact : bool
        Whether the program that produced the plan was exact (``metrics["exact"]``).

    Returns
    -------
    Result
        ``result`` itself.
    """
    combo = [
        workflow.variants[v].index(row["variant"])
        for v, row in enumerate(evaluation.tables["combination"])
    ]
    result.metrics.update(
        {
            "cost_per_hour": evaluation.cost_per_hour,
            "compute_cost": evaluation.compute_cost,
            "network_cost": evaluation.network_cost,
            "accuracy": evaluation.accuracy,
            "target": evaluation.target,
            "routing": evaluation.routing,
            "exact": exact,
            "workers_used": len(evaluation.tables["plan"]),
            "combination": workflow.combination_text(combo),
        }
    )
    result.tables.update(evaluation.tables)
    return result
