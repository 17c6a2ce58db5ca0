"""Registries of what a sweep specification can name: instance generators and task kinds.

A *generator* turns keyword parameters and a ``seed`` into something a task can
solve: an :class:`~idnopt.instance.Instance`, a :class:`~idnopt.program.Program`,
an instance as plain data (a dict, validated like a file) or the path of an
instance file. A *task kind* is the function that runs one expanded task and
returns its measured figures; ``solve`` (load or generate an instance, solve
it, record the metrics) is built in.

Every registered problem family that declares a generator
(:attr:`idnopt.family.Family.generator`) is a generator under its kind
(``generator: idn``), with the parameters it declares. Other generators are
registered by name::

    from idnopt.sweep import register_generator

    def random_tree(*, seed: int = 0, nodes: int = 10, models: int = 5) -> Instance: ...

    register_generator("idn-tree", random_tree, summary="random IDN on a tree")

Modules named in a specification's ``imports`` list are imported before the
specification is expanded (and in every worker), so user code can register
generators and kinds without touching idnopt.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from idnopt.errors import InputError

Generator = Callable[..., Any]
"""``generator(seed=seed, **params)`` returning an Instance, a Program, a dict or a path."""

TaskRunner = Callable[[Any], dict[str, Any]]
"""``runner(task)`` returning the task's measured figures (name to plain value)."""


@dataclass(frozen=True)
class Registered:
    """A named function with a one-line summary.

    Attributes
    ----------
    name : str
        The name specifications use.
    function : callable
        The generator or task runner.
    summary : str
        One line for listings and error messages.
    """

    name: str
    function: Callable[..., Any]
    summary: str = ""


GENERATORS: dict[str, Registered] = {}
"""Registered instance generators by name."""

TASK_KINDS: dict[str, Registered] = {}
"""Registered task kinds by name."""

_PLUGIN_PACKAGES = (
    "idnopt.sweep.knapsack",
    "idnopt.sweep.tasks",
    "idnopt.online.sweep",
    "idnopt.sim.sweep",
)
_plugin_problems: dict[str, str] = {}


def register_generator(name: str, function: Generator, *, summary: str = "") -> Generator:
    """Register an instance generator under ``name`` (replacing any previous one).

    Parameters
    ----------
    name : str
        Name used by ``generator:`` entries of sweep specifications.
    function : callable
        Called as ``function(seed=seed, **params)``; returns an :class:`~idnopt.instance.Instance`,
        a :class:`~idnopt.program.Program`, instance data (dict) or an instance file path.
        It must be deterministic given its seed and parameters.
    summary : str
        One line shown by ``idnopt sweep plugins``.

    Returns
    -------
    callable
        ``function`` itself, so this can be used as a decorator helper.
    """
    GENERATORS[name] = Registered(name, function, summary or _first_line(function))
    return function


def register_task_kind(name: str, function: TaskRunner, *, summary: str = "") -> TaskRunner:
    """Register a task kind under ``name`` (replacing any previous one).

    Parameters
    ----------
    name : str
        Value of ``kind:`` in sweep specifications.
    function : callable
        ``function(task)`` receiving a :class:`~idnopt.sweep.tasks.Task` and
        returning a dict of plain values (numbers, strings, booleans, ``None``);
        raising marks the task as failed with the exception's message.
    summary : str
        One line for listings.

    Returns
    -------
    callable
        ``function`` itself.
    """
    TASK_KINDS[name] = Registered(name, function, summary or _first_line(function))
    return function


def load_plugins(modules: tuple[str, ...] | list[str] = ()) -> None:
    """Import the built-in plug-in modules and the given user modules.

    Parameters
    ----------
    modules : sequence of str
        Importable module names (a specification's ``imports``).

    Raises
    ------
    InputError
        If a user module cannot be imported.
    """
    for package in _PLUGIN_PACKAGES:
        if package in _plugin_problems:
            continue
        try:
            importlib.import_module(package)
        except ImportError as exc:  # a family still under construction must not block sweeps
            _plugin_problems[package] = f"{type(exc).__name__}: {exc}"
        else:
            _plugin_problems[package] = ""
    _load_family_generators()
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise InputError(f"cannot import plug-in module {module!r} ({exc})") from None


def _load_family_generators() -> None:
    """Register each family's declared generator under its kind (once)."""
    from idnopt.family import families

    try:
        every = families()
    except ImportError as exc:  # a family still under construction must not block sweeps
        _plugin_problems["families"] = f"{type(exc).__name__}: {exc}"
        return
    for kind, family in every.items():
        if family.generator is not None and kind not in GENERATORS:
            GENERATORS[kind] = Registered(kind, family_generator(kind), family.generator.summary)


def family_generator(kind: str) -> Generator:
    """A sweep generator calling the generator declared by the family of ``kind``.

    Parameters
    ----------
    kind : str
        A registered family with a generator.

    Returns
    -------
    callable
        ``function(seed=..., **params)`` validating ``params`` against the
        generator's declared parameters and returning the instance.
    """

    def generate(**params: Any) -> Any:
        from idnopt.family import get_family

        return get_family(kind).generator.generate(where=f"generator {kind!r}", **params)

    generate.__name__ = f"generate_{kind}"
    return generate


def get_generator(name: str) -> Registered:
    """Return the generator registered as ``name``.

    Raises
    ------
    InputError
        Naming the known generators (and a close match) when ``name`` is unknown.
    """
    load_plugins()
    return _lookup(GENERATORS, name, "generator")


def get_task_kind(name: str) -> Registered:
    """Return the task kind registered as ``name``.

    Raises
    ------
    InputError
        Naming the known kinds when ``name`` is unknown.
    """
    load_plugins()
    return _lookup(TASK_KINDS, name, "task kind")


def generators() -> dict[str, Registered]:
    """All registered generators by name (built-ins loaded)."""
    load_plugins()
    return dict(GENERATORS)


def task_kinds() -> dict[str, Registered]:
    """All registered task kinds by name (built-ins loaded)."""
    load_plugins()
    return dict(TASK_KINDS)


def _lookup(table: dict[str, Registered], name: str, what: str) -> Registered:
    if name in table:
        return table[name]
    known = sorted(table)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    text = f"unknown {what} {name!r}{hint} (known: {', '.join(known) or 'none'})"
    broken = [f"{package}: {problem}" for package, problem in _plugin_problems.items() if problem]
    if broken:
        text += "; could not import " + "; ".join(broken)
    raise InputError(text)


def _first_line(function: Callable[..., Any]) -> str:
    doc = (getattr(function, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""
