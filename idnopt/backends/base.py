"""What every backend shares: options, the backend interface and result assembly."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from idnopt.program import Program
from idnopt.result import Result, Status, relative_gap


@dataclass(frozen=True)
class SolveOptions:
    """Options understood by every backend.

    Attributes
    ----------
    time_limit : float, optional
        Wall-clock limit in seconds; the incumbent is returned when it is hit.
    mip_gap : float, optional
        Relative MIP gap at which to stop (solver default when ``None``).
    threads : int, optional
        Solver threads (solver default when ``None``).
    verbose : bool
        Show the solver log.
    solver : str, optional
        Solver used by a modelling-layer backend (Pyomo: any solver name it
        knows; cvxpy: any installed cvxpy solver); the backend's default when ``None``.
    initial_values : numpy.ndarray, optional
        Starting point for a MILP, one value per column of the program in column
        order; ``nan`` marks columns left to the solver (a partial start, e.g. the
        integer columns only). Backends that take a start (HiGHS) try it as the
        first incumbent and ignore it when it is infeasible; the others ignore it.
        An array, so it is set from Python only (``metadata["scalar"]`` is False:
        the command line offers scalar options only).
    """

    time_limit: float | None = None
    mip_gap: float | None = None
    threads: int | None = None
    verbose: bool = False
    solver: str | None = None
    initial_values: np.ndarray | None = field(
        default=None, compare=False, repr=False, metadata={"scalar": False}
    )


class Backend:
    """Compile a minimisation :class:`Program` for one solver family and solve it.

    Subclasses set :attr:`name` and implement :meth:`accepts` and :meth:`solve`.
    Programs reach a backend through the reduction chain, so they are always
    minimisations (and already relaxed when a relaxation was asked for).
    """

    name = "backend"
    library: str | None = None
    """Module the backend imports to solve (checked by :meth:`available`)."""
    takes_start: bool = False
    """Whether :attr:`SolveOptions.initial_values` reaches the solver (else it is ignored)."""

    def accepts(self, program: Program) -> str | None:
        """Return ``None`` if the program can be solved, else the reason why not."""
        raise NotImplementedError

    def solve(self, program: Program, options: SolveOptions) -> Result:
        """Solve a minimisation program."""
        raise NotImplementedError

    def available(self) -> bool:
        """Whether the backend's library (:attr:`library`) is installed."""
        import importlib.util

        return self.library is None or importlib.util.find_spec(self.library) is not None


def assemble_result(
    program: Program,
    *,
    status: Status,
    backend: str,
    solver: str,
    solve_seconds: float,
    build_seconds: float,
    column_values: np.ndarray | None,
    objective: float | None,
    bound: float | None,
    row_duals: np.ndarray | None = None,
    message: str = "",
) -> Result:
    """Build a :class:`Result` from flat solver output, split into named blocks."""
    has_solution = column_values is not None and status in (
        Status.OPTIMAL,
        Status.FEASIBLE,
        Status.TIME_LIMIT,
    )
    if not has_solution:
        objective = None
    if status == Status.OPTIMAL and objective is not None and (bound is None or not program.is_mip):
        bound = objective
    values = program.split(np.asarray(column_values, dtype=float)) if has_solution else {}
    duals = (
        program.split_rows(np.asarray(row_duals, dtype=float))
        if has_solution and row_duals is not None and not program.is_mip
        else {}
    )
    return Result(
        status=status,
        objective=objective,
        bound=bound,
        gap=relative_gap(objective, bound),
        build_seconds=build_seconds,
        solve_seconds=solve_seconds,
        backend=backend,
        solver=solver,
        values=values,
        duals=duals,
        labels={name: block.labels for name, block in program.variables.items()},
        message=message,
    )
