"""Network-cost blocks of the JellyBean MILP under either routing rule.

``"flows"``: flow variables between the price groups hosting the two ends of
every operator edge, with supply and demand rows tying them to the shares
``t``. ``"proportional"``: one ``crossing`` variable per (variant pair, group
pair) bounded below by the McCormick terms of the product of shares. Both are
assembled per edge with vectorised index arithmetic; ``THEORY.md`` derives
them and says when each is exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from idnopt.formulations.jellybean.compiled import MB_PER_S_TO_GB_PER_H, CompiledWorkflow
from idnopt.program import Program


def _share_terms(
    workflow: CompiledWorkflow,
    t_upper: np.ndarray,
    op: int,
    classes: bool,
    n_groups: int,
    group_pos: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and ``t`` columns summing an operator's shares per (variant class, group).

    Row ``class * n_groups + group_pos[group(pool)]``, where the class is the
    variant (``classes``) or 0 (all variants together).
    """
    num_pools = workflow.num_pools
    first, last = workflow.variant_offset[op], workflow.variant_offset[op + 1]
    flat = np.arange(first, last)[:, None] * num_pools + np.arange(num_pools)[None, :]
    flat = flat[t_upper.ravel()[flat] > 0]
    vi, pool = flat // num_pools, flat % num_pools
    cls = (vi - workflow.variant_offset[op]) if classes else np.zeros_like(vi)
    pool_group = workflow.worker_group[workflow.pool_first_worker]
    return cls * n_groups + group_pos[pool_group[pool]], flat


def add_network_blocks(
    program: Program,
    t: Any,
    workflow: CompiledWorkflow,
    routing: str,
    t_upper: np.ndarray,
    edge_costs: bool = False,
) -> list:
    """Declare the flow (or crossing) block of one routing rule and its rows.

    Returns the objective terms, or with ``edge_costs`` the ``(block, edge index,
    cost coefficient)`` of every variable, for per-edge cost floors.
    """
    network = _network_terms(workflow, routing, t_upper)
    if network is None:
        return []
    costs, edge_of, labels, supply, demand, prop = network
    size = len(labels)
    block = program.add_variables(
        "flow" if routing == "flows" else "crossing", size, labels=[labels]
    )
    if routing == "flows":
        program.add_constraints(
            "supply",
            [(block, *supply[0]), (t, *supply[1])],
            upper=0.0,
            shape=supply[2],
            labels=[supply[3]],
        )
        program.add_constraints(
            "demand",
            [(block, *demand[0]), (t, *demand[1])],
            lower=0.0,
            upper=0.0,
            shape=demand[2],
            labels=[demand[3]],
        )
    else:
        program.add_constraints(
            "proportional",
            [(block, *prop[0]), (t, *prop[1])],
            lower=prop[2],
            shape=size,
            labels=[labels],
        )
    if edge_costs:
        return [block, edge_of, costs]
    return [(block, np.arange(size), costs)]


