"""Parallel efficiency of sweeps on this machine: 1 job versus 2 jobs (joblib, local Dask).

Runs the CPU-bound workload of ``knapsack_cpu.yaml`` (exact MILP solves, one
solver thread each) with

* ``jobs=1``: tasks one after the other in this process,
* ``jobs=2`` on joblib's process pool, cold (the pool starts inside the timed run)
  and warm (the pool already started by an earlier sweep),
* a local Dask cluster of 2 single-threaded worker processes (started beforehand),

each into a fresh results folder, and — as the ceiling this machine allows —
the same solves on a bare two-process pool without the sweep engine. It reports
wall times, speed-ups ``T(1 job) / T(2 workers)`` paired within each repetition
(median and range; target: at least 1.7 on two cores) and the sum of the
solve calls' times (how much each solve slows down when both cores are busy).
On a shared virtual machine that last figure moves with the neighbours' load.

    python benchmarks/sweep/parallel_efficiency.py [--repeats 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml
from common import load_average, machine, markdown_table, save

from idnopt import solve_program
from idnopt.sweep import load_spec, read_table, run_sweep, spec_from_dict

HERE = Path(__file__).resolve().parent


def timed_sweep(spec, **options) -> tuple[float, float]:
    """Wall time of one complete sweep into a fresh folder, and the sum of its task times."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        summary = run_sweep(spec, Path(folder) / "results", **options)
        wall = time.perf_counter() - started
        assert summary.failed == 0 and summary.ran == summary.total, summary
        busy = float(read_table(Path(folder) / "results")["wall_seconds"].sum())
    return wall, busy


def bare_solve(task) -> float:
    """Generate and solve one task without the sweep engine; the solve call's wall time."""
    program = task.make_instance()
    started = time.perf_counter()
    solve_program(program, task.solver.backend, time_limit=task.solver.time_limit, threads=1)
    return time.perf_counter() - started


def timed_bare(pool, tasks) -> tuple[float, float]:
    """Wall time of solving the tasks on a plain process pool, and the sum of solve times."""
    started = time.perf_counter()
    busy = sum(pool.map(bare_solve, tasks))
    return time.perf_counter() - started, busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=HERE / "knapsack_cpu.yaml")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="write the measurements here")
    arguments = parser.parse_args()
    before = load_average()

    from distributed import Client, LocalCluster

    spec = load_spec(arguments.spec)
    tasks = len(spec.tasks())
    data = yaml.safe_load(arguments.spec.read_text())
    warm_up = spec_from_dict({**data, "seeds": [99]}, base=spec.base)
    timed_sweep(warm_up, jobs=1)  # imports and first-solve costs out of the serial figure

    names = [
        "1 job",
        "2 jobs (joblib, cold pool)",
        "2 jobs (joblib, warm pool)",
        "2 workers (local Dask)",
        "reference: bare 2-process pool, no sweep engine",
    ]
    measurements: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    from joblib.externals.loky import get_reusable_executor

    context = multiprocessing.get_context("spawn")
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
        ProcessPoolExecutor(2, mp_context=context) as bare_pool,
    ):
        timed_sweep(warm_up, dask=client)
        timed_bare(bare_pool, warm_up.tasks())
        for _ in range(arguments.repeats):
            measurements[names[0]].append(timed_sweep(spec, jobs=1))
            get_reusable_executor().shutdown(wait=True)
            measurements[names[1]].append(timed_sweep(spec, jobs=2))
            measurements[names[2]].append(timed_sweep(spec, jobs=2))
            measurements[names[3]].append(timed_sweep(spec, dask=client))
            measurements[names[4]].append(timed_bare(bare_pool, spec.tasks()))

    serial = [wall for wall, _ in measurements[names[0]]]
    rows = []
    for name, values in measurements.items():
        speedups = [one / wall for one, (wall, _) in zip(serial, values)]
        rows.append(
            {
                "executor": name,
                "wall_seconds": statistics.median(w for w, _ in values),
                "task_seconds_sum": statistics.median(b for _, b in values),
                "speedup": statistics.median(speedups),
                "speedup_range": f"{min(speedups):.2f}–{max(speedups):.2f}",
                "efficiency": statistics.median(speedups) / (1 if name == names[0] else 2),
            }
        )
    print(f"{tasks} tasks from {arguments.spec.name}, median of {arguments.repeats} runs")
    print(f"machine: {machine()}; load average before: {before}, after: {load_average()}")
    print(
        markdown_table(
            rows,
            {
                "executor": "executor",
                "wall_seconds": "wall (s)|{:.2f}",
                "task_seconds_sum": "Σ solve-call time of the tasks (s)|{:.2f}",
                "speedup": "speed-up vs 1 job (median)|{:.2f}×",
                "speedup_range": "speed-up range|{}",
                "efficiency": "parallel efficiency|{:.0%}",
            },
        )
    )
    save(
        arguments.json,
        {
            "machine": machine(),
            "spec": arguments.spec.name,
            "tasks": tasks,
            "repeats": arguments.repeats,
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
