"""Online decisions over time: policies, traces, the runner and regret bounds.

The generic half of online allocation, shared by every family (and by the
simulator and learning agents built on it):

* :class:`Policy` — scikit-learn-style parameters, ``reset(problem, rng)``,
  ``act(slot)``, ``observe(slot, demand, gain)``, learned state in attributes
  ending with ``_``, optional regret guarantees;
* :class:`Trace` — demand per slot and request class, with a content digest
  and CSV/Parquet round trips;
* :class:`OnlineProblem` — what a family supplies: gain of a decision for a
  slot's demand, feasibility, best static decision in hindsight;
* :func:`run` — plays a policy over a trace and returns a :class:`Run` (a
  :class:`~idnopt.result.Result` with the per-slot :class:`Trajectory`), whose
  :meth:`Run.check_regret_bound` compares regret and bound at every slot.

Families declare their online version (problem, policies, trace kinds) in
their family declaration (``Family(..., online=...)``), or add one at run time
with :func:`register_online`::

    import idnopt
    from idnopt import online

    instance = idnopt.load("instances/idn/tree.yaml")
    family = online.online_family("idn")
    trace = family.trace(instance, "stationary", slots=500, seed=1)
    result = online.run(family.policy("infida"), instance, trace, seed=1)
    print(result.metrics["gain_ratio"], result.check_regret_bound())
"""

from __future__ import annotations

from idnopt.online.policy import Policy
from idnopt.online.problem import Decision, Hindsight, OnlineProblem
from idnopt.online.registry import (
    OnlineFamily,
    make_problem,
    online_families,
    online_family,
    register_online,
)
from idnopt.online.regret import BoundCheck, RegretBound, best_step, check_bound
from idnopt.online.runner import Run, Trajectory, run
from idnopt.online.trace import Trace, read_table, write_table

__all__ = [
    "BoundCheck",
    "Decision",
    "Hindsight",
    "OnlineFamily",
    "OnlineProblem",
    "Policy",
    "RegretBound",
    "Run",
    "Trace",
    "Trajectory",
    "best_step",
    "check_bound",
    "make_problem",
    "online_families",
    "online_family",
    "read_table",
    "register_online",
    "run",
    "write_table",
]
