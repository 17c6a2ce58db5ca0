"""Compiled arrays of a JellyBean instance: indices, rates, capacities, prices, pools.

Everything the evaluator, the heuristic and the MILP need is derived once from a
validated instance by :func:`compile_workflow`. Operators, their variants and the
workers keep the instance's file order. A *flat variant* index numbers every
(operator, variant) pair: operator ``v``'s variants are
``variant_offset[v] .. variant_offset[v + 1] - 1``. Tiers are kept twice: the raw
rank (position in :data:`idnopt.instance.TIERS`, or the integer given) and a
compressed index ``0 .. num_tiers - 1`` over the tiers that workers use. See
``THEORY.md`` for the rates, price groups and pools.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from idnopt.errors import InputError
from idnopt.formulations.jellybean.checks import (
    as_name,
    price_end_key,
    raise_problems,
    table_columns,
)
from idnopt.formulations.jellybean.schema import (
    Edge,
    JellyBeanInstance,
    SizeRule,
    tier_name,
    tier_rank,
)

MB_PER_S_TO_GB_PER_H = 3.6
"""$/h of one MB/s priced at 1 $/GB (3600 s/h, 1000 MB/GB)."""
TOLERANCE = 1e-6
"""Shares (requests/s) at or below this, relative to the rate, count as zero."""


@dataclass
class CompiledWorkflow:
    """Arrays derived once from a validated instance (indices in file order).

    Shapes use ``V`` operators, ``F`` flat variants, ``Wk`` workers, ``S``
    sources, ``T`` tiers in use, ``G`` price groups and ``R`` table rows.

    Attributes
    ----------
    operators : list of str
        Operator names.
    variants : list of list of str
        Variant names of every operator.
    variant_offset : numpy.ndarray
        ``(V + 1,)`` first flat variant index of each operator.
    variant_operator : numpy.ndarray
        ``(F,)`` operator of each flat variant.
    variant_in_operator : numpy.ndarray
        ``(F,)`` index of each flat variant within its operator.
    workers : list of str
        Worker names (members of entries with a ``count`` expanded).
    worker_tier_rank : numpy.ndarray
        ``(Wk,)`` raw tier rank of each worker.
    worker_tier : numpy.ndarray
        ``(Wk,)`` compressed tier index ``0 .. T - 1`` of each worker.
    tier_ranks : list of int
        Raw rank of each compressed tier.
    worker_price : numpy.ndarray
        ``(Wk,)`` $/h.
    capacity : numpy.ndarray
        ``(F, Wk)`` requests/s a worker sustains with a variant; 0 where it cannot run it.
    tier_allowed : numpy.ndarray
        ``(V, Wk)`` whether the worker's tier is not below the operator's data sources.
    rate : numpy.ndarray
        ``(V,)`` requests/s each operator must sustain.
    topological_order : list of int
        Operators, every one after its predecessors.
    operator_edges : list of tuple
        ``(u, v, ratio, sizes)`` per operator edge, ``sizes`` in MB of shape
        ``(variants of u, variants of v)``.
    source_edges : list of tuple
        ``(s, v, ratio, sizes)`` per source edge, ``sizes`` of shape ``(variants of v,)``.
    sources : list of str
        Source names.
    source_tier_rank : numpy.ndarray
        ``(S,)`` raw tier rank of each source.
    network_price : numpy.ndarray
        ``(Wk, Wk)`` $/GB between workers, 0 unless the crossing is upward.
    source_network_price : numpy.ndarray
        ``(S, Wk)`` $/GB from sources to workers, 0 unless the crossing is upward.
    worker_group : numpy.ndarray
        ``(Wk,)`` price group of each worker.
    group_tier : numpy.ndarray
        ``(G,)`` compressed tier of each price group.
    group_network_price : numpy.ndarray
        ``(G, G)`` $/GB between price groups.
    group_names : list of str
        A tier name, or the worker's name for a group of one named worker.
    pools : list of list of int
        Sets of interchangeable workers (same group, price, capacities, prices, tiers).
    accuracy_rule : str
        ``"table"``, ``"product"`` or ``"minimum"``.
    table_combinations : numpy.ndarray or None
        ``(R, V)`` variant index per operator of each table row (table rule).
    table_accuracy : numpy.ndarray or None
        ``(R,)`` accuracy of each table row (table rule).
    variant_accuracy : numpy.ndarray
        ``(F,)`` per-variant accuracy (nan when not given).
    row_of_combination : dict
        Table row of each combination (tuple of variant indices).
    variant_output_accuracy : numpy.ndarray
        ``(F,)`` each variant's own profiled output accuracy (nan when not given).
    variant_beam_cost : numpy.ndarray
        ``(F,)`` proxy cost of the published beam search (nan when not given).
    """

    operators: list[str]
    variants: list[list[str]]
    variant_offset: np.ndarray
    variant_operator: np.ndarray
    variant_in_operator: np.ndarray
    workers: list[str]
    worker_tier_rank: np.ndarray
    worker_tier: np.ndarray
    tier_ranks: list[int]
    worker_price: np.ndarray
    capacity: np.ndarray
    tier_allowed: np.ndarray
    rate: np.ndarray
    topological_order: list[int]
    operator_edges: list[tuple[int, int, float, np.ndarray]]
    source_edges: list[tuple[int, int, float, np.ndarray]]
    sources: list[str]
    source_tier_rank: np.ndarray
    network_price: np.ndarray
    source_network_price: np.ndarray
    worker_group: np.ndarray
    group_tier: np.ndarray
    group_network_price: np.ndarray
    group_names: list[str]
    pools: list[list[int]]
    accuracy_rule: str
    table_combinations: np.ndarray | None
    table_accuracy: np.ndarray | None
    variant_accuracy: np.ndarray
    row_of_combination: dict[tuple[int, ...], int] = field(default_factory=dict)
    variant_output_accuracy: np.ndarray | None = None
    variant_beam_cost: np.ndarray | None = None

    # -- sizes -------------------------------------------------------------------------
    @property
    def num_operators(self) -> int:
        """Number of operators."""
        return len(self.operators)

    @property
    def num_variants(self) -> int:
        """Number of (operator, variant) pairs, i.e. of flat variant indices."""
        return int(self.variant_offset[-1])

    @property
    def num_workers(self) -> int:
        """Number of workers."""
        return len(self.workers)

    @property
    def num_tiers(self) -> int:
        """Number of tiers in use."""
        return len(self.tier_ranks)

    @property
    def num_pools(self) -> int:
        """Number of pools of interchangeable workers."""
        return len(self.pools)

    @property
    def num_groups(self) -> int:
        """Number of price groups."""
        return len(self.group_tier)

    @property
    def mccormick_exact(self) -> bool:
        """Whether the McCormick terms are exact (at most two tiers, tier-level prices)."""
        return self.num_tiers <= 2 and self.num_groups == self.num_tiers

    @property
    def potential_prices(self) -> bool:
        r"""Whether proportional traffic costs the same as any flow.

        True when prices depend on tiers only and add up along them
        (:math:`\pi_{kk'} = \phi_{k'} - \phi_k`), and no edge has spare supply
        (:math:`\lambda_v = \rho_{uv} \lambda_u`): a flow's cost is then
        :math:`\sum_b \phi_b t_b - \sum_a \phi_a t_a \lambda_v / \lambda_u` whatever the routing.
        """
        if self.num_groups != self.num_tiers:
            return False
        tier_price = np.zeros((self.num_tiers, self.num_tiers))
        tier_price[np.ix_(self.group_tier, self.group_tier)] = self.group_network_price
        phi = tier_price[0]  # phi_0 = 0, phi_k = price from the lowest tier to tier k
        upper = np.triu_indices(self.num_tiers, 1)
        if not np.allclose(tier_price[upper], (phi[None, :] - phi[:, None])[upper], atol=1e-12):
            return False
        return all(
            abs(self.rate[v] - ratio * self.rate[u]) <= 1e-9 * max(1.0, self.rate[v])
            for u, v, ratio, _ in self.operator_edges
        )

    @property
    def proportional_exact(self) -> bool:
        """Whether the proportional rule's MILP is exact."""
        return self.mccormick_exact or self.potential_prices

    # -- pools -------------------------------------------------------------------------
    @property
    def pool_size(self) -> np.ndarray:
        """Number of workers in each pool."""
        return np.array([len(p) for p in self.pools], dtype=float)

    @property
    def pool_first_worker(self) -> np.ndarray:
        """First worker of each pool (its representative)."""
        return np.array([p[0] for p in self.pools], dtype=np.int64)

    @cached_property
    def worker_pool(self) -> np.ndarray:
        """Pool of each worker."""
        pool_of = np.zeros(self.num_workers, dtype=np.int64)
        for p, members in enumerate(self.pools):
            pool_of[members] = p
        return pool_of

    @cached_property
    def operator_index(self) -> dict[str, int]:
        """Index of each operator name."""
        return {name: v for v, name in enumerate(self.operators)}

    @cached_property
    def worker_index(self) -> dict[str, int]:
        """Index of each worker name."""
        return {name: w for w, name in enumerate(self.workers)}

    def flat_variant(self, op: int, var: int) -> int:
        """Flat index of variant ``var`` of operator ``op``."""
        return int(self.variant_offset[op]) + int(var)

    def variant_label(self, flat: int) -> str:
        """``operator:variant`` of a flat variant index."""
        op = self.variant_operator[flat]
        return f"{self.operators[op]}:{self.variants[op][self.variant_in_operator[flat]]}"

    def tier_label(self, compressed: int) -> str:
        """Name of a compressed tier index."""
        return tier_name(self.tier_ranks[compressed])

    # -- accuracy ----------------------------------------------------------------------
    def accuracy_of(self, combo: Sequence[int]) -> float | None:
        """End-to-end accuracy of a combination (variant index per operator), None if unknown."""
        if self.accuracy_rule == "table":
            row = self.row_of_combination.get(tuple(int(c) for c in combo))
            return None if row is None else float(self.table_accuracy[row])
        values = [self.variant_accuracy[self.flat_variant(v, c)] for v, c in enumerate(combo)]
        if any(math.isnan(a) for a in values):
            return None
        return float(np.prod(values)) if self.accuracy_rule == "product" else float(min(values))

    def combination_text(self, combo: Sequence[int]) -> str:
        """``operator=variant, …`` of a combination."""
        return ", ".join(
            f"{op}={self.variants[v][combo[v]]}" for v, op in enumerate(self.operators)
        )

    def best_table_accuracy(self) -> float:
        """Best accuracy of any known combination, whatever the workers can serve."""
        if self.accuracy_rule == "table":
            return float(self.table_accuracy.max()) if self.table_accuracy.size else 0.0
        best = [
            np.nanmax(self.variant_accuracy[self.variant_offset[v] : self.variant_offset[v + 1]])
            for v in range(self.num_operators)
        ]
        return float(np.prod(best)) if self.accuracy_rule == "product" else float(min(best))


