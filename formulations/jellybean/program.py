"""The JellyBean MILP: variables, constraints and costs of either routing rule.

:func:`build_program` declares the program as named blocks — ``z`` (table row),
``x`` (variant), ``n`` (workers per pool), ``t`` (shares), ``h`` (tiers used),
``flow`` / ``crossing`` (network traffic, declared by
:mod:`~idnopt.formulations.jellybean.network`) — with vectorised index arithmetic.
The derivation, and why each rule is exact or a bound, is in ``THEORY.md``.
"""

from __future__ import annotations

import math

import numpy as np

from idnopt.formulations.jellybean.compiled import MB_PER_S_TO_GB_PER_H, CompiledWorkflow
from idnopt.formulations.jellybean.network import add_network_blocks
from idnopt.program import Program

MIP_GAP = 1e-6
"""Default relative MIP gap of the exact methods (HiGHS's own default is 1e-4)."""


def _min_cover_cost(
    capacity: np.ndarray, price: np.ndarray, count: np.ndarray, need: float, node_limit: int = 3000
) -> float:
    """Least price of workers whose capacities sum to ``need`` (a lower bound if cut short).

    Depth-first search over pools sorted by price per request, pruned by the
    fractional-knapsack bound. When ``node_limit`` is reached the fractional
    bound (never above the optimum) is returned instead.
    """
    keep = (capacity > 0) & (count > 0)
    if need <= 0:
        return 0.0
    if not keep.any() or (capacity[keep] * count[keep]).sum() < need * (1 - 1e-9):
        return math.inf
    a, c, u = capacity[keep], price[keep], count[keep]
    order = np.lexsort((c, c / a))
    a, c, u = a[order].tolist(), c[order].tolist(), u[order].astype(int).tolist()
    ratio = [ci / ai for ai, ci in zip(a, c)]
    fractional = need * ratio[0]
    best = math.inf
    nodes = 0

    def search(i: int, remaining: float, cost: float) -> None:
        nonlocal best, nodes
        nodes += 1
        if remaining <= 1e-9 * need:
            best = min(best, cost)
            return
        if i == len(a) or nodes > node_limit or cost + remaining * ratio[i] >= best - 1e-12:
            return
        most = min(u[i], math.ceil(remaining / a[i] - 1e-9))
        for k in range(most, -1, -1):
            search(i + 1, remaining - k * a[i], cost + k * c[i])

    search(0, need, 0.0)
    if nodes > node_limit:
        return fractional
    return max(best, fractional)


def eligible_rows(workflow: CompiledWorkflow, target: float) -> np.ndarray:
    """Accuracy-table rows whose accuracy meets ``target`` (the rows ``z`` is declared on)."""
    return np.flatnonzero(workflow.table_accuracy >= target - 1e-12)


