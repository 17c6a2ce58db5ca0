"""Overhead per task of the sweep engine: empty tasks through every executor.

Every task does nothing (a registered ``noop`` kind), so the whole wall time of
a sweep is the engine's: expanding the specification, shipping each task to a
worker, running it, sending the record back, writing it atomically, and merging
the final table. Reported per task as

* ``wall / tasks``: what one more task adds to the sweep's wall time, and
* ``wall × workers / tasks``: worker-time consumed per task (the stricter figure).

Clusters and pools are started (and warmed) before the timed runs; their start-up
time is reported separately. On Dask, short tasks travel in adaptive batches; the
last row sends every task on its own, the cost a task of 0.2 s or more pays.
Target: at most 50 ms per task on a local Dask cluster.

    python benchmarks/sweep/task_overhead.py [--tasks 500] [--repeats 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from pathlib import Path

from common import load_average, machine, markdown_table, save

from idnopt.sweep import execute, register_generator, register_task_kind, run_sweep, spec_from_dict


def nothing(*, seed: int = 0) -> None:
    """Generate nothing (the task's instance is irrelevant)."""
    return None


def noop(task) -> dict:
    """Do nothing but report the seed."""
    return {"value": task.seed}


def empty_sweep(tasks: int):
    """A specification of ``tasks`` empty tasks."""
    register_generator("nothing", nothing)
    register_task_kind("noop", noop)
    return spec_from_dict(
        {
            "name": "noop",
            "kind": "noop",
            "instances": [{"generator": "nothing"}],
            "solvers": [{"name": "none"}],
            "seeds": tasks,
        }
    )


def timed(spec, unbatched: bool = False, **options) -> float:
    """Wall time of a complete sweep; ``unbatched`` sends every task to Dask on its own."""
    original = execute.run_with_dask
    if unbatched:
        execute.run_with_dask = functools.partial(original, max_batch=1)
    try:
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            summary = run_sweep(spec, Path(folder) / "results", **options)
            wall = time.perf_counter() - started
    finally:
        execute.run_with_dask = original
    assert summary.ran == summary.total and summary.failed == 0, summary
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    arguments = parser.parse_args()
    before = load_average()

    from distributed import Client, LocalCluster
    from joblib.externals.loky import get_reusable_executor

    spec = empty_sweep(arguments.tasks)
    warm_up = empty_sweep(10)
    timed(warm_up, jobs=1)
    rows = []

    started = time.perf_counter()
    get_reusable_executor().shutdown(wait=True)
    timed(warm_up, jobs=2)
    joblib_start = time.perf_counter() - started

    started = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        timed(warm_up, dask=client)
        dask_start = time.perf_counter() - started
        for name, workers, options, start in (
            ("in-process (1 job)", 1, {"jobs": 1}, 0.0),
            ("joblib, 2 jobs (warm pool)", 2, {"jobs": 2}, joblib_start),
            ("local Dask, 2 worker processes (adaptive batches)", 2, {"dask": client}, dask_start),
            (
                "local Dask, one task per submission",
                2,
                {"dask": client, "unbatched": True},
                dask_start,
            ),
        ):
            wall = statistics.median(timed(spec, **options) for _ in range(arguments.repeats))
            rows.append(
                {
                    "executor": name,
                    "wall_seconds": wall,
                    "per_task_ms": 1000 * wall / arguments.tasks,
                    "worker_ms": 1000 * wall * workers / arguments.tasks,
                    "start_seconds": start,
                }
            )
    print(f"{arguments.tasks} empty tasks, median of {arguments.repeats} runs")
    print(f"machine: {machine()}; load average before: {before}, after: {load_average()}")
    print(
        markdown_table(
            rows,
            {
                "executor": "executor",
                "wall_seconds": "sweep wall (s)|{:.2f}",
                "per_task_ms": "wall / task (ms)|{:.1f}",
                "worker_ms": "worker time / task (ms)|{:.1f}",
                "start_seconds": "pool or cluster start-up, once (s)|{:.1f}",
            },
        )
    )
    payload = {
        "machine": machine(),
        "load_before": before,
        "load_after": load_average(),
        "tasks": arguments.tasks,
        "repeats": arguments.repeats,
    }
    save(arguments.json, {**payload, "rows": rows})


if __name__ == "__main__":
    main()
