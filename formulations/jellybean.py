r"""JellyBean: cost-minimal serving of ML inference workflows (Wu et al., PVLDB 16(3) 2022).

A workflow is a DAG of operators fed by data sources. Every operator has model
variants; the end-to-end accuracy of a *combination* of variants comes from a
profiled table. Workers are machines in ordered tiers (device < edge < cloud)
with an hourly price; a worker hosts at most one operator and serves
``1000 / latency`` requests/s of the variant it runs. The problem: choose the
combination, the workers and the shares (requests/s per worker) that meet an
accuracy target and the request rates at minimum compute + network cost ($/h).

This module offers

* the instance schema (``kind: jellybean``) with located cross-checks;
* ``milp`` — an exact mixed-integer linear program, under either routing rule;
* ``heuristic`` — the published baseline: beam search over combinations ranked
  by a proxy cost, then greedy worker assignment that fills each worker to
  capacity in pick order;
* :func:`evaluate` — prices any plan under either rule and checks every
  constraint, so plans from anywhere can be compared;
* :func:`accuracy_sweep` — the cost–accuracy curve and the point where the
  target becomes unreachable, with the best reachable accuracy;
* :func:`random_instance` — seeded random instances for tests and benchmarks.

Notation and rates
------------------
Sources :math:`s` inject :math:`r_s` requests/s. An edge :math:`u \to v` scales
the rate by :math:`\rho_{uv}` (default 1) and an operator sustains
:math:`\lambda_v = \min_{u \to v} \lambda_u \rho_{uv}` (sources: :math:`\lambda_s = r_s`).
Every request of :math:`v` consumes one message from each predecessor, so an edge
:math:`u \to v` carries :math:`\lambda_v` messages/s of :math:`\sigma_{uv}(i, j)`
MB each (:math:`i, j` the variants at both ends). Prices :math:`\pi(a, b)` are in
$/GB and apply only to upward tier crossings (:math:`\mathrm{tier}(a) <
\mathrm{tier}(b)`); same-tier traffic is free. A traffic of ``q`` MB/s costs
``3.6 · π · q`` $/h (3600 s/h, 1000 MB/GB).

The MILP
--------
Variables (all blocks are named; see :meth:`JellyBeanFormulation.build`):

* ``z[row]`` ∈ [0,1]: the accuracy-table row (combination) chosen; only rows
  whose accuracy meets the target are declared; :math:`\sum_r z_r = 1`.
  The table is used *exactly*: no monotonicity or product rule is assumed, so
  non-monotone tables are handled. ``z`` needs no integrality: with ``x``
  binary every row in its support has ``x``'s combination, and rows are
  distinct combinations, so ``z`` is integral too. With ``rule: product`` or
  ``rule: minimum`` (only when no table is given) there is no ``z``: the
  product rule is :math:`\sum_{v,i} \log(a_{vi}) x_{vi} \ge \log(\text{target})`,
  the minimum rule fixes :math:`x_{vi} = 0` when :math:`a_{vi} <` target.
* ``x[v:i]`` ∈ {0,1}: variant :math:`i` runs operator :math:`v`; linked to the
  table by :math:`x_{vi} = \sum_{r \ni (v,i)} z_r`.
* ``n[v, pool]`` ∈ {0..u}: how many workers of a pool host :math:`v`.
  A *pool* is a set of interchangeable workers (same tier, price, latencies and
  network prices); pooling is exact — any total share :math:`T \le k \cdot cap`
  splits into :math:`k` shares :math:`\le cap` — and removes the symmetry of
  identical machines. Distinct workers are pools of one (``n`` binary).
  :math:`\sum_v n_{v,p} \le |p|` (one operator per worker). The bound ``u`` is
  also at most :math:`\lceil \lambda_v / cap \rceil` for the slowest variant: a
  plan never needs more workers of one pool, so an optimum always respects it.
* ``t[v:i, pool]`` ≥ 0: requests/s of :math:`v` served by variant :math:`i` on the
  pool: :math:`\sum_i t_{vi,p} / \min(cap_{vi,p}, \lambda_v) \le n_{v,p}`
  (exact because only the chosen variant carries shares, and tighter than
  :math:`t \le cap\, n` in the relaxation), :math:`\sum_p t_{vi,p} \le \lambda_v x_{vi}`
  and :math:`\sum_{i,p} t_{vi,p} = \lambda_v`.
* ``h[v, tier]`` ∈ {0,1}: :math:`v` has a positive share on that tier
  (:math:`T_v[k] \le \lambda_v h_{v,k}`). Tier order on every edge
  :math:`u \to v` (highest tier of :math:`u` ≤ lowest tier of :math:`v`) is the pairwise
  exclusion :math:`h_{u,k} + h_{v,k'} \le 1` for :math:`k > k'` — :math:`O(|E| K^2)` rows,
  aggregated per tier. Operators fed by a source never use tiers below it.

Valid inequalities that only tighten the relaxation: per variant, the workers'
capacities must cover the rate (:math:`\sum_p \min(cap, \lambda) n_{v,p} \ge \lambda_v x_{vi}`,
a knapsack row on integers only), and each operator pays at least the cheapest
cover of its rate by its chosen variant alone (:math:`\sum_p price_p n_{v,p} \ge
\sum_i C_{vi} x_{vi}`, :math:`C_{vi}` found by a small depth-first search, or its
fractional bound when the search is cut short). Variants that cannot cover their
rate even alone are fixed to zero.

Compute cost is :math:`\sum_{v,p} \text{price}_p\, n_{v,p}`. Source traffic is linear:
worker :math:`b` of :math:`v` receives :math:`t_b` messages/s from source :math:`s`.

Network cost, routing by flows (``routing="flows"``)
  Workers are grouped by price: each tier is one group, except workers named
  in a worker-specific price entry, which form a group of their own. Flows
  ``f[e, i, j, g, g']`` (messages/s from group :math:`g` of :math:`u` to group
  :math:`g'` of :math:`v`, only for :math:`\mathrm{tier}(g) \le \mathrm{tier}(g')`) satisfy the
  transportation constraints :math:`\sum_{j,g'} f \le \rho_{uv} T_u[i, g]` (supply)
  and :math:`\sum_{i,g} f = T_v[j, g']` (demand), where :math:`T_u[i,g]` is the share
  of :math:`u`'s variant :math:`i` on group :math:`g`. Only the variant indices the size
  depends on are kept; because :math:`T_u[i,\cdot] = 0` unless :math:`i` is chosen,
  flows live on the chosen pair only and the cost
  :math:`3.6 \sum \pi(g,g')\, \sigma(i,j)\, f` is exact. Group aggregation is exact
  because prices are constant inside groups (any group-level transport
  disaggregates to workers). This rule is linear, exact for any number of
  tiers, and never dearer than the proportional rule (whose traffic is one
  feasible flow).

Network cost, proportional routing (``routing="proportional"``, the published rule)
  Worker :math:`a` of :math:`u` sends :math:`b` of :math:`v` the fraction
  :math:`t_a / \lambda_u` of :math:`b`'s :math:`t_b` messages, a product of shares. With
  tier-level prices the edge costs
  :math:`3.6\, \sigma \sum_{k<k'} \pi_{kk'} A_k B_{k'}` where
  :math:`A_k = T_u[k]/\lambda_u \in [0,1]` and :math:`B_{k'} = T_v[k'] \in [0, \lambda_v]`.

  *Derivation (two tiers).* With tiers 0 < 1 the cost is
  :math:`3.6\,\sigma\,\pi_{01} A_0 B_1`. The tier order leaves three cases: :math:`u`
  entirely on tier 0 (:math:`A_0 = 1`), :math:`v` entirely on tier 1
  (:math:`B_1 = \lambda_v`), or both. If :math:`A_0 = 1` then :math:`A_0 B_1 = B_1`; if
  :math:`B_1 = \lambda_v` then :math:`A_0 B_1 = A_0 \lambda_v`. Both equal
  :math:`A_0 \lambda_v + B_1 - \lambda_v`, so on every plan obeying the tier order
  :math:`A_0 B_1 = A_0 \lambda_v + B_1 - \lambda_v \ (\ge 0)` — a *linear* expression.
  The MILP charges a variable ``crossing ≥ 0, crossing ≥ (λ_v/λ_u) T_u[i,0] +
  T_v[j,1] − λ_v`` at :math:`3.6\,\pi_{01}\,\sigma(i,j)`; minimisation makes it equal
  the right-hand side, i.e. the exact product. With variant-dependent sizes one per
  variant pair is declared; since :math:`T_u[i,\cdot]=0` for an unchosen :math:`i`
  (and likewise for :math:`j`), the right-hand side is :math:`\le 0` except on the
  chosen pair, so the model stays exact with no pair indicator. The two
  inequalities are the McCormick under-estimators of :math:`A \cdot B` on
  :math:`[0,1] \times [0, \lambda_v]`, tight here because one factor sits at its upper
  bound.

  *Prices that add up along tiers.* When prices depend on tiers only and
  satisfy :math:`\pi_{kk'} = \phi_{k'} - \phi_k` (crossing two tiers costs the two
  hops), and no edge has spare supply (:math:`\lambda_v = \rho_{uv}\lambda_u`),
  every routing of an edge costs :math:`\sum_b \phi_b t_b - \sum_a \phi_a t_a
  \lambda_v/\lambda_u`: proportional routing then costs exactly what the flow
  model charges, for any number of tiers, and that model is used.

  *Otherwise (three or more tiers, or worker-specific prices).* A product
  :math:`A_k B_{k'}` is no longer linear on every plan: e.g. :math:`u` split over
  tiers {0, 1} and :math:`v` over {1, 2} gives the term :math:`A_0 B_2` with neither
  factor at its bound (worker-specific prices give products of shares of
  different groups even with two tiers); an exact model would need the
  non-convex products themselves or discretised shares. The MILP then charges
  each edge the larger of two valid under-estimates: the McCormick terms above,
  and the cost of the cheapest flow for the same shares (proportional traffic is
  one feasible flow). Its optimum is a proven lower bound on the true optimum.
  The returned plan is priced exactly by :func:`evaluate` (the cheaper of the
  MILP's plan and the heuristic's plan is kept), ``bound`` holds the MILP bound,
  and the status is ``optimal`` only when the two agree (as they do whenever no
  edge of the MILP's plan has both ends split across tiers); otherwise it is
  ``feasible`` with the gap. ``Result.metrics["exact"]`` says whether the model
  was exact.

Infeasible targets
------------------
When no plan meets the target, a second MILP maximises the accuracy subject to
the rates, capacities and tier order (no cost); the result's message names the
best reachable accuracy and its combination, and the best accuracy in the table
when capacity is what prevents it.
"""

from __future__ import annotations

import difflib
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field, field_validator

from idnopt.backends import get_backend, solve_program
from idnopt.errors import InputError, format_location
from idnopt.formulation import Formulation
from idnopt.instance import TIERS, Instance, Name, Node, Problem, Strict, unknown_name
from idnopt.program import Program
from idnopt.registry import Family, register
from idnopt.result import Result, Status, relative_gap
from idnopt.units import (
    DollarsPerGigabyte,
    DollarsPerHour,
    Megabytes,
    Milliseconds,
    RequestsPerSecond,
)

Routing = Literal["flows", "proportional"]
ROUTINGS: tuple[str, ...] = ("flows", "proportional")
_MB_PER_S_TO_GB_PER_H = 3.6
_TOL = 1e-6
MIP_GAP = 1e-6
"""Default relative MIP gap of the exact methods (HiGHS's own default is 1e-4)."""

# ======================================================================================
# Schema
# ======================================================================================


def _check_tier(tier: str | int) -> str | int:
    return Node._known_tier(tier)  # the same tier names and hints as network nodes


def _tier_rank(tier: str | int) -> int:
    return TIERS.index(tier) if isinstance(tier, str) else int(tier)


def _tier_name(rank: int) -> str:
    return TIERS[rank] if 0 <= rank < len(TIERS) else f"tier-{rank}"


