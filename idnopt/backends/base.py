"""What every backend shares: options, capabilities, status mapping, timing, result assembly."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from idnopt.errors import UnsupportedError
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


class Capability(str, Enum):
    """What a backend can do; :attr:`Backend.capabilities` declares its set."""

    LINEAR = "linear"
    """Linear programs."""
    MIXED_INTEGER = "mixed-integer"
    """Integer variables (with a linear model)."""
    CONVEX = "convex"
    """Programs with a convex (cvxpy) part."""
    START = "start"
    """A MILP start (:attr:`SolveOptions.initial_values`) reaches the solver."""
    CONFLICT = "conflict"
    """A native irreducible infeasible subsystem (IIS) of a linear program."""
    RESOLVE = "resolve"
    """Solving again after changing bounds or costs without rebuilding the model."""


class Termination(Enum):
    """Why a solver stopped, in the terms every backend can map its own codes to."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    INFEASIBLE_OR_UNBOUNDED = "infeasible or unbounded"
    TIME_LIMIT = "time limit"
    INTERRUPTED = "interrupted"
    OTHER = "other"


@dataclass
class Outcome:
    """What one solver run produced, before it becomes a :class:`Result`.

    Attributes
    ----------
    termination : Termination
        Why the solver stopped.
    solver : str
        Solver name and version.
    column_values : numpy.ndarray, optional
        Incumbent, one value per column (``None`` without one).
    objective, bound : float, optional
        Incumbent objective and best proven bound.
    row_duals : numpy.ndarray, optional
        Row duals of an LP.
    message : str
        The solver's own words for its status.
    """

    termination: Termination
    solver: str
    column_values: np.ndarray | None = None
    objective: float | None = None
    bound: float | None = None
    row_duals: np.ndarray | None = None
    message: str = ""


def status_of(termination: Termination, has_incumbent: bool) -> Status | None:
    """Map a termination to a :class:`Status` (``None`` when it needs a feasibility test).

    Parameters
    ----------
    termination : Termination
        Why the solver stopped.
    has_incumbent : bool
        Whether it returned a solution.
    """
    if termination is Termination.INFEASIBLE_OR_UNBOUNDED:
        return None
    mapped = {
        Termination.OPTIMAL: Status.OPTIMAL,
        Termination.INFEASIBLE: Status.INFEASIBLE,
        Termination.UNBOUNDED: Status.UNBOUNDED,
        Termination.TIME_LIMIT: Status.TIME_LIMIT,
        Termination.INTERRUPTED: Status.INTERRUPTED,
    }.get(termination)
    if mapped is not None:
        return mapped
    return Status.FEASIBLE if has_incumbent else Status.ERROR


class Backend:
    """Compile a minimisation :class:`Program` for one solver family and solve it.

    Subclasses set :attr:`name`, :attr:`library` and :attr:`capabilities`, and
    implement :meth:`build` (program to the solver's model) and :meth:`run`
    (solve the built model, return an :class:`Outcome`). :meth:`solve` is shared:
    it checks the program against the capabilities, times building and solving,
    maps the termination to a status (telling infeasible from unbounded with a
    feasibility test through the same backend when the solver could not) and
    assembles the :class:`Result`. Programs reach a backend through the
    reduction chain, so they are always minimisations.
    """

    name = "backend"
    library: str | None = None
    """Module the backend imports to solve (checked by :meth:`availability`)."""
    capabilities: frozenset[Capability] = frozenset()
    """What the backend can do."""

    @property
    def takes_start(self) -> bool:
        """Whether :attr:`SolveOptions.initial_values` reaches the solver."""
        return Capability.START in self.capabilities

    def can(self, capability: Capability | str) -> bool:
        """Whether the backend declares ``capability``."""
        return Capability(capability) in self.capabilities

    def accepts(self, program: Program) -> str | None:
        """Return ``None`` if the program can be solved, else the reason why not."""
        if not program.is_linear and Capability.CONVEX not in self.capabilities:
            return (
                f"backend {self.name!r} solves linear programs only; use backend='cvxpy' "
                "for convex programs"
            )
        if program.is_mip and Capability.MIXED_INTEGER not in self.capabilities:
            return f"backend {self.name!r} cannot solve programs with integer variables"
        return None

    def build(self, program: Program, options: SolveOptions) -> Any:
        """Compile ``program`` into the solver's model."""
        raise NotImplementedError

    def run(self, program: Program, model: Any, options: SolveOptions) -> Outcome:
        """Solve a model made by :meth:`build`."""
        raise NotImplementedError

    def solve(self, program: Program, options: SolveOptions) -> Result:
        """Solve a minimisation program (build, run, map the status, assemble the result).

        Raises
        ------
        UnsupportedError
            When the program needs a capability the backend lacks.
        """
        reason = self.accepts(program)
        if reason:
            raise UnsupportedError(reason)
        started = time.perf_counter()
        model = self.build(program, options)
        built = time.perf_counter()
        outcome = self.run(program, model, options)
        solved = time.perf_counter()
        has_incumbent = outcome.column_values is not None and outcome.objective is not None
        status = status_of(outcome.termination, has_incumbent)
        if status is None:
            status = Status.UNBOUNDED if self.is_feasible(program) else Status.INFEASIBLE
        return assemble_result(
            program,
            status=status,
            backend=self.name,
            solver=outcome.solver,
            build_seconds=built - started,
            solve_seconds=solved - built,
            column_values=outcome.column_values,
            objective=outcome.objective,
            bound=outcome.bound,
            row_duals=outcome.row_duals,
            message=outcome.message,
        )

    def is_feasible(self, program: Program, time_limit: float | None = None) -> bool | None:
        """Whether ``program`` has a feasible point (``None`` when the solve could not tell).

        Solves the program with a zero objective through this backend.
        """
        probe = self.solve(program.feasibility_version(), SolveOptions(time_limit=time_limit))
        if probe.status in (Status.OPTIMAL, Status.FEASIBLE) or probe.has_solution:
            return True
        if probe.status == Status.INFEASIBLE:
            return False
        return None

    def irreducible_subsystem(self, program: Program, time_limit: float | None) -> list[str] | None:
        """Labels of a native IIS of a linear program (backends with ``CONFLICT``).

        Returns ``None`` when the program is feasible; an empty list when the
        solver found no subsystem.
        """
        raise UnsupportedError(f"backend {self.name!r} has no native conflict search")

    def availability(self) -> str | None:
        """``None`` when the backend can be used here, else why not."""
        import importlib.util

        if self.library is not None and importlib.util.find_spec(self.library) is None:
            return f"the {self.name} backend needs the Python package {self.library!r}"
        return None

    def available(self) -> bool:
        """Whether the backend can be used here (see :meth:`availability`)."""
        return self.availability() is None


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
        Status.INTERRUPTED,
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
