"""Sweep specification files: schema, located errors, and expansion into tasks.

A specification (YAML or JSON) says which instances — generated or read from
files — to run with which solvers, over which parameter grids, seeds and
repetitions, and which metrics to put in the results table::

    name: knapsack-scaling
    kind: solve                  # task kind (default: solve)
    instances:
      - generator: knapsack      # a registered generator...
        params: {constraints: 3} # ...its fixed parameters
        grid:                    # ...and the parameters swept (cartesian product)
          items: [20, 40, 80]
          correlation: [uncorrelated, strong]
      - file: "../instances/idn/*.yaml"   # or instance files (glob, relative to this file)
    solvers:                     # alias: policies
      - name: milp
        method: milp
        time_limit: 30
      - name: lp
        method: relaxation
        grid: {backend: [highs, cvxpy]}   # solver grids: settings or method options
    seeds: 3                     # 0, 1, 2 (or an explicit list)
    repetitions: 1               # repeated runs of each point (timing noise)
    time_limit: 60               # default of every solver
    threads: 1                   # solver threads (default 1; null: the solver's default)
    metrics: [objective, bound, gap, wall_seconds]   # table columns (default: all recorded)
    imports: [mylab.sweeps]      # modules that register more generators and task kinds

Seeds go to the generator (``generator(seed=..., **params)``) and, for solvers
with ``seed_option: NAME``, to the method's option ``NAME`` (randomised rounding).

Expansion is the cartesian product instance points × seeds × solver points ×
repetitions; each product element is an independent :class:`~idnopt.sweep.tasks.Task`.
Every problem is reported as ``file:line: location: message`` like instance files.
"""

from __future__ import annotations

import glob
import hashlib
import inspect
import itertools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from idnopt.documents import Document, read_document
from idnopt.errors import InputError
from idnopt.instance import fields_at, pydantic_problem
from idnopt.sweep.plugins import get_generator, get_task_kind, load_plugins
from idnopt.sweep.tasks import InstancePoint, SolverPoint, Task

Location = tuple[str | int, ...]
GridValues = Annotated[list[Any], Field(min_length=1)]

SOLVER_SETTINGS = ("method", "backend", "relax", "time_limit", "threads")
"""Solver-grid keys that set a solver field; any other grid key is a method option."""


def _seed_list(value: Any) -> Any:
    """``seeds: N`` means the seeds 0 … N-1; a list is taken as it is."""
    if isinstance(value, bool):
        raise ValueError("seeds must be a count (e.g. 5) or a list of non-negative integers")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"a count of seeds must be at least 1, not {value}")
        return list(range(value))
    if isinstance(value, list) and len(set(map(repr, value))) < len(value):
        raise ValueError("seeds are repeated; use 'repetitions' to run a point several times")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class InstanceEntry(_Strict):
    """One source of instances: a generator with a parameter grid, or instance files.

    Exactly one of ``generator`` and ``file`` is given; ``params`` and ``grid``
    belong to generators (``grid`` values are lists, swept as a cartesian product).
    """

    generator: str | None = None
    file: str | None = None
    label: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, GridValues] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> InstanceEntry:
        if (self.generator is None) == (self.file is None):
            raise ValueError("give exactly one of 'generator' (with params/grid) or 'file'")
        if self.file is not None and (self.params or self.grid):
            raise ValueError("'params' and 'grid' apply to generators, not to instance files")
        both = sorted(set(self.params) & set(self.grid))
        if both:
            raise ValueError(f"parameter {both[0]!r} is both in 'params' and in 'grid'")
        return self


class SolverEntry(_Strict):
    """One solver or policy, optionally swept over a grid of settings and options."""

    name: str | None = Field(default=None, min_length=1)
    method: str | None = None
    backend: str = "highs"
    relax: bool = False
    time_limit: Annotated[float, Field(gt=0)] | None = None
    threads: Annotated[int, Field(ge=1)] | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, GridValues] = Field(default_factory=dict)
    seed_option: str | None = None

    @property
    def display_name(self) -> str:
        """The explicit name, else the method (``default`` when neither is given)."""
        return self.name or self.method or "default"


class SweepSpec(_Strict):
    """A validated sweep specification (see the module docstring for the format)."""

    name: str | None = None
    description: str | None = None
    kind: str = "solve"
    imports: list[str] = Field(default_factory=list)
    instances: list[InstanceEntry] = Field(min_length=1)
    solvers: list[SolverEntry] = Field(
        min_length=1, validation_alias=AliasChoices("solvers", "policies")
    )
    seeds: Annotated[
        list[Annotated[int, Field(ge=0)]], BeforeValidator(_seed_list), Field(min_length=1)
    ] = Field(default_factory=lambda: [0])
    repetitions: Annotated[int, Field(ge=1)] = 1
    time_limit: Annotated[float, Field(gt=0)] | None = None
    threads: Annotated[int, Field(ge=1)] | None = 1
    metrics: list[str] | None = None
    output: str | None = None

    _base: Path = PrivateAttr(default_factory=Path.cwd)
    _source: str = PrivateAttr(default="<dict>")

    @property
    def base(self) -> Path:
        """Folder that relative paths (instance files, ``output``) are resolved against."""
        return self._base

    @property
    def source(self) -> str:
        """The file the specification was read from (``<dict>`` for in-memory data)."""
        return self._source

    @property
    def seed_values(self) -> list[int]:
        """The seeds (``seeds: 3`` in a file means ``[0, 1, 2]``)."""
        return list(self.seeds)

    @property
    def metric_columns(self) -> tuple[str, ...] | None:
        """Metrics that become columns of the results table (``None``: every recorded one)."""
        return None if self.metrics is None else tuple(self.metrics)

    @property
    def display_name(self) -> str:
        """The ``name`` field, else the file's stem (``sweep`` for in-memory specifications)."""
        if self.name:
            return self.name
        return "sweep" if self._source.endswith("<dict>") else Path(self._source).stem

    def tasks(self) -> list[Task]:
        """Expand into independent tasks (see :func:`expand`)."""
        return expand(self)


