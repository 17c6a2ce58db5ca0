"""JellyBean benchmarks: exact plans against the published optimizer, and exact solve time.

Three parts (run from the repository root):

* ``bundled`` - cost per accuracy target on ``instances/jellybean/*.yaml``: the exact
  branch-and-bound (``bnb``) against the published JellyBean optimizer (``published``)
  and the simplified heuristic (``heuristic``), under both routing rules; cost-accuracy
  plots;
* ``random`` - 100 seeded random instances: the same comparison, and ``bnb`` checked
  against the direct MILP (``milp``);
* ``scaling`` - ``bnb`` and ``milp`` side by side at 10 operators x 10 variants x 50
  workers x 3 tiers (1,000-row tables): 20 seeds of typed fleets (6 machine types),
  5 of distinct workers, under flows and proportional routing.

``python benchmarks/jellybean/bench_jellybean.py all`` writes ``results/*.json`` and
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
BASELINES = ("published", "heuristic")


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
    payload["machine_at_end"] = machine()
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=1) + "\n")
    (RESULTS / f"{name}.md").write_text(table)
    print(table)


def timed(instance, **options) -> tuple:
    """Solve and return ``(result, wall seconds, CPU seconds)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = jb.solve(instance, **options)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def saving(exact: float | None, baseline: float | None) -> float | None:
    """Fraction of the baseline's cost the exact plan saves (None when either is missing)."""
    if exact is None or baseline is None or baseline <= 0:
        return None
    return 1.0 - exact / baseline


def spread(values: list[float]) -> dict:
    """min / median / mean / max of a list (Nones when empty)."""
    if not values:
        return {"min": None, "median": None, "mean": None, "max": None}
    array = np.array(values)
    return {
        "min": float(array.min()),
        "median": float(np.median(array)),
        "mean": float(array.mean()),
        "max": float(array.max()),
    }


def compare(instance, routing: str, target: float | None = None) -> dict:
    """The exact plan and both baselines at one target, with savings and times."""
    options = {"routing": routing} if target is None else {"routing": routing, "target": target}
    exact, exact_s, _ = timed(instance, method="bnb", **options)
    row = {
        "status": exact.status.value,
        "exact": exact.objective,
        "bound": exact.bound,
        "combination": exact.metrics.get("combination"),
        "exact_s": exact_s,
        "best_reachable": exact.metrics.get("best_reachable_accuracy"),
    }
    for name in BASELINES:
        result, seconds, _ = timed(instance, method=name, **options)
        row[name] = result.objective
        row[f"{name}_s"] = seconds
        row[f"{name}_note"] = result.message
        row[f"saving_vs_{name}"] = saving(exact.objective, result.objective)
    return row


# -- bundled ---------------------------------------------------------------------------------


