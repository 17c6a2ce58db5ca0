"""The method contract: every way of answering an instance is declared once.

A :class:`Method` is a name, a one-line summary, a :class:`Parameters` class
(validated, with defaults and help text) and a run function. The command line
(``idnopt solve -O NAME=VALUE``, ``idnopt methods --options``), the Python API
(``idnopt.solve(instance, method=..., **options)``) and sweeps all read these
declarations; nothing recovers options by inspecting signatures.

A run function has the signature ``run(instance, parameters, call) -> Result``:
``call`` (a :class:`Call`) carries the backend, the relaxation flag, the solver
options and the call's single wall-clock :class:`~idnopt.budget.Budget`, and
solves programs through :meth:`Call.solve` so that every solve shares it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from idnopt.budget import Budget
from idnopt.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from idnopt.instance import Instance
    from idnopt.program import Program
    from idnopt.result import Result


class Parameters(BaseModel):
    """Base of every method's (and generator's) parameters.

    Subclasses declare fields with :func:`pydantic.Field` (default, bounds and
    ``description``, the help text). Unknown names are refused, values are
    validated and instances are immutable.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    python_only: ClassVar[frozenset[str]] = frozenset()
    """Fields that only make sense from Python (arrays): not offered on the command line."""

    @classmethod
    def describe(cls) -> dict[str, str]:
        """Field name to its help text with the default, for listings and ``--help``."""
        described = {}
        for name, info in cls.model_fields.items():
            if name in cls.python_only:
                continue
            text = info.description or ""
            default = "required" if info.is_required() else f"default {info.default!r}"
            described[name] = f"{text} ({default})" if text else default
        return described

    @classmethod
    def parse(cls, values: Mapping[str, Any], *, where: str) -> Parameters:
        """Validate ``values`` into parameters, or raise one located error.

        Parameters
        ----------
        values : mapping
            Option names to values (strings from the command line are converted).
        where : str
            Who owns the parameters, for the message (``"method 'rounding' of kind 'idn'"``).

        Raises
        ------
        InputError
            Naming every wrong option of ``values`` and what is wrong with it.
        """
        try:
            return cls(**dict(values))
        except ValidationError as error:
            raise InputError(f"{where}: {describe_validation_error(error, cls)}") from None


def describe_validation_error(error: ValidationError, parameters: type[BaseModel]) -> str:
    """One line naming each wrong option (unknown names list the known ones)."""
    known = ", ".join(parameters.model_fields) or "none"
    parts = []
    for problem in error.errors():
        name = ".".join(str(part) for part in problem["loc"]) or "options"
        if problem["type"] == "extra_forbidden":
            parts.append(f"unknown option {name!r} (options: {known})")
        else:
            parts.append(f"option {name!r}: {problem['msg']} (got {problem.get('input')!r})")
    return "; ".join(parts)


class SolverParameters(Parameters):
    """Options that reach the backend of methods that solve a program."""

    python_only: ClassVar[frozenset[str]] = frozenset({"initial_values"})

    mip_gap: float | None = Field(
        None, ge=0, le=1, description="relative MIP gap at which the solver may stop"
    )
    threads: int | None = Field(None, ge=1, description="solver threads")
    solver: str | None = Field(None, description="solver of the pyomo or cvxpy backend")
    verbose: bool = Field(False, description="show the solver log")
    initial_values: Any = Field(
        None, description="MILP start, one value per column (nan: left to the solver)"
    )

    def is_default(self) -> bool:
        """Whether every option keeps its default."""
        if self.initial_values is not None:
            return False
        return all(
            getattr(self, name) == info.default
            for name, info in type(self).model_fields.items()
            if name != "initial_values"
        )


@dataclass
class Call:
    """What a method's run function receives besides the instance and its parameters.

    Attributes
    ----------
    backend : str
        Backend that solves the method's programs.
    relax : bool
        Whether the caller asked for the continuous relaxation.
    budget : Budget
        The call's one wall-clock budget; see :meth:`solve` and :meth:`phase`.
    solver : SolverParameters
        Backend options (gap, threads, solver, log, start).
    """

    backend: str = "highs"
    relax: bool = False
    budget: Budget = field(default_factory=Budget)
    solver: SolverParameters = field(default_factory=SolverParameters)

    def phase(self, name: str):
        """Time a block of work under ``name`` (``build``, ``bound``, ``decode``…)."""
        return self.budget.phase(name)

    def solve(
        self,
        program: Program,
        *,
        phase: str = "solve",
        relax: bool | None = None,
        backend: str | None = None,
        share: float = 1.0,
        **overrides: Any,
    ) -> Result:
        """Solve ``program`` with the time that is left, booked under ``phase``.

        Parameters
        ----------
        program : Program
            The program to solve.
        phase : str
            Name under which the time is booked (``"solve"``, ``"bound"``…).
        relax : bool, optional
            Solve the relaxation (default: the call's ``relax``).
        backend : str, optional
            Another backend than the call's (e.g. HiGHS for an auxiliary LP).
        share : float
            Fraction of the remaining time this solve may use (an auxiliary
            bound leaves the rest to the main solve).
        **overrides
            Options of :func:`idnopt.backends.solve_program` replacing the call's.

        Returns
        -------
        Result
            As :func:`idnopt.backends.solve_program` returns it.
        """
        from idnopt.backends import solve_program

        options = self.solver.model_dump()
        options.update(overrides)
        seconds = self.budget.solver_time()
        if seconds is not None:
            seconds *= share
        with self.budget.phase(phase):
            return solve_program(
                program,
                backend or self.backend,
                relax=self.relax if relax is None else relax,
                time_limit=seconds,
                **options,
            )


RunFunction = Callable[["Instance", Parameters, Call], "Result"]


@dataclass(frozen=True)
class Method:
    """A declared way of answering instances of one family.

    Attributes
    ----------
    name : str
        As given to ``--method``.
    summary : str
        One line for listings.
    run : callable
        ``run(instance, parameters, call) -> Result``.
    parameters : type of Parameters
        The method's own options (validated before ``run`` is called).
    solves_program : bool
        Whether the method solves programs: the backend, its options and
        ``relax`` reach it. Other methods refuse non-default backend options.
    relaxation : str, optional
        Method run instead when the caller asks for the relaxation.
    exact : bool
        Whether an ``optimal`` status from this method is a proof of optimality.
    """

    name: str
    summary: str
    run: RunFunction
    parameters: type[Parameters] = Parameters
    solves_program: bool = False
    relaxation: str | None = None
    exact: bool = False

    def options(self) -> dict[str, str]:
        """Every option the method takes (its own, then the backend's) with its help."""
        options = dict(self.parameters.describe())
        if self.solves_program:
            for name, text in SolverParameters.describe().items():
                options.setdefault(name, f"backend option: {text}")
        return options