def build_program(
    workflow: CompiledWorkflow, routing: str, target: float, objective: str = "cost"
) -> Program:
    """Declare the MILP of a compiled workflow (see ``THEORY.md``).

    Parameters
    ----------
    workflow : CompiledWorkflow
        The compiled instance.
    routing : {"flows", "proportional"}
        Routing rule of the network cost.
    target : float
        Accuracy target (only eligible table rows are declared).
    objective : {"cost", "accuracy"}
        ``"cost"``: minimise compute + network cost ($/h); ``"accuracy"``:
        maximise the accuracy under the rates, capacities and tier order, no
        cost and no target.

    Returns
    -------
    Program
        Blocks ``z`` (table rule), ``x``, ``n``, ``t``, ``h`` and, for the cost,
        ``flow`` and/or ``crossing`` (and ``edge_cost`` when the proportional
        rule is only bounded).
    """
    num_variants, num_pools = workflow.num_variants, workflow.num_pools
    num_operators, num_tiers = workflow.num_operators, workflow.num_tiers
    sense = "maximize" if objective == "accuracy" else "minimize"
    program = Program(
        f"jellybean-{routing}" if objective == "cost" else "jellybean-accuracy", sense
    )
    pool_size, first = workflow.pool_size, workflow.pool_first_worker
    pool_tier = workflow.worker_tier[first]
    pool_names = [
        workflow.workers[p[0]]
        if len(p) == 1
        else f"{workflow.workers[p[0]]}..{workflow.workers[p[-1]]}"
        for p in workflow.pools
    ]
    vi_labels = [workflow.variant_label(i) for i in range(num_variants)]
    pool_capacity = workflow.capacity[:, first]  # (num_variants, num_pools)
    allowed = workflow.tier_allowed[:, first]  # (num_operators, num_pools)
    t_upper = pool_capacity * pool_size[None, :] * allowed[workflow.variant_operator]
    t_upper = np.minimum(t_upper, workflow.rate[workflow.variant_operator][:, None])
    t_upper[pool_capacity <= 0] = 0.0
    runs = np.zeros((num_operators, num_pools), dtype=bool)
    np.logical_or.at(runs, workflow.variant_operator, pool_capacity > 0)
    # an optimal plan never takes more workers of one pool than the pool needs alone
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.where(
            pool_capacity > 0,
            np.ceil(workflow.rate[workflow.variant_operator][:, None] / pool_capacity - 1e-9),
            0.0,
        )
    most = np.zeros((num_operators, num_pools))
    np.maximum.at(most, workflow.variant_operator, need)
    n_upper = np.minimum(pool_size[None, :], most) * (runs & allowed)
    # cheapest cover of each operator's rate by each variant alone (a valid cost floor);
    # variants that cannot cover the rate even alone are excluded
    cover = np.zeros(num_variants)
    for i in range(num_variants):
        v = workflow.variant_operator[i]
        cover[i] = _min_cover_cost(
            pool_capacity[i] * allowed[v],
            workflow.worker_price[first],
            n_upper[v],
            workflow.rate[v],
        )
    # -- combination ---------------------------------------------------------------
    x_upper = np.where(np.isinf(cover), 0.0, 1.0)
    terms_objective: list[tuple] = []
    if workflow.accuracy_rule == "table":
        rows = (
            np.arange(len(workflow.table_accuracy))
            if objective == "accuracy"
            else eligible_rows(workflow, target)
        )
        # z may stay continuous: with x binary, every row in z's support has x's
        # combination, and rows are distinct combinations, so z is integral too
        z = program.add_variables("z", len(rows), upper=1, labels=[[f"row-{r}" for r in rows]])
        x = program.add_variables(
            "x", num_variants, integer=True, upper=x_upper, labels=[vi_labels]
        )
        program.add_constraints(
            "one_combination",
            [(z, np.zeros(len(rows), int), np.arange(len(rows)), 1.0)],
            lower=1.0,
            upper=1.0,
            shape=1,
        )
        linked = (workflow.variant_offset[:-1][None, :] + workflow.table_combinations[rows]).ravel()
        program.add_constraints(
            "variant_link",
            [
                (x, np.arange(num_variants), np.arange(num_variants), 1.0),
                (z, linked, np.repeat(np.arange(len(rows)), num_operators), -1.0),
            ],
            lower=0.0,
            upper=0.0,
            shape=num_variants,
            labels=[vi_labels],
        )
        if objective == "accuracy":
            terms_objective.append((z, np.arange(len(rows)), workflow.table_accuracy[rows]))
    else:
        accuracy = np.nan_to_num(workflow.variant_accuracy, nan=0.0)
        if objective == "cost" and workflow.accuracy_rule == "minimum":
            x_upper = x_upper * (accuracy >= target - 1e-12)
        if objective == "cost" and workflow.accuracy_rule == "product" and target > 0:
            x_upper = x_upper * (accuracy > 0)
        x = program.add_variables(
            "x", num_variants, integer=True, upper=x_upper, labels=[vi_labels]
        )
        program.add_constraints(
            "one_variant",
            [(x, workflow.variant_operator, np.arange(num_variants), 1.0)],
            lower=1.0,
            upper=1.0,
            shape=num_operators,
            labels=[workflow.operators],
        )
        logs = np.log(np.maximum(accuracy, 1e-300))
        if objective == "cost" and workflow.accuracy_rule == "product" and target > 0:
            program.add_constraints(
                "accuracy_target",
                [(x, np.zeros(num_variants, int), np.arange(num_variants), logs)],
                lower=math.log(target),
                shape=1,
            )
        if objective == "accuracy" and workflow.accuracy_rule == "product":
            terms_objective.append((x, np.arange(num_variants), logs))
        if objective == "accuracy" and workflow.accuracy_rule == "minimum":
            level = program.add_variables("accuracy_level", 1, upper=1.0)
            program.add_constraints(
                "accuracy_level_bound",
                [
                    (level, np.arange(num_operators), np.zeros(num_operators, int), 1.0),
                    (x, workflow.variant_operator, np.arange(num_variants), -accuracy),
                ],
                upper=0.0,
                shape=num_operators,
                labels=[workflow.operators],
            )
            terms_objective.append((level, [0], [1.0]))
    # -- workers and shares ---------------------------------------------------------
    n = program.add_variables(
        "n",
        (num_operators, num_pools),
        integer=True,
        upper=n_upper,
        labels=[workflow.operators, pool_names],
    )
    t = program.add_variables(
        "t", (num_variants, num_pools), upper=t_upper, labels=[vi_labels, pool_names]
    )
    h = program.add_variables(
        "h",
        (num_operators, num_tiers),
        integer=True,
        upper=1,
        labels=[workflow.operators, [workflow.tier_label(k) for k in range(num_tiers)]],
    )
    grid_v, grid_p = np.indices((num_operators, num_pools))
    program.add_constraints(
        "workers",
        [(n, grid_p.ravel(), (grid_v * num_pools + grid_p).ravel(), 1.0)],
        upper=pool_size,
        shape=num_pools,
        labels=[pool_names],
    )
    active = np.flatnonzero(t_upper.ravel() > 0)
    a_vi, a_pool = active // num_pools, active % num_pools
    # utilisation: a worker serves at most min(cap, lambda) of its operator, and only the
    # chosen variant has shares, so sum_i t[i] / min(cap[i], lambda) <= n is exact (and
    # tighter than t <= cap * n in the relaxation)
    eff = np.minimum(pool_capacity[a_vi, a_pool], workflow.rate[workflow.variant_operator[a_vi]])
    hosting = np.flatnonzero(n_upper.ravel() > 0)
    program.add_constraints(
        "capacity",
        [
            (t, workflow.variant_operator[a_vi] * num_pools + a_pool, active, 1.0 / eff),
            (n, hosting, hosting, -1.0),
        ],
        upper=0.0,
        shape=(num_operators, num_pools),
        labels=[workflow.operators, pool_names],
    )
    # implied knapsack rows on integers only (n, x): lets the solver derive cover cuts
    program.add_constraints(
        "variant_capacity",
        [
            (n, a_vi, workflow.variant_operator[a_vi] * num_pools + a_pool, eff),
            (
                x,
                np.arange(num_variants),
                np.arange(num_variants),
                -workflow.rate[workflow.variant_operator],
            ),
        ],
        lower=0.0,
        shape=num_variants,
        labels=[vi_labels],
    )
    if objective == "cost":
        # each operator pays at least its own cheapest cover of lambda with the chosen variant
        grid_v, grid_p = np.indices((num_operators, num_pools))
        program.add_constraints(
            "compute_floor",
            [
                (
                    n,
                    grid_v.ravel(),
                    (grid_v * num_pools + grid_p).ravel(),
                    np.tile(workflow.worker_price[first], num_operators),
                ),
                (
                    x,
                    workflow.variant_operator,
                    np.arange(num_variants),
                    -np.where(np.isinf(cover), 0.0, cover),
                ),
            ],
            lower=0.0,
            shape=num_operators,
            labels=[workflow.operators],
        )
    program.add_constraints(
        "variant_share",
        [
            (t, a_vi, active, 1.0),
            (
                x,
                np.arange(num_variants),
                np.arange(num_variants),
                -workflow.rate[workflow.variant_operator],
            ),
        ],
        upper=0.0,
        shape=num_variants,
        labels=[vi_labels],
    )
    program.add_constraints(
        "rate",
        [(t, workflow.variant_operator[a_vi], active, 1.0)],
        lower=workflow.rate,
        upper=workflow.rate,
        shape=num_operators,
        labels=[workflow.operators],
    )
    # h[v, k] = 1 when v has a positive share on tier k (idle workers carry no traffic)
    program.add_constraints(
        "tier_use",
        [
            (t, workflow.variant_operator[a_vi] * num_tiers + pool_tier[a_pool], active, 1.0),
            (
                h,
                np.arange(num_operators * num_tiers),
                np.arange(num_operators * num_tiers),
                -np.repeat(workflow.rate, num_tiers),
            ),
        ],
        upper=0.0,
        shape=(num_operators, num_tiers),
        labels=[workflow.operators, [workflow.tier_label(k) for k in range(num_tiers)]],
    )
    if workflow.operator_edges and num_tiers > 1:
        hi, lo = np.tril_indices(num_tiers, -1)  # pairs hi > lo
        e_u = np.array([u for u, _, _, _ in workflow.operator_edges])
        e_v = np.array([v for _, v, _, _ in workflow.operator_edges])
        q = hi.size
        rows_order = np.arange(len(workflow.operator_edges) * q)
        program.add_constraints(
            "tier_order",
            [
                (h, rows_order, (e_u[:, None] * num_tiers + hi[None, :]).ravel(), 1.0),
                (h, rows_order, (e_v[:, None] * num_tiers + lo[None, :]).ravel(), 1.0),
            ],
            upper=1.0,
            shape=len(workflow.operator_edges) * q,
            labels=[
                [
                    f"{workflow.operators[u]}@{workflow.tier_label(a)} "
                    f"vs {workflow.operators[v]}@{workflow.tier_label(b)}"
                    for u, v, _, _ in workflow.operator_edges
                    for a, b in zip(hi, lo)
                ]
            ],
        )
    if objective == "accuracy":
        program.set_objective(terms_objective)
        return program
    # -- cost -----------------------------------------------------------------------
    t_cost = np.zeros((num_variants, num_pools))
    for s, v, _, sizes in workflow.source_edges:
        block = slice(workflow.variant_offset[v], workflow.variant_offset[v + 1])
        t_cost[block] += (
            MB_PER_S_TO_GB_PER_H * sizes[:, None] * workflow.source_network_price[s, first][None, :]
        )
    terms_objective = [
        (n, (np.tile(workflow.worker_price[first], num_operators))),
        (t, t_cost.ravel() * (t_upper.ravel() > 0)),
    ]
    if routing == "flows" or workflow.potential_prices:
        # with potential prices every flow costs what proportional routing costs
        terms_objective += add_network_blocks(program, t, workflow, "flows", t_upper)
    elif workflow.mccormick_exact:
        terms_objective += add_network_blocks(program, t, workflow, "proportional", t_upper)
    else:
        # the McCormick terms under-estimate the proportional cost; so does the cheapest
        # flow (proportional traffic is one feasible flow): charge each edge the larger
        flows = add_network_blocks(program, t, workflow, "flows", t_upper, edge_costs=True)
        crossing = add_network_blocks(
            program, t, workflow, "proportional", t_upper, edge_costs=True
        )
        if flows or crossing:
            n_edges = len(workflow.operator_edges)
            names = [
                f"{workflow.operators[u]}->{workflow.operators[v]}"
                for u, v, _, _ in workflow.operator_edges
            ]
            cost = program.add_variables("edge_cost", n_edges, labels=[names])
            for name, parts in (("flow_floor", flows), ("crossing_floor", crossing)):
                if not parts:
                    continue
                block, edge, values = parts
                program.add_constraints(
                    name,
                    [
                        (cost, np.arange(n_edges), np.arange(n_edges), 1.0),
                        (block, edge, np.arange(edge.size), -values),
                    ],
                    lower=0.0,
                    shape=n_edges,
                    labels=[names],
                )
            terms_objective.append((cost, np.ones(n_edges)))
    program.set_objective(terms_objective)
    return program
