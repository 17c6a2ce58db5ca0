"""Plans of the JellyBean family and their evaluations.

A :class:`Plan` is the variant of every operator plus the workers' shares
(requests/s); an :class:`Evaluation` is a plan priced under one routing rule
with every constraint checked. The routing rules are ``"flows"`` (cheapest
flows between the workers of two operators) and ``"proportional"`` (the
published all-to-all rule); see ``THEORY.md``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from idnopt.errors import InputError
from idnopt.result import Result

if TYPE_CHECKING:  # pragma: no cover
    from idnopt.formulations.jellybean.schema import JellyBeanInstance

Routing = Literal["flows", "proportional"]
ROUTINGS: tuple[str, ...] = ("flows", "proportional")
"""The routing rules, the default first."""


@dataclass(frozen=True)
class Assignment:
    """One worker serving ``share`` requests/s of an operator (with the plan's variant)."""

    operator: str
    worker: str
    share: float


@dataclass(frozen=True)
class Plan:
    """A deployment: the variant of every operator and the workers' shares.

    Attributes
    ----------
    combination : dict of str to str
        Variant chosen for every operator.
    assignments : tuple of Assignment
        Worker shares; a worker appears at most once in a valid plan.
    routing : str, optional
        The rule the plan was optimised under (informative; :func:`evaluate`
        prices it under whichever rule it is asked for).
    """

    combination: dict[str, str]
    assignments: tuple[Assignment, ...]
    routing: str | None = None

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, Any]],
        combination: Mapping[str, str] | None = None,
        routing: str | None = None,
    ) -> Plan:
        """Build a plan from table rows with ``operator``, ``worker``, ``share`` (and ``variant``).

        Parameters
        ----------
        rows : iterable of mappings
            One row per worker, as in ``Result.tables["plan"]``.
        combination : mapping, optional
            Variants of operators that have no row (e.g. with a zero rate).
        routing : str, optional
            Rule the plan was optimised under.
        """
        chosen = dict(combination or {})
        assignments = []
        for row in rows:
            if "variant" in row and row["variant"] is not None:
                chosen.setdefault(str(row["operator"]), str(row["variant"]))
            assignments.append(
                Assignment(str(row["operator"]), str(row["worker"]), float(row["share"]))
            )
        return cls(chosen, tuple(assignments), routing)

    @classmethod
    def from_result(cls, result: Result) -> Plan:
        """The plan decoded in a :class:`~idnopt.result.Result` of this family."""
        if "plan" not in result.tables:
            raise InputError(f"the result has no plan (status {result.status})")
        combination = {
            row["operator"]: row["variant"] for row in result.tables.get("combination", [])
        }
        return cls.from_rows(result.tables["plan"], combination, result.metrics.get("routing"))

    def rows(self) -> list[dict[str, Any]]:
        """Plain rows ``{operator, variant, worker, share}``."""
        return [
            {
                "operator": a.operator,
                "variant": self.combination.get(a.operator),
                "worker": a.worker,
                "share": a.share,
            }
            for a in self.assignments
        ]


@dataclass
class Evaluation:
    """A plan priced under one routing rule, with every constraint checked.

    Attributes
    ----------
    routing : str
        ``"flows"`` (cost-minimal flows for the given shares) or ``"proportional"``.
    feasible : bool
        Whether every constraint holds (``violations`` is empty).
    violations : list of str
        What is wrong, in the instance's words.
    cost_per_hour, compute_cost, network_cost : float
        $/h; compute is the full price of every worker with a positive share.
    accuracy : float or None
        End-to-end accuracy of the combination (None when not in the table).
    target : float
        The accuracy target checked.
    compute_by_tier, network_by_edge : dict of str to float
        Cost breakdown ($/h).
    tables : dict of str to list of dict
        ``plan``, ``combination``, ``cost`` and ``traffic`` rows.
    """

    routing: str
    feasible: bool
    violations: list[str]
    cost_per_hour: float
    compute_cost: float
    network_cost: float
    accuracy: float | None
    target: float
    compute_by_tier: dict[str, float]
    network_by_edge: dict[str, float]
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form."""
        return {
            "routing": self.routing,
            "feasible": self.feasible,
            "violations": list(self.violations),
            "cost_per_hour": self.cost_per_hour,
            "compute_cost": self.compute_cost,
            "network_cost": self.network_cost,
            "accuracy": self.accuracy,
            "target": self.target,
            "compute_by_tier": dict(self.compute_by_tier),
            "network_by_edge": dict(self.network_by_edge),
            "tables": self.tables,
        }


def check_routing(routing: str) -> str:
    """Return ``routing`` if it is a known rule.

    Raises
    ------
    InputError
        For an unknown rule, with the closest known one as a hint.
    """
    if routing not in ROUTINGS:
        close = difflib.get_close_matches(str(routing), ROUTINGS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"unknown routing {routing!r}; choose 'flows' or 'proportional'{hint}")
    return routing


def check_target(target: float | None, inst: JellyBeanInstance) -> float:
    """The accuracy target to use: ``target``, or the instance's when None.

    Raises
    ------
    InputError
        When the target is not a fraction in [0, 1].
    """
    value = inst.target if target is None else float(target)
    if not (0.0 <= value <= 1.0) or math.isnan(value):
        raise InputError(f"accuracy target {value!r} is not a fraction in [0, 1]")
    return value
