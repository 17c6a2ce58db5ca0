"""Quality of the IDN heuristics: rounding and greedy gains as fractions of the MILP optimum.

The tasks are the sweep specification ``quality.yaml`` next to this script, run
by the sweep engine (:func:`idnopt.sweep.run_sweep`, resumable, ``--jobs`` worker
processes): for each seed, one instance of :func:`idnopt.formulations.idn.generate_idn`
(tree, 100 nodes, 10 models, 1,000 request classes, where the MILP solves in a
few seconds) solved with ``method="milp"`` (exact, HiGHS default relative gap
1e-4), ``"rounding"`` (DepRound of the LP optimum per node, repair, greedy fill;
best of 16 draws, seed 0) and ``"greedy"`` (marginal gain per MB). Reported: the ratios
rounding/MILP and greedy/MILP, and MILP/L* (L* = the LP bound), with their
median, quartiles and minimum over the seeds.

Usage::

    python benchmarks/idn_offline/bench_quality.py            # 50 seeds, one job
    python benchmarks/idn_offline/bench_quality.py --jobs 2   # 50 seeds, two processes
    python benchmarks/idn_offline/bench_quality.py --quick    # 8 seeds
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from common import HERE, RESULTS, machine, markdown_table, publish

RATIOS = {
    "rounding / MILP": ("rounding", "milp"),
    "greedy / MILP": ("greedy", "milp"),
    "MILP / LP bound": ("milp", "lp_bound"),
    "rounding / LP bound": ("rounding", "lp_bound"),
}


def sweep_rows(args) -> list[dict]:
    """Run (or resume) ``quality.yaml`` and return one row per seed."""
    from idnopt.sweep import load_spec, read_table, run_sweep

    spec = load_spec(HERE / "quality.yaml")
    spec = spec.model_copy(update={"seeds": list(range(args.seeds))})
    output = HERE / "scratch" / ("quality_quick" if args.quick else "quality")
    run_sweep(spec, output, jobs=args.jobs)
    table = read_table(output)
    table = table[table["seed"] < args.seeds]
    rows = []
    for seed, group in table.groupby("seed"):
        by_solver = group.set_index("solver")
        row: dict = {"seed": int(seed)}
        for method in ("milp", "rounding", "greedy"):
            row[method] = float(by_solver.loc[method, "objective"])
            row[f"{method}_s"] = float(by_solver.loc[method, "wall_seconds"])
        row["milp_status"] = str(by_solver.loc["milp", "status"])
        row["milp_gap"] = float(by_solver.loc["milp", "gap"] or 0.0)
        row["lp_bound"] = float(by_solver.loc["milp", "lp_bound"])
        for name, (top, bottom) in RATIOS.items():
            row[name] = row[top] / row[bottom] if row[bottom] > 0 else 1.0
        rows.append(row)
    return rows


def summary(rows: list[dict]) -> dict:
    out = {}
    for name in RATIOS:
        values = np.array([r[name] for r in rows])
        out[name] = {
            "median": float(np.median(values)),
            "min": float(values.min()),
            "q1": float(np.percentile(values, 25)),
            "q3": float(np.percentile(values, 75)),
            "max": float(values.max()),
            "mean": float(values.mean()),
            "share >= 0.98": float(np.mean(values >= 0.98)),
        }
    for method in ("milp", "rounding", "greedy"):
        out[f"{method} seconds"] = {
            "median": float(np.median([r[f"{method}_s"] for r in rows])),
            "max": float(np.max([r[f"{method}_s"] for r in rows])),
        }
    return out


def table(data: dict) -> str:
    stats = data["summary"]
    rows = [
        [
            name,
            f"{s['median']:.4f}",
            f"{s['min']:.4f}",
            f"{s['q1']:.4f}",
            f"{s['q3']:.4f}",
            f"{s['max']:.4f}",
            f"{s['mean']:.4f}",
            f"{100 * s['share >= 0.98']:.0f} %",
        ]
        for name, s in stats.items()
        if name in RATIOS
    ]
    text = markdown_table(
        ["ratio", "median", "min", "25 %", "75 %", "max", "mean", "seeds ≥ 0.98"], rows
    )
    times = [
        [
            method,
            f"{stats[f'{method} seconds']['median']:.2f}",
            f"{stats[f'{method} seconds']['max']:.2f}",
        ]
        for method in ("milp", "rounding", "greedy")
    ]
    text += "\n\nWall-clock seconds per call of `idnopt.solve` (including the LP bound for "
    text += "milp and rounding):\n\n"
    text += markdown_table(["method", "median s", "max s"], times)
    statuses = sorted({r["milp_status"] for r in data["rows"]})
    gaps = [r["milp_gap"] or 0.0 for r in data["rows"]]
    text += (
        f"\n\nMILP status over the seeds: {', '.join(statuses)}; "
        f"largest reported gap {max(gaps):.2e}.\n"
    )
    return text


def plot(data: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = data["rows"]
    names = ["rounding / MILP", "greedy / MILP", "MILP / LP bound"]
    values = [[r[name] for r in rows] for name in names]
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    axes[0].boxplot(values, whis=(0, 100))
    axes[0].set_xticks(range(1, len(names) + 1), names)
    rng = np.random.default_rng(0)
    for i, series in enumerate(values, start=1):
        axes[0].scatter(i + rng.uniform(-0.12, 0.12, len(series)), series, s=10, alpha=0.6)
    axes[0].axhline(0.98, color="tab:red", linestyle="--", linewidth=1, label="target 0.98")
    axes[0].set_ylabel("ratio")
    axes[0].set_title(f"{len(rows)} seeds: {data['instance']}")
    axes[0].legend(fontsize=8)
    axes[0].grid(True, axis="y", alpha=0.3)
    seeds = [r["seed"] for r in rows]
    order = np.argsort([r["rounding / MILP"] for r in rows])
    for name, marker in (("rounding / MILP", "o"), ("greedy / MILP", "s")):
        axes[1].plot(
            range(len(rows)),
            [rows[i][name] for i in order],
            marker=marker,
            linestyle="none",
            label=name,
        )
    axes[1].axhline(0.98, color="tab:red", linestyle="--", linewidth=1)
    axes[1].set_xticks(range(len(rows)), [seeds[i] for i in order], fontsize=5, rotation=90)
    axes[1].set_xlabel("seed (sorted by rounding / MILP)")
    axes[1].set_ylabel("fraction of the MILP optimum")
    axes[1].legend(fontsize=8)
    axes[1].grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 seeds")
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes of the sweep")
    parser.add_argument(
        "--replot", action="store_true", help="redraw table and plot from the saved results"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = min(args.seeds, 8)
    suffix = "_quick" if args.quick else ""
    if args.replot:
        data = json.loads((RESULTS / f"quality{suffix}.json").read_text())
        plot(data, HERE / f"quality{suffix}.png")
        print(table(data))
        return 0
    started = time.perf_counter()
    described = machine()
    rows = sweep_rows(args)
    for r in rows:
        print(
            f"seed {r['seed']:3d}: MILP {r['milp']:.6g} ({r['milp_status']}, {r['milp_s']:.1f} s) "
            f"rounding {r['rounding / MILP']:.4f} greedy {r['greedy / MILP']:.4f} "
            f"MILP/L* {r['MILP / LP bound']:.4f}",
            flush=True,
        )
    data = {
        "machine": described,
        "arguments": vars(args),
        "instance": "tree, 100 nodes × 10 models × 1000 classes",
        "rows": rows,
    }
    data["summary"] = summary(rows)
    publish(f"quality{suffix}", data, started, table, plot, f"quality{suffix}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