class Worker(Strict):
    """A machine that can host one operator.

    ``count`` declares that many identical machines named ``name-1``…``name-k``
    (just ``name`` when 1). ``hardware`` is an optional name that variant
    latencies may refer to instead of the worker's name.
    """

    name: Name
    tier: str | int = "edge"
    price: Annotated[DollarsPerHour, Field(ge=0)]
    hardware: Name | None = None
    count: Annotated[int, Field(ge=1)] = 1

    @field_validator("tier")
    @classmethod
    def _known_tier(cls, tier: str | int) -> str | int:
        return _check_tier(tier)

    @property
    def members(self) -> list[str]:
        """Names of the machines this entry declares."""
        if self.count == 1:
            return [self.name]
        return [f"{self.name}-{k}" for k in range(1, self.count + 1)]


class Source(Strict):
    """A data source injecting ``rate`` requests/s; it sits on ``tier`` (default: lowest)."""

    name: Name
    rate: Annotated[RequestsPerSecond, Field(ge=0)]
    tier: str | int | None = None

    @field_validator("tier")
    @classmethod
    def _known_tier(cls, tier: str | int | None) -> str | int | None:
        return tier if tier is None else _check_tier(tier)


class Variant(Strict):
    """A model variant of an operator.

    ``latency`` maps worker names (or worker ``hardware`` names) to ms per
    request; a worker without an entry cannot run the variant. ``accuracy`` is
    only needed by the ``product``/``minimum`` accuracy rules (and, when given,
    ranks variants for the heuristic).
    """

    name: Name
    latency: dict[str, Annotated[Milliseconds, Field(gt=0)]] = Field(default_factory=dict)
    accuracy: Annotated[float, Field(ge=0, le=1)] | None = None


class Operator(Strict):
    """A workflow operator and its model variants."""

    name: Name
    variants: list[Variant] = Field(min_length=1)


class SizeRule(Strict):
    """A message size for some variants at the ends of an edge (omitted end: any variant)."""

    source_variant: Name | None = None
    target_variant: Name | None = None
    size: Annotated[Megabytes, Field(ge=0)]


class Edge(Strict):
    """A workflow edge from a source or operator to an operator.

    ``ratio`` scales the rate (e.g. detections per frame); ``size`` is the
    default message size, ``sizes`` refines it per variant. The most specific
    rule wins: both variants, then the source variant, then the target variant,
    then ``size``.
    """

    source: Name
    target: Name
    ratio: Annotated[float, Field(gt=0)] = 1.0
    size: Annotated[Megabytes, Field(ge=0)] = 0.0
    sizes: list[SizeRule] = Field(default_factory=list)


class Price(Strict):
    """A network price in $/GB from one end to another.

    Each end is a tier (name or integer; a tier name always means the tier), a
    worker name (an entry with ``count`` may be named as a whole or by member) or
    a source name. The most specific entry wins, the sending end's specificity
    first. Only upward tier crossings are charged.
    """

    source: str | int
    target: str | int
    price: Annotated[DollarsPerGigabyte, Field(ge=0)]


class Network(Strict):
    """Network prices: ``default`` for every upward crossing not listed in ``prices``."""

    default: Annotated[DollarsPerGigabyte, Field(ge=0)] = 0.0
    prices: list[Price] = Field(default_factory=list)


class Accuracy(Strict):
    """End-to-end accuracy of variant combinations.

    ``rule: table`` (default): ``rows`` list combinations as
    ``[variant of columns[0], …, variant of columns[-1], accuracy]`` (``columns``
    defaults to the operators in file order); only listed combinations may be
    chosen. ``rule: product`` / ``rule: minimum`` compute the accuracy from each
    variant's ``accuracy`` instead (only when no table is given).
    """

    rule: Literal["table", "product", "minimum"] = "table"
    columns: list[Name] | None = None
    rows: list[list[str | float]] = Field(default_factory=list)


class JellyBeanInstance(Instance):
    """A JellyBean workflow-serving instance (``kind: jellybean``)."""

    kind: Literal["jellybean"] = "jellybean"
    sources: list[Source] = Field(min_length=1)
    operators: list[Operator] = Field(min_length=1)
    edges: list[Edge] = Field(min_length=1)
    workers: list[Worker] = Field(min_length=1)
    accuracy: Accuracy = Field(default_factory=Accuracy)
    network: Network = Field(default_factory=Network)
    target: Annotated[float, Field(ge=0, le=1)] = 0.0

    family: ClassVar[str] = "jellybean"

    def cross_check(self) -> list[Problem]:
        """Check every name and reference; return located problems (empty when consistent)."""
        return _cross_check(self)


def _duplicates(names: Sequence[str], where: tuple, what: str) -> list[Problem]:
    seen: set[str] = set()
    problems: list[Problem] = []
    for index, name in enumerate(names):
        if name in seen:
            problems.append(((*where, index, "name"), f"duplicate {what} name {name!r}"))
        seen.add(name)
    return problems


def _cross_check(inst: JellyBeanInstance) -> list[Problem]:
    """Every located problem of an instance: names, edges, accuracy table, prices."""
    problems, names = _check_names(inst)
    problems += _check_edges(inst, names)
    problems += _check_accuracy(inst, names)
    problems += _check_network(inst, names)
    return problems


@dataclass(frozen=True)
class _Names:
    sources: list[str]
    operators: list[str]
    workers: list[str]  # every member, plus the names of entries with a count
    variants: dict[str, list[str]]


def _check_names(inst: JellyBeanInstance) -> tuple[list[Problem], _Names]:
    problems: list[Problem] = []
    sources = [s.name for s in inst.sources]
    operators = [o.name for o in inst.operators]
    problems += _duplicates(sources, ("sources",), "source")
    problems += _duplicates(operators, ("operators",), "operator")
    for index, name in enumerate(operators):
        if name in sources:
            problems.append((("operators", index, "name"), f"{name!r} is also a source name"))
    members: list[str] = []
    member_entry: list[int] = []
    for index, worker in enumerate(inst.workers):
        members += worker.members
        member_entry += [index] * worker.count
    seen: set[str] = set()
    for index, name in zip(member_entry, members):
        if name in seen:
            problems.append((("workers", index, "name"), f"duplicate worker name {name!r}"))
        elif name in sources or name in operators:
            problems.append(
                (("workers", index, "name"), f"worker {name!r} reuses a source/operator name")
            )
        seen.add(name)
    worker_keys = set(members) | {w.name for w in inst.workers}
    hardware = {w.hardware for w in inst.workers if w.hardware is not None}
    latency_keys = worker_keys | hardware
    variant_names: dict[str, list[str]] = {}
    for oi, op in enumerate(inst.operators):
        variant_names[op.name] = [v.name for v in op.variants]
        problems += _duplicates(variant_names[op.name], ("operators", oi, "variants"), "variant")
        runnable = False
        for vi, variant in enumerate(op.variants):
            for key in variant.latency:
                if key not in latency_keys:
                    problems.append(
                        (
                            ("operators", oi, "variants", vi, "latency", key),
                            unknown_name(
                                "worker",
                                key,
                                latency_keys,
                                extra=" (nor a worker hardware name)",
                                shown={w.name for w in inst.workers} | hardware,
                            ),
                        )
                    )
                else:
                    runnable = True
        if not runnable:
            problems.append(
                (
                    ("operators", oi, "variants"),
                    f"no variant of {op.name!r} has a latency on any worker",
                )
            )
    return problems, _Names(sources, operators, sorted(worker_keys), variant_names)


def _check_edges(inst: JellyBeanInstance, names: _Names) -> list[Problem]:
    problems: list[Problem] = []
    sources, operators, variant_names = names.sources, names.operators, names.variants
    op_index = {name: i for i, name in enumerate(operators)}
    nodes = set(sources) | set(operators)
    pairs: set[tuple[str, str]] = set()
    fed = set()
    successors: dict[str, list[str]] = {name: [] for name in nodes}
    for ei, edge in enumerate(inst.edges):
        ok = True
        if edge.source not in nodes:
            problems.append(
                (("edges", ei, "source"), unknown_name("source or operator", edge.source, nodes))
            )
            ok = False
        if edge.target not in op_index:
            what = "a source cannot be an edge target" if edge.target in sources else None
            problems.append(
                (("edges", ei, "target"), what or unknown_name("operator", edge.target, operators))
            )
            ok = False
        if not ok:
            continue
        if edge.source == edge.target:
            problems.append((("edges", ei), f"edge from {edge.source!r} to itself"))
            continue
        if (edge.source, edge.target) in pairs:
            problems.append((("edges", ei), f"duplicate edge {edge.source} -> {edge.target}"))
        pairs.add((edge.source, edge.target))
        fed.add(edge.target)
        successors[edge.source].append(edge.target)
        for ri, rule in enumerate(edge.sizes):
            if rule.source_variant is not None:
                if edge.source in sources:
                    problems.append(
                        (
                            ("edges", ei, "sizes", ri, "source_variant"),
                            f"{edge.source!r} is a data source; it has no variants",
                        )
                    )
                elif rule.source_variant not in variant_names[edge.source]:
                    problems.append(
                        (
                            ("edges", ei, "sizes", ri, "source_variant"),
                            unknown_name(
                                f"variant of {edge.source!r}",
                                rule.source_variant,
                                variant_names[edge.source],
                            ),
                        )
                    )
            if (
                rule.target_variant is not None
                and rule.target_variant not in variant_names[edge.target]
            ):
                problems.append(
                    (
                        ("edges", ei, "sizes", ri, "target_variant"),
                        unknown_name(
                            f"variant of {edge.target!r}",
                            rule.target_variant,
                            variant_names[edge.target],
                        ),
                    )
                )
    for oi, name in enumerate(operators):
        if name not in fed:
            problems.append(
                (
                    ("operators", oi),
                    f"operator {name!r} has no input edge (add an edge from a source)",
                )
            )
    cycle = _find_cycle(successors)
    if cycle:
        problems.append((("edges",), "the workflow has a cycle: " + " -> ".join(cycle)))
    return problems


def _check_accuracy(inst: JellyBeanInstance, names: _Names) -> list[Problem]:
    problems: list[Problem] = []
    operators, variant_names = names.operators, names.variants
    op_index = {name: i for i, name in enumerate(operators)}
    acc = inst.accuracy
    if acc.rule == "table":
        columns = acc.columns if acc.columns is not None else operators
        column_ok = True
        if acc.columns is not None:
            for ci, name in enumerate(acc.columns):
                if name not in op_index:
                    problems.append(
                        (("accuracy", "columns", ci), unknown_name("operator", name, operators))
                    )
                    column_ok = False
            missing = [o for o in operators if o not in acc.columns]
            if missing:
                problems.append(
                    (
                        ("accuracy", "columns"),
                        f"operators missing from the columns: {', '.join(missing)}",
                    )
                )
                column_ok = False
            if len(set(acc.columns)) != len(acc.columns):
                problems.append((("accuracy", "columns"), "an operator appears twice"))
                column_ok = False
        if not acc.rows:
            problems.append(
                (
                    ("accuracy", "rows"),
                    "no accuracy table: give rows, or 'rule: product' or 'rule: minimum'",
                )
            )
        combos: set[tuple[str, ...]] = set()
        for ri, row in enumerate(acc.rows if column_ok else []):
            if len(row) != len(columns) + 1:
                problems.append(
                    (
                        ("accuracy", "rows", ri),
                        f"expected {len(columns)} variant names ({', '.join(columns)}) and an "
                        f"accuracy, got {len(row)} values",
                    )
                )
                continue
            value = row[-1]
            if isinstance(value, str) or not (0.0 <= float(value) <= 1.0):
                problems.append(
                    (
                        ("accuracy", "rows", ri, len(columns)),
                        f"accuracy {value!r} is not a fraction in [0, 1]"
                        + (
                            f"; write {float(value) / 100:g}"
                            if not isinstance(value, str) and 1.0 < float(value) <= 100.0
                            else ""
                        ),
                    )
                )
            bad = False
            for ci, (column, name) in enumerate(zip(columns, row[:-1])):
                name = _as_name(name)
                if name not in variant_names[column]:
                    problems.append(
                        (
                            ("accuracy", "rows", ri, ci),
                            unknown_name(f"variant of {column!r}", name, variant_names[column]),
                        )
                    )
                    bad = True
            key = tuple(_as_name(n) for n in row[:-1])
            if not bad and key in combos:
                problems.append((("accuracy", "rows", ri), f"duplicate combination {list(key)}"))
            combos.add(key)
    else:
        if acc.rows:
            problems.append(
                (
                    ("accuracy", "rows"),
                    f"rows are given with 'rule: {acc.rule}'; a table and a rule exclude "
                    "each other",
                )
            )
        for oi, op in enumerate(inst.operators):
            for vi, variant in enumerate(op.variants):
                if variant.accuracy is None:
                    problems.append(
                        (
                            ("operators", oi, "variants", vi, "accuracy"),
                            f"'rule: {acc.rule}' needs an accuracy for every variant",
                        )
                    )
    return problems


