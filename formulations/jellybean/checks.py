"""Located cross-checks of a JellyBean instance.

The schema validates each entry on its own; these checks relate entries to one
another (names, edge ends, size rules, cycles, the accuracy table, price ends)
and return every problem with its location in the file, e.g.
``edges[2].target``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from idnopt.errors import InputError, format_location
from idnopt.instance import TIERS, Problem, unknown_name

if TYPE_CHECKING:  # pragma: no cover
    from idnopt.formulations.jellybean.schema import JellyBeanInstance


def _duplicates(names: Sequence[str], where: tuple, what: str) -> list[Problem]:
    """A problem for every name already seen earlier in ``names``."""
    seen: set[str] = set()
    problems: list[Problem] = []
    for index, name in enumerate(names):
        if name in seen:
            problems.append(((*where, index, "name"), f"duplicate {what} name {name!r}"))
        seen.add(name)
    return problems


def cross_check(inst: JellyBeanInstance) -> list[Problem]:
    """Every located problem of an instance: names, edges, accuracy table, prices.

    Parameters
    ----------
    inst : JellyBeanInstance
        An instance that passed the schema.

    Returns
    -------
    list of Problem
        ``(location, message)`` pairs; empty when the instance is consistent.
    """
    problems, names = check_names(inst)
    problems += check_edges(inst, names)
    problems += check_accuracy(inst, names)
    problems += check_network(inst, names)
    return problems


@dataclass(frozen=True)
class DeclaredNames:
    """The names an instance declares, collected by :func:`check_names`."""

    sources: list[str]
    operators: list[str]
    workers: list[str]  # every member, plus the names of entries with a count
    variants: dict[str, list[str]]


def check_names(inst: JellyBeanInstance) -> tuple[list[Problem], DeclaredNames]:
    """Check duplicate and clashing names and the latency keys of every variant."""
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
    return problems, DeclaredNames(sources, operators, sorted(worker_keys), variant_names)


def check_edges(inst: JellyBeanInstance, names: DeclaredNames) -> list[Problem]:
    """Check edge ends, size rules, operators without input, and cycles."""
    problems: list[Problem] = []
    sources, operators, variant_names = names.sources, names.operators, names.variants
    op_index = {name: i for i, name in enumerate(operators)}
    nodes = dict.fromkeys([*sources, *operators])  # file order: messages do not depend on hashing
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


def check_accuracy(inst: JellyBeanInstance, names: DeclaredNames) -> list[Problem]:
    """Check the accuracy table (columns, rows, values) or the per-variant rule."""
    problems: list[Problem] = []
    operators, variant_names = names.operators, names.variants
    op_index = {name: i for i, name in enumerate(operators)}
    acc = inst.accuracy
    if acc.rule == "table":
        columns = table_columns(inst)
        column_ok = True
        if acc.columns is not None:
            for ci, name in enumerate(acc.columns):
                if name not in op_index:
                    problems.append(
                        (("accuracy", "columns", ci), unknown_name("operator", name, operators))
                    )
                    column_ok = False
            missing = [
                o for o in operators if o not in acc.columns and len(variant_names.get(o, [])) > 1
            ]
            if missing:
                problems.append(
                    (
                        ("accuracy", "columns"),
                        f"operators missing from the columns: {', '.join(missing)} (only "
                        "operators with a single variant may be left out)",
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
                name = as_name(name)
                if name not in variant_names[column]:
                    problems.append(
                        (
                            ("accuracy", "rows", ri, ci),
                            unknown_name(f"variant of {column!r}", name, variant_names[column]),
                        )
                    )
                    bad = True
            key = tuple(as_name(n) for n in row[:-1])
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


def check_network(inst: JellyBeanInstance, names: DeclaredNames) -> list[Problem]:
    """Check the ends of every network price entry and duplicate entries."""
    problems: list[Problem] = []
    sources = names.sources
    ends = set(names.workers) | set(sources)
    keys_seen: set[tuple] = set()
    for pi, entry in enumerate(inst.network.prices):
        resolved = []
        for end in ("source", "target"):
            value = getattr(entry, end)
            key = price_end_key(value, ends)
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


def table_columns(inst: JellyBeanInstance) -> list[str]:
    """Operators named by the accuracy table's columns, in column order.

    ``accuracy.columns`` when given; otherwise every operator in file order, or
    only those with more than one variant when every row has exactly one
    variant name per such operator (single-variant operators need no column).
    """
    if inst.accuracy.columns is not None:
        return list(inst.accuracy.columns)
    every = [op.name for op in inst.operators]
    several = [op.name for op in inst.operators if len(op.variants) > 1]
    rows = inst.accuracy.rows
    if len(several) < len(every) and rows and all(len(row) == len(several) + 1 for row in rows):
        return several
    return every


def as_name(value: Any) -> str:
    """A table cell as a variant name (a number such as ``2.0`` names the variant ``"2"``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def price_end_key(value: str | int, names: set[str]) -> tuple | None:
    """``("tier", rank)`` or ``("name", name)`` for one end of a price entry; None if unknown."""
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
    """One cycle of a directed graph as a closed path of nodes (empty when acyclic)."""
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


def raise_problems(problems: list[Problem]) -> None:
    """Raise the first problem as a located :class:`~idnopt.errors.InputError`.

    Raises
    ------
    InputError
        When ``problems`` is not empty; its message counts the others.
    """
    if problems:
        location, message = problems[0]
        raise InputError(message, location=format_location(location), more=len(problems) - 1)
