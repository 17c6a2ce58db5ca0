"""Benchmark sweeps: grids of instances × solvers × seeds, run anywhere, resumable.

A sweep specification (YAML) names instance generators or files, parameter
grids, solvers or policies, seeds, repetitions and metrics; it expands into
independent tasks that run through joblib on this machine or on a Dask
cluster, each finished task stored at once so an interrupted sweep resumes.
The results are one tidy table (one row per task) and figures::

    from idnopt import sweep

    summary = sweep.run_sweep("benchmarks/sweep/knapsack.yaml", "results/knapsack", jobs=2)
    table = sweep.read_table(summary.output)
    print(sweep.summarize(table, metrics=["objective", "wall_seconds"]))

What a specification can name is pluggable: :func:`register_generator` adds
instance generators (``idnopt.sweep.register_generator("idn", generate)``)
and :func:`register_task_kind` adds kinds of tasks besides ``solve``.

Modules: :mod:`~idnopt.sweep.plugins` (plug-ins), :mod:`~idnopt.sweep.generators`
(built-in synthetic generators), :mod:`~idnopt.sweep.spec` (file format and
expansion), :mod:`~idnopt.sweep.tasks` (one task and running it),
:mod:`~idnopt.sweep.store` (results folder and table), :mod:`~idnopt.sweep.execute`
(joblib and Dask execution), :mod:`~idnopt.sweep.report` (tables and figures).
"""

from __future__ import annotations

from idnopt.sweep import knapsack as _knapsack  # noqa: F401  (registers "knapsack")
from idnopt.sweep.execute import SweepSummary, default_output, run_sweep
from idnopt.sweep.plugins import (
    generators,
    get_generator,
    get_task_kind,
    register_generator,
    register_task_kind,
    task_kinds,
)
from idnopt.sweep.spec import SweepSpec, expand, grid_points, load_spec, spec_from_dict
from idnopt.sweep.store import ResultStore, read_table
from idnopt.sweep.tasks import InstancePoint, SolverPoint, Task, execute_task

_REPORT = (
    "plot_quality",
    "plot_ratio",
    "plot_time_scaling",
    "ratios",
    "scaling_exponents",
    "summarize",
    "write_report",
)


def __getattr__(name: str):
    """Import the report functions (pandas, matplotlib) only when they are used."""
    if name in _REPORT:
        from idnopt.sweep import report

        return getattr(report, name)
    raise AttributeError(f"module 'idnopt.sweep' has no attribute {name!r}")


__all__ = [
    "InstancePoint",
    "ResultStore",
    "SolverPoint",
    "SweepSpec",
    "SweepSummary",
    "Task",
    "default_output",
    "execute_task",
    "expand",
    "generators",
    "get_generator",
    "get_task_kind",
    "grid_points",
    "load_spec",
    "plot_quality",
    "plot_ratio",
    "plot_time_scaling",
    "ratios",
    "read_table",
    "register_generator",
    "register_task_kind",
    "run_sweep",
    "scaling_exponents",
    "spec_from_dict",
    "summarize",
    "task_kinds",
    "write_report",
]