# -- loading ---------------------------------------------------------------------------
def load_spec(path: str | Path) -> SweepSpec:
    """Read, validate and check a sweep specification file.

    Parameters
    ----------
    path : str or Path
        A YAML or JSON file.

    Returns
    -------
    SweepSpec
        The specification, with relative paths resolved against the file's folder.

    Raises
    ------
    InputError
        ``file:line: location: message`` for the first problem, with a count of the others.
    """
    return validate_spec(read_document(path))


def spec_from_dict(
    data: Mapping[str, Any], *, base: str | Path | None = None, source: str = "<dict>"
) -> SweepSpec:
    """Validate an in-memory specification (same checks as :func:`load_spec`).

    Parameters
    ----------
    data : mapping
        The specification as it would appear in a file.
    base : str or Path, optional
        Folder for relative instance files (default: the current directory).
    source : str
        Name used in error messages.
    """
    folder = Path(base) if base is not None else Path.cwd()
    return validate_spec(Document(path=folder / source, data=dict(data), lines={}), base=folder)


def validate_spec(document: Document, base: Path | None = None) -> SweepSpec:
    """Validate a parsed document as a sweep specification.

    Parameters
    ----------
    document : Document
        From :func:`idnopt.documents.read_document`.
    base : Path, optional
        Folder for relative paths (default: the document's folder).

    Returns
    -------
    SweepSpec
        The checked specification.

    Raises
    ------
    InputError
        Located at the first problem.
    """
    if not isinstance(document.data, dict):
        raise document.error((), "expected a mapping with 'instances' and 'solvers'")
    try:
        spec = SweepSpec.model_validate(document.data)
    except ValidationError as exc:
        errors = exc.errors()
        location = tuple(errors[0]["loc"])
        message = _friendly(errors[0], _schema_location(location))
        raise document.error(location, message, more=len(errors) - 1) from None
    spec._base = (base or document.path.parent).resolve()
    spec._source = str(document.path)
    problems = list(_check(spec, document.data))
    if problems:
        location, message = problems[0]
        raise document.error(location, message, more=len(problems) - 1)
    return spec


def _schema_location(location: Location) -> Location:
    """Schema location of an error (pydantic names the alias used: ``policies`` is ``solvers``)."""
    if location and location[0] == "policies":
        return ("solvers", *location[1:])
    return location


def _friendly(error: dict[str, Any], schema_location: Location) -> str:
    """One-line message for a pydantic error, with hints for sweep-specific mistakes."""
    if error.get("type") == "list_type" and "grid" in schema_location:
        return (
            "grid values are lists of the values to sweep; use a list of one value "
            "(or move it to 'params')"
        )
    return pydantic_problem(error, fields_at(SweepSpec, schema_location))


def _check(spec: SweepSpec, data: Mapping[str, Any]) -> Iterator[tuple[Location, str]]:
    """Cross-checks that need the registries and the file system."""
    try:
        load_plugins(spec.imports)
    except InputError as exc:
        bad = next((i for i, m in enumerate(spec.imports) if repr(m) in exc.message), 0)
        yield ("imports", bad), exc.message
        return
    try:
        get_task_kind(spec.kind)
    except InputError as exc:
        yield ("kind",), exc.message
    for index, entry in enumerate(spec.instances):
        where: Location = ("instances", index)
        if entry.generator is not None:
            yield from _check_generator(entry, where)
        elif not _match_files(spec.base, entry.file or ""):
            yield where + ("file",), f"no instance file matches {entry.file!r} (in {spec.base})"
    solvers_key = "policies" if "policies" in data and "solvers" not in data else "solvers"
    from idnopt.backends import BACKENDS

    seen: dict[str, int] = {}
    for index, solver in enumerate(spec.solvers):
        where = (solvers_key, index)
        backends = solver.grid.get("backend", [solver.backend])
        for backend in backends:
            if backend not in BACKENDS:
                known = ", ".join(BACKENDS)
                yield where + ("backend",), f"unknown backend {backend!r}; choose one of {known}"
        name = solver.display_name
        if name in seen:
            yield (
                where,
                (
                    f"duplicate solver name {name!r} (first at {solvers_key}[{seen[name]}]); "
                    "give each solver a distinct 'name'"
                ),
            )
        seen.setdefault(name, index)