def bundled(quick: bool) -> None:
    started = machine()
    rows, summary, at_target = [], [], []
    for path in sorted((ROOT / "instances" / "jellybean").glob("*.yaml")):
        instance = idnopt.load(path)
        workflow = jb.compile_workflow(instance)
        best, _ = jb.best_reachable_accuracy(instance)
        targets = [float(t) for t in np.unique(workflow.table_accuracy) if t <= best + 1e-12]
        if quick:
            targets = targets[:: max(1, len(targets) // 4)]
        for routing in jb.ROUTINGS:
            mine = []
            for target in targets:
                row = {"instance": path.stem, "routing": routing, "target": target}
                row.update(compare(instance, routing, target))
                mine.append(row)
            rows += mine
            file_row = {"instance": path.stem, "routing": routing, "target": instance.target}
            file_row.update(compare(instance, routing))
            at_target.append(file_row)
            line = {
                "instance": path.stem,
                "routing": routing,
                "targets": len(mine),
                "exact optimal": sum(r["status"] == "optimal" for r in mine),
            }
            for name in BASELINES:
                savings = [
                    r[f"saving_vs_{name}"] for r in mine if r[f"saving_vs_{name}"] is not None
                ]
                stats = spread(savings)
                line[f"{name} no plan"] = sum(r[name] is None for r in mine)
                line[f"vs {name} min"] = stats["min"]
                line[f"vs {name} median"] = stats["median"]
                line[f"vs {name} mean"] = stats["mean"]
                line[f"vs {name} max"] = stats["max"]
                line[f"exact dearer than {name}"] = sum(s < -1e-9 for s in savings)
            summary.append(line)
            print(line, flush=True)
            plot(path.stem, instance.name or path.stem, routing, mine)
    table = "At each file's own target:\n\n" + markdown(
        at_target,
        [
            "instance",
            "routing",
            "target",
            "status",
            "exact",
            "published",
            "saving_vs_published",
            "heuristic",
            "saving_vs_heuristic",
            "exact_s",
            "published_s",
            "heuristic_s",
        ],
    )
    table += "\nOver every target of the table (savings as fractions of the baseline's cost):\n\n"
    table += markdown(summary, list(summary[0]))
    save(
        "bundled",
        {"machine": started, "at_target": at_target, "summary": summary, "rows": rows},
        table,
    )


def plot(stem: str, title: str, routing: str, rows: list[dict]) -> None:
    """Cost against the accuracy target: exact (steps), published (x), heuristic (+)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.0))
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    solved = [r for r in rows if r["exact"] is not None]
    ax.step(
        [r["target"] for r in solved],
        [r["exact"] for r in solved],
        where="pre",
        marker="o",
        markersize=3,
        label="exact (bnb)",
    )
    for name, marker, color in (("published", "x", "C3"), ("heuristic", "+", "C2")):
        found = [r for r in rows if r[name] is not None]
        ax.plot(
            [r["target"] for r in found],
            [r[name] for r in found],
            marker,
            color=color,
            label=f"{name} optimizer" if name == "published" else "simplified heuristic",
        )
    ax.set_xlabel("end-to-end accuracy target")
    ax.set_ylabel("cost ($/h)")
    ax.set_title(f"{title} ({routing} routing)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(HERE / f"{stem}_{routing}.png", dpi=110)


# -- random ----------------------------------------------------------------------------------


def random_instances(quick: bool) -> None:
    started = machine()
    seeds = range(12 if quick else 100)
    rows = []
    for seed in seeds:
        instance = jb.random_instance(seed, operators=4, variants=3, workers=12, tiers=3)
        for routing in jb.ROUTINGS:
            row = {"seed": seed, "routing": routing}
            row.update(compare(instance, routing))
            milp, milp_s, _ = timed(instance, method="milp", routing=routing)
            row.update({"milp": milp.objective, "milp_status": milp.status.value, "milp_s": milp_s})
            rows.append(row)
    summary = []
    for routing in jb.ROUTINGS:
        mine = [r for r in rows if r["routing"] == routing]
        solved = [r for r in mine if r["exact"] is not None]
        both = [r for r in solved if r["status"] == "optimal" and r["milp_status"] == "optimal"]
        line = {
            "routing": routing,
            "instances": len(mine),
            "feasible": len(solved),
            "bnb optimal": sum(r["status"] == "optimal" for r in solved),
            "milp optimal": sum(r["milp_status"] == "optimal" for r in solved),
            "max |bnb - milp| (both optimal)": max(
                (abs(r["exact"] - r["milp"]) for r in both), default=None
            ),
            "bnb > milp": sum(r["exact"] > r["milp"] + 1e-6 for r in solved if r["milp"]),
        }
        for name in BASELINES:
            savings = [r[f"saving_vs_{name}"] for r in solved if r[f"saving_vs_{name}"] is not None]
            array = np.array(savings)
            line[f"{name} no plan"] = sum(r[name] is None for r in solved)
            line[f"exact > {name}"] = int((array < -1e-9).sum())
            line[f"saving vs {name}: = 0"] = int((np.abs(array) <= 1e-9).sum())
            line[f"mean vs {name}"] = float(array.mean())
            line[f"p10 vs {name}"] = float(np.percentile(array, 10))
            line[f"median vs {name}"] = float(np.median(array))
            line[f"p90 vs {name}"] = float(np.percentile(array, 90))
            line[f"max vs {name}"] = float(array.max())
        for key, name in (("exact_s", "bnb"), ("milp_s", "milp"), ("published_s", "published")):
            times = np.array([r[key] for r in solved])
            line[f"{name} median s"] = float(np.median(times))
            line[f"{name} max s"] = float(times.max())
        summary.append(line)
    table = "".join(markdown([line], list(line)) + "\n" for line in summary)
    save(
        "random",
        {
            "machine": started,
            "generator": "random_instance(seed, operators=4, variants=3, workers=12, tiers=3)",
            "summary": summary,
            "rows": rows,
        },
        table,
    )


# -- scaling ---------------------------------------------------------------------------------


CASES = (
    ("typed", 6, "flows", 20),
    ("distinct", None, "flows", 5),
    ("typed", 6, "proportional", 5),
    ("distinct", None, "proportional", 5),
)
"""(fleet, machine types, routing, seeds) at 10 operators x 10 variants x 50 workers x 3 tiers."""


def scaling(quick: bool, time_limit: float, methods: tuple[str, ...]) -> None:
    started = machine()
    rows = []
    warm = jb.random_instance(0, operators=3, variants=3, workers=8, tiers=3)
    for method in methods:  # imports and first HiGHS objects out of the timings
        jb.solve(warm, method=method, threads=1)
    for fleet, types, routing, count in CASES:
        for seed in range(2 if quick else count):
            instance = jb.random_instance(
                seed,
                operators=10,
                variants=10,
                workers=50,
                tiers=3,
                rows=1000,
                worker_types=types,
            )
            for method in methods:
                result, wall, cpu = timed(
                    instance, method=method, routing=routing, time_limit=time_limit, threads=1
                )
                row = {
                    "fleet": fleet,
                    "routing": routing,
                    "seed": seed,
                    "method": method,
                    "status": result.status.value,
                    "objective": result.objective,
                    "bound": result.bound,
                    "gap": result.gap,
                    "wall_s": wall,
                    "cpu_s": cpu,
                    "load_average": round(os.getloadavg()[0], 2),
                    "metrics": {
                        k: v
                        for k, v in result.metrics.items()
                        if k.startswith(("pair", "pattern", "rows", "patterns"))
                    },
                }
                rows.append(row)
                print({k: v for k, v in row.items() if k != "metrics"}, flush=True)
    summary = []
    for fleet, _, routing, _ in CASES:
        for method in methods:
            mine = [
                r
                for r in rows
                if (r["fleet"], r["routing"], r["method"]) == (fleet, routing, method)
            ]
            if not mine:
                continue
            walls = np.array([r["wall_s"] for r in mine])
            cpus = np.array([r["cpu_s"] for r in mine])
            summary.append(
                {
                    "fleet": fleet,
                    "routing": routing,
                    "method": method,
                    "seeds": len(mine),
                    "optimal": f"{sum(r['status'] == 'optimal' for r in mine)}/{len(mine)}",
                    "median wall s": float(np.median(walls)),
                    "max wall s": float(walls.max()),
                    "median CPU s": float(np.median(cpus)),
                    "max CPU s": float(cpus.max()),
                    "max gap": max((r["gap"] or 0.0) for r in mine),
                }
            )
    agreement = []
    for fleet, _, routing, _ in CASES:
        pairs = {}
        for r in rows:
            if (r["fleet"], r["routing"]) == (fleet, routing):
                pairs.setdefault(r["seed"], {})[r["method"]] = r
        diffs = [
            abs(p["bnb"]["objective"] - p["milp"]["objective"]) / p["milp"]["objective"]
            for p in pairs.values()
            if {"bnb", "milp"} <= set(p)
            and p["bnb"]["status"] == "optimal"
            and p["milp"]["status"] == "optimal"
        ]
        if diffs:
            agreement.append(
                {
                    "fleet": fleet,
                    "routing": routing,
                    "seeds both optimal": len(diffs),
                    "max relative difference": max(diffs),
                }
            )
    table = markdown(summary, list(summary[0]))
    if agreement:
        table += "\n" + markdown(agreement, list(agreement[0]))
    save(
        "scaling",
        {
            "machine": started,
            "time_limit": time_limit,
            "summary": summary,
            "agreement": agreement,
            "rows": rows,
        },
        table,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["bundled", "random", "scaling", "all"])
    parser.add_argument("--quick", action="store_true", help="a small subset (a few minutes)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per scaling solve")
    parser.add_argument(
        "--methods",
        default="bnb,milp",
        help="methods timed by the scaling part (comma-separated; default: bnb,milp)",
    )
    args = parser.parse_args()
    if args.part in ("bundled", "all"):
        bundled(args.quick)
    if args.part in ("random", "all"):
        random_instances(args.quick)
    if args.part in ("scaling", "all"):
        scaling(args.quick, args.time_limit, tuple(args.methods.split(",")))


if __name__ == "__main__":
    main()
