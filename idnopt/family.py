"""Problem families: which schema, methods and generator serve each instance ``kind``.

The core knows no family. Families declare themselves as a :class:`Family`
object and register through the entry-point group ``idnopt.families`` (the
ecosystem's plug-in convention)::

    [project.entry-points."idnopt.families"]
    mykind = "mylab.families.mykind:FAMILY"

:func:`get_family` loads the entry point of a kind on first use; a family
defined at run time (a test, a notebook) is added with :func:`register`.
:meth:`Family.solve` is the one path every method of every family goes through:
it validates the method's options, starts the call's wall-clock budget, runs
the method and records how the time was spent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from idnopt.budget import Budget
from idnopt.errors import InputError
from idnopt.method import Call, Method, Parameters, SolverParameters

if TYPE_CHECKING:  # pragma: no cover
    from idnopt.instance import Instance
    from idnopt.program import Program
    from idnopt.result import Result

ENTRY_POINT_GROUP = "idnopt.families"
"""Entry-point group under which families register."""


@dataclass(frozen=True)
class Generator:
    """A family's random-instance generator, declared like a method.

    Attributes
    ----------
    run : callable
        ``run(parameters) -> Instance``; the same parameters give the same instance.
    parameters : type of Parameters
        Its knobs (``seed`` among them), with defaults and help texts.
    summary : str
        One line for listings.
    document : callable, optional
        ``document(instance, parameters, folder) -> dict``: the instance as the
        content of a file written in ``folder`` (default: the family's
        :attr:`Family.to_document`).
    header : callable, optional
        ``header(instance, parameters) -> list of str``: comment lines that
        say what the file holds (the command that regenerates it is added).
    describe : callable, optional
        ``describe(instance) -> str``: a one-line account printed after writing.
    """

    run: Callable[[Any], Instance]
    parameters: type[Parameters]
    summary: str
    document: Callable[[Instance, Any, Path], dict[str, Any]] | None = None
    header: Callable[[Instance, Any], list[str]] | None = None
    describe: Callable[[Instance], str] | None = None

    def generate(self, *, where: str = "generator", **values: Any) -> Instance:
        """Validate ``values`` and generate an instance (``where`` names it in errors)."""
        return self.run(self.parameters.parse(values, where=where))


@dataclass(frozen=True)
class Simulation:
    """A family's discrete-event simulation of its instances under named policies.

    Attributes
    ----------
    run : callable
        ``run(instance, policy, parameters) -> Result``: simulate ``instance``
        with the named policy; the result carries per-class metrics and tables
        (latency samples, time series) in the instance's words.
    policies : tuple of str
        Policy names ``idnopt simulate --policy`` accepts; the first is the default.
    parameters : type of Parameters
        Simulation options (duration, seed, warm-up…), validated like a method's.
    summary : str
        One line for listings.
    """

    run: Callable[[Any, str, Any], Result]
    policies: tuple[str, ...]
    parameters: type[Parameters]
    summary: str

    def simulate(self, instance: Instance, policy: str | None = None, **values: Any) -> Result:
        """Validate ``values`` and the policy name, then run the simulation.

        Raises
        ------
        InputError
            For an unknown policy or an invalid option.
        """
        policy = policy or self.policies[0]
        if policy not in self.policies:
            raise InputError(f"unknown policy {policy!r}; choose one of {', '.join(self.policies)}")
        parameters = self.parameters.parse(values, where=f"simulation with policy {policy!r}")
        return self.run(instance, policy, parameters)


@dataclass(frozen=True)
class Family:
    """A problem family.

    Attributes
    ----------
    kind : str
        The value of ``kind`` in instance files.
    summary : str
        One line for ``idnopt methods`` and ``idnopt schema``.
    instance_type : type
        Its pydantic schema (a subclass of :class:`idnopt.instance.Instance`).
    methods : tuple of Method
        Its methods; the first is the default.
    build : callable, optional
        ``build(instance, relax=False, **options) -> Program``: the exact
        program, for ``--write-model`` and inspection.
    evaluate : callable, optional
        ``evaluate(instance, result) -> float``: the objective of a result's
        decoded decision recomputed independently of the method that made it.
    to_document : callable, optional
        ``to_document(instance) -> dict``: file content that loads back as an
        equal instance.
    generator : Generator, optional
        Random instances (``idnopt generate KIND`` and sweeps).
    simulation : Simulation, optional
        Discrete-event simulation under named policies (``idnopt simulate``).
    online : callable, optional
        ``online() -> idnopt.online.OnlineFamily``: the family's online
        version (policies acting per time slot, traces, hindsight optimum),
        imported only when asked for (``idnopt online``, :func:`idnopt.online.run`).
    sense : {"maximize", "minimize"}
        Direction of the objective (which side of it a bound lies on).
    """

    kind: str
    summary: str
    instance_type: type[Instance]
    methods: tuple[Method, ...]
    build: Callable[..., Program] | None = None
    evaluate: Callable[[Instance, Result], float] | None = None
    to_document: Callable[[Instance], dict[str, Any]] | None = None
    generator: Generator | None = None
    simulation: Simulation | None = None
    online: Callable[[], Any] | None = None
    sense: str = "maximize"
    _by_name: Mapping[str, Method] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.methods:
            raise ValueError(f"family {self.kind!r} declares no method")
        object.__setattr__(self, "_by_name", {method.name: method for method in self.methods})

    @property
    def default_method(self) -> str:
        """The first declared method."""
        return self.methods[0].name

    def method(self, name: str | None = None) -> Method:
        """The method called ``name`` (default: the first).

        Raises
        ------
        InputError
            Naming the family's methods when ``name`` is unknown.
        """
        name = name or self.default_method
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name)
            raise InputError(
                f"unknown method {name!r} for kind {self.kind!r}; choose one of {known}"
            ) from None

    def solve(
        self,
        instance: Instance,
        *,
        method: str | None = None,
        backend: str = "highs",
        relax: bool = False,
        time_limit: float | None = None,
        **options: Any,
    ) -> Result:
        """Run one method on ``instance`` under one wall-clock budget.

        Parameters
        ----------
        instance : Instance
            A validated instance of this family.
        method : str, optional
            One of :attr:`methods` (default: the first).
        backend : {"highs", "pyomo", "cvxpy"}
            Backend of methods that solve programs.
        relax : bool
            Ask for the continuous relaxation (methods that declare one).
        time_limit : float, optional
            Seconds for the whole call: every solve, bound, explanation and
            decoding inside it. The result's ``timings`` says how it was spent.
        **options
            The method's parameters and, for methods that solve programs, the
            backend options (``mip_gap``, ``threads``, ``solver``, ``verbose``,
            ``initial_values``).

        Returns
        -------
        Result
            With the family's metrics and tables.

        Raises
        ------
        InputError
            For an unknown method or backend, or an invalid option, in one line.
        """
        from idnopt.backends import get_backend

        chosen = self.method(method)
        where = f"method {chosen.name!r} of kind {self.kind!r}"
        if relax:
            if chosen.relaxation is not None:
                chosen = self.method(chosen.relaxation)
            elif not chosen.solves_program:
                raise InputError(f"{where} solves no program: it has no relaxation")
        get_backend(backend)
        own = {name: value for name, value in options.items() if name not in _SOLVER_FIELDS}
        solver_values = {name: value for name, value in options.items() if name in _SOLVER_FIELDS}
        parameters = chosen.parameters.parse(own, where=where)
        solver = SolverParameters.parse(solver_values, where=where)
        if not chosen.solves_program and not solver.is_default():
            given = ", ".join(sorted(solver_values))
            raise InputError(f"{where} solves no program: backend options ({given}) do not apply")
        if not chosen.solves_program and backend != "highs":
            raise InputError(f"{where} solves no program: backend {backend!r} does not apply")
        budget = Budget(time_limit)
        call = Call(backend=backend, relax=relax, budget=budget, solver=solver)
        result = chosen.run(instance, parameters, call)
        result.method = chosen.name
        result.timings = budget.timings()
        return result

    def options(self, method: str | None = None) -> dict[str, str]:
        """Options of one method, or of every method (union, first description wins)."""
        if method is not None:
            return self.method(method).options()
        every: dict[str, str] = {}
        for declared in self.methods:
            for name, text in declared.options().items():
                every.setdefault(name, text)
        return every


_SOLVER_FIELDS = frozenset(SolverParameters.model_fields)

_REGISTERED: dict[str, Family] = {}
"""Families registered at run time or already loaded from entry points."""


def register(family: Family) -> Family:
    """Add ``family`` to the registry (replacing one of the same kind)."""
    _REGISTERED[family.kind] = family
    return family


def unregister(kind: str) -> None:
    """Remove a family registered at run time (tests)."""
    _REGISTERED.pop(kind, None)


def _entry_points() -> dict[str, Any]:
    return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}


_BROKEN: dict[str, str] = {}
"""Kinds whose entry point failed to load, with the reason."""


def _load(point: Any) -> Family:
    try:
        family = point.load()
    except Exception as exc:  # noqa: BLE001 - one broken plug-in must not hide the others
        _BROKEN[point.name] = f"{type(exc).__name__}: {exc}"
        raise InputError(
            f"kind {point.name!r} could not be loaded from {point.value} ({_BROKEN[point.name]})"
        ) from None
    if not isinstance(family, Family):
        raise InputError(
            f"entry point {point.name!r} of group {ENTRY_POINT_GROUP!r} is not a Family "
            f"({point.value})"
        )
    return family


def get_family(kind: str) -> Family:
    """Return the family registered for ``kind``.

    Raises
    ------
    InputError
        Naming the available kinds when ``kind`` is unknown.
    """
    if kind in _REGISTERED:
        return _REGISTERED[kind]
    points = _entry_points()
    if kind in points:
        return register(_load(points[kind]))
    known = ", ".join(sorted(set(points) | set(_REGISTERED))) or "none"
    raise InputError(f"unknown kind {kind!r}; available kinds: {known}")


def families() -> dict[str, Family]:
    """Every registered family by kind (loading all entry points).

    A family whose entry point fails to load is left out (and
    :func:`get_family` names the failure), so one broken plug-in does not hide
    the others; :func:`broken_families` lists them.
    """
    for name, point in _entry_points().items():
        if name not in _REGISTERED:
            try:
                register(_load(point))
            except InputError:
                continue
    return dict(sorted(_REGISTERED.items()))


def broken_families() -> dict[str, str]:
    """Kinds whose entry point failed to load, with the reason."""
    return dict(_BROKEN)
