"""Why a program is infeasible, in its own labels, through whichever backend can tell.

A backend that declares :attr:`~idnopt.backends.base.Capability.CONFLICT`
(HiGHS) computes an irreducible infeasible subsystem (IIS) of the linear
relaxation natively. Any other backend that solves linear programs is used for
a *deletion filter* (Chinneck, *Feasibility and Infeasibility in
Optimization*, 2008): constraint blocks are dropped one at a time and kept out
while the rest stays infeasible; when the surviving blocks are small and
their relaxation is already infeasible, the same filter then runs row by row,
which gives an IIS of rows. When the conflict needs integrality (the
relaxation is feasible), the surviving blocks are reported as
``name (with integrality)``. Every step shares the caller's time budget; a
search cut short says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from idnopt.backends.base import Backend, Capability, SolveOptions
from idnopt.budget import Budget
from idnopt.program import Program
from idnopt.result import Status

ROW_FILTER_LIMIT = 200
"""Most rows filtered one by one by the generic search (each row costs one solve)."""


@dataclass(frozen=True)
class Conflict:
    """An explanation of infeasibility.

    Attributes
    ----------
    labels : list of str
        Constraint (and bound) labels that conflict, e.g. ``budget[edge-3]``.
    method : str
        How they were found (``"HiGHS IIS"``, ``"deletion filter via pyomo"``…).
    complete : bool
        ``False`` when the time budget ran out before the search finished (the
        labels then still conflict, but may not be irreducible).
    """

    labels: list[str]
    method: str
    complete: bool = True


def explain_infeasibility(program: Program, backend: Backend, budget: Budget) -> Conflict | None:
    """Search the constraints that make ``program`` infeasible.

    Parameters
    ----------
    program : Program
        A linear program (possibly mixed-integer) known to be infeasible.
    backend : Backend
        The backend that found it infeasible; used if it can search conflicts.
    budget : Budget
        Time shared with the caller.

    Returns
    -------
    Conflict or None
        ``None`` when the backend can neither compute an IIS nor solve linear
        programs (then no search is possible through it).
    """
    if not program.is_linear:
        return None
    relaxed = program.relaxed()
    if backend.can(Capability.CONFLICT):
        labels = backend.irreducible_subsystem(relaxed, budget.remaining())
        if labels is not None:
            return Conflict(labels, f"{backend.name} IIS")
        # the relaxation is feasible: the conflict needs integrality
        if not backend.can(Capability.MIXED_INTEGER):
            return None
        return _filter_blocks(program, backend, budget)
    if not backend.can(Capability.LINEAR):
        return None
    if program.is_mip and not backend.can(Capability.MIXED_INTEGER):
        return None
    return _filter_blocks(program, backend, budget)


def _infeasible(program: Program, backend: Backend, budget: Budget) -> bool | None:
    probe = backend.solve(
        program.feasibility_version(), SolveOptions(time_limit=budget.remaining())
    )
    if probe.status == Status.INFEASIBLE:
        return True
    if probe.status in (Status.OPTIMAL, Status.FEASIBLE, Status.UNBOUNDED) or probe.has_solution:
        return False
    return None


def _filter_blocks(program: Program, backend: Backend, budget: Budget) -> Conflict:
    method = f"deletion filter via {backend.name}"
    kept = list(program.constraints)
    for name in list(kept):
        if budget.expired:
            return Conflict([f"{n} (with integrality)" for n in kept], method, complete=False)
        trial = [other for other in kept if other != name]
        if _infeasible(program.with_constraints(trial), backend, budget):
            kept = trial
    core = program.with_constraints(kept)
    rows = sum(program.constraints[name].size for name in kept)
    if rows <= ROW_FILTER_LIMIT and _infeasible(core.relaxed(), backend, budget):
        return _filter_rows(core.relaxed(), backend, budget, method)
    return Conflict([f"{name} (with integrality)" for name in kept], method)


def _filter_rows(program: Program, backend: Backend, budget: Budget, method: str) -> Conflict:
    """Deletion filter over single rows of an infeasible LP (a row is dropped by freeing it)."""
    kept = np.ones(program.num_constraints, dtype=bool)
    complete = True
    for row in range(program.num_constraints):
        if budget.expired:
            complete = False
            break
        kept[row] = False
        if not _infeasible(_with_rows(program, kept), backend, budget):
            kept[row] = True
    labels = [program.row_label(int(row)) for row in np.flatnonzero(kept)]
    return Conflict(labels, method, complete)


def _with_rows(program: Program, kept: np.ndarray) -> Program:
    """Copy of ``program`` whose rows outside ``kept`` have infinite bounds."""
    other = program.copy()
    for name, block in program.constraints.items():
        mask = kept[block.start : block.start + block.size]
        other.constraints[name] = replace(
            block,
            lower=np.where(mask, block.lower, -np.inf),
            upper=np.where(mask, block.upper, np.inf),
        )
    return other