def _check_network(inst: JellyBeanInstance, names: _Names) -> list[Problem]:
    problems: list[Problem] = []
    sources = names.sources
    ends = set(names.workers) | set(sources)
    keys_seen: set[tuple] = set()
    for pi, entry in enumerate(inst.network.prices):
        resolved = []
        for end in ("source", "target"):
            value = getattr(entry, end)
            key = _price_end_key(value, ends)
            if key is None:
                problems.append(
                    (
                        ("network", "prices", pi, end),
                        unknown_name("worker, source or tier", value, sorted(ends) + list(TIERS)),
                    )
                )
            resolved.append(key)
        if (
            resolved[1] is not None
            and resolved[1] == ("name", entry.target)
            and (entry.target in sources)
        ):
            problems.append(
                (
                    ("network", "prices", pi, "target"),
                    f"{entry.target!r} is a data source: it only sends data, give it as 'source'",
                )
            )
        if None not in resolved:
            if tuple(resolved) in keys_seen:
                problems.append((("network", "prices", pi), "duplicate price entry"))
            keys_seen.add(tuple(resolved))
    return problems


def _as_name(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _price_end_key(value: str | int, names: set[str]) -> tuple | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return ("tier", int(value))
    if value in TIERS:  # a tier name always means the tier, even if a worker is called so
        return ("tier", TIERS.index(value))
    if value in names:
        return ("name", value)
    try:
        return ("tier", int(value))
    except ValueError:
        return None


def _find_cycle(successors: Mapping[str, list[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in successors.get(node, []):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in successors:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


# ======================================================================================
# Compiled arrays
# ======================================================================================


@dataclass
class _Model:
    """Arrays derived once from a validated instance (indices in file order)."""

    ops: list[str]
    variants: list[list[str]]
    off: np.ndarray  # (n_ops + 1,) first flat (operator, variant) index of each operator
    vi_op: np.ndarray  # (N,) operator of each flat variant
    vi_var: np.ndarray  # (N,) variant index within its operator
    workers: list[str]
    worker_rank: np.ndarray  # (W,) raw tier rank
    worker_tier: np.ndarray  # (W,) compressed tier index 0..K-1
    tier_ranks: list[int]  # raw rank of each compressed tier
    worker_price: np.ndarray  # (W,) $/h
    cap: np.ndarray  # (N, W) requests/s, 0 where the variant cannot run
    allowed: np.ndarray  # (n_ops, W) worker tier not below the operator's sources
    lam: np.ndarray  # (n_ops,) requests/s
    topo: list[int]
    op_edges: list[tuple[int, int, float, np.ndarray]]  # (u, v, ratio, sizes (n_u, n_v))
    src_edges: list[tuple[int, int, float, np.ndarray]]  # (s, v, ratio, sizes (n_v,))
    sources: list[str]
    source_rank: np.ndarray
    price: np.ndarray  # (W, W) $/GB between workers, 0 unless upward
    source_price: np.ndarray  # (S, W) $/GB from sources to workers, 0 unless upward
    group: np.ndarray  # (W,) price group
    group_tier: np.ndarray  # (G,)
    group_price: np.ndarray  # (G, G)
    group_names: list[str]
    pools: list[list[int]]
    rule: str
    rows: np.ndarray | None  # (R, n_ops) variant indices (table rule)
    row_acc: np.ndarray | None  # (R,)
    var_acc: np.ndarray  # (N,) per-variant accuracy (nan when not given)
    lookup: dict[tuple[int, ...], int] = field(default_factory=dict)

    # -- sizes -------------------------------------------------------------------------
    @property
    def n_ops(self) -> int:
        return len(self.ops)

    @property
    def N(self) -> int:
        return int(self.off[-1])

    @property
    def W(self) -> int:
        return len(self.workers)

    @property
    def K(self) -> int:
        return len(self.tier_ranks)

    @property
    def P(self) -> int:
        return len(self.pools)

    @property
    def G(self) -> int:
        return len(self.group_tier)

    @property
    def mccormick_exact(self) -> bool:
        """Whether the McCormick terms are exact (at most two tiers, tier-level prices)."""
        return self.K <= 2 and self.G == self.K

    @property
    def potential_prices(self) -> bool:
        r"""Whether proportional traffic costs the same as any flow.

        True when prices depend on tiers only and add up along them
        (:math:`\pi_{kk'} = \phi_{k'} - \phi_k`), and no edge has spare supply
        (:math:`\lambda_v = \rho_{uv} \lambda_u`): a flow's cost is then
        :math:`\sum_b \phi_b t_b - \sum_a \phi_a t_a \lambda_v / \lambda_u` whatever the routing.
        """
        if self.G != self.K:
            return False
        tier_price = np.zeros((self.K, self.K))
        tier_price[np.ix_(self.group_tier, self.group_tier)] = self.group_price
        phi = tier_price[0]  # phi_0 = 0, phi_k = price from the lowest tier to tier k
        upper = np.triu_indices(self.K, 1)
        if not np.allclose(tier_price[upper], (phi[None, :] - phi[:, None])[upper], atol=1e-12):
            return False
        return all(
            abs(self.lam[v] - ratio * self.lam[u]) <= 1e-9 * max(1.0, self.lam[v])
            for u, v, ratio, _ in self.op_edges
        )

    @property
    def proportional_exact(self) -> bool:
        """Whether the proportional rule's MILP is exact."""
        return self.mccormick_exact or self.potential_prices

    # -- pools -------------------------------------------------------------------------
    @property
    def pool_size(self) -> np.ndarray:
        return np.array([len(p) for p in self.pools], dtype=float)

    @property
    def pool_first(self) -> np.ndarray:
        return np.array([p[0] for p in self.pools], dtype=np.int64)

    @cached_property
    def worker_pool(self) -> np.ndarray:
        """(W,) pool of each worker."""
        pool_of = np.zeros(self.W, dtype=np.int64)
        for p, members in enumerate(self.pools):
            pool_of[members] = p
        return pool_of

    @cached_property
    def op_index(self) -> dict[str, int]:
        return {name: v for v, name in enumerate(self.ops)}

    @cached_property
    def worker_index(self) -> dict[str, int]:
        return {name: w for w, name in enumerate(self.workers)}

    def vi(self, op: int, var: int) -> int:
        return int(self.off[op]) + int(var)

    def vi_label(self, flat: int) -> str:
        return f"{self.ops[self.vi_op[flat]]}:{self.variants[self.vi_op[flat]][self.vi_var[flat]]}"

    def tier_label(self, compressed: int) -> str:
        return _tier_name(self.tier_ranks[compressed])

    # -- accuracy ----------------------------------------------------------------------
    def accuracy_of(self, combo: Sequence[int]) -> float | None:
        """End-to-end accuracy of a combination (variant index per operator), None if unknown."""
        if self.rule == "table":
            row = self.lookup.get(tuple(int(c) for c in combo))
            return None if row is None else float(self.row_acc[row])
        values = [self.var_acc[self.vi(v, c)] for v, c in enumerate(combo)]
        if any(math.isnan(a) for a in values):
            return None
        return float(np.prod(values)) if self.rule == "product" else float(min(values))

    def combo_text(self, combo: Sequence[int]) -> str:
        return ", ".join(f"{op}={self.variants[v][combo[v]]}" for v, op in enumerate(self.ops))

    def best_table_accuracy(self) -> float:
        if self.rule == "table":
            return float(self.row_acc.max()) if self.row_acc.size else 0.0
        best = [np.nanmax(self.var_acc[self.off[v] : self.off[v + 1]]) for v in range(self.n_ops)]
        return float(np.prod(best)) if self.rule == "product" else float(min(best))


def _raise_problems(problems: list[Problem]) -> None:
    if problems:
        location, message = problems[0]
        raise InputError(message, location=format_location(location), more=len(problems) - 1)


def _compile(inst: JellyBeanInstance) -> _Model:
    """Derive the arrays of an instance (raises :class:`InputError` on inconsistent input)."""
    if not isinstance(inst, JellyBeanInstance):
        raise InputError(f"expected a jellybean instance, got kind {getattr(inst, 'kind', None)!r}")
    _raise_problems(inst.cross_check())
    ops = [o.name for o in inst.operators]
    op_index = {name: i for i, name in enumerate(ops)}
    variants = [[v.name for v in o.variants] for o in inst.operators]
    counts = np.array([len(v) for v in variants], dtype=np.int64)
    off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    vi_op = np.repeat(np.arange(len(ops)), counts)
    vi_var = np.arange(int(off[-1])) - off[vi_op]
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
            rank.append(_tier_rank(worker.tier))
            price.append(worker.price)
    worker_rank = np.array(rank, dtype=np.int64)
    tier_ranks = sorted(set(rank))
    worker_tier = np.searchsorted(np.array(tier_ranks), worker_rank)
    W = len(names)
    cap = np.zeros((int(off[-1]), W))
    for oi, op in enumerate(inst.operators):
        for vj, variant in enumerate(op.variants):
            row = cap[off[oi] + vj]
            for w in range(W):
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
        [lowest if s.tier is None else _tier_rank(s.tier) for s in inst.sources], dtype=np.int64
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
    topo = _topological(len(ops), [(u, v) for u, v, _, _ in op_edges])
    lam = np.zeros(len(ops))
    for v in topo:
        rates = [
            (inst.sources[i].rate if kind == "source" else lam[i]) * ratio
            for kind, i, ratio in incoming[v]
        ]
        lam[v] = min(rates)
    allowed = np.ones((len(ops), W), dtype=bool)
    for s, v, _, _ in src_edges:
        allowed[v] &= worker_rank >= source_rank[s]
    # network prices
    table: dict[tuple, float] = {}
    ends = set(names) | set(base) | set(sources)
    named: set[str] = set()
    named_any: set[str] = set()
    for entry in inst.network.prices:
        key = (_price_end_key(entry.source, ends), _price_end_key(entry.target, ends))
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

    keys = [[("name", names[w]), ("name", base[w]), ("tier", rank[w])] for w in range(W)]
    # tier-level prices for every pair, then the rows and columns of named workers
    by_tier = np.array(
        [[lookup([("tier", ra)], [("tier", rb)], ra, rb) for rb in tier_ranks] for ra in tier_ranks]
    )
    pw = by_tier[np.ix_(worker_tier, worker_tier)]
    for a in (w for w in range(W) if names[w] in named_any or base[w] in named_any):
        for b in range(W):
            pw[a, b] = lookup(keys[a], keys[b], rank[a], rank[b])
            pw[b, a] = lookup(keys[b], keys[a], rank[b], rank[a])
    ps = np.zeros((len(sources), W))
    for s, name in enumerate(sources):
        fk = [("name", name), ("tier", int(source_rank[s]))]
        for b in range(W):
            ps[s, b] = lookup(fk, keys[b], int(source_rank[s]), rank[b])
    # price groups: tiers, except workers named in worker-level price entries
    group = np.zeros(W, dtype=np.int64)
    group_tier: list[int] = []
    group_names: list[str] = []
    by_tier: dict[int, int] = {}
    for w in range(W):
        if names[w] in named or base[w] in named:
            group[w] = len(group_tier)
            group_tier.append(int(worker_tier[w]))
            group_names.append(names[w])
        else:
            k = int(worker_tier[w])
            if k not in by_tier:
                by_tier[k] = len(group_tier)
                group_tier.append(k)
                group_names.append(_tier_name(tier_ranks[k]))
            group[w] = by_tier[k]
    reps = np.array([int(np.flatnonzero(group == g)[0]) for g in range(len(group_tier))])
    group_price = pw[np.ix_(reps, reps)]
    # pools of interchangeable workers
    pool_of: dict[tuple, int] = {}
    pools: list[list[int]] = []
    for w in range(W):
        key = (
            int(group[w]),
            price[w],
            cap[:, w].tobytes(),
            ps[:, w].tobytes(),
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
        columns = inst.accuracy.columns or ops
        position = [op_index[c] for c in columns]
        rows = np.zeros((len(inst.accuracy.rows), len(ops)), dtype=np.int64)
        row_acc = np.zeros(len(inst.accuracy.rows))
        for r, row in enumerate(inst.accuracy.rows):
            for column, name in zip(position, row[:-1]):
                rows[r, column] = variants[column].index(_as_name(name))
            row_acc[r] = float(row[-1])
            lookup_rows[tuple(int(c) for c in rows[r])] = r
    return _Model(
        ops=ops,
        variants=variants,
        off=off,
        vi_op=vi_op,
        vi_var=vi_var,
        workers=names,
        worker_rank=worker_rank,
        worker_tier=worker_tier,
        tier_ranks=tier_ranks,
        worker_price=np.array(price),
        cap=cap,
        allowed=allowed,
        lam=lam,
        topo=topo,
        op_edges=op_edges,
        src_edges=src_edges,
        sources=sources,
        source_rank=source_rank,
        price=pw,
        source_price=ps,
        group=group,
        group_tier=np.array(group_tier, dtype=np.int64),
        group_price=group_price,
        group_names=group_names,
        pools=pools,
        rule=inst.accuracy.rule,
        rows=rows,
        row_acc=row_acc,
        var_acc=var_acc,
        lookup=lookup_rows,
    )


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


def _topological(n: int, edges: list[tuple[int, int]]) -> list[int]:
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


# ======================================================================================
# Plans and their evaluation
# ======================================================================================


@dataclass(frozen=True)
class Assignment:
    """One worker serving ``share`` requests/s of an operator (with the plan's variant)."""

    operator: str
    worker: str
    share: float


@dataclass(frozen=True)
class Plan:
    """A deployment: the variant of every operator and the workers' shares.

    Attributes
    ----------
    combination : dict of str to str
        Variant chosen for every operator.
    assignments : tuple of Assignment
        Worker shares; a worker appears at most once in a valid plan.
    routing : str, optional
        The rule the plan was optimised under (informative; :func:`evaluate`
        prices it under whichever rule it is asked for).
    """

    combination: dict[str, str]
    assignments: tuple[Assignment, ...]
    routing: str | None = None

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, Any]],
        combination: Mapping[str, str] | None = None,
        routing: str | None = None,
    ) -> Plan:
        """Build a plan from table rows with ``operator``, ``worker``, ``share`` (and ``variant``).

        Parameters
        ----------
        rows : iterable of mappings
            One row per worker, as in ``Result.tables["plan"]``.
        combination : mapping, optional
            Variants of operators that have no row (e.g. with a zero rate).
        routing : str, optional
            Rule the plan was optimised under.
        """
        chosen = dict(combination or {})
        assignments = []
        for row in rows:
            if "variant" in row and row["variant"] is not None:
                chosen.setdefault(str(row["operator"]), str(row["variant"]))
            assignments.append(
                Assignment(str(row["operator"]), str(row["worker"]), float(row["share"]))
            )
        return cls(chosen, tuple(assignments), routing)

    @classmethod
    def from_result(cls, result: Result) -> Plan:
        """The plan decoded in a :class:`~idnopt.result.Result` of this family."""
        if "plan" not in result.tables:
            raise InputError(f"the result has no plan (status {result.status})")
        combination = {
            row["operator"]: row["variant"] for row in result.tables.get("combination", [])
        }
        return cls.from_rows(result.tables["plan"], combination, result.metrics.get("routing"))

    def rows(self) -> list[dict[str, Any]]:
        """Plain rows ``{operator, variant, worker, share}``."""
        return [
            {
                "operator": a.operator,
                "variant": self.combination.get(a.operator),
                "worker": a.worker,
                "share": a.share,
            }
            for a in self.assignments
        ]


@dataclass
class Evaluation:
    """A plan priced under one routing rule, with every constraint checked.

    Attributes
    ----------
    routing : str
        ``"flows"`` (cost-minimal flows for the given shares) or ``"proportional"``.
    feasible : bool
        Whether every constraint holds (``violations`` is empty).
    violations : list of str
        What is wrong, in the instance's words.
    cost_per_hour, compute_cost, network_cost : float
        $/h; compute is the full price of every worker with a positive share.
    accuracy : float or None
        End-to-end accuracy of the combination (None when not in the table).
    target : float
        The accuracy target checked.
    compute_by_tier, network_by_edge : dict of str to float
        Cost breakdown ($/h).
    tables : dict of str to list of dict
        ``plan``, ``combination``, ``cost`` and ``traffic`` rows.
    """

    routing: str
    feasible: bool
    violations: list[str]
    cost_per_hour: float
    compute_cost: float
    network_cost: float
    accuracy: float | None
    target: float
    compute_by_tier: dict[str, float]
    network_by_edge: dict[str, float]
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form."""
        return {
            "routing": self.routing,
            "feasible": self.feasible,
            "violations": list(self.violations),
            "cost_per_hour": self.cost_per_hour,
            "compute_cost": self.compute_cost,
            "network_cost": self.network_cost,
            "accuracy": self.accuracy,
            "target": self.target,
            "compute_by_tier": dict(self.compute_by_tier),
            "network_by_edge": dict(self.network_by_edge),
            "tables": self.tables,
        }


def _check_routing(routing: str) -> str:
    if routing not in ROUTINGS:
        close = difflib.get_close_matches(str(routing), ROUTINGS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"unknown routing {routing!r}; choose 'flows' or 'proportional'{hint}")
    return routing


def _check_target(target: float | None, inst: JellyBeanInstance) -> float:
    value = inst.target if target is None else float(target)
    if not (0.0 <= value <= 1.0) or math.isnan(value):
        raise InputError(f"accuracy target {value!r} is not a fraction in [0, 1]")
    return value


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
    model = _compile(instance)
    if isinstance(plan, Result):
        plan = Plan.from_result(plan)
    elif not isinstance(plan, Plan):
        plan = Plan.from_rows(plan)
    return _evaluate(model, plan, _check_routing(routing), _check_target(target, instance))


def _evaluate(m: _Model, plan: Plan, routing: str, target: float) -> Evaluation:
    violations: list[str] = []
    op_index, worker_index = m.op_index, m.worker_index
    # combination
    combo = [-1] * m.n_ops
    for name, variant in plan.combination.items():
        if name not in op_index:
            violations.append(f"unknown operator {name!r} in the combination")
            continue
        v = op_index[name]
        if variant not in m.variants[v]:
            violations.append(f"unknown variant {variant!r} of operator {name!r}")
            continue
        combo[v] = m.variants[v].index(variant)
    for v, c in enumerate(combo):
        if c < 0 and not any(f"{m.ops[v]!r}" in s for s in violations):
            violations.append(f"no variant chosen for operator {m.ops[v]!r}")
    accuracy = m.accuracy_of(combo) if min(combo) >= 0 else None
    if min(combo) >= 0 and accuracy is None:
        violations.append(f"combination ({m.combo_text(combo)}) is not in the accuracy table")
    elif accuracy is not None and accuracy < target - 1e-9:
        violations.append(f"accuracy {accuracy:.6g} is below the target {target:.6g}")
    # shares
    shares = np.zeros((m.n_ops, m.W))
    host: dict[int, int] = {}
    for a in plan.assignments:
        if a.operator not in op_index:
            violations.append(f"unknown operator {a.operator!r} in the assignments")
            continue
        if a.worker not in worker_index:
            violations.append(unknown_name("worker", a.worker, m.workers))
            continue
        v, w = op_index[a.operator], worker_index[a.worker]
        if not math.isfinite(a.share) or a.share < -_TOL:
            violations.append(
                f"negative or invalid share {a.share!r} of {a.operator} on {a.worker}"
            )
            continue
        if a.share <= _TOL * max(1.0, m.lam[v]):
            continue
        if w in host and host[w] != v:
            violations.append(
                f"worker {a.worker!r} hosts two operators ({m.ops[host[w]]!r} and {a.operator!r})"
            )
        host[w] = v
        shares[v, w] += a.share
        if combo[v] >= 0:
            capacity = m.cap[m.vi(v, combo[v]), w]
            variant = m.variants[v][combo[v]]
            if capacity <= 0:
                violations.append(
                    f"variant {variant!r} of {a.operator!r} cannot run on {a.worker!r}"
                )
            elif shares[v, w] > capacity * (1 + 1e-7) + 1e-9:
                violations.append(
                    f"{a.worker!r} serves {shares[v, w]:.6g} req/s of {a.operator!r} but its "
                    f"capacity with {variant!r} is {capacity:.6g} req/s"
                )
        if not m.allowed[v, w]:
            violations.append(f"{a.worker!r} is below the tier of a data source of {a.operator!r}")
    for v in range(m.n_ops):
        total = shares[v].sum()
        if abs(total - m.lam[v]) > 1e-6 * max(1.0, m.lam[v]):
            violations.append(
                f"shares of {m.ops[v]!r} sum to {total:.6g} req/s, the rate is {m.lam[v]:.6g} req/s"
            )
    used = shares > _TOL
    for u, v, _, _ in m.op_edges:
        if used[u].any() and used[v].any():
            high = m.worker_rank[used[u]].max()
            low = m.worker_rank[used[v]].min()
            if high > low:
                violations.append(
                    f"tier order broken on {m.ops[u]} -> {m.ops[v]}: {m.ops[u]!r} uses tier "
                    f"{_tier_name(int(high))} above {m.ops[v]!r}'s tier {_tier_name(int(low))}"
                )
    # compute cost
    worker_used = used.any(axis=0)
    compute_by_tier: dict[str, float] = {}
    for k in range(m.K):
        in_tier = worker_used & (m.worker_tier == k)
        if in_tier.any():
            compute_by_tier[m.tier_label(k)] = float(m.worker_price[in_tier].sum())
    compute = float(m.worker_price[worker_used].sum())
    # network cost
    network_by_edge: dict[str, float] = {}
    traffic: list[dict[str, Any]] = []
    comb = [max(c, 0) for c in combo]
    for s, v, _, sizes in m.src_edges:
        size = sizes[comb[v]]
        key = f"{m.sources[s]}->{m.ops[v]}"
        cost = 0.0
        for b in np.flatnonzero(used[v]):
            messages = shares[v, b]
            price = m.source_price[s, b]
            part = _MB_PER_S_TO_GB_PER_H * price * size * messages
            cost += part
            traffic.append(_traffic_row(key, m.sources[s], m.workers[b], messages, size, part))
        network_by_edge[key] = float(cost)
    for u, v, ratio, sizes in m.op_edges:
        size = sizes[comb[u], comb[v]]
        key = f"{m.ops[u]}->{m.ops[v]}"
        senders, receivers = np.flatnonzero(used[u]), np.flatnonzero(used[v])
        flows = None
        if routing == "flows" and senders.size and receivers.size:
            flows = _cheapest_flows(
                ratio * shares[u, senders],
                shares[v, receivers],
                m.price[np.ix_(senders, receivers)],
            )
            if flows is None:
                violations.append(f"{key}: the senders cannot supply the receivers' shares")
        if flows is None and senders.size and receivers.size and m.lam[u] > 0:
            flows = np.outer(shares[u, senders] / m.lam[u], shares[v, receivers])
        cost = 0.0
        if flows is not None:
            prices = m.price[np.ix_(senders, receivers)]
            for (ia, ib), messages in np.ndenumerate(flows):
                if messages <= 1e-9:
                    continue
                part = _MB_PER_S_TO_GB_PER_H * prices[ia, ib] * size * messages
                cost += part
                a, b = m.workers[senders[ia]], m.workers[receivers[ib]]
                traffic.append(_traffic_row(key, a, b, float(messages), size, part))
        network_by_edge[key] = float(cost)
    network = float(sum(network_by_edge.values()))
    # tables
    plan_rows = []
    for v in range(m.n_ops):
        for w in np.flatnonzero(used[v]):
            capacity = m.cap[m.vi(v, combo[v]), w] if combo[v] >= 0 else 0.0
            plan_rows.append(
                {
                    "operator": m.ops[v],
                    "variant": m.variants[v][combo[v]] if combo[v] >= 0 else None,
                    "worker": m.workers[w],
                    "tier": _tier_name(int(m.worker_rank[w])),
                    "share": float(shares[v, w]),
                    "capacity": float(capacity),
                    "utilisation": float(shares[v, w] / capacity) if capacity > 0 else None,
                    "price": float(m.worker_price[w]),
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
            "operator": m.ops[v],
            "variant": m.variants[v][combo[v]] if combo[v] >= 0 else None,
            "rate": float(m.lam[v]),
        }
        for v in range(m.n_ops)
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
    return {
        "edge": edge,
        "from": a,
        "to": b,
        "messages_per_s": float(messages),
        "mb_per_s": float(messages * size),
        "cost_per_hour": float(cost),
    }


def _cheapest_flows(
    supply: np.ndarray, demand: np.ndarray, prices: np.ndarray
) -> np.ndarray | None:
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


# ======================================================================================
# The published heuristic
# ======================================================================================


def _variant_ranking(m: _Model) -> list[list[int]]:
    """Variants of every operator, most accurate first (per-variant accuracy, else table mean)."""
    ranking = []
    for v in range(m.n_ops):
        n = len(m.variants[v])
        score = m.var_acc[m.off[v] : m.off[v + 1]].copy()
        if np.isnan(score).any() and m.rule == "table" and m.rows is not None:
            for i in range(n):
                mask = m.rows[:, v] == i
                if np.isnan(score[i]):
                    score[i] = m.row_acc[mask].mean() if mask.any() else -np.inf
        score = np.nan_to_num(score, nan=-np.inf)
        ranking.append(sorted(range(n), key=lambda i, s=score: (-s[i], i)))
    return ranking


def _proxy_cost(m: _Model, combo: Sequence[int]) -> float:
    """Compute cost if every operator ran on its cheapest worker per request ($/h)."""
    total = 0.0
    for v, c in enumerate(combo):
        cap = m.cap[m.vi(v, c)]
        ok = (cap > 0) & m.allowed[v]
        if not ok.any():
            return math.inf
        total += m.lam[v] * float((m.worker_price[ok] / cap[ok]).min())
    return total


def _greedy_assignment(m: _Model, combo: Sequence[int]) -> Plan | None:
    """Assign workers operator by operator (topological order), filling each to capacity.

    Candidates are the free workers whose tier is not below the operator's
    sources or predecessors; they are taken in order of cost per request
    (price / capacity plus the network price of receiving the inputs there).
    """
    used = np.zeros(m.W, dtype=bool)
    top_rank: dict[int, int] = {}
    main_worker: dict[int, int] = {}
    assignments: list[Assignment] = []
    incoming_ops = {
        v: [(u, sizes) for u, vv, _, sizes in m.op_edges if vv == v] for v in range(m.n_ops)
    }
    incoming_src = {
        v: [(s, sizes) for s, vv, _, sizes in m.src_edges if vv == v] for v in range(m.n_ops)
    }
    for v in m.topo:
        lam = m.lam[v]
        if lam <= _TOL:
            continue
        vi = m.vi(v, combo[v])
        floor = max([top_rank.get(u, -(10**9)) for u, _ in incoming_ops[v]], default=-(10**9))
        cap = m.cap[vi]
        candidates = np.flatnonzero((cap > 0) & ~used & m.allowed[v] & (m.worker_rank >= floor))
        if candidates.size == 0:
            return None
        per_request = m.worker_price[candidates] / cap[candidates]
        for u, sizes in incoming_ops[v]:
            if u in main_worker:
                size = sizes[combo[u], combo[v]]
                per_request = (
                    per_request + _MB_PER_S_TO_GB_PER_H * size * m.price[main_worker[u], candidates]
                )
        for s, sizes in incoming_src[v]:
            per_request = (
                per_request
                + _MB_PER_S_TO_GB_PER_H * sizes[combo[v]] * m.source_price[s, candidates]
            )
        order = candidates[np.lexsort((candidates, m.worker_rank[candidates], per_request))]
        remaining = lam
        picked = []
        for w in order:
            share = min(cap[w], remaining)
            picked.append((w, share))
            remaining -= share
            if remaining <= _TOL * max(1.0, lam):
                break
        if remaining > _TOL * max(1.0, lam):
            return None
        for w, share in picked:
            used[w] = True
            assignments.append(Assignment(m.ops[v], m.workers[w], float(share)))
        top_rank[v] = int(max(m.worker_rank[w] for w, _ in picked))
        main_worker[v] = int(max(picked, key=lambda item: item[1])[0])
    combination = {m.ops[v]: m.variants[v][c] for v, c in enumerate(combo)}
    return Plan(combination, tuple(assignments))


def _heuristic(
    m: _Model, target: float, routing: str, beam_width: int = 3
) -> tuple[Plan | None, Evaluation | None, str, int]:
    """Beam search + greedy assignment; returns (plan, evaluation, note, combinations explored)."""
    ranking = _variant_ranking(m)
    position = [{i: k for k, i in enumerate(r)} for r in ranking]
    start = tuple(r[0] for r in ranking)
    start_acc = m.accuracy_of(start)
    if start_acc is None and m.rule == "table" and m.row_acc.size:
        best_row = int(np.argmax(m.row_acc))
        start = tuple(int(c) for c in m.rows[best_row])
        start_acc = float(m.row_acc[best_row])
    if start_acc is None or start_acc < target - 1e-12:
        note = (
            f"the heuristic found no combination: its starting point, the most accurate "
            f"variants ({m.combo_text(start)}), reaches "
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
            for v in range(m.n_ops):
                k = position[v][combo[v]] + 1
                if k >= len(ranking[v]):
                    continue
                child = combo[:v] + (ranking[v][k],) + combo[v + 1 :]
                if child in visited:
                    continue
                visited.add(child)
                accuracy = m.accuracy_of(child)
                # monotonicity assumption: a combination below the target is not expanded
                if accuracy is not None and accuracy >= target - 1e-12:
                    children.append(child)
        children.sort(key=lambda c: (_proxy_cost(m, c), c))
        frontier = children[:beam_width]
        found += frontier
    found.sort(key=lambda c: (_proxy_cost(m, c), c))
    best_plan, best_eval = None, None
    for combo in found[:beam_width]:
        plan = _greedy_assignment(m, combo)
        if plan is None:
            continue
        evaluation = _evaluate(m, plan, routing, target)
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


# ======================================================================================
# The MILP
# ======================================================================================


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


def _eligible_rows(m: _Model, target: float) -> np.ndarray:
    return np.flatnonzero(m.row_acc >= target - 1e-12)


def _share_terms(
    m: _Model, t_upper: np.ndarray, op: int, classes: bool, n_groups: int, group_pos: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and ``t`` columns summing an operator's shares per (variant class, group).

    Row ``class * n_groups + group_pos[group(pool)]``, where the class is the
    variant (``classes``) or 0 (all variants together).
    """
    flat = np.arange(m.off[op], m.off[op + 1])[:, None] * m.P + np.arange(m.P)[None, :]
    flat = flat[t_upper.ravel()[flat] > 0]
    vi, pool = flat // m.P, flat % m.P
    cls = (vi - m.off[op]) if classes else np.zeros_like(vi)
    pool_group = m.group[m.pool_first]
    return cls * n_groups + group_pos[pool_group[pool]], flat


def _build(m: _Model, routing: str, target: float, objective: str = "cost") -> Program:
    """Declare the MILP (``objective="accuracy"``: maximise accuracy, no cost)."""
    N, P, n_ops, K = m.N, m.P, m.n_ops, m.K
    sense = "maximize" if objective == "accuracy" else "minimize"
    program = Program(
        f"jellybean-{routing}" if objective == "cost" else "jellybean-accuracy", sense
    )
    pool_size, first = m.pool_size, m.pool_first
    pool_tier = m.worker_tier[first]
    pool_names = [
        m.workers[p[0]] if len(p) == 1 else f"{m.workers[p[0]]}..{m.workers[p[-1]]}"
        for p in m.pools
    ]
    vi_labels = [m.vi_label(i) for i in range(N)]
    cap = m.cap[:, first]  # (N, P)
    allowed = m.allowed[:, first]  # (n_ops, P)
    t_upper = cap * pool_size[None, :] * allowed[m.vi_op]
    t_upper = np.minimum(t_upper, m.lam[m.vi_op][:, None])
    t_upper[cap <= 0] = 0.0
    runs = np.zeros((n_ops, P), dtype=bool)
    np.logical_or.at(runs, m.vi_op, cap > 0)
    # an optimal plan never takes more workers of one pool than the pool needs alone
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.where(cap > 0, np.ceil(m.lam[m.vi_op][:, None] / cap - 1e-9), 0.0)
    most = np.zeros((n_ops, P))
    np.maximum.at(most, m.vi_op, need)
    n_upper = np.minimum(pool_size[None, :], most) * (runs & allowed)
    # cheapest cover of each operator's rate by each variant alone (a valid cost floor);
    # variants that cannot cover the rate even alone are excluded
    cover = np.zeros(N)
    for i in range(N):
        v = m.vi_op[i]
        cover[i] = _min_cover_cost(cap[i] * allowed[v], m.worker_price[first], n_upper[v], m.lam[v])
    # -- combination ---------------------------------------------------------------
    x_upper = np.where(np.isinf(cover), 0.0, 1.0)
    terms_objective: list[tuple] = []
    if m.rule == "table":
        rows = np.arange(len(m.row_acc)) if objective == "accuracy" else _eligible_rows(m, target)
        # z may stay continuous: with x binary, every row in z's support has x's
        # combination, and rows are distinct combinations, so z is integral too
        z = program.add_variables("z", len(rows), upper=1, labels=[[f"row-{r}" for r in rows]])
        x = program.add_variables("x", N, integer=True, upper=x_upper, labels=[vi_labels])
        program.add_constraints(
            "one_combination",
            [(z, np.zeros(len(rows), int), np.arange(len(rows)), 1.0)],
            lower=1.0,
            upper=1.0,
            shape=1,
        )
        linked = (m.off[:-1][None, :] + m.rows[rows]).ravel()
        program.add_constraints(
            "variant_link",
            [
                (x, np.arange(N), np.arange(N), 1.0),
                (z, linked, np.repeat(np.arange(len(rows)), n_ops), -1.0),
            ],
            lower=0.0,
            upper=0.0,
            shape=N,
            labels=[vi_labels],
        )
        if objective == "accuracy":
            terms_objective.append((z, np.arange(len(rows)), m.row_acc[rows]))
    else:
        accuracy = np.nan_to_num(m.var_acc, nan=0.0)
        if objective == "cost" and m.rule == "minimum":
            x_upper = x_upper * (accuracy >= target - 1e-12)
        if objective == "cost" and m.rule == "product" and target > 0:
            x_upper = x_upper * (accuracy > 0)
        x = program.add_variables("x", N, integer=True, upper=x_upper, labels=[vi_labels])
        program.add_constraints(
            "one_variant",
            [(x, m.vi_op, np.arange(N), 1.0)],
            lower=1.0,
            upper=1.0,
            shape=n_ops,
            labels=[m.ops],
        )
        logs = np.log(np.maximum(accuracy, 1e-300))
        if objective == "cost" and m.rule == "product" and target > 0:
            program.add_constraints(
                "accuracy_target",
                [(x, np.zeros(N, int), np.arange(N), logs)],
                lower=math.log(target),
                shape=1,
            )
        if objective == "accuracy" and m.rule == "product":
            terms_objective.append((x, np.arange(N), logs))
        if objective == "accuracy" and m.rule == "minimum":
            level = program.add_variables("accuracy_level", 1, upper=1.0)
            program.add_constraints(
                "accuracy_level_bound",
                [
                    (level, np.arange(n_ops), np.zeros(n_ops, int), 1.0),
                    (x, m.vi_op, np.arange(N), -accuracy),
                ],
                upper=0.0,
                shape=n_ops,
                labels=[m.ops],
            )
            terms_objective.append((level, [0], [1.0]))
    # -- workers and shares ---------------------------------------------------------
    n = program.add_variables(
        "n", (n_ops, P), integer=True, upper=n_upper, labels=[m.ops, pool_names]
    )
    t = program.add_variables("t", (N, P), upper=t_upper, labels=[vi_labels, pool_names])
    h = program.add_variables(
        "h", (n_ops, K), integer=True, upper=1, labels=[m.ops, [m.tier_label(k) for k in range(K)]]
    )
    grid_v, grid_p = np.indices((n_ops, P))
    program.add_constraints(
        "workers",
        [(n, grid_p.ravel(), (grid_v * P + grid_p).ravel(), 1.0)],
        upper=pool_size,
        shape=P,
        labels=[pool_names],
    )
    active = np.flatnonzero(t_upper.ravel() > 0)
    a_vi, a_pool = active // P, active % P
    # utilisation: a worker serves at most min(cap, lambda) of its operator, and only the
    # chosen variant has shares, so sum_i t[i] / min(cap[i], lambda) <= n is exact (and
    # tighter than t <= cap * n in the relaxation)
    eff = np.minimum(cap[a_vi, a_pool], m.lam[m.vi_op[a_vi]])
    hosting = np.flatnonzero(n_upper.ravel() > 0)
    program.add_constraints(
        "capacity",
        [(t, m.vi_op[a_vi] * P + a_pool, active, 1.0 / eff), (n, hosting, hosting, -1.0)],
        upper=0.0,
        shape=(n_ops, P),
        labels=[m.ops, pool_names],
    )
    # implied knapsack rows on integers only (n, x): lets the solver derive cover cuts
    program.add_constraints(
        "variant_capacity",
        [
            (n, a_vi, m.vi_op[a_vi] * P + a_pool, eff),
            (x, np.arange(N), np.arange(N), -m.lam[m.vi_op]),
        ],
        lower=0.0,
        shape=N,
        labels=[vi_labels],
    )
    if objective == "cost":
        # each operator pays at least its own cheapest cover of lambda with the chosen variant
        grid_v, grid_p = np.indices((n_ops, P))
        program.add_constraints(
            "compute_floor",
            [
                (
                    n,
                    grid_v.ravel(),
                    (grid_v * P + grid_p).ravel(),
                    np.tile(m.worker_price[first], n_ops),
                ),
                (x, m.vi_op, np.arange(N), -np.where(np.isinf(cover), 0.0, cover)),
            ],
            lower=0.0,
            shape=n_ops,
            labels=[m.ops],
        )
    program.add_constraints(
        "variant_share",
        [(t, a_vi, active, 1.0), (x, np.arange(N), np.arange(N), -m.lam[m.vi_op])],
        upper=0.0,
        shape=N,
        labels=[vi_labels],
    )
    program.add_constraints(
        "rate",
        [(t, m.vi_op[a_vi], active, 1.0)],
        lower=m.lam,
        upper=m.lam,
        shape=n_ops,
        labels=[m.ops],
    )
    # h[v, k] = 1 when v has a positive share on tier k (idle workers carry no traffic)
    program.add_constraints(
        "tier_use",
        [
            (t, m.vi_op[a_vi] * K + pool_tier[a_pool], active, 1.0),
            (h, np.arange(n_ops * K), np.arange(n_ops * K), -np.repeat(m.lam, K)),
        ],
        upper=0.0,
        shape=(n_ops, K),
        labels=[m.ops, [m.tier_label(k) for k in range(K)]],
    )
    if m.op_edges and K > 1:
        hi, lo = np.tril_indices(K, -1)  # pairs hi > lo
        e_u = np.array([u for u, _, _, _ in m.op_edges])
        e_v = np.array([v for _, v, _, _ in m.op_edges])
        q = hi.size
        rows_order = np.arange(len(m.op_edges) * q)
        program.add_constraints(
            "tier_order",
            [
                (h, rows_order, (e_u[:, None] * K + hi[None, :]).ravel(), 1.0),
                (h, rows_order, (e_v[:, None] * K + lo[None, :]).ravel(), 1.0),
            ],
            upper=1.0,
            shape=len(m.op_edges) * q,
            labels=[
                [
                    f"{m.ops[u]}@{m.tier_label(a)} vs {m.ops[v]}@{m.tier_label(b)}"
                    for u, v, _, _ in m.op_edges
                    for a, b in zip(hi, lo)
                ]
            ],
        )
    if objective == "accuracy":
        program.set_objective(terms_objective)
        return program
    # -- cost -----------------------------------------------------------------------
    t_cost = np.zeros((N, P))
    for s, v, _, sizes in m.src_edges:
        block = slice(m.off[v], m.off[v + 1])
        t_cost[block] += _MB_PER_S_TO_GB_PER_H * sizes[:, None] * m.source_price[s, first][None, :]
    terms_objective = [
        (n, (np.tile(m.worker_price[first], n_ops))),
        (t, t_cost.ravel() * (t_upper.ravel() > 0)),
    ]
    if routing == "flows" or m.potential_prices:
        # with potential prices every flow costs what proportional routing costs
        terms_objective += _add_network(program, t, m, "flows", t_upper)
    elif m.mccormick_exact:
        terms_objective += _add_network(program, t, m, "proportional", t_upper)
    else:
        # the McCormick terms under-estimate the proportional cost; so does the cheapest
        # flow (proportional traffic is one feasible flow): charge each edge the larger
        flows = _add_network(program, t, m, "flows", t_upper, edge_costs=True)
        crossing = _add_network(program, t, m, "proportional", t_upper, edge_costs=True)
        if flows or crossing:
            n_edges = len(m.op_edges)
            names = [f"{m.ops[u]}->{m.ops[v]}" for u, v, _, _ in m.op_edges]
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


def _add_network(
    program: Program, t: Any, m: _Model, routing: str, t_upper: np.ndarray, edge_costs: bool = False
) -> list:
    """Declare the flow (or crossing) block of one routing rule and its rows.

    Returns the objective terms, or with ``edge_costs`` the ``(block, edge index,
    cost coefficient)`` of every variable, for per-edge cost floors.
    """
    network = _network_terms(m, routing, t_upper)
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


def _network_terms(m: _Model, routing: str, t_upper: np.ndarray):
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
    pool_group = m.group[m.pool_first]
    for e, (u, v, ratio, sizes) in enumerate(m.op_edges):
        if m.lam[v] <= 0 or m.lam[u] <= 0:
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
        host_u = np.unique(pool_group[(t_upper[m.off[u] : m.off[u + 1]] > 0).any(axis=0)])
        host_v = np.unique(pool_group[(t_upper[m.off[v] : m.off[v + 1]] > 0).any(axis=0)])
        if host_u.size == 0 or host_v.size == 0:
            continue
        pos_u = np.full(m.G, -1)
        pos_u[host_u] = np.arange(host_u.size)
        pos_v = np.full(m.G, -1)
        pos_v[host_v] = np.arange(host_v.size)
        gu, gv = np.meshgrid(host_u, host_v, indexing="ij")
        gu, gv = gu.ravel(), gv.ravel()
        price = m.group_price[gu, gv]
        if routing == "flows":
            keep = m.group_tier[gu] <= m.group_tier[gv]
        else:
            keep = (m.group_tier[gu] < m.group_tier[gv]) & (price > 0)
        gu, gv, price = gu[keep], gv[keep], price[keep]
        if gu.size == 0 or (routing == "proportional" and not size_of.any()):
            continue
        n_q = gu.size
        ic, jc, qq = (a.ravel() for a in np.indices((n_ic, n_jc, n_q)))
        count = ic.size
        local = np.arange(count)
        cols = offset + local
        costs.append(_MB_PER_S_TO_GB_PER_H * price[qq] * size_of[ic, jc])
        edge_of.append(np.full(count, e))
        edge = f"{m.ops[u]}->{m.ops[v]}"
        names_u = np.array(m.variants[u] if dep_u else ["*"], dtype=object)
        names_v = np.array(m.variants[v] if dep_v else ["*"], dtype=object)
        groups = np.array(m.group_names, dtype=object)
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
        t_rows_u, t_cols_u = _share_terms(m, t_upper, u, dep_u, host_u.size, pos_u)
        t_rows_v, t_cols_v = _share_terms(m, t_upper, v, dep_v, host_v.size, pos_v)
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
                (ic, n_ic, t_rows_u, t_cols_u, m.lam[v] / m.lam[u], host_u.size, pos_u, gu),
                (jc, n_jc, t_rows_v, t_cols_v, 1.0, host_v.size, pos_v, gv),
            )
            for klass, n_class, t_rows, t_cols, coef, n_g, pos, g_of in sides:
                # each crossing row takes the shares of its (class, group) on one side
                aggregate = sp.csr_matrix(
                    (np.ones(t_cols.size), (t_rows, t_cols)), shape=(n_class * n_g, m.N * m.P)
                )
                picked = aggregate[klass * n_g + pos[g_of[qq]]].tocoo()
                p_t.append((cols[picked.row], picked.col, np.full(picked.nnz, -coef)))
            p_lower.append(np.full(count, -m.lam[v]))
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


# ======================================================================================
# Decoding, explanations and the formulation
# ======================================================================================


def _plan_start(m: _Model, program: Program, plan: Plan, target: float) -> np.ndarray | None:
    """Integer columns (``z``, ``x``, ``n``, ``h``) of a feasible plan, as a MILP start.

    Continuous columns are ``nan`` (the solver completes them by an LP with the
    integer columns fixed). Returns None when the plan does not fit the program
    (its combination is not an eligible row, or a count exceeds a bound).
    """
    values = np.full(program.num_variables, np.nan)
    combo = [m.variants[v].index(plan.combination[op]) for v, op in enumerate(m.ops)]
    blocks = program.variables

    def put(name: str, array: np.ndarray) -> bool:
        block = blocks[name]
        flat = np.asarray(array, dtype=float).ravel()
        if np.any(flat > block.upper + 1e-9) or np.any(flat < block.lower - 1e-9):
            return False
        values[block.start : block.start + block.size] = flat
        return True

    if "z" in blocks:
        row = m.lookup.get(tuple(combo))
        rows = _eligible_rows(m, target)
        where = np.flatnonzero(rows == row) if row is not None else np.zeros(0, int)
        if where.size == 0:
            return None
        z = np.zeros(rows.size)
        z[where[0]] = 1.0
        put("z", z)
    x = np.zeros(m.N)
    x[[m.vi(v, c) for v, c in enumerate(combo)]] = 1.0
    n = np.zeros((m.n_ops, m.P))
    h = np.zeros((m.n_ops, m.K))
    for a in plan.assignments:
        if a.share <= 0:
            continue
        v, w = m.op_index[a.operator], m.worker_index[a.worker]
        n[v, m.worker_pool[w]] += 1
        h[v, m.worker_tier[w]] = 1.0
    if not (put("x", x) and put("n", n) and put("h", h)):
        return None
    return values


def _decode_plan(m: _Model, result: Result, routing: str | None = None) -> Plan:
    """Turn MILP values into a plan: pools are expanded into workers, shares split evenly."""
    x = result.value("x")
    n = result.value("n")
    t = result.value("t")
    combo = [int(np.argmax(x[m.off[v] : m.off[v + 1]])) for v in range(m.n_ops)]
    taken = [0] * m.P
    assignments: list[Assignment] = []
    for v in range(m.n_ops):
        vi = m.vi(v, combo[v])
        floor = 1e-7 * max(1.0, m.lam[v])
        totals = np.where(t[vi] > floor, t[vi], 0.0)
        if totals.sum() > 0:
            totals *= m.lam[v] / totals.sum()  # remove solver round-off
        for p in np.flatnonzero(totals):
            free = len(m.pools[p]) - taken[p]
            needed = math.ceil(totals[p] / m.cap[vi, m.pools[p][0]] - 1e-6)
            k = min(max(1, needed, int(round(n[v, p]))), free)
            if k <= 0:  # pragma: no cover - the "workers" rows forbid it
                continue
            for w in m.pools[p][taken[p] : taken[p] + k]:
                assignments.append(Assignment(m.ops[v], m.workers[w], float(totals[p] / k)))
            taken[p] += k
    combination = {m.ops[v]: m.variants[v][c] for v, c in enumerate(combo)}
    return Plan(combination, tuple(assignments), routing)


def _attach(result: Result, m: _Model, evaluation: Evaluation, exact: bool) -> Result:
    combo = [
        m.variants[v].index(row["variant"])
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
            "combination": m.combo_text(combo),
        }
    )
    result.tables.update(evaluation.tables)
    return result


