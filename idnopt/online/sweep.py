"""The ``online`` sweep task kind: compare policies over grids of instances and traces.

In a sweep specification, ``kind: online`` makes every task play one policy
(the solver's ``method``) over one trace on one instance; the solver's
``options`` hold the trace settings and the policy's parameters::

    name: idn-online
    kind: online
    instances:
      - file: ../../instances/idn/tree.yaml
    solvers:
      - {name: infida, method: infida, options: {trace: stationary, slots: 1000}}
      - name: oga
        method: oga
        options: {trace: adversarial, slots: 1000}
        grid: {eta: [auto, adaptive]}
    seeds: 5

Options ``trace`` (a trace kind or a file, default ``stationary``), ``slots``
(default 1000), ``trace_params`` (the generator's parameters) and
``integral_hindsight`` (also solve the best static integral allocation) are
the task's; every other option is a parameter of the policy. The task's seed
seeds both the trace and the policy.
"""

from __future__ import annotations

import time
from typing import Any

from idnopt.online.registry import online_family
from idnopt.online.runner import run
from idnopt.sweep import register_task_kind

TASK_OPTIONS = ("trace", "slots", "trace_params", "integral_hindsight", "hindsight_time_limit")
"""Solver options that configure the task rather than the policy."""

FIGURES = (
    "gain",
    "fractional_gain",
    "hindsight",
    "hindsight_integral",
    "gain_ratio",
    "fractional_ratio",
    "gain_ratio_integral",
    "regret",
    "integral_regret",
    "bound",
    "bound_kind",
    "bound_passed",
    "bound_margin",
    "step",
    "messages_per_slot",
    "policy_seconds_per_slot",
    "feasible_slots",
    "hindsight_seconds",
)
"""Run metrics recorded for every task."""


def online_task(task: Any) -> dict[str, Any]:
    """Task kind ``online``: play one policy over one trace and record the run's figures.

    Parameters
    ----------
    task : idnopt.sweep.Task
        The task; ``task.solver.method`` names the policy.

    Returns
    -------
    dict
        The metrics in :data:`FIGURES`, ``trace_digest``, ``generate_seconds``
        and ``wall_seconds``.
    """
    started = time.perf_counter()
    instance = task.make_instance()
    options = dict(task.solver.options)
    source = options.pop("trace", "stationary")
    slots = int(options.pop("slots", 1000))
    trace_params = dict(options.pop("trace_params", None) or {})
    integral = bool(options.pop("integral_hindsight", False))
    time_limit = options.pop("hindsight_time_limit", task.solver.time_limit)
    family = online_family(instance.kind)
    trace = family.trace(instance, source, slots=slots, seed=task.seed, **trace_params)
    policy = family.policy(task.solver.method or next(iter(family.policies)), **options)
    generated = time.perf_counter()
    hindsight_options = {} if time_limit is None else {"time_limit": time_limit}
    result = run(
        policy,
        instance,
        trace,
        seed=task.seed,
        integral_hindsight=integral,
        hindsight_options=hindsight_options,
    )
    figures = {name: result.metrics.get(name) for name in FIGURES}
    figures.update(
        {
            "status": str(result.status),
            "trace_digest": trace.digest,
            "generate_seconds": generated - started,
            "wall_seconds": time.perf_counter() - generated,
        }
    )
    return figures


register_task_kind("online", online_task, summary="play an online policy over a trace")
