"""Backends compile a :class:`~idnopt.program.Program` for one solver family.

``solve_program`` is the single entry point: it runs the reduction chain
(relaxation, maximisation to minimisation), hands the program to the chosen
backend, maps the result back, and explains infeasible programs in terms of
their named blocks.

========  =======================================================================
backend   what it does
========  =======================================================================
highs     highspy with the whole sparse model passed at once (default; LP/MILP)
pyomo     a Pyomo model of the same blocks, any Pyomo solver, .lp/.mps export
cvxpy     cvxpy: HiGHS for LP/MILP, Clarabel (or any installed solver) for convex
========  =======================================================================
"""

from __future__ import annotations

import numpy as np

from idnopt.backends.base import Backend, Capability, SolveOptions
from idnopt.backends.conflict import explain_infeasibility
from idnopt.backends.cvxpy import CvxpyBackend
from idnopt.backends.highs import HighsBackend
from idnopt.backends.pyomo import PyomoBackend, write_model
from idnopt.budget import Budget
from idnopt.errors import InputError, UnsupportedError
from idnopt.program import Program
from idnopt.reductions import Chain, Relax, ToMinimization
from idnopt.result import Result, Status

BACKENDS: dict[str, Backend] = {
    backend.name: backend for backend in (HighsBackend(), PyomoBackend(), CvxpyBackend())
}
"""Registered backends by name."""


def get_backend(name: str) -> Backend:
    """Return the backend called ``name``.

    Raises
    ------
    InputError
        If no such backend exists, listing the known ones.
    """
    try:
        return BACKENDS[name]
    except KeyError:
        known = ", ".join(BACKENDS)
        raise InputError(f"unknown backend {name!r}; choose one of {known}") from None


def solve_program(
    program: Program,
    backend: str = "highs",
    *,
    relax: bool = False,
    time_limit: float | None = None,
    mip_gap: float | None = None,
    threads: int | None = None,
    solver: str | None = None,
    verbose: bool = False,
    explain: bool = True,
    initial_values: np.ndarray | None = None,
) -> Result:
    """Solve a program on one backend.

    Parameters
    ----------
    program : Program
        The program to solve (not modified).
    backend : {"highs", "pyomo", "cvxpy"}
        Which backend compiles and solves it.
    relax : bool
        Solve the continuous relaxation.
    time_limit : float, optional
        Seconds for the whole call, the conflict search of an infeasible
        program included; on expiry the incumbent (if any) is returned with its gap.
    mip_gap : float, optional
        Relative gap at which a MILP solve may stop.
    threads : int, optional
        Solver threads.
    solver : str, optional
        Solver used by the Pyomo or cvxpy backend.
    verbose : bool
        Show the solver's log.
    explain : bool
        For infeasible programs, search the conflicting constraints through
        the same backend (see :mod:`idnopt.backends.conflict`).
    initial_values : numpy.ndarray, optional
        A MILP start, one value per column (``nan`` for columns left to the
        solver); see :class:`SolveOptions`. Ignored for relaxations and by
        backends that take no start.

    Returns
    -------
    Result
        In the program's own sense (maximisation objectives are not negated).
    """
    budget = Budget(time_limit)
    chosen = get_backend(backend)
    chain = Chain(([Relax()] if relax else []) + [ToMinimization()])
    reduced, inverse_data = chain.apply(program)
    reason = chosen.accepts(reduced)
    if reason:
        raise UnsupportedError(reason)
    options = SolveOptions(
        time_limit=budget.remaining(),
        mip_gap=mip_gap,
        threads=threads,
        verbose=verbose,
        solver=solver,
        initial_values=initial_values,
    )
    result = chosen.solve(reduced, options)
    if result.status == Status.INFEASIBLE and explain and reduced.is_linear:
        with budget.phase("explain"):
            conflict = explain_infeasibility(reduced, chosen, budget)
        result.solve_seconds += budget.spent["explain"]
        if conflict is None:
            result.message = (
                f"infeasible (backend {chosen.name!r} cannot search the conflicting constraints)"
            )
        elif conflict.labels:
            result.conflict = conflict.labels
            shown = ", ".join(conflict.labels[:8])
            extra = len(conflict.labels) - 8
            result.message = f"infeasible: conflicting constraints {shown}" + (
                f" and {extra} more" if extra > 0 else ""
            )
            if not conflict.complete:
                result.message += " (search stopped by the time limit: may not be minimal)"
    return chain.invert(result, inverse_data)


__all__ = [
    "BACKENDS",
    "Backend",
    "Capability",
    "SolveOptions",
    "get_backend",
    "solve_program",
    "write_model",
]
