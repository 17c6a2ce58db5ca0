r"""The best static allocation in hindsight: one LP (or MILP) over the whole trace.

The total gain of a static allocation :math:`y` over a trace is additive over
slots, :math:`\sum_t L_t(y)`, but the caps :math:`\min\{r_{t,\rho}, \cdot\}`
do not aggregate into :math:`\min\{\sum_t r_{t,\rho}, \cdot\}`: every slot keeps
its own auxiliary variables. Slots in which a class has the same demand give
that class identical terms, so the program has one *scenario* per (class,
distinct positive demand) with the number of slots as its weight:

.. math:: \max \sum_{(\rho, r)} w_{\rho,r} \sum_{k} \Delta_{\rho,k}\, t_{\rho,r,k}
   \quad\text{s.t.}\quad t_{\rho,r,k} \le t_{\rho,r,k-1} + \min(l^k\tau, r)\, y^k,\;
   0 \le t_{\rho,r,k} \le r,\; y \in Y,

the prefix-sum form of the offline program (exact for the per-request gain).
With :math:`y` binary it is the best static integral allocation, an exact
MILP that HiGHS solves where affordable, started from the greedy allocation
for the mean demand (a time limit returns the incumbent and its gap).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from idnopt.backends import solve_program
from idnopt.errors import InputError
from idnopt.formulations.idn import greedy_allocation
from idnopt.online import Hindsight, Trace
from idnopt.program import LabelAxis, Program
from idnopt.result import Status


def demand_scenarios(demand: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct positive (class, demand) pairs of a (slots, classes) array and their counts.

    Returns
    -------
    classes, values, weights : numpy.ndarray
        Per scenario: the class, its demand in those slots, and how many slots.
    """
    demand = np.asarray(demand, dtype=float)
    slots, classes = np.nonzero(demand > 0)
    if slots.size == 0:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    pairs = np.stack([classes.astype(float), demand[slots, classes]], axis=1)
    unique, weights = np.unique(pairs, axis=0, return_counts=True)
    return unique[:, 0].astype(np.int64), unique[:, 1], weights.astype(float)


def greedy_for_mean_demand(problem: Any, demand: np.ndarray) -> np.ndarray:
    """Greedy allocation (largest marginal gain per MB) for the mean of a slots x classes demand."""
    mean = np.atleast_2d(np.asarray(demand, dtype=float)).mean(axis=0)
    c = problem.candidates
    capacity = np.minimum(problem.slot_throughput, mean[c.request])
    return greedy_allocation(replace(c, rate=mean, capacity=capacity))


def hindsight_program(problem: Any, demand: np.ndarray, *, integral: bool = False) -> Program:
    """The program of the best static allocation for a (slots, classes) ``demand``.

    Parameters
    ----------
    problem : IdnOnlineProblem
        The online problem.
    demand : numpy.ndarray
        Demand per slot and class.
    integral : bool
        Binary allocation variables (the best static integral allocation).

    Returns
    -------
    Program
        Maximise the total gain; variable block ``x`` is the allocation.
    """
    c = problem.candidates
    nodes, models = problem.shape
    program = Program("idn_hindsight", sense="maximize")
    x = program.add_variables(
        "x",
        (nodes, models),
        upper=problem.hostable.astype(float),
        integer=integral,
        labels=[c.node_names, c.model_names],
    )
    budget_rows, budget_models = np.nonzero(problem.hostable)
    program.add_constraints(
        "budget",
        [(x, budget_rows, budget_rows * models + budget_models, problem.sizes[budget_models])],
        upper=problem.budgets,
        shape=nodes,
        labels=[c.node_names],
    )
    scenario_class, scenario_demand, weight = demand_scenarios(demand)
    counts = np.diff(c.start)[scenario_class]
    scenario = np.repeat(np.arange(scenario_class.size), counts)
    offsets = np.cumsum(counts) - counts
    within = np.arange(int(counts.sum())) - np.repeat(offsets, counts)
    candidate = c.start[scenario_class][scenario] + within
    entries = candidate.size
    demand_of = scenario_demand[scenario]
    request_names = c.request_names

    def entry_label(k: int) -> str:
        s = int(scenario[k])
        node, model = divmod(int(c.pair[candidate[k]]), models)
        return (
            f"{request_names[scenario_class[s]]}@{scenario_demand[s]:g}:"
            f"{c.node_names[node]}/{c.model_names[model]}"
        )

    labels = LabelAxis(entries, entry_label)
    served = program.add_variables("served", entries, upper=demand_of, labels=[labels])
    rows = np.arange(entries)
    has_prior = within > 0
    capacity = np.minimum(problem.slot_throughput[candidate], demand_of)
    program.add_constraints(
        "prefix_capacity",
        [
            (served, rows, rows, 1.0),
            (served, rows[has_prior], rows[has_prior] - 1, -1.0),
            (x, rows, c.pair[candidate], -capacity),
        ],
        upper=0.0,
        shape=entries,
        labels=[labels],
    )
    program.set_objective([(served, weight[scenario] * c.gap[candidate])])
    return program


def solve_hindsight(
    problem: Any,
    trace: Trace,
    *,
    integral: bool = False,
    backend: str = "highs",
    time_limit: float | None = None,
    mip_gap: float | None = None,
) -> Hindsight:
    """Solve the best static allocation for ``trace``.

    Parameters
    ----------
    problem : IdnOnlineProblem
        The online problem.
    trace : Trace
        The demand.
    integral : bool
        Best static integral allocation (MILP) instead of the fractional one (LP).
    backend : str
        Backend of :func:`idnopt.backends.solve_program`.
    time_limit : float, optional
        Seconds for the solve; a MILP stopped by it returns its incumbent.
    mip_gap : float, optional
        Relative gap at which the MILP may stop.

    Returns
    -------
    Hindsight
        The allocation, its total gain (as the solver reports it), its gain in
        every slot, the solver status and bound.

    Raises
    ------
    InputError
        When the solver finds no solution (e.g. the time limit expired first).
    """
    started = time.perf_counter()
    program = hindsight_program(problem, trace.demand, integral=integral)
    start = None
    if integral:  # the greedy allocation for the mean demand as the first incumbent
        start = np.full(program.num_variables, np.nan)
        block = program.variables["x"]
        start[block.columns] = greedy_for_mean_demand(problem, trace.demand).ravel()
    result = solve_program(
        program, backend, time_limit=time_limit, mip_gap=mip_gap, initial_values=start
    )
    if not result.has_solution:
        raise InputError(
            f"the best static {'integral' if integral else 'fractional'} allocation was not "
            f"found ({result.status}: {result.message or 'no solution'}); "
            "raise the time limit or skip it"
        )
    allocation = np.clip(result.value("x"), 0.0, 1.0) * problem.hostable
    if integral:
        allocation = np.round(allocation)
    per_slot = problem.slot_gains(allocation, trace.demand)
    return Hindsight(
        decision=allocation,
        value=float(result.objective),
        per_slot=per_slot,
        integral=integral,
        status=str(result.status),
        bound=None if result.bound is None else float(result.bound),
        seconds=time.perf_counter() - started,
        details={
            "variables": program.num_variables,
            "constraints": program.num_constraints,
            "scenarios": int(demand_scenarios(trace.demand)[0].size),
            "gap": result.gap,
            "optimal": result.status == Status.OPTIMAL,
            "recomputed_value": float(per_slot.sum()),
        },
    )
