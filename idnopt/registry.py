"""Problem families: which instance schema and formulation serve each ``kind``.

Formulation modules register themselves when :mod:`idnopt.formulations` is
imported; :func:`get_family` imports it on first use so ``kind: idn`` works
without the caller importing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from idnopt.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from idnopt.formulation import Formulation
    from idnopt.instance import Instance


@dataclass(frozen=True)
class Family:
    """A problem family.

    Attributes
    ----------
    kind : str
        The value of ``kind`` in instance files.
    instance_type : type
        Its pydantic schema (a subclass of :class:`idnopt.instance.Instance`).
    formulation : Formulation
        Builds programs and runs methods for its instances.
    summary : str
        One line for ``idnopt schema`` and help texts.
    """

    kind: str
    instance_type: type[Instance]
    formulation: Formulation
    summary: str


FAMILIES: dict[str, Family] = {}
"""Registered families by kind."""


def register(family: Family) -> Family:
    """Add a family to the registry (one per kind)."""
    FAMILIES[family.kind] = family
    return family


def _load_builtin() -> None:
    import idnopt.formulations  # noqa: F401  (registers the built-in families)


def get_family(kind: str) -> Family:
    """Return the family registered for ``kind``.

    Raises
    ------
    InputError
        Naming the available kinds when ``kind`` is unknown.
    """
    _load_builtin()
    try:
        return FAMILIES[kind]
    except KeyError:
        known = ", ".join(sorted(FAMILIES)) or "none"
        raise InputError(f"unknown kind {kind!r}; available kinds: {known}") from None


def families() -> dict[str, Family]:
    """All registered families by kind."""
    _load_builtin()
    return dict(FAMILIES)
