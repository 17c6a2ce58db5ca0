"""Exact solve time (or the gap reached) on generated instances of growing size.

Usage::

    python benchmarks/pamdi/bench_exact.py [--time-limit 60] [--seeds 0,1,2]

Instances come from ``idnopt generate pamdi`` (random multi-hop network,
log-normal layer times, two priority classes, each source loading its own
device to 0.5). The headline size is 100-layer chains over 20 devices with 10
sources (target: at most 5 s, or the gap reached in 60 s). For each size and
seed the script runs ``exact`` (branch-and-bound) and, on the smaller sizes,
``exact -O algorithm=milp``, and records status, time, nodes or MILPs, gap,
the first incumbent's value and the best baseline's. Writes
``results/bench_exact.json`` and ``results/bench_exact.md``.

``--milp-large`` runs the MILP outer approximation on the two larger sizes
(seed 0) into ``results/bench_exact_milp_large.md``. ``--xeon4`` solves the
10 GbE Xeon set-up with four sources (a time-sensitive and a best-effort one
on each of two servers) across loads, the hardest bundled-like case, into
``results/bench_exact_xeon4.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPOSITORY))

import idnopt  # noqa: E402
from idnopt.documents import write_atomic  # noqa: E402
from idnopt.family import get_family  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = [
    {"devices": 5, "layers": 18, "sources": 2},
    {"devices": 5, "layers": 18, "sources": 4},
    {"devices": 10, "layers": 50, "sources": 5},
    {"devices": 20, "layers": 100, "sources": 10},
]
MILP_UP_TO = 2
"""The MILP algorithm runs on the first sizes only."""


def run(time_limit: float, seeds: list[int]) -> list[dict]:
    family = get_family("pamdi")
    rows = []
    for index, size in enumerate(SIZES):
        for seed in seeds:
            instance = family.generator.generate(**size, seed=seed)
            algorithms = ["branch-and-bound"] + (["milp"] if index < MILP_UP_TO else [])
            baselines = {}
            for method in ("pa-mdi", "ms-mdi", "ar-mdi", "local"):
                result = idnopt.solve(instance, method=method)
                baselines[method] = result.objective if result.has_solution else None
            for algorithm in algorithms:
                started = time.perf_counter()
                result = idnopt.solve(instance, algorithm=algorithm, time_limit=time_limit)
                seconds = time.perf_counter() - started
                row = {
                    **size,
                    "seed": seed,
                    "algorithm": algorithm,
                    "status": result.status.value,
                    "seconds": seconds,
                    "objective": result.objective,
                    "bound": result.bound,
                    "gap": result.gap,
                    "nodes_or_milps": result.metrics.get("nodes", result.metrics.get("iterations")),
                    "first_incumbent": result.metrics.get("first_incumbent"),
                    "best_baseline": min(
                        (v for v in baselines.values() if v is not None), default=None
                    ),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def markdown(rows: list[dict], time_limit: float) -> str:
    lines = [
        "# Exact PA-MDI splits: time to optimality or gap reached",
        "",
        f"Time limit {time_limit:g} s per call (heuristic seeds included). `gap` is "
        "(objective - bound) / objective; `best baseline` the lowest objective of pa-mdi, "
        "ms-mdi, ar-mdi and local on the same instance (ms, priority-weighted mean latency).",
        "",
        "| devices | layers | sources | seed | algorithm | status | seconds | gap "
        "| nodes / MILPs | objective | bound | best baseline |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def number(value, digits=2):
        return "-" if value is None else f"{value:.{digits}f}"

    for row in rows:
        gap = "-" if row["gap"] is None else f"{100 * row['gap']:.3g} %"
        lines.append(
            f"| {row['devices']} | {row['layers']} | {row['sources']} | {row['seed']} "
            f"| {row['algorithm']} | {row['status']} | {row['seconds']:.2f} | {gap} "
            f"| {row['nodes_or_milps']} | {number(row['objective'])} | {number(row['bound'])} "
            f"| {number(row['best_baseline'])} |"
        )
    return "\n".join(lines) + "\n"


def xeon4(time_limit: float) -> str:
    """Exact solves of the four-source 10 GbE set-up across loads, as markdown."""
    from idnopt.formulations.pamdi.schema import instance_to_dict

    lines = [
        "# Exact splits on the 10 GbE Xeon set-up with four sources",
        "",
        f"Time limit {time_limit:g} s. Sources: a time-sensitive and a best-effort one on "
        "each of server-1 and server-2 (the bundled rates on each), ResNet-50 and GPT-2; "
        "load = factor on every rate.",
        "",
        "| model | load | status | seconds | gap | nodes | objective | bound | best baseline |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for model in ("resnet50", "gpt2"):
        path = REPOSITORY / "instances" / "pamdi" / f"xeon-10gbe-{model}.yaml"
        base = instance_to_dict(idnopt.load(path))
        for factor in (0.5, 0.75, 1.0):
            data = json.loads(json.dumps(base))
            sources = []
            for server in ("server-1", "server-2"):
                for entry in base["sources"]:
                    copy = dict(entry, device=server, name=f"{entry['name']}-{server}")
                    copy["rate"] = entry["rate"] * factor
                    sources.append(copy)
            data["sources"] = sources
            instance = idnopt.from_dict(data, source=str(path))
            baseline = min(
                r.objective
                for m in ("pa-mdi", "ms-mdi", "ar-mdi", "local")
                if (r := idnopt.solve(instance, method=m)).has_solution
            )
            started = time.perf_counter()
            result = idnopt.solve(instance, time_limit=time_limit)
            seconds = time.perf_counter() - started
            gap = "-" if result.gap is None else f"{100 * result.gap:.3g} %"
            lines.append(
                f"| {model} | {factor:g} | {result.status.value} | {seconds:.2f} | {gap} "
                f"| {result.metrics.get('nodes')} | {result.objective:.2f} | {result.bound:.2f} "
                f"| {baseline:.2f} |"
            )
            print(lines[-1], flush=True)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--xeon4", action="store_true", help="the four-source 10 GbE set-up")
    parser.add_argument("--milp-large", action="store_true", help="MILP on the larger sizes")
    arguments = parser.parse_args(argv)
    if arguments.milp_large:
        rows = []
        family = get_family("pamdi")
        for size in SIZES[MILP_UP_TO:]:
            instance = family.generator.generate(**size, seed=0)
            started = time.perf_counter()
            result = idnopt.solve(instance, algorithm="milp", time_limit=arguments.time_limit)
            rows.append(
                {
                    **size,
                    "seed": 0,
                    "algorithm": "milp",
                    "status": result.status.value,
                    "seconds": time.perf_counter() - started,
                    "objective": result.objective,
                    "bound": result.bound,
                    "gap": result.gap,
                    "nodes_or_milps": result.metrics.get("iterations"),
                    "first_incumbent": result.metrics.get("first_incumbent"),
                    "best_baseline": None,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
        RESULTS.mkdir(exist_ok=True)
        write_atomic(RESULTS / "bench_exact_milp_large.md", markdown(rows, arguments.time_limit))
        return 0
    if arguments.xeon4:
        RESULTS.mkdir(exist_ok=True)
        write_atomic(RESULTS / "bench_exact_xeon4.md", xeon4(arguments.time_limit))
        return 0
    seeds = [int(s) for s in arguments.seeds.split(",")]
    rows = run(arguments.time_limit, seeds)
    RESULTS.mkdir(exist_ok=True)
    write_atomic(RESULTS / "bench_exact.json", json.dumps(rows, indent=1) + "\n")
    write_atomic(RESULTS / "bench_exact.md", markdown(rows, arguments.time_limit))
    print(f"wrote {RESULTS / 'bench_exact.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