def compile_workflow(inst: JellyBeanInstance) -> CompiledWorkflow:
    """Derive the arrays of an instance.

    Parameters
    ----------
    inst : JellyBeanInstance
        A validated instance; it is cross-checked here.

    Returns
    -------
    CompiledWorkflow
        Indices in file order, rates propagated along the workflow, capacities,
        network prices, price groups and pools of interchangeable workers.

    Raises
    ------
    InputError
        When the instance is not a JellyBean instance or fails its cross-checks
        (the first problem is named with its location).
    """
    if not isinstance(inst, JellyBeanInstance):
        raise InputError(f"expected a jellybean instance, got kind {getattr(inst, 'kind', None)!r}")
    raise_problems(inst.cross_check())
    ops = [o.name for o in inst.operators]
    op_index = {name: i for i, name in enumerate(ops)}
    variants = [[v.name for v in o.variants] for o in inst.operators]
    counts = np.array([len(v) for v in variants], dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    vi_op = np.repeat(np.arange(len(ops)), counts)
    vi_var = np.arange(int(offset[-1])) - offset[vi_op]
    # workers
    names: list[str] = []
    base: list[str] = []
    hardware: list[str | None] = []
    rank: list[int] = []
    price: list[float] = []
    for worker in inst.workers:
        for member in worker.members:
            names.append(member)
            base.append(worker.name)
            hardware.append(worker.hardware)
            rank.append(tier_rank(worker.tier))
            price.append(worker.price)
    worker_rank = np.array(rank, dtype=np.int64)
    tier_ranks = sorted(set(rank))
    worker_tier = np.searchsorted(np.array(tier_ranks), worker_rank)
    num_workers = len(names)
    capacity = np.zeros((int(offset[-1]), num_workers))
    for oi, op in enumerate(inst.operators):
        for vj, variant in enumerate(op.variants):
            row = capacity[offset[oi] + vj]
            for w in range(num_workers):
                lat = variant.latency.get(names[w])
                if lat is None:
                    lat = variant.latency.get(base[w])
                if lat is None and hardware[w] is not None:
                    lat = variant.latency.get(hardware[w])
                if lat is not None:
                    row[w] = 1000.0 / lat
    # sources, edges, rates
    sources = [s.name for s in inst.sources]
    src_index = {name: i for i, name in enumerate(sources)}
    lowest = min(rank)
    source_rank = np.array(
        [lowest if s.tier is None else tier_rank(s.tier) for s in inst.sources], dtype=np.int64
    )
    incoming: dict[int, list[tuple[str, int, float]]] = {v: [] for v in range(len(ops))}
    op_edges: list[tuple[int, int, float, np.ndarray]] = []
    src_edges: list[tuple[int, int, float, np.ndarray]] = []
    for edge in inst.edges:
        v = op_index[edge.target]
        if edge.source in src_index:
            sizes = _edge_sizes(edge, None, variants[v])[0]
            src_edges.append((src_index[edge.source], v, edge.ratio, sizes))
            incoming[v].append(("source", src_index[edge.source], edge.ratio))
        else:
            u = op_index[edge.source]
            op_edges.append((u, v, edge.ratio, _edge_sizes(edge, variants[u], variants[v])))
            incoming[v].append(("operator", u, edge.ratio))
    topo = _topological_order(len(ops), [(u, v) for u, v, _, _ in op_edges])
    rate = np.zeros(len(ops))
    for v in topo:
        rates = [
            (inst.sources[i].rate if kind == "source" else rate[i]) * ratio
            for kind, i, ratio in incoming[v]
        ]
        rate[v] = min(rates)
    allowed = np.ones((len(ops), num_workers), dtype=bool)
    for s, v, _, _ in src_edges:
        allowed[v] &= worker_rank >= source_rank[s]
    # network prices
    table: dict[tuple, float] = {}
    ends = set(names) | set(base) | set(sources)
    named: set[str] = set()
    named_any: set[str] = set()
    for entry in inst.network.prices:
        key = (price_end_key(entry.source, ends), price_end_key(entry.target, ends))
        table[key] = entry.price
        named_any.update(end[1] for end in key if end[0] == "name")
        if key[0][0] == "name" and key[0][1] in src_index:
            continue  # source-to-worker prices do not split the worker price groups
        for end in key:
            if end[0] == "name":
                named.add(end[1])
    default = inst.network.default

    def lookup(from_keys: list[tuple], to_keys: list[tuple], r_from: int, r_to: int) -> float:
        if r_to <= r_from:
            return 0.0
        for fk in from_keys:
            for tk in to_keys:
                if (fk, tk) in table:
                    return table[(fk, tk)]
        return default

    keys = [[("name", names[w]), ("name", base[w]), ("tier", rank[w])] for w in range(num_workers)]
    # tier-level prices for every pair, then the rows and columns of named workers
    by_tier = np.array(
        [[lookup([("tier", ra)], [("tier", rb)], ra, rb) for rb in tier_ranks] for ra in tier_ranks]
    )
    network_price = by_tier[np.ix_(worker_tier, worker_tier)]
    for a in (w for w in range(num_workers) if names[w] in named_any or base[w] in named_any):
        for b in range(num_workers):
            network_price[a, b] = lookup(keys[a], keys[b], rank[a], rank[b])
            network_price[b, a] = lookup(keys[b], keys[a], rank[b], rank[a])
    source_network_price = np.zeros((len(sources), num_workers))
    for s, name in enumerate(sources):
        fk = [("name", name), ("tier", int(source_rank[s]))]
        for b in range(num_workers):
            source_network_price[s, b] = lookup(fk, keys[b], int(source_rank[s]), rank[b])
    # price groups: tiers, except workers named in worker-level price entries
    group = np.zeros(num_workers, dtype=np.int64)
    group_tier: list[int] = []
    group_names: list[str] = []
    tier_group: dict[int, int] = {}
    for w in range(num_workers):
        if names[w] in named or base[w] in named:
            group[w] = len(group_tier)
            group_tier.append(int(worker_tier[w]))
            group_names.append(names[w])
        else:
            k = int(worker_tier[w])
            if k not in tier_group:
                tier_group[k] = len(group_tier)
                group_tier.append(k)
                group_names.append(tier_name(tier_ranks[k]))
            group[w] = tier_group[k]
    reps = np.array([int(np.flatnonzero(group == g)[0]) for g in range(len(group_tier))])
    group_price = network_price[np.ix_(reps, reps)]
    # pools of interchangeable workers
    pool_of: dict[tuple, int] = {}
    pools: list[list[int]] = []
    for w in range(num_workers):
        key = (
            int(group[w]),
            price[w],
            capacity[:, w].tobytes(),
            source_network_price[:, w].tobytes(),
            allowed[:, w].tobytes(),
        )
        if key not in pool_of:
            pool_of[key] = len(pools)
            pools.append([])
        pools[pool_of[key]].append(w)
    # accuracy
    var_acc = np.array(
        [np.nan if v.accuracy is None else v.accuracy for o in inst.operators for v in o.variants]
    )
    rows = row_acc = None
    lookup_rows: dict[tuple[int, ...], int] = {}
    if inst.accuracy.rule == "table":
        # operators without a column have a single variant: index 0 in every row
        position = [op_index[c] for c in table_columns(inst)]
        rows = np.zeros((len(inst.accuracy.rows), len(ops)), dtype=np.int64)
        row_acc = np.zeros(len(inst.accuracy.rows))
        for r, row in enumerate(inst.accuracy.rows):
            for column, name in zip(position, row[:-1]):
                rows[r, column] = variants[column].index(as_name(name))
            row_acc[r] = float(row[-1])
            lookup_rows[tuple(int(c) for c in rows[r])] = r
    return CompiledWorkflow(
        operators=ops,
        variants=variants,
        variant_offset=offset,
        variant_operator=vi_op,
        variant_in_operator=vi_var,
        workers=names,
        worker_tier_rank=worker_rank,
        worker_tier=worker_tier,
        tier_ranks=tier_ranks,
        worker_price=np.array(price),
        capacity=capacity,
        tier_allowed=allowed,
        rate=rate,
        topological_order=topo,
        operator_edges=op_edges,
        source_edges=src_edges,
        sources=sources,
        source_tier_rank=source_rank,
        network_price=network_price,
        source_network_price=source_network_price,
        worker_group=group,
        group_tier=np.array(group_tier, dtype=np.int64),
        group_network_price=group_price,
        group_names=group_names,
        pools=pools,
        accuracy_rule=inst.accuracy.rule,
        table_combinations=rows,
        table_accuracy=row_acc,
        variant_accuracy=var_acc,
        row_of_combination=lookup_rows,
        variant_output_accuracy=np.array(
            [_or_nan(v.output_accuracy) for o in inst.operators for v in o.variants]
        ),
        variant_beam_cost=np.array(
            [_or_nan(v.beam_cost) for o in inst.operators for v in o.variants]
        ),
    )


def _or_nan(value: float | None) -> float:
    """``value``, or nan when it is not given."""
    return math.nan if value is None else float(value)


def _edge_sizes(
    edge: Edge, source_variants: list[str] | None, target_variants: list[str]
) -> np.ndarray:
    """Message sizes (MB) per (source variant, target variant); one row for data sources."""
    n_u = 1 if source_variants is None else len(source_variants)
    sizes = np.full((n_u, len(target_variants)), float(edge.size))

    def specificity(rule: SizeRule) -> int:
        return 2 * (rule.source_variant is not None) + (rule.target_variant is not None)

    for rule in sorted(edge.sizes, key=specificity):
        rows = (
            slice(None)
            if rule.source_variant is None
            else source_variants.index(rule.source_variant)
        )
        cols = (
            slice(None)
            if rule.target_variant is None
            else target_variants.index(rule.target_variant)
        )
        sizes[rows, cols] = rule.size
    return sizes


def _topological_order(n: int, edges: list[tuple[int, int]]) -> list[int]:
    """Kahn's order of ``n`` nodes (ready nodes first-in, first-out)."""
    indegree = [0] * n
    successors: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges:
        successors[u].append(v)
        indegree[v] += 1
    ready = [v for v in range(n) if indegree[v] == 0]
    order: list[int] = []
    while ready:
        v = ready.pop(0)
        order.append(v)
        for w in successors[v]:
            indegree[w] -= 1
            if indegree[w] == 0:
                ready.append(w)
    return order
