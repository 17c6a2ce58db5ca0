"""The ``simulate`` sweep task kind: compare simulation policies over grids (loads, scenarios).

In a sweep specification, ``kind: simulate`` makes every task run one policy
(the solver's ``method``) of the instance family's simulation
(:class:`idnopt.family.Simulation`) with the solver's ``options`` as the
simulation's options and the task's seed as its seed; any family that
declares a simulation works. A grid over ``load`` compares policies across
loads::

    name: serving-policies
    kind: simulate
    instances:
      - file: ../../instances/serving/shifting.yaml
    solvers:
      - {name: closest, method: closest, options: {duration: 20}, grid: {load: [0.6, 0.8, 1.0]}}
      - {name: aset, method: aset, options: {duration: 20, train_steps: 20000},
         grid: {load: [0.6, 0.8, 1.0]}}
    seeds: 3

Recorded figures: ``objective`` (the simulation's objective), ``status``,
every scalar metric of the result, and ``wall_seconds``.
"""

from __future__ import annotations

import time
from typing import Any

from idnopt.errors import InputError
from idnopt.sweep import register_task_kind


def simulate_task(task: Any) -> dict[str, Any]:
    """Task kind ``simulate``: one policy of the family's simulation on one instance.

    Parameters
    ----------
    task : idnopt.sweep.Task
        The task; ``task.solver.method`` names the policy (default: the first).

    Returns
    -------
    dict
        ``status``, ``objective``, the result's scalar metrics, ``generate_seconds``
        and ``wall_seconds``.
    """
    from idnopt.family import get_family

    started = time.perf_counter()
    instance = task.make_instance()
    family = get_family(instance.kind)
    if family.simulation is None:
        raise InputError(f"kind {family.kind!r} declares no simulation")
    options = dict(task.solver.options)
    options.setdefault("seed", task.seed)
    generated = time.perf_counter()
    result = family.simulation.simulate(instance, task.solver.method, **options)
    figures: dict[str, Any] = {
        "status": str(result.status),
        "objective": result.objective,
        "policy": result.method,
        "generate_seconds": generated - started,
        "wall_seconds": time.perf_counter() - generated,
    }
    for name, value in result.metrics.items():
        if isinstance(value, (int, float, str, bool)) or value is None:
            figures.setdefault(name, value)
    return figures


register_task_kind("simulate", simulate_task, summary="run one policy of a family's simulation")
