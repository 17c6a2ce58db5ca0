"""idnopt: decide where ML inference models run and how requests reach them.

The Python API mirrors the command line::

    import idnopt
    instance = idnopt.load("instances/idn/tree.yaml")
    result = idnopt.solve(instance)                 # exact MILP on HiGHS
    print(result.metrics, result.to_frame("placement"))

See :func:`load`, :func:`solve`, :func:`schema`, :class:`Program` and
:func:`solve_program` for building and solving programs directly.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from idnopt.backends import BACKENDS, solve_program
from idnopt.errors import IdnoptError, InputError, SolverError, UnsupportedError
from idnopt.instance import Instance
from idnopt.loading import from_dict, load
from idnopt.program import Program
from idnopt.result import Result, Status

try:
    __version__ = version("idnopt")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"


def solve(
    instance: Instance | str | Path,
    *,
    method: str | None = None,
    backend: str = "highs",
    relax: bool = False,
    time_limit: float | None = None,
    **options: Any,
) -> Result:
    """Solve an instance (or an instance file) with its family's formulation.

    Parameters
    ----------
    instance : Instance, str or Path
        A loaded instance or the path of an instance file.
    method : str, optional
        One of the family's methods (default: its exact method).
    backend : {"highs", "pyomo", "cvxpy"}
        Backend for methods that solve a program.
    relax : bool
        Solve the continuous relaxation.
    time_limit : float, optional
        Seconds for the whole call (every solve, bound and explanation in it);
        the incumbent is returned on expiry and ``Result.timings`` says how
        the time was spent.
    **options
        The method's declared parameters and, for methods that solve a
        program, backend options (``idnopt methods --options`` lists them).

    Returns
    -------
    Result
        Status, objective, bound, gap, timings, metrics and decoded tables.
    """
    from idnopt.family import get_family

    if not isinstance(instance, Instance):
        instance = load(instance)
    family = get_family(instance.kind)
    return family.solve(
        instance, method=method, backend=backend, relax=relax, time_limit=time_limit, **options
    )


def schema(kind: str | None = None) -> dict[str, Any]:
    """JSON Schema of one family's instance files, or of all of them.

    Parameters
    ----------
    kind : str, optional
        A registered kind; when omitted, a schema accepting any registered kind.

    Returns
    -------
    dict
        A JSON Schema (draft 2020-12) that every valid file of the kind
        satisfies; quantities are numbers in the base unit or strings with a
        unit, listed in their ``description`` (see :mod:`idnopt.schemas`).
    """
    from idnopt.schemas import every_schema, kind_schema

    return every_schema() if kind is None else kind_schema(kind)


__all__ = [
    "BACKENDS",
    "IdnoptError",
    "InputError",
    "Instance",
    "Program",
    "Result",
    "SolverError",
    "Status",
    "UnsupportedError",
    "__version__",
    "from_dict",
    "load",
    "schema",
    "solve",
    "solve_program",
]
