"""Playing every policy on one (instance, trace) and summarising the runs, for the benchmarks."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from common import markdown_table

from idnopt.formulations.idn.online import (
    GENERATORS,
    Infida,
    LeastFrequentlyUsed,
    LeastRecentlyUsed,
    OnlineGradientAscent,
    PeriodicResolve,
    StaticAllocation,
    make_problem,
)
from idnopt.online import run

POLICIES = {
    "infida": lambda: Infida(),
    "infida-adaptive": lambda: Infida(eta="adaptive"),
    "oga": lambda: OnlineGradientAscent(),
    "oga-adaptive": lambda: OnlineGradientAscent(eta="adaptive"),
    "static": lambda: StaticAllocation(window=10),
    "resolve": lambda: PeriodicResolve(window=50),
    "lfu": LeastFrequentlyUsed,
    "lru": LeastRecentlyUsed,
}
"""Benchmarked policies: INFIDA and OGA with the bound-optimal and adaptive steps, baselines."""

MILP_GAP = 0.01
"""Served / MILP ratios are summarised only over runs whose MILP gap is at most this."""

TRACE_PARAMS = {"stationary": {}, "shifting": {"every": 100}, "adversarial": {}, "diurnal": {}}


def play_all(
    instance: Any,
    label: str,
    kind: str,
    seed: int,
    slots: int,
    *,
    milp_time_limit: float | None = 30.0,
    policies: dict | None = None,
) -> list[dict[str, Any]]:
    """Every policy on one instance and one trace; one row per policy."""
    trace = GENERATORS[kind](instance, slots=slots, seed=seed, **TRACE_PARAMS[kind])
    problem = make_problem(instance, trace)
    clock = time.perf_counter()
    hindsight = problem.hindsight(trace)
    lp_seconds = time.perf_counter() - clock
    integral = None
    if milp_time_limit is not None:
        clock = time.perf_counter()
        integral = problem.hindsight(trace, integral=True, time_limit=milp_time_limit)
        milp_seconds = time.perf_counter() - clock
    rows = []
    for name, make in (policies or POLICIES).items():
        clock = time.perf_counter()
        result = run(make(), problem, trace, seed=seed, hindsight=hindsight)
        wall = time.perf_counter() - clock
        m = result.metrics
        check = result.check_regret_bound()
        rows.append(
            {
                "instance": label,
                "trace": kind,
                "seed": seed,
                "slots": slots,
                "policy": name,
                "fractional_ratio": m["fractional_ratio"],
                "served_ratio_lp": m["gain_ratio"],
                "served_ratio_milp": m["gain"] / integral.value if integral else None,
                "milp_over_lp": integral.value / hindsight.value if integral else None,
                "milp_status": integral.status if integral else None,
                "milp_gap": integral.details["gap"] if integral else None,
                "bound_kind": check.kind,
                "bound_passed": check.passed,
                "regret_over_bound": check.ratio,
                "final_regret": m["regret"],
                "final_bound": check.bound,
                "step": m.get("step"),
                "messages_per_slot": m["messages_per_slot"],
                "policy_ms_per_slot": 1e3 * m["policy_seconds_per_slot"],
                "run_seconds": wall,
                "lp_seconds": lp_seconds,
                "milp_seconds": milp_seconds if integral else None,
                "hindsight_scenarios": hindsight.details["scenarios"],
                "gain": m["gain"],
            }
        )
    return rows


def summary_table(rows: list[dict[str, Any]], traces: list[str]) -> str:
    """Median ratios per trace and policy, bound checks, and the worst regret/bound."""
    table = []
    for kind in traces:
        for name in POLICIES:
            mine = [r for r in rows if r["trace"] == kind and r["policy"] == name]
            if not mine:
                continue
            passed = [r["bound_passed"] for r in mine]
            stated = [p for p in passed if p is not None]
            ratios = [r["regret_over_bound"] for r in mine if r["regret_over_bound"] is not None]
            milp = [
                r["served_ratio_milp"]
                for r in mine
                if r["served_ratio_milp"] is not None and (r["milp_gap"] or 0.0) <= MILP_GAP
            ]
            milp_cell = None
            if milp:
                milp_cell = f"{np.median(milp):.3f}"
                if len(milp) < len(mine):
                    milp_cell += f" ({len(milp)} of {len(mine)})"
            table.append(
                [
                    kind,
                    name,
                    len(mine),
                    float(np.median([r["fractional_ratio"] for r in mine])),
                    float(np.min([r["fractional_ratio"] for r in mine])),
                    float(np.median([r["served_ratio_lp"] for r in mine])),
                    milp_cell,
                    f"{sum(stated)}/{len(stated)}" if stated else "no bound",
                    float(np.max(ratios)) if ratios else None,
                    float(np.median([r["messages_per_slot"] for r in mine])),
                    float(np.median([r["policy_ms_per_slot"] for r in mine])),
                ]
            )
    return markdown_table(
        [
            "trace",
            "policy",
            "runs",
            "fractional / LP (median)",
            "fractional / LP (min)",
            "served / LP (median)",
            "served / MILP (median)",
            "bound held",
            "max regret / bound",
            "messages / slot",
            "policy ms / slot",
        ],
        table,
    )


def _median(rows: list[dict[str, Any]], policy: str, key: str) -> float | None:
    values = [r[key] for r in rows if r["policy"] == policy]
    return float(np.median(values)) if values else None


def beats_table(rows: list[dict[str, Any]], traces: list[str]) -> str:
    """INFIDA and OGA against LFU and LRU: medians over the runs, and runs won.

    *served*: the integral allocation's total gain; *fractional*: the
    learner's fractional state's (the baselines are integral: their
    fractional gain is their served gain). Ratios share each run's LP
    denominator, so comparing them compares gains.
    """
    table = []
    for kind in traces:
        mine = [r for r in rows if r["trace"] == kind]
        by_seed: dict[Any, dict[str, dict]] = {}
        for r in mine:
            by_seed.setdefault((r["instance"], r["seed"]), {})[r["policy"]] = r

        for name in ("infida", "oga", "infida-adaptive", "oga-adaptive"):
            cells = [_median(mine, policy, "served_ratio_lp") for policy in (name, "lfu", "lru")]
            for key in ("served_ratio_lp", "fractional_ratio"):
                for rival in ("lfu", "lru"):
                    runs = [p for p in by_seed.values() if name in p and rival in p]
                    wins = sum(p[name][key] > p[rival]["served_ratio_lp"] for p in runs)
                    cells.append(f"{wins}/{len(runs)}")
            table.append([kind, name, *cells])
    header = ["trace", "policy", "served / LP (median)", "LFU (median)", "LRU (median)"]
    header += ["served > LFU", "served > LRU", "fractional > LFU", "fractional > LRU"]
    return markdown_table(header, table)