def _best_reachable(
    m: _Model, backend: str = "highs", time_limit: float | None = None, **options: Any
) -> tuple[float | None, list[int] | None]:
    """Highest accuracy any plan reaches under the rates, capacities and tier order."""
    options.setdefault("mip_gap", MIP_GAP)
    program = _build(m, "flows", 0.0, objective="accuracy")
    result = solve_program(program, backend, time_limit=time_limit, explain=False, **options)
    if not result.has_solution:
        return None, None
    x = result.value("x")
    combo = [int(np.argmax(x[m.off[v] : m.off[v + 1]])) for v in range(m.n_ops)]
    return m.accuracy_of(combo), combo


def _explain(
    m: _Model, result: Result, target: float, backend: str, time_limit: float | None, **options: Any
) -> Result:
    """Name the best reachable accuracy in an infeasible result."""
    best, combo = _best_reachable(m, backend, time_limit, **options)
    best_table = m.best_table_accuracy()
    result.status = Status.INFEASIBLE
    result.objective = result.bound = result.gap = None
    result.metrics.update(
        {"target": target, "best_reachable_accuracy": best, "best_table_accuracy": best_table}
    )
    if best is None:
        rates = ", ".join(f"{op} {rate:g} req/s" for op, rate in zip(m.ops, m.lam))
        result.message = (
            "infeasible at any accuracy: the workers cannot sustain the rates "
            f"({rates}) with any combination under the tier order"
        )
    elif best < target - 1e-12:
        result.message = (
            f"accuracy target {target:g} is unreachable: the best reachable accuracy is "
            f"{best:.6g} ({m.combo_text(combo)})"
        )
        if best_table > best + 1e-12:
            result.message += (
                f"; the best combination known, at {best_table:.6g}, needs more capacity "
                "than the workers offer"
            )
        result.metrics["best_combination"] = m.combo_text(combo)
    else:  # pragma: no cover - the two programs share every constraint but the target
        result.message = f"infeasible although accuracy {best:.6g} is reachable: {result.message}"
    return result


