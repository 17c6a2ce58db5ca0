"""JellyBean benchmarks: exact MILP versus the published heuristic, and MILP solve time.

Three parts (run from the repository root):

* ``bundled`` - cost per accuracy target on ``instances/jellybean/*.yaml``, exact
  versus heuristic, under both routing rules; cost-accuracy plots;
* ``random`` - 100 seeded random instances: distribution of the exact plan's saving
  over the heuristic under both rules;
* ``scaling`` - MILP build and solve time as operators x variants x workers grow,
  up to 10 x 10 x 50 on three tiers with a 1,000-row accuracy table.

``python benchmarks/jellybean/bench_jellybean.py all`` writes ``results/*.json``,
``results/*.md`` and the plots; ``--quick`` runs a small subset.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

import idnopt
from idnopt.formulations import jellybean as jb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RESULTS = HERE / "results"


def machine() -> dict:
    from importlib.metadata import version

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "highspy": version("highspy"),
        "numpy": np.__version__,
    }


def markdown(rows: list[dict], columns: list[str]) -> str:
    def cell(value) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def save(name: str, payload: dict, table: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=1) + "\n")
    (RESULTS / f"{name}.md").write_text(table)
    print(table)


# -- bundled ---------------------------------------------------------------------------------


def bundled(quick: bool) -> None:
    rows = []
    for path in sorted((ROOT / "instances" / "jellybean").glob("*.yaml")):
        instance = idnopt.load(path)
        for routing in jb.ROUTINGS:
            started = time.perf_counter()
            sweep = jb.accuracy_sweep(instance, routing=routing)
            elapsed = time.perf_counter() - started
            for row in sweep.rows:
                rows.append({"instance": path.stem, "routing": routing, **row})
            print(f"{path.stem} {routing}: {len(sweep.rows)} targets in {elapsed:.2f} s")
            print("  ", sweep.explanation)
            if routing == "flows" or path.stem == "vehicle_tracking":
                sweep.plot(
                    HERE / f"{path.stem}_{routing}.png", title=f"{instance.name} ({routing})"
                )
            # the instance's own target, with timings
            exact = idnopt.solve(instance, routing=routing)
            heuristic = idnopt.solve(instance, routing=routing, method="heuristic")
            rows.append(
                {
                    "instance": path.stem,
                    "routing": routing,
                    "target": instance.target,
                    "status": f"file target: {exact.status.value}",
                    "cost_per_hour": exact.objective,
                    "heuristic_cost": heuristic.objective,
                    "saving": 1 - exact.objective / heuristic.objective
                    if heuristic.objective
                    else None,
                    "combination": exact.metrics.get("combination"),
                    "milp_seconds": exact.build_seconds + exact.solve_seconds,
                    "heuristic_seconds": heuristic.solve_seconds,
                }
            )
    columns = [
        "instance",
        "routing",
        "target",
        "status",
        "cost_per_hour",
        "heuristic_cost",
        "saving",
        "combination",
        "milp_seconds",
        "heuristic_seconds",
    ]
    save("bundled", {"machine": machine(), "rows": rows}, markdown(rows, columns))


# -- random ----------------------------------------------------------------------------------


def random_instances(quick: bool) -> None:
    seeds = range(12 if quick else 100)
    rows = []
    for seed in seeds:
        instance = jb.random_instance(seed, operators=4, variants=3, workers=12, tiers=3)
        for routing in jb.ROUTINGS:
            exact = jb.solve(instance, routing=routing)
            heuristic = jb.solve(instance, routing=routing, method="heuristic")
            rows.append(
                {
                    "seed": seed,
                    "routing": routing,
                    "exact_status": exact.status.value,
                    "exact": exact.objective,
                    "bound": exact.bound,
                    "heuristic": heuristic.objective,
                    "heuristic_note": heuristic.message,
                    "milp_seconds": exact.build_seconds + exact.solve_seconds,
                    "heuristic_seconds": heuristic.solve_seconds,
                }
            )
    summary = []
    for routing in jb.ROUTINGS:
        mine = [r for r in rows if r["routing"] == routing]
        solved = [r for r in mine if r["exact"] is not None]
        both = [r for r in solved if r["heuristic"] is not None]
        savings = np.array([1 - r["exact"] / r["heuristic"] for r in both])
        gaps = [
            (r["exact"] - r["bound"]) / r["exact"]
            for r in solved
            if r["bound"] is not None and r["exact"] > 0
        ]
        times = np.array([r["milp_seconds"] for r in solved])
        summary.append(
            {
                "routing": routing,
                "instances": len(mine),
                "feasible": len(solved),
                "exact optimal": sum(r["exact_status"] == "optimal" for r in solved),
                "heuristic fails": len(solved) - len(both),
                "exact > heuristic": int((savings < -1e-9).sum()),
                "saving = 0": int((np.abs(savings) <= 1e-9).sum()),
                "mean saving": float(savings.mean()),
                "p10": float(np.percentile(savings, 10)),
                "median": float(np.median(savings)),
                "p90": float(np.percentile(savings, 90)),
                "max": float(savings.max()),
                "max gap": float(max(gaps)) if gaps else None,
                "median MILP s": float(np.median(times)),
                "max MILP s": float(times.max()),
            }
        )
    columns = list(summary[0])
    save(
        "random",
        {
            "machine": machine(),
            "generator": "random_instance(seed, operators=4, variants=3, workers=12, tiers=3)",
            "summary": summary,
            "rows": rows,
        },
        markdown(summary, columns),
    )


# -- scaling ---------------------------------------------------------------------------------


SIZES = [(3, 3, 10), (5, 5, 20), (8, 8, 30), (10, 10, 50)]


def scaling(quick: bool, time_limit: float) -> None:
    sizes = SIZES[:2] if quick else SIZES
    seeds = range(2 if quick else 3)
    rows = []
    for operators, variants, workers in sizes:
        for fleet, types in (("typed", 6), ("distinct", None)):
            routings = jb.ROUTINGS if (operators, variants, workers) == SIZES[-1] else ("flows",)
            for routing in routings:
                for seed in seeds:
                    instance = jb.random_instance(
                        seed,
                        operators=operators,
                        variants=variants,
                        workers=workers,
                        tiers=3,
                        rows=min(1000, variants**operators),
                        worker_types=types,
                    )
                    program = jb.build(instance, routing=routing)
                    started = time.perf_counter()
                    result = jb.solve(instance, routing=routing, time_limit=time_limit)
                    wall = time.perf_counter() - started
                    row = {
                        "size": f"{operators}x{variants}x{workers}",
                        "fleet": fleet,
                        "routing": routing,
                        "seed": seed,
                        "rows": len(instance.accuracy.rows),
                        "variables": program.num_variables,
                        "integers": int(program.integrality().sum()),
                        "constraints": program.num_constraints,
                        "status": result.status.value,
                        "gap": result.gap,
                        "build_s": result.build_seconds,
                        "solve_s": result.solve_seconds,
                        "wall_s": wall,
                    }
                    rows.append(row)
                    print(row, flush=True)
    summary = []
    for key in dict.fromkeys((r["size"], r["fleet"], r["routing"]) for r in rows):
        mine = [r for r in rows if (r["size"], r["fleet"], r["routing"]) == key]
        walls = np.array([r["wall_s"] for r in mine])
        summary.append(
            {
                "size (ops x variants x workers)": key[0],
                "fleet": key[1],
                "routing": key[2],
                "integers": mine[0]["integers"],
                "constraints": mine[0]["constraints"],
                "median s": float(np.median(walls)),
                "max s": float(walls.max()),
                "optimal": f"{sum(r['status'] == 'optimal' for r in mine)}/{len(mine)}",
                "max gap": max((r["gap"] or 0.0) for r in mine),
            }
        )
    save(
        "scaling",
        {"machine": machine(), "time_limit": time_limit, "summary": summary, "rows": rows},
        markdown(summary, list(summary[0])),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["bundled", "random", "scaling", "all"])
    parser.add_argument("--quick", action="store_true", help="a small subset (about a minute)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per scaling solve")
    args = parser.parse_args()
    if args.part in ("bundled", "all"):
        bundled(args.quick)
    if args.part in ("random", "all"):
        random_instances(args.quick)
    if args.part in ("scaling", "all"):
        scaling(args.quick, args.time_limit)


if __name__ == "__main__":
    main()
