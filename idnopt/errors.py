"""Exception types shared by the whole package.

Every error a user can cause carries enough context to be printed as one line:
the file, the location inside it, and what is wrong (with a fix where one is
obvious). The CLI prints ``str(error)`` and exits with status 1; nothing in the
package lets a traceback reach a user for bad input.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class IdnoptError(Exception):
    """Base class of every error raised on purpose by idnopt."""


class InputError(IdnoptError, ValueError):
    """Bad input: an instance, profile or specification that cannot be used.

    Parameters
    ----------
    message : str
        What is wrong, and how to fix it where that is clear.
    path : str or Path, optional
        The file the input came from (``None`` for in-memory data).
    location : str, optional
        Dotted/indexed location inside the document, e.g. ``requests[3].ingress``.
    line : int, optional
        1-based line number of ``location`` in ``path`` when known.
    more : int, optional
        How many further problems were found but not shown.
    others : sequence of InputError, optional
        The further problems themselves, each located (``more`` counts them
        when it is not given); :meth:`lines` lists all of them.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        location: str | None = None,
        line: int | None = None,
        more: int = 0,
        others: Sequence[InputError] = (),
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.location = location or None
        self.line = line
        self.others = list(others)
        self.more = more or len(self.others)
        super().__init__(self.__str__())

    def lines(self) -> list[str]:
        """Every problem, one line each: this one without the count, then the others."""
        first = InputError(self.message, path=self.path, location=self.location, line=self.line)
        return [str(first)] + [str(other) for other in self.others]

    def __str__(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path if self.line is None else f"{self.path}:{self.line}")
        if self.location:
            where.append(self.location)
        text = ": ".join([*where, self.message])
        if self.more:
            text += f" (and {self.more} more problem{'s' if self.more > 1 else ''})"
        return text

    def with_path(self, path: str | Path, line: int | None = None) -> InputError:
        """Return a copy of this error attributed to ``path`` (and ``line``)."""
        return InputError(
            self.message,
            path=path,
            location=self.location,
            line=self.line if line is None else line,
            more=self.more,
            others=[other.with_path(path) for other in self.others],
        )


class ModelingError(IdnoptError):
    """A program was declared inconsistently (a bug in a formulation, not bad input)."""


class SolverError(IdnoptError):
    """A backend or solver could not be used or failed unexpectedly."""


class UnsupportedError(IdnoptError):
    """A backend does not accept a program (e.g. a non-linear objective on HiGHS)."""


def format_location(parts: Sequence[str | int]) -> str:
    """Format a path inside a document as ``a.b[3].c``.

    Parameters
    ----------
    parts : sequence of str or int
        Keys (str) and list indices (int) from the document root.

    Returns
    -------
    str
        The location, empty for the document root.
    """
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