def _solve_milp(
    m: _Model,
    routing: str,
    target: float,
    backend: str,
    relax: bool,
    time_limit: float | None,
    beam_width: int,
    warm_start: bool = False,
    **options: Any,
) -> Result:
    if m.rule == "table" and _eligible_rows(m, target).size == 0:
        result = Result(status=Status.INFEASIBLE, method="milp", backend=backend)
        result.metrics["routing"] = routing
        return _explain(m, result, target, backend, time_limit, **options)
    options.setdefault("mip_gap", MIP_GAP)
    started = time.perf_counter()
    program = _build(m, routing, target)
    start = heuristic = None
    # the heuristic runs only where the start can reach a MILP solver
    if warm_start and not relax and get_backend(backend).takes_start:
        heuristic = _heuristic(m, target, routing, beam_width)
        if heuristic[0] is not None:
            start = _plan_start(m, program, heuristic[0], target)
    built = time.perf_counter() - started
    result = solve_program(
        program,
        backend,
        relax=relax,
        time_limit=time_limit,
        explain=False,
        initial_values=start,
        **options,
    )
    result.build_seconds += built
    result.method = "relaxation" if relax else "milp"
    result.metrics.update({"routing": routing, "target": target})
    if relax:
        result.metrics["lower_bound"] = result.objective
        return result
    if result.status == Status.INFEASIBLE:
        return _explain(m, result, target, backend, time_limit, **options)
    if not result.has_solution:
        return result
    plan = _decode_plan(m, result, routing)
    evaluation = _evaluate(m, plan, routing, target)
    exact = routing == "flows" or m.proportional_exact
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
        return _attach(result, m, evaluation, exact)
    # proportional rule, three tiers or worker-level prices: the MILP under-estimates
    bound = result.bound if result.bound is not None else result.objective
    incumbent = "milp"
    other, other_eval, _, _ = heuristic or _heuristic(m, target, routing, beam_width)
    if other_eval is not None and other_eval.cost_per_hour < evaluation.cost_per_hour - 1e-9:
        plan, evaluation, incumbent = other, other_eval, "heuristic"
    result.objective = evaluation.cost_per_hour
    result.bound = min(bound, evaluation.cost_per_hour)
    result.gap = relative_gap(result.objective, result.bound)
    if result.status == Status.OPTIMAL and (result.gap or 0.0) > options["mip_gap"] + 1e-9:
        result.status = Status.FEASIBLE
    why = f"proportional routing with {m.K} tiers" + (
        " and worker-specific prices" if m.G > m.K else ""
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
    return _attach(result, m, evaluation, exact)


def _run_heuristic(m: _Model, routing: str, target: float, beam_width: int) -> Result:
    started = time.perf_counter()
    plan, evaluation, note, explored = _heuristic(m, target, routing, beam_width)
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
        _attach(result, m, evaluation, exact=False)
    return result


class JellyBeanFormulation(Formulation):
    """Cost-minimal model selection and worker assignment for inference workflows.

    Options accepted by :meth:`solve` (and ``idnopt.solve``): ``routing``
    (``"flows"`` or ``"proportional"``), ``target`` (accuracy, default the
    instance's), ``beam_width`` (heuristic), plus the backend options of
    :func:`idnopt.backends.solve_program` (``mip_gap``, ``threads``, ``solver``…).
    """

    kind = "jellybean"
    methods = {
        "milp": "exact MILP over accuracy-table rows, workers and shares",
        "heuristic": "published baseline: beam search over combinations + greedy fill",
    }

    def build(
        self,
        instance: JellyBeanInstance,
        *,
        relax: bool = False,
        routing: Routing = "flows",
        target: float | None = None,
    ) -> Program:
        """Declare the MILP of ``instance`` (see the module docstring).

        Parameters
        ----------
        instance : JellyBeanInstance
            A validated instance.
        relax : bool
            Unused here (backends relax through :func:`solve_program`).
        routing : {"flows", "proportional"}
            How network traffic between the workers of two operators is priced.
        target : float, optional
            Accuracy target (default: the instance's).

        Returns
        -------
        Program
            Blocks ``z``, ``x``, ``n``, ``t``, ``h`` and ``flow`` or ``crossing``.
        """
        model = _compile(instance)
        return _build(model, _check_routing(routing), _check_target(target, instance))

    def decode(self, instance: JellyBeanInstance, program: Program, result: Result) -> Result:
        """Add metrics and the plan/cost tables to a solved program's result."""
        if not result.has_solution or result.relaxed:
            return result
        model = _compile(instance)
        routing = "proportional" if "crossing" in program.variables else "flows"
        evaluation = _evaluate(
            model, _decode_plan(model, result, routing), routing, instance.target
        )
        return _attach(result, model, evaluation, routing == "flows" or model.proportional_exact)

    def solve(
        self,
        instance: JellyBeanInstance,
        *,
        method: str | None = None,
        backend: str = "highs",
        relax: bool = False,
        time_limit: float | None = None,
        routing: Routing = "flows",
        target: float | None = None,
        beam_width: int = 3,
        warm_start: bool = False,
        **options: Any,
    ) -> Result:
        """Solve with ``milp`` (default) or ``heuristic``.

        Parameters
        ----------
        instance : JellyBeanInstance
            A validated instance.
        method : {"milp", "heuristic"}, optional
            Exact MILP (default) or the published beam search + greedy baseline.
        backend : {"highs", "pyomo", "cvxpy"}
            Backend of the MILP.
        relax : bool
            Solve the MILP's continuous relaxation (a lower bound).
        time_limit : float, optional
            Seconds for the solver; the incumbent is returned on expiry.
        routing : {"flows", "proportional"}
            Routing rule the plan is optimised and priced under.
        target : float, optional
            Accuracy target (default: the instance's ``target``).
        beam_width : int
            Beam width of the heuristic.
        warm_start : bool
            Hand the heuristic's plan to the solver as its first incumbent
            (``milp`` on a backend that takes a start, i.e. HiGHS; ignored
            otherwise). The result stays exact; on the benchmark's 10 x 10 x 50
            instances it did not shorten the solve, so it is off by default.
        **options
            Passed to :func:`idnopt.backends.solve_program`.

        Returns
        -------
        Result
            Metrics ``cost_per_hour``, ``compute_cost``, ``network_cost``,
            ``accuracy``…; tables ``plan``, ``combination``, ``cost``, ``traffic``.
            An unreachable target gives status ``infeasible`` and a message
            naming the best reachable accuracy.
        """
        method = method or self.default_method
        if method not in self.methods:
            known = ", ".join(self.methods)
            raise InputError(
                f"unknown method {method!r} for kind 'jellybean'; choose one of {known}"
            )
        if int(beam_width) < 1:
            raise InputError(f"beam_width must be at least 1, not {beam_width!r}")
        model = _compile(instance)
        routing = _check_routing(routing)
        target = _check_target(target, instance)
        if method == "heuristic":
            return _run_heuristic(model, routing, target, int(beam_width))
        return _solve_milp(
            model,
            routing,
            target,
            backend,
            relax,
            time_limit,
            int(beam_width),
            warm_start=bool(warm_start),
            **options,
        )

    def run_method(self, instance: JellyBeanInstance, method: str, **options: Any) -> Result:
        """Run a non-default method (see :meth:`solve`)."""
        return self.solve(instance, method=method, **options)


FORMULATION = JellyBeanFormulation()


def solve(instance: JellyBeanInstance, **options: Any) -> Result:
    """Solve a JellyBean instance (same as ``idnopt.solve`` for this family).

    Parameters
    ----------
    instance : JellyBeanInstance
        A validated instance.
    **options
        ``method``, ``backend``, ``routing``, ``target``, ``time_limit``… as in
        :meth:`JellyBeanFormulation.solve`.

    Returns
    -------
    Result
        See :meth:`JellyBeanFormulation.solve`.
    """
    return FORMULATION.solve(instance, **options)


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
    model = _compile(instance)
    best, combo = _best_reachable(model, backend, time_limit)
    if combo is None:
        return None, None
    return best, {model.ops[v]: model.variants[v][c] for v, c in enumerate(combo)}


# ======================================================================================
# Accuracy sweep
# ======================================================================================


@dataclass
class AccuracySweep:
    """The cost–accuracy curve of an instance.

    Attributes
    ----------
    routing : str
        Routing rule of every solve.
    rows : list of dict
        One row per target: ``target``, ``status``, ``cost_per_hour``,
        ``compute_cost``, ``network_cost``, ``accuracy``, ``combination`` and,
        when compared, ``heuristic_cost`` and ``saving`` (fraction of the
        heuristic's cost saved by the exact plan).
    best_reachable_accuracy : float or None
        Targets above it are infeasible (None: the rates cannot be served at all).
    explanation : str
        Where and why the target becomes infeasible.
    """

    routing: str
    rows: list[dict[str, Any]]
    best_reachable_accuracy: float | None
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form."""
        return {
            "routing": self.routing,
            "best_reachable_accuracy": self.best_reachable_accuracy,
            "explanation": self.explanation,
            "rows": self.rows,
        }

    def to_frame(self):
        """The rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def plot(self, path: str | None = None, title: str | None = None):
        """Plot cost against the accuracy target (matplotlib, Agg canvas).

        Parameters
        ----------
        path : str, optional
            Save the figure there (PNG, SVG or PDF by extension).
        title : str, optional
            Figure title.

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6.4, 4.0))
        FigureCanvasAgg(figure)
        ax = figure.add_subplot()
        solved = [r for r in self.rows if r["cost_per_hour"] is not None]
        ax.step(
            [r["target"] for r in solved],
            [r["cost_per_hour"] for r in solved],
            where="pre",
            marker="o",
            label=f"exact MILP ({self.routing})",
        )
        compared = [r for r in self.rows if r.get("heuristic_cost") is not None]
        if compared:
            ax.plot(
                [r["target"] for r in compared],
                [r["heuristic_cost"] for r in compared],
                "x",
                color="C3",
                label="beam search + greedy",
            )
        if self.best_reachable_accuracy is not None:
            ax.axvline(self.best_reachable_accuracy, color="grey", linestyle="--")
            ax.annotate(
                f"infeasible above {self.best_reachable_accuracy:.4g} ",
                (self.best_reachable_accuracy, 0.03),
                xycoords=("data", "axes fraction"),
                ha="right",
                va="bottom",
                fontsize=8,
                color="grey",
            )
        ax.set_xlabel("end-to-end accuracy target")
        ax.set_ylabel("cost ($/h)")
        ax.set_title(title or "cost-accuracy curve")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
        figure.tight_layout()
        if path is not None:
            from io import BytesIO

            from idnopt.documents import write_atomic

            buffer = BytesIO()
            suffix = str(path).rsplit(".", 1)[-1].lower() if "." in str(path) else "png"
            figure.savefig(buffer, format=suffix, dpi=120)
            write_atomic(path, buffer.getvalue())
        return figure


def accuracy_sweep(
    instance: JellyBeanInstance,
    targets: Sequence[float] | None = None,
    *,
    routing: Routing = "flows",
    compare: bool = True,
    backend: str = "highs",
    time_limit: float | None = None,
    beam_width: int = 3,
) -> AccuracySweep:
    """Solve the instance for a range of accuracy targets.

    Parameters
    ----------
    instance : JellyBeanInstance
        A validated instance.
    targets : sequence of float, optional
        Targets to solve. Default: every distinct accuracy in the table (the
        cost only changes there) plus one point above the best reachable
        accuracy; with a rule, 12 evenly spaced targets.
    routing : {"flows", "proportional"}
        Routing rule.
    compare : bool
        Also run the heuristic at every target.
    backend : {"highs", "pyomo", "cvxpy"}
        MILP backend.
    time_limit : float, optional
        Seconds per solve.
    beam_width : int
        Beam width of the heuristic.

    Returns
    -------
    AccuracySweep
        Rows per target, the best reachable accuracy and an explanation.
    """
    model = _compile(instance)
    routing = _check_routing(routing)
    best, combo = _best_reachable(model, backend, time_limit)
    if targets is None:
        if model.rule == "table":
            values = np.unique(model.row_acc)
        else:
            values = np.linspace(0.0, model.best_table_accuracy(), 12)
        if best is not None:
            values = values[values <= best + 1e-12]
            if best < 1.0:
                values = np.append(values, min(1.0, best + max(1e-3, 0.01 * (1 - best))))
        targets = values.tolist()
    rows = []
    for target in targets:
        target = _check_target(float(target), instance)
        result = _solve_milp(model, routing, target, backend, False, time_limit, beam_width)
        row = {
            "target": target,
            "status": result.status.value,
            "cost_per_hour": result.metrics.get("cost_per_hour"),
            "compute_cost": result.metrics.get("compute_cost"),
            "network_cost": result.metrics.get("network_cost"),
            "accuracy": result.metrics.get("accuracy"),
            "combination": result.metrics.get("combination"),
        }
        if compare:
            heuristic = _run_heuristic(model, routing, target, beam_width)
            cost = heuristic.metrics.get("cost_per_hour")
            row["heuristic_cost"] = cost
            exact = row["cost_per_hour"]
            row["saving"] = (1.0 - exact / cost) if cost and exact is not None else None
        rows.append(row)
    if best is None:
        explanation = "no target is feasible: the workers cannot sustain the rates"
    else:
        explanation = (
            f"targets above {best:.6g} are infeasible: the best reachable accuracy is "
            f"{best:.6g} ({model.combo_text(combo)})"
        )
        if model.best_table_accuracy() > best + 1e-12:
            explanation += (
                f"; the best known combination ({model.best_table_accuracy():.6g}) "
                "needs more capacity than the workers offer"
            )
    return AccuracySweep(routing, rows, best, explanation)


# ======================================================================================
# Random instances
# ======================================================================================

_TIER_SETS = {1: ("cloud",), 2: ("edge", "cloud"), 3: ("device", "edge", "cloud")}
_TIER_PROFILE = {  # (price range $/h, slow-down versus the cloud GPU)
    "device": ((0.02, 0.10), (6.0, 12.0)),
    "edge": ((0.30, 0.90), (2.0, 4.0)),
    "cloud": ((1.50, 4.00), (1.0, 1.0)),
}


def random_instance(
    seed: int = 0,
    *,
    operators: int = 3,
    variants: int = 3,
    workers: int = 6,
    tiers: int = 2,
    rows: int | None = None,
    sources: int = 1,
    join_probability: float = 0.3,
    worker_prices: bool = False,
    worker_types: int | None = None,
    rate: tuple[float, float] = (40.0, 200.0),
    target: float | None = None,
) -> JellyBeanInstance:
    """A seeded random instance (DAG, variants, tiered workers, accuracy table).

    Parameters
    ----------
    seed : int
        Seed of :func:`numpy.random.default_rng`.
    operators, variants, workers : int
        Sizes (variants per operator).
    tiers : {1, 2, 3}
        Number of tiers (cloud; edge < cloud; device < edge < cloud).
    rows : int, optional
        Rows of the accuracy table (default: every combination when there
        are at most 4096, else 1000), each with a noisy, non-monotone accuracy.
    sources : int
        Number of data sources.
    join_probability : float
        Probability that an operator gets a second input.
    worker_prices : bool
        Add a few worker-pair network prices.
    worker_types : int, optional
        Draw the workers from this many machine types (entries with a
        ``count``), as when machines are bought by instance type; default: every
        worker is its own type (distinct prices and speeds).
    rate : tuple of float
        Range of the source rates (requests/s).
    target : float, optional
        Accuracy target (default: the 40th percentile of the table).

    Returns
    -------
    JellyBeanInstance
        Validated and cross-checked.
    """
    if tiers not in _TIER_SETS:
        raise InputError(f"tiers must be 1, 2 or 3, not {tiers!r}")
    rng = np.random.default_rng(seed)
    tier_names = _TIER_SETS[tiers]
    entries = workers if worker_types is None else max(tiers, min(worker_types, workers))
    worker_tiers = [tier_names[k % tiers] for k in range(entries)]
    rng.shuffle(worker_tiers)
    counts = np.bincount(rng.integers(0, entries, workers - entries), minlength=entries) + 1
    worker_list = []
    slow = []
    for w, tier in enumerate(worker_tiers):
        (p_lo, p_hi), (s_lo, s_hi) = _TIER_PROFILE[tier]
        item: dict[str, Any] = {
            "name": f"w{w}",
            "tier": tier,
            "price": round(float(rng.uniform(p_lo, p_hi)), 3),
        }
        if counts[w] > 1:
            item["count"] = int(counts[w])
        worker_list.append(item)
        slow.append(float(rng.uniform(s_lo, s_hi)))
    workers = entries
    op_list, var_acc = [], []
    for v in range(operators):
        base = np.sort(rng.uniform(1.0, 10.0, variants))
        acc = np.sort(rng.uniform(0.6, 0.97, variants))
        var_acc.append(acc)
        variant_list = []
        for i in range(variants):
            latency = {
                f"w{w}": round(float(base[i] * slow[w]), 4)
                for w in range(workers)
                if rng.random() < 0.9
            }
            variant_list.append(
                {"name": f"m{i}", "latency": latency, "accuracy": round(float(acc[i]), 4)}
            )
        if not any(v_["latency"] for v_ in variant_list):
            variant_list[0]["latency"] = {"w0": 1.0}
        op_list.append({"name": f"op{v}", "variants": variant_list})
    source_list = [
        {"name": f"s{s}", "rate": round(float(rng.uniform(*rate)), 2)} for s in range(sources)
    ]
    edges = []

    def edge(src: str, dst: str, first_hop: bool, n_src: int) -> dict:
        item: dict[str, Any] = {
            "source": src,
            "target": dst,
            "size": round(
                float(rng.uniform(0.05, 0.5) if first_hop else rng.uniform(0.001, 0.2)), 4
            ),
        }
        if rng.random() < 0.3:
            item["ratio"] = round(float(rng.uniform(0.5, 2.0)), 3)
        if rng.random() < 0.3:
            if first_hop:
                item["sizes"] = [
                    {"target_variant": f"m{i}", "size": round(float(rng.uniform(0.05, 0.5)), 4)}
                    for i in range(variants)
                ]
            else:
                item["sizes"] = [
                    {"source_variant": f"m{i}", "size": round(float(rng.uniform(0.001, 0.2)), 4)}
                    for i in range(n_src)
                ]
        return item

    for v in range(operators):
        if v == 0 or rng.random() < 0.15:
            edges.append(edge(f"s{int(rng.integers(sources))}", f"op{v}", True, 0))
        else:
            edges.append(edge(f"op{int(rng.integers(v))}", f"op{v}", False, variants))
        if v > 0 and rng.random() < join_probability:
            other = f"op{int(rng.integers(v))}"
            if all(e["source"] != other or e["target"] != f"op{v}" for e in edges):
                edges.append(edge(other, f"op{v}", False, variants))
    total = variants**operators
    n_rows = rows if rows is not None else (total if total <= 4096 else 1000)
    n_rows = min(n_rows, total)
    if total <= 4096:
        picks = rng.permutation(total)[:n_rows]
    else:
        picks_set: set[int] = set()
        while len(picks_set) < n_rows:
            picks_set.update(int(x) for x in rng.integers(0, total, n_rows))
        picks = np.array(sorted(picks_set)[:n_rows])
        rng.shuffle(picks)
    table = []
    for code in picks:
        combo = [(int(code) // variants**v) % variants for v in range(operators)]
        mean = float(np.mean([var_acc[v][c] for v, c in enumerate(combo)]))
        accuracy = float(np.clip(mean + rng.normal(0, 0.02), 0.0, 1.0))
        table.append([f"m{c}" for c in combo] + [round(accuracy, 4)])
    prices = [
        {
            "source": tier_names[a],
            "target": tier_names[b],
            "price": round(0.02 * (b - a) + float(rng.uniform(0.0, 0.08)), 4),
        }
        for a in range(tiers)
        for b in range(a + 1, tiers)
    ]
    if worker_prices and workers >= 2:
        for _ in range(2):
            a, b = rng.choice(workers, 2, replace=False)
            prices.append(
                {
                    "source": f"w{a}",
                    "target": f"w{b}",
                    "price": round(float(rng.uniform(0, 0.2)), 4),
                }
            )
    accuracies = np.array([row[-1] for row in table])
    data = {
        "kind": "jellybean",
        "name": f"random-{seed}",
        "sources": source_list,
        "operators": op_list,
        "edges": edges,
        "workers": worker_list,
        "accuracy": {"rows": table},
        "network": {"default": 0.0, "prices": _dedupe_prices(prices)},
        "target": float(np.quantile(accuracies, 0.4)) if target is None else float(target),
    }
    instance = JellyBeanInstance.model_validate(data)
    _raise_problems(instance.cross_check())
    return instance


def _dedupe_prices(prices: list[dict]) -> list[dict]:
    seen = {}
    for entry in prices:
        seen[(entry["source"], entry["target"])] = entry
    return list(seen.values())


register(
    Family(
        kind="jellybean",
        instance_type=JellyBeanInstance,
        formulation=FORMULATION,
        summary="JellyBean: cost-minimal model variants and workers for inference workflows",
    )
)

__all__ = [
    "AccuracySweep",
    "Assignment",
    "Evaluation",
    "JellyBeanFormulation",
    "JellyBeanInstance",
    "Plan",
    "accuracy_sweep",
    "best_reachable_accuracy",
    "evaluate",
    "random_instance",
    "solve",
]
