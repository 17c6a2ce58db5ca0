"""One result type for every formulation, backend and method.

A :class:`Result` carries the solver outcome (status, objective, best bound,
gap, timings), the raw values and duals per named block, an infeasibility
explanation in the program's own labels, and what a formulation decoded from
the solution: metrics (``gain``, ``cost``…) and tables (``placement``…) whose
rows are plain dicts, ready for printing, JSON or pandas.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np


class Status(str, Enum):
    """Outcome of a solve.

    ``optimal``: proven optimal (within the solver's tolerances);
    ``feasible``: a solution without proof of optimality (e.g. a heuristic, or a
    gap limit); ``time_limit``: stopped by the time limit, with the incumbent if
    one was found; ``interrupted``: stopped by the user (Ctrl-C), with the
    incumbent if one was found; ``infeasible``; ``unbounded``; ``error``.
    """

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    TIME_LIMIT = "time_limit"
    INTERRUPTED = "interrupted"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value


ZERO_OBJECTIVE = 1e-9
"""Objectives smaller than this in magnitude have no relative gap (only an absolute one)."""


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """Relative gap ``|objective - bound| / max(|objective|, 1e-10)``, as HiGHS defines it.

    Parameters
    ----------
    objective : float or None
        Value of the incumbent.
    bound : float or None
        Best proven bound.

    Returns
    -------
    float or None
        The gap, ``None`` when either value is missing or not finite, or when
        the objective is zero and the bound is not (see :attr:`Result.absolute_gap`).
    """
    if objective is None or bound is None:
        return None
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return None
    difference = abs(objective - bound)
    if abs(objective) < ZERO_OBJECTIVE:
        # relative to nothing: zero when the bound is met, otherwise undefined
        return 0.0 if difference < ZERO_OBJECTIVE else None
    return difference / abs(objective)


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()] if value.ndim else _plain(value.item())
    if isinstance(value, (np.floating, float)):
        value = float(value) + 0.0  # no negative zero in output
        return value if math.isfinite(value) else (None if math.isnan(value) else str(value))
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass
class Result:
    """Outcome of solving a program or running a method on an instance.

    Attributes
    ----------
    status : Status
        See :class:`Status`.
    objective : float or None
        Objective of the returned solution (in the program's own sense).
    bound : float or None
        Best proven bound on the optimum (equal to ``objective`` when optimal).
    gap : float or None
        Relative gap between ``objective`` and ``bound``.
    build_seconds, solve_seconds : float
        Time to build the program (and hand it to the solver) and to solve it.
    timings : dict of str to float
        How the call's wall-clock budget was spent, by phase (``build``,
        ``bound``, ``solve``, ``explain``, ``decode``…) and ``total``.
    backend, solver : str
        Which backend and solver produced it (``"heuristic"`` for non-solver methods).
    method : str
        The formulation's method (``"milp"``, ``"greedy"``…).
    relaxed : bool
        Whether integrality was relaxed.
    values : dict of str to numpy.ndarray
        Variable values per block, shaped like the block.
    duals : dict of str to numpy.ndarray
        Shadow prices per constraint block (d objective / d bound), for LPs.
    labels : dict of str to tuple
        Per-axis index labels of the variable blocks.
    conflict : list of str
        For infeasible programs: labels of constraints and bounds that conflict.
    message : str
        Human-readable summary or explanation.
    metrics : dict of str to float
        Decoded figures (gain, cost, latency…), filled by formulations.
    tables : dict of str to list of dict
        Decoded decisions (placement, routing…), one dict per row.
    """

    status: Status
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    backend: str = ""
    solver: str = ""
    method: str = ""
    relaxed: bool = False
    values: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    duals: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    labels: dict[str, Any] = field(default_factory=dict, repr=False)
    conflict: list[str] = field(default_factory=list)
    message: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    @property
    def absolute_gap(self) -> float | None:
        """``|objective - bound|``, defined also where the relative gap is not."""
        if self.objective is None or self.bound is None:
            return None
        difference = abs(self.objective - self.bound)
        return difference if math.isfinite(difference) else None

    @property
    def has_solution(self) -> bool:
        """Whether a solution (optimal or not) is attached."""
        return self.objective is not None and self.status in (
            Status.OPTIMAL,
            Status.FEASIBLE,
            Status.TIME_LIMIT,
            Status.INTERRUPTED,
        )

    def value(self, block: str) -> np.ndarray:
        """Values of one variable block, shaped like the block.

        Raises
        ------
        KeyError
            With the list of known blocks.
        """
        try:
            return self.values[block]
        except KeyError:
            raise KeyError(f"no values for block {block!r}; known: {sorted(self.values)}") from None

    def nonzeros(self, block: str, tol: float = 1e-9) -> list[tuple[tuple[str, ...], float]]:
        """Labelled non-zero entries of a block, e.g. ``[(("edge-3", "resnet50"), 1.0)]``."""
        values = self.value(block)
        axes = self.labels.get(block)
        out = []
        for index in zip(*np.nonzero(np.abs(values) > tol)):
            key = tuple(axes[a][i] if axes is not None else str(i) for a, i in enumerate(index))
            out.append((key, float(values[index])))
        return out

    def to_dict(self, values: bool = False, *, timings: bool = True) -> dict[str, Any]:
        """Plain-data form (JSON-serialisable).

        Parameters
        ----------
        values : bool
            Include raw variable values and duals per block (can be large).
        timings : bool
            Include the wall-clock times (``build_seconds``, ``solve_seconds``,
            ``timings``); without them, solving the same instance the same way
            gives the same data every time.
        """
        data = {
            "status": self.status.value,
            "method": self.method,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "absolute_gap": self.absolute_gap,
            "relaxed": self.relaxed,
            "backend": self.backend,
            "solver": self.solver,
            "build_seconds": self.build_seconds,
            "solve_seconds": self.solve_seconds,
            "timings": dict(self.timings),
            "message": self.message,
            "conflict": list(self.conflict),
            "metrics": dict(self.metrics),
            "tables": self.tables,
        }
        if values:
            data["values"] = dict(self.values)
            data["duals"] = dict(self.duals)
        if not timings:
            for name in ("build_seconds", "solve_seconds", "timings"):
                del data[name]
        return _plain(data)

    def to_json(self, values: bool = False, indent: int | None = 2, *, timings: bool = True) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(values=values, timings=timings), indent=indent)

    def to_frame(self, table: str):
        """One decoded table as a pandas DataFrame (pandas must be installed).

        Parameters
        ----------
        table : str
            Name of a table in :attr:`tables`, e.g. ``"placement"``.
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas ships with the extras
            raise ImportError("to_frame needs pandas: pip install 'idnopt[dist]'") from exc
        if table not in self.tables:
            raise KeyError(f"no table {table!r}; known: {sorted(self.tables)}")
        return pd.DataFrame(self.tables[table])
