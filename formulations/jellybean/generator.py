"""Seeded random JellyBean instances for tests, benchmarks and sweeps.

Workflows are random DAGs fed by one or more sources; variants get latencies on
most workers (slower on lower tiers) and an accuracy; the table lists variant
combinations with a noisy, non-monotone accuracy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from idnopt.errors import InputError
from idnopt.formulations.jellybean.checks import raise_problems
from idnopt.formulations.jellybean.schema import JellyBeanInstance

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
    total = variants**operators  # a Python int: exact at any size
    n_rows = rows if rows is not None else (total if total <= 4096 else 1000)
    n_rows = min(n_rows, total)
    if total <= 4096:
        picks = rng.permutation(total)[:n_rows]
        combos = [
            [(int(code) // variants**v) % variants for v in range(operators)] for code in picks
        ]
    elif total < 2**63:
        picks_set: set[int] = set()
        while len(picks_set) < n_rows:
            picks_set.update(int(x) for x in rng.integers(0, total, n_rows))
        picks = np.array(sorted(picks_set)[:n_rows])
        rng.shuffle(picks)
        combos = [
            [(int(code) // variants**v) % variants for v in range(operators)] for code in picks
        ]
    else:
        combos = _sample_combinations(rng, n_rows, operators, variants)
    table = []
    for combo in combos:
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
    raise_problems(instance.cross_check())
    return instance


def _dedupe_prices(prices: list[dict]) -> list[dict]:
    """Keep the last price entry of every (source, target) pair."""
    seen = {}
    for entry in prices:
        seen[(entry["source"], entry["target"])] = entry
    return list(seen.values())


def _sample_combinations(
    rng: np.random.Generator, count: int, operators: int, variants: int
) -> list[list[int]]:
    """``count`` distinct combinations drawn one variant per operator, never enumerating them.

    Used when there are 2^63 combinations or more (a row code would overflow
    int64); ``count`` is far below that, so duplicates are rare and redrawn.
    """
    seen: set[tuple[int, ...]] = set()
    combos: list[list[int]] = []
    while len(combos) < count:
        for row in rng.integers(0, variants, size=(count - len(combos), operators)):
            key = tuple(int(c) for c in row)
            if key not in seen:
                seen.add(key)
                combos.append(list(key))
    return combos
