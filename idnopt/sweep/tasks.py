"""One unit of work of a sweep, and running it anywhere.

A :class:`Task` is a fully expanded point of a sweep: which instance (a
generator with its parameters, or a file), which solver settings, which seed
and repetition, and which task kind runs it. Its :attr:`Task.task_id` is a
digest of exactly that, so the same point of the same sweep always has the
same identity — the key that makes resuming possible.

Tasks are self-contained: the kind's function and the generator travel with
them (pickled by reference when importable, by value otherwise), so a worker
process or a remote Dask worker needs nothing registered beforehand.

:func:`execute_task` runs one task and never raises for the task's own
failures: it returns a record with ``status: failed`` and the error instead.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from idnopt.errors import InputError
from idnopt.sweep.plugins import load_plugins, register_task_kind

FAILED = "failed"
"""``status`` of a task whose run raised an exception."""

PROGRAM_METHODS = {"milp": False, "exact": False, "relaxation": True, "lp": True}
"""Methods accepted for generators that return a bare Program (value: relax)."""


@dataclass(frozen=True)
class InstancePoint:
    """Where a task's instance comes from.

    Attributes
    ----------
    label : str
        Short readable name (``knapsack[items=20]`` or the file's path).
    generator : str, optional
        Registered generator name (``None`` for files).
    params : dict
        Generator parameters of this grid point.
    file : str, optional
        Instance file as named in the specification (relative to it).
    path : str, optional
        Absolute path of the file, used to load it.
    digest : str, optional
        Digest of the file's content (editing the file changes the task's identity).
    """

    label: str
    generator: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    file: str | None = None
    path: str | None = None
    digest: str | None = None

    def identity(self) -> dict[str, Any]:
        """What defines the instance (not where the file happens to live)."""
        if self.generator is not None:
            return {"generator": self.generator, "params": self.params}
        return {"file": self.file, "digest": self.digest}


@dataclass(frozen=True)
class SolverPoint:
    """Settings of one solver (or policy) at one point of its grid.

    Attributes
    ----------
    name : str
        Label of the solver in results (grid values appended: ``milp[mip_gap=0.01]``).
    method : str, optional
        The family's method (``None``: its default).
    backend : str
        Backend for methods that solve a program.
    relax : bool
        Solve the continuous relaxation.
    time_limit : float, optional
        Seconds allowed to the solver.
    threads : int, optional
        Solver threads (1 by default, so parallel workers do not oversubscribe).
    options : dict
        Further keyword options of the method.
    seed_option : str, optional
        Name of the option that receives the task's seed (randomised methods).
    """

    name: str
    method: str | None = None
    backend: str = "highs"
    relax: bool = False
    time_limit: float | None = None
    threads: int | None = 1
    options: dict[str, Any] = field(default_factory=dict)
    seed_option: str | None = None

    def identity(self) -> dict[str, Any]:
        """Every setting that can change the outcome."""
        return {
            "method": self.method,
            "backend": self.backend,
            "relax": self.relax,
            "time_limit": self.time_limit,
            "threads": self.threads,
            "options": self.options,
            "seed_option": self.seed_option,
        }

    def call_options(self, seed: int, *, solves_program: bool = True) -> dict[str, Any]:
        """Keyword options for the solve call, the seed included where asked for.

        Parameters
        ----------
        seed : int
            The task's seed.
        solves_program : bool
            Whether the method solves a program (only then is ``threads`` passed).
        """
        options = dict(self.options)
        if self.threads is not None and solves_program:
            options.setdefault("threads", self.threads)
        if self.seed_option is not None:
            options[self.seed_option] = seed
        return options


@dataclass(frozen=True)
class Task:
    """One expanded point of a sweep.

    Attributes
    ----------
    kind : str
        Registered task kind that runs it (``solve`` by default).
    instance : InstancePoint
        The instance.
    solver : SolverPoint
        The solver settings.
    seed : int
        Seed (given to the generator, and to the solver when it asks for one).
    repetition : int
        Index of the repetition (0-based), for timing noise.
    imports : tuple of str
        Plug-in modules imported before running (user generators and kinds).
    runner : callable, optional
        The kind's function, resolved when the sweep was expanded.
    generate : callable, optional
        The generator's function, resolved when the sweep was expanded.
    """

    kind: str
    instance: InstancePoint
    solver: SolverPoint
    seed: int = 0
    repetition: int = 0
    imports: tuple[str, ...] = ()
    runner: Callable[[Task], dict[str, Any]] | None = field(default=None, compare=False, repr=False)
    generate: Callable[..., Any] | None = field(default=None, compare=False, repr=False)

    def identity(self) -> dict[str, Any]:
        """Plain data defining the task; its digest is :attr:`task_id`."""
        return {
            "kind": self.kind,
            "instance": self.instance.identity(),
            "solver": self.solver.identity(),
            "seed": self.seed,
            "repetition": self.repetition,
        }

    @property
    def task_id(self) -> str:
        """Stable 16-hex-digit identifier of the task."""
        text = json.dumps(self.identity(), sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def columns(self) -> dict[str, Any]:
        """Descriptive columns of the task's row in the results table.

        Generator parameters become ``param.<name>`` columns and solver options
        ``option.<name>`` columns.
        """
        row: dict[str, Any] = {
            "task_id": self.task_id,
            "kind": self.kind,
            "instance": self.instance.label,
            "generator": self.instance.generator,
            "file": self.instance.file,
        }
        row.update({f"param.{name}": _cell(value) for name, value in self.instance.params.items()})
        row.update(
            {
                "solver": self.solver.name,
                "method": self.solver.method,
                "backend": self.solver.backend,
                "relax": self.solver.relax,
                "time_limit": self.solver.time_limit,
            }
        )
        row.update({f"option.{name}": _cell(value) for name, value in self.solver.options.items()})
        row.update({"seed": self.seed, "repetition": self.repetition})
        return row

    def make_instance(self) -> Any:
        """Generate or load the task's instance.

        Returns
        -------
        Instance or Program
            An :class:`~idnopt.instance.Instance` (generators returning a dict or a
            path are validated/loaded like files) or a bare :class:`~idnopt.program.Program`.
        """
        import idnopt

        if self.instance.generator is None:
            return idnopt.load(self.instance.path or self.instance.file)
        generate = self.generate
        if generate is None:
            from idnopt.sweep.plugins import get_generator

            generate = get_generator(self.instance.generator).function
        made = generate(seed=self.seed, **self.instance.params)
        if isinstance(made, dict):
            return idnopt.from_dict(made, source=self.instance.label)
        if isinstance(made, (str, Path)):
            return idnopt.load(made)
        return made


def _cell(value: Any) -> Any:
    """A table cell: scalars as they are, anything else as compact JSON text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _scalar(value: Any) -> Any:
    """A record value: plain scalars kept (NaN as ``None``), anything else as JSON text."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        value += 0.0  # no negative zero in tables
    return _cell(value)


def solve_task(task: Task) -> dict[str, Any]:
    """Task kind ``solve``: build or load the instance, solve it, report its figures.

    Instances of a registered family go through :func:`idnopt.solve` with the
    solver's method, backend and options; a generator may also return a bare
    :class:`~idnopt.program.Program`, solved by :func:`idnopt.solve_program`
    (methods ``milp``/``exact`` or ``relaxation``/``lp``).

    Parameters
    ----------
    task : Task
        The task to run.

    Returns
    -------
    dict
        ``status``, ``objective``, ``bound``, ``gap``, ``build_seconds``,
        ``solve_seconds``, ``generate_seconds`` (making or loading the instance),
        ``wall_seconds`` (the whole solve call), ``solver_name`` and every scalar
        entry of the result's ``metrics`` (non-scalars are recorded as JSON text).
    """
    import idnopt
    from idnopt.program import Program

    solver = task.solver
    started = time.perf_counter()
    target = task.make_instance()
    generated = time.perf_counter()
    solves_program = True
    if not isinstance(target, Program):
        from idnopt.family import get_family

        solves_program = get_family(target.kind).method(solver.method).solves_program
    options = solver.call_options(task.seed, solves_program=solves_program)
    if isinstance(target, Program):
        method = solver.method or "milp"
        if method not in PROGRAM_METHODS:
            known = ", ".join(PROGRAM_METHODS)
            raise InputError(
                f"method {method!r} cannot solve the bare program of generator "
                f"{task.instance.generator!r}; choose one of {known}"
            )
        relax = solver.relax or PROGRAM_METHODS[method]
        result = idnopt.solve_program(
            target, solver.backend, relax=relax, time_limit=solver.time_limit, **options
        )
        result.method = "relaxation" if relax else method
    else:
        result = idnopt.solve(
            target,
            method=solver.method,
            backend=solver.backend,
            relax=solver.relax,
            time_limit=solver.time_limit,
            **options,
        )
    finished = time.perf_counter()
    figures: dict[str, Any] = {
        "status": str(result.status),
        "objective": result.objective,
        "bound": result.bound,
        "gap": result.gap,
        "build_seconds": result.build_seconds,
        "solve_seconds": result.solve_seconds,
        "generate_seconds": generated - started,
        "wall_seconds": finished - generated,
        "solver_name": result.solver,
    }
    for name, value in result.metrics.items():
        figures.setdefault(name, value)
    return figures


register_task_kind("solve", solve_task)


def execute_task(task: Task) -> dict[str, Any]:
    """Run one task and return its record; failures are recorded, not raised.

    Parameters
    ----------
    task : Task
        A task from :func:`idnopt.sweep.expand`.

    Returns
    -------
    dict
        ``task_id``; ``row``: the task's columns, then its figures (a figure named
        like a column is dropped), ``status`` and ``error``; ``task``: its identity;
        ``traceback`` (for failures); ``worker``; ``finished_at``.
    """
    started = time.perf_counter()
    error: str | None = None
    details: str | None = None
    try:
        runner = task.runner
        if runner is None or task.imports:
            load_plugins(task.imports)
        if runner is None:
            from idnopt.sweep.plugins import get_task_kind

            runner = get_task_kind(task.kind).function
        figures = dict(runner(task))
    except Exception as exc:  # a failing task is data: record it and carry on
        figures = {"status": FAILED}
        error = f"{type(exc).__name__}: {exc}"
        details = traceback.format_exc(limit=20)
    figures.setdefault("status", "done")
    row = task.columns()
    row.update({name: _scalar(v) for name, v in figures.items() if name not in row})
    row["error"] = error
    row["task_seconds"] = time.perf_counter() - started
    return {
        "task_id": task.task_id,
        "task": task.identity(),
        "row": row,
        "traceback": details,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
