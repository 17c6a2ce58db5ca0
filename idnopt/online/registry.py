"""Which families can be played online, with which policies and traces.

A family with an online version declares an :class:`OnlineFamily` (how to
make its :class:`~idnopt.online.problem.OnlineProblem` from an instance and a
trace, its policies by name, its trace generators by kind, how to replay a
trace file) and hands a loader of it to its :class:`~idnopt.family.Family`
declaration (``Family(..., online=load_online)``), so the family registers
once, through the ``idnopt.families`` entry point; :func:`register_online`
adds one at run time. :func:`online_family` imports a family's online version
on first use, so the core never imports a family. The command line,
:func:`idnopt.online.run` with an instance and the ``online`` sweep task kind
all go through this registry.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idnopt.errors import InputError
from idnopt.online.policy import Policy
from idnopt.online.problem import OnlineProblem
from idnopt.online.trace import TABLE_SUFFIXES, Trace


@dataclass(frozen=True)
class OnlineFamily:
    """A family's online version.

    Attributes
    ----------
    kind : str
        The family's instance ``kind``.
    make_problem : callable
        ``make_problem(instance, trace, **options) -> OnlineProblem``.
    policies : mapping of str to type
        Policy classes by name (``infida``, ``oga``…); the first is the default.
    traces : mapping of str to callable
        Trace generators by kind: ``generate(instance, *, slots, seed, **params) -> Trace``.
    read_trace : callable, optional
        ``read_trace(instance, path, *, slots=None, **options) -> Trace`` for trace files.
    summary : str
        One line for listings.
    """

    kind: str
    make_problem: Callable[..., OnlineProblem]
    policies: Mapping[str, type[Policy]]
    traces: Mapping[str, Callable[..., Trace]]
    read_trace: Callable[..., Trace] | None = None
    summary: str = ""

    def policy(self, name: str, **params: Any) -> Policy:
        """A new policy ``name`` with ``params``.

        Raises
        ------
        InputError
            For an unknown name or parameter.
        """
        cls = _lookup(self.policies, name, "policy", self.kind)
        try:
            return cls(**params)
        except TypeError:
            accepted = ", ".join(cls._param_names()) or "none"
            unknown = sorted(set(params) - set(cls._param_names()))
            raise InputError(
                f"policy {name!r} has no parameter {', '.join(map(repr, unknown))}; "
                f"accepted: {accepted}"
            ) from None

    def trace(
        self,
        instance: Any,
        source: str | Path,
        *,
        slots: int | None = None,
        seed: int = 0,
        **params: Any,
    ) -> Trace:
        """A trace of kind ``source``, or read from the file ``source``.

        Parameters
        ----------
        instance : Instance
            The instance the trace is for.
        source : str or Path
            A registered trace kind, or a ``.csv``/``.parquet`` file.
        slots : int, optional
            Number of slots (required for generated traces).
        seed : int
            Seed of a generated trace.
        **params
            The generator's parameters, or the reader's options.
        """
        text = str(source)
        if Path(text).suffix.lower() in TABLE_SUFFIXES:
            if self.read_trace is None:
                raise InputError(f"kind {self.kind!r} cannot replay trace files")
            return self.read_trace(instance, Path(text), slots=slots, **params)
        generate = _lookup(self.traces, text, "trace kind", self.kind)
        if slots is None:
            raise InputError("a generated trace needs a number of slots")
        return generate(instance, slots=slots, seed=seed, **params)


_FAMILIES: dict[str, OnlineFamily] = {}


def register_online(family: OnlineFamily) -> OnlineFamily:
    """Add (or replace) a family's online version."""
    _FAMILIES[family.kind] = family
    return family


def online_families() -> dict[str, OnlineFamily]:
    """Every family's online version by kind (declared ones loaded)."""
    from idnopt.family import families

    for kind, family in families().items():
        if kind not in _FAMILIES and family.online is not None:
            _load(kind)
    return dict(_FAMILIES)


def online_family(kind: str) -> OnlineFamily:
    """The online version of family ``kind``.

    Raises
    ------
    InputError
        Naming the kinds that have one when ``kind`` has none.
    """
    if kind not in _FAMILIES:
        from idnopt.family import families

        declared = families().get(kind)
        if declared is None or declared.online is None:
            known = ", ".join(sorted(online_families())) or "none"
            raise InputError(f"kind {kind!r} has no online version (kinds with one: {known})")
        _load(kind)
    return _FAMILIES[kind]


def make_problem(instance: Any, trace: Trace, **options: Any) -> OnlineProblem:
    """The online problem of ``instance`` for ``trace`` (through its family's registration)."""
    kind = getattr(instance, "kind", None)
    if kind is None:
        raise InputError(
            f"expected an online problem or an instance, got {type(instance).__name__}"
        )
    return online_family(kind).make_problem(instance, trace, **options)


def _load(kind: str) -> OnlineFamily:
    """Import the online version declared by family ``kind`` and register it."""
    from idnopt.family import get_family

    loaded = get_family(kind).online()
    if not isinstance(loaded, OnlineFamily):
        raise InputError(f"the online version of kind {kind!r} is not an OnlineFamily")
    return register_online(loaded)


def load_module(name: str) -> None:
    """Import a module that registers online families (an explicit plug-in)."""
    try:
        importlib.import_module(name)
    except ImportError as exc:
        raise InputError(f"cannot import online plug-in module {name!r} ({exc})") from None


def _lookup(table: Mapping[str, Any], name: str, what: str, kind: str) -> Any:
    if name in table:
        return table[name]
    known = sorted(table)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise InputError(
        f"unknown {what} {name!r} for kind {kind!r}{hint} (known: {', '.join(known) or 'none'})"
    )