def _check_generator(entry: InstanceEntry, where: Location) -> Iterator[tuple[Location, str]]:
    try:
        generator = get_generator(entry.generator or "")
    except InputError as exc:
        yield where + ("generator",), exc.message
        return
    try:
        signature = inspect.signature(generator.function)
    except (TypeError, ValueError):  # builtins without a signature: accept anything
        return
    parameters = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    accepted = [
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    if "seed" not in accepted:
        yield (
            where + ("generator",),
            (
                f"generator {entry.generator!r} does not accept a 'seed' keyword; it is called "
                "as generator(seed=..., **params)"
            ),
        )
        return
    accepted.remove("seed")
    for field_name in ("params", "grid"):
        for key in getattr(entry, field_name):
            if key == "seed":
                yield where + (field_name, key), "the seed comes from 'seeds', not from parameters"
            elif key not in accepted:
                takes = ", ".join(accepted) or "no parameters"
                yield (
                    where + (field_name, key),
                    (f"generator {entry.generator!r} has no parameter {key!r} (it takes {takes})"),
                )


def _match_files(base: Path, pattern: str) -> list[Path]:
    candidate = Path(pattern).expanduser()
    full = candidate if candidate.is_absolute() else base / candidate
    if glob.has_magic(pattern):
        return sorted(Path(p) for p in glob.glob(str(full), recursive=True) if Path(p).is_file())
    return [full] if full.is_file() else []


# -- expansion -------------------------------------------------------------------------
def grid_points(grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """Cartesian product of a grid, in the grid's key order (one empty point for no grid).

    Parameters
    ----------
    grid : mapping of str to list
        Values per parameter.

    Returns
    -------
    list of dict
        One dict per combination; the last key varies fastest.

    Examples
    --------
    >>> grid_points({"n": [1, 2], "p": ["a", "b"]})
    [{'n': 1, 'p': 'a'}, {'n': 1, 'p': 'b'}, {'n': 2, 'p': 'a'}, {'n': 2, 'p': 'b'}]
    """
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def _suffix(point: Mapping[str, Any]) -> str:
    return "[" + ", ".join(f"{k}={v}" for k, v in point.items()) + "]" if point else ""


def _instance_points(spec: SweepSpec) -> list[tuple[InstancePoint, Any]]:
    points: list[tuple[InstancePoint, Any]] = []
    for entry in spec.instances:
        if entry.generator is not None:
            function = get_generator(entry.generator).function
            for point in grid_points(entry.grid):
                label = (entry.label or entry.generator) + _suffix(point)
                params = {**entry.params, **point}
                points.append(
                    (InstancePoint(label, generator=entry.generator, params=params), function)
                )
            continue
        for path in _match_files(spec.base, entry.file or ""):
            try:
                named = path.resolve().relative_to(spec.base).as_posix()
            except ValueError:
                named = path.resolve().as_posix()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            label = named if entry.label is None else entry.label + f"[{path.stem}]"
            instance = InstancePoint(label, file=named, path=str(path.resolve()), digest=digest)
            points.append((instance, None))
    return points


def _solver_points(spec: SweepSpec) -> list[SolverPoint]:
    points = []
    for entry in spec.solvers:
        for point in grid_points(entry.grid):
            settings = {key: point[key] for key in SOLVER_SETTINGS if key in point}
            options = {**entry.options, **{k: v for k, v in point.items() if k not in settings}}
            time_limit = settings.get("time_limit", entry.time_limit or spec.time_limit)
            threads = settings.get("threads", entry.threads or spec.threads)
            points.append(
                SolverPoint(
                    name=entry.display_name + _suffix(point),
                    method=settings.get("method", entry.method),
                    backend=settings.get("backend", entry.backend),
                    relax=bool(settings.get("relax", entry.relax)),
                    time_limit=None if time_limit is None else float(time_limit),
                    threads=None if threads is None else int(threads),
                    options=options,
                    seed_option=entry.seed_option,
                )
            )
    return points


def expand(spec: SweepSpec) -> list[Task]:
    """Expand a specification into independent tasks.

    The order is instance points × seeds × solver points × repetitions (the last
    varies fastest), so the solvers of one instance run close together.
    Duplicate points (same identity) appear once.

    Parameters
    ----------
    spec : SweepSpec
        A validated specification.

    Returns
    -------
    list of Task
        Self-contained tasks (their kind's function and generator attached).
    """
    runner = get_task_kind(spec.kind).function
    solvers = _solver_points(spec)
    tasks: list[Task] = []
    seen: set[str] = set()
    imports = tuple(spec.imports)
    for (instance, generate), seed, solver, repetition in itertools.product(
        _instance_points(spec), spec.seed_values, solvers, range(spec.repetitions)
    ):
        task = Task(
            kind=spec.kind,
            instance=instance,
            solver=solver,
            seed=seed,
            repetition=repetition,
            imports=imports,
            runner=runner,
            generate=generate,
        )
        if task.task_id not in seen:
            seen.add(task.task_id)
            tasks.append(task)
    return tasks