def _network_terms(workflow: CompiledWorkflow, routing: str, t_upper: np.ndarray):
    """Flow (or crossing) variables and their rows for every operator edge, vectorised per edge.

    Returns ``(costs, edge of each variable, labels, supply, demand, proportional)``
    or None when no edge can carry a priced message; ``supply``/``demand`` are
    ``((rows, cols, values) for the new block, (rows, cols, values) for t, n_rows, labels)``.
    """
    costs: list[np.ndarray] = []
    edge_of: list[np.ndarray] = []
    labels: list[str] = []
    s_f, s_t, d_f, d_t, p_f, p_t = ([] for _ in range(6))
    s_rows = d_rows = 0
    s_labels: list[str] = []
    d_labels: list[str] = []
    p_lower: list[np.ndarray] = []
    offset = 0
    pool_group = workflow.worker_group[workflow.pool_first_worker]
    for e, (u, v, ratio, sizes) in enumerate(workflow.operator_edges):
        if workflow.rate[v] <= 0 or workflow.rate[u] <= 0:
            continue
        dep_u = bool(np.ptp(sizes, axis=0).max() > 0) if sizes.shape[0] > 1 else False
        dep_v = bool(np.ptp(sizes, axis=1).max() > 0) if sizes.shape[1] > 1 else False
        n_ic = sizes.shape[0] if dep_u else 1
        n_jc = sizes.shape[1] if dep_v else 1
        size_of = (
            sizes[:n_ic, :n_jc]
            if (dep_u and dep_v)
            else (sizes[:, :1] if dep_u else (sizes[:1, :] if dep_v else sizes[:1, :1]))
        )
        host_u = np.unique(
            pool_group[
                (t_upper[workflow.variant_offset[u] : workflow.variant_offset[u + 1]] > 0).any(
                    axis=0
                )
            ]
        )
        host_v = np.unique(
            pool_group[
                (t_upper[workflow.variant_offset[v] : workflow.variant_offset[v + 1]] > 0).any(
                    axis=0
                )
            ]
        )
        if host_u.size == 0 or host_v.size == 0:
            continue
        pos_u = np.full(workflow.num_groups, -1)
        pos_u[host_u] = np.arange(host_u.size)
        pos_v = np.full(workflow.num_groups, -1)
        pos_v[host_v] = np.arange(host_v.size)
        gu, gv = np.meshgrid(host_u, host_v, indexing="ij")
        gu, gv = gu.ravel(), gv.ravel()
        price = workflow.group_network_price[gu, gv]
        if routing == "flows":
            keep = workflow.group_tier[gu] <= workflow.group_tier[gv]
        else:
            keep = (workflow.group_tier[gu] < workflow.group_tier[gv]) & (price > 0)
        gu, gv, price = gu[keep], gv[keep], price[keep]
        if gu.size == 0 or (routing == "proportional" and not size_of.any()):
            continue
        n_q = gu.size
        ic, jc, qq = (a.ravel() for a in np.indices((n_ic, n_jc, n_q)))
        count = ic.size
        local = np.arange(count)
        cols = offset + local
        costs.append(MB_PER_S_TO_GB_PER_H * price[qq] * size_of[ic, jc])
        edge_of.append(np.full(count, e))
        edge = f"{workflow.operators[u]}->{workflow.operators[v]}"
        names_u = np.array(workflow.variants[u] if dep_u else ["*"], dtype=object)
        names_v = np.array(workflow.variants[v] if dep_v else ["*"], dtype=object)
        groups = np.array(workflow.group_names, dtype=object)
        labels += list(
            edge
            + "|"
            + names_u[ic]
            + "|"
            + names_v[jc]
            + "|"
            + groups[gu[qq]]
            + ">"
            + groups[gv[qq]]
        )
        t_rows_u, t_cols_u = _share_terms(workflow, t_upper, u, dep_u, host_u.size, pos_u)
        t_rows_v, t_cols_v = _share_terms(workflow, t_upper, v, dep_v, host_v.size, pos_v)
        if routing == "flows":
            # supply[(ic, g)]: sum of flows out - ratio * T_u[ic, g] <= 0
            s_f.append((s_rows + ic * host_u.size + pos_u[gu[qq]], cols))
            s_t.append((s_rows + t_rows_u, t_cols_u, np.full(t_cols_u.size, -ratio)))
            a, g = (i.ravel() for i in np.indices((n_ic, host_u.size)))
            s_labels += list(edge + "|" + names_u[a] + "|" + groups[host_u[g]])
            s_rows += n_ic * host_u.size
            # demand[(jc, g')]: sum of flows in - T_v[jc, g'] = 0
            d_f.append((d_rows + jc * host_v.size + pos_v[gv[qq]], cols))
            d_t.append((d_rows + t_rows_v, t_cols_v, np.full(t_cols_v.size, -1.0)))
            b, g = (i.ravel() for i in np.indices((n_jc, host_v.size)))
            d_labels += list(edge + "|" + names_v[b] + "|" + groups[host_v[g]])
            d_rows += n_jc * host_v.size
        else:
            # crossing >= (lam_v / lam_u) T_u[ic, g] + T_v[jc, g'] - lam_v
            # (McCormick; exact for two tiers with tier-level prices)
            p_f.append((cols, cols))
            sides = (
                (
                    ic,
                    n_ic,
                    t_rows_u,
                    t_cols_u,
                    workflow.rate[v] / workflow.rate[u],
                    host_u.size,
                    pos_u,
                    gu,
                ),
                (jc, n_jc, t_rows_v, t_cols_v, 1.0, host_v.size, pos_v, gv),
            )
            for klass, n_class, t_rows, t_cols, coef, n_g, pos, g_of in sides:
                # each crossing row takes the shares of its (class, group) on one side
                aggregate = sp.csr_matrix(
                    (np.ones(t_cols.size), (t_rows, t_cols)),
                    shape=(n_class * n_g, workflow.num_variants * workflow.num_pools),
                )
                picked = aggregate[klass * n_g + pos[g_of[qq]]].tocoo()
                p_t.append((cols[picked.row], picked.col, np.full(picked.nnz, -coef)))
            p_lower.append(np.full(count, -workflow.rate[v]))
        offset += count
    if offset == 0:
        return None

    def stack(parts: list[tuple], with_values: bool) -> tuple:
        rows = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
        cols = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
        if not with_values:
            return rows, cols, 1.0
        values = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
        return rows, cols, values

    supply = (stack(s_f, False), stack(s_t, True), s_rows, s_labels)
    demand = (stack(d_f, False), stack(d_t, True), d_rows, d_labels)
    prop = (stack(p_f, False), stack(p_t, True), np.concatenate(p_lower) if p_lower else None)
    return np.concatenate(costs), np.concatenate(edge_of), labels, supply, demand, prop
