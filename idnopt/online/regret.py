r"""Regret bounds as data: their closed form, their value over time, and their check.

A policy that states a guarantee returns a :class:`RegretBound` from
:meth:`~idnopt.online.Policy.regret_bound`: the cumulative regret after ``t``
slots against *any* static decision of the feasible set is at most

.. math:: B(t) = a + b\,t + c\,\sqrt{t + d},

with constants computed from the instance (radius of the feasible set in the
policy's geometry, a bound on the supergradient norm, the step size). An
*a-priori* bound is known before the first slot; a *data-dependent* bound
(adaptive steps) is computed from the supergradients observed so far, and its
a-priori envelope is kept alongside. After a run, :class:`BoundCheck` compares
the bound with the measured regret slot by slot.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

BoundKind = Literal["a-priori", "data-dependent"]


@dataclass(frozen=True)
class RegretBound:
    r"""A regret bound :math:`B(t) = a + b t + c\sqrt{t + d}` and how it was obtained.

    Attributes
    ----------
    kind : {"a-priori", "data-dependent"}
        ``a-priori``: :meth:`at` is the bound. ``data-dependent``: the policy
        reports a tighter bound computed from what it observed after every
        slot; :meth:`at` is its worst-case (a-priori) envelope.
    formula : str
        The bound in words and symbols, for reports.
    horizon : int
        Number of slots the constants were computed for.
    step : float or None
        Step size (``eta``) the bound is stated for.
    constant, per_slot, root, root_offset : float
        :math:`a, b, c, d` above.
    terms : dict
        The ingredients (``radius``, ``gradient_bound``…) by name.
    """

    kind: BoundKind
    formula: str
    horizon: int
    step: float | None
    constant: float = 0.0
    per_slot: float = 0.0
    root: float = 0.0
    root_offset: float = 0.0
    terms: Mapping[str, float] = field(default_factory=dict)

    def at(self, slots: int | np.ndarray) -> float | np.ndarray:
        """The bound (or its envelope) after ``slots`` slots.

        Parameters
        ----------
        slots : int or numpy.ndarray
            Number(s) of slots played.

        Returns
        -------
        float or numpy.ndarray
            :math:`B(t)`, shaped like ``slots``.
        """
        t = np.asarray(slots, dtype=float)
        value = self.constant + self.per_slot * t + self.root * np.sqrt(t + self.root_offset)
        return float(value) if np.ndim(value) == 0 else value

    @property
    def value(self) -> float:
        """The bound after the whole horizon."""
        return float(self.at(self.horizon))

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form."""
        return {
            "kind": self.kind,
            "formula": self.formula,
            "horizon": self.horizon,
            "step": self.step,
            "value": self.value,
            "constant": self.constant,
            "per_slot": self.per_slot,
            "root": self.root,
            "root_offset": self.root_offset,
            "terms": dict(self.terms),
        }


@dataclass(frozen=True)
class BoundCheck:
    """Measured regret against a policy's bound, slot by slot.

    Attributes
    ----------
    passed : bool or None
        Whether the regret stayed within the bound at every slot (``None``
        when the policy states no bound).
    kind : str
        ``a-priori``, ``data-dependent`` or ``none``.
    regret : float
        Final cumulative regret.
    bound : float or None
        Final bound.
    margin : float or None
        Smallest ``bound - regret`` over all slots (negative when violated).
    worst_slot : int or None
        Slot of that smallest margin.
    ratio : float or None
        Largest ``regret / bound`` over slots with a positive bound.
    tolerance : float
        Slack allowed for solver tolerances in the hindsight optimum.
    """

    passed: bool | None
    kind: str
    regret: float
    bound: float | None = None
    margin: float | None = None
    worst_slot: int | None = None
    ratio: float | None = None
    tolerance: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.passed)

    def __str__(self) -> str:
        if self.passed is None:
            return f"no bound stated (final regret {self.regret:.6g})"
        verdict = "pass" if self.passed else "FAIL"
        return (
            f"{verdict}: final regret {self.regret:.6g} vs {self.kind} bound {self.bound:.6g}; "
            f"smallest margin {self.margin:.6g} at slot {self.worst_slot}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form."""
        return {
            "passed": self.passed,
            "kind": self.kind,
            "regret": self.regret,
            "bound": self.bound,
            "margin": self.margin,
            "worst_slot": self.worst_slot,
            "ratio": self.ratio,
            "tolerance": self.tolerance,
        }


def check_bound(
    regret: np.ndarray, bound: np.ndarray | None, *, kind: str, scale: float = 1.0
) -> BoundCheck:
    """Compare cumulative regret with a bound at every slot.

    Parameters
    ----------
    regret : numpy.ndarray
        Cumulative regret after each slot.
    bound : numpy.ndarray or None
        The bound after each slot (``None``: no bound stated).
    kind : str
        Kind of the bound, for the report.
    scale : float
        Size of the total gain; ``1e-7 * scale`` of slack absorbs the
        hindsight solver's tolerances.

    Returns
    -------
    BoundCheck
    """
    regret = np.asarray(regret, dtype=float)
    final = float(regret[-1]) if regret.size else 0.0
    if bound is None or regret.size == 0:
        return BoundCheck(passed=None, kind="none", regret=final)
    bound = np.asarray(bound, dtype=float)
    tolerance = 1e-7 * max(abs(scale), 1.0)
    margins = bound - regret
    worst = int(np.argmin(margins))
    positive = bound > 0
    ratio = float(np.max(regret[positive] / bound[positive])) if positive.any() else None
    return BoundCheck(
        passed=bool(margins[worst] >= -tolerance),
        kind=kind,
        regret=final,
        bound=float(bound[-1]),
        margin=float(margins[worst]),
        worst_slot=worst,
        ratio=ratio,
        tolerance=tolerance,
    )


def best_step(bound_at_horizon: Callable[[float], float], guess: float) -> float:
    """The step size minimising a bound, by a bounded search on its logarithm.

    Parameters
    ----------
    bound_at_horizon : callable
        ``bound_at_horizon(eta)``: the bound after the whole horizon for step ``eta``.
    guess : float
        A positive starting point (the closed-form optimum of a simpler bound);
        the search covers four decades on each side of it.

    Returns
    -------
    float
        The minimising step (``guess`` itself when the search cannot improve it).
    """
    from scipy.optimize import minimize_scalar

    if not (math.isfinite(guess) and guess > 0):
        raise ValueError(f"the step guess must be a positive number, got {guess!r}")
    centre = math.log(guess)

    def objective(log_eta: float) -> float:
        value = bound_at_horizon(math.exp(log_eta))
        return value if math.isfinite(value) else math.inf

    found = minimize_scalar(
        objective,
        bounds=(centre - 4 * math.log(10), centre + 4 * math.log(10)),
        method="bounded",
        options={"xatol": 1e-6},
    )
    best = math.exp(found.x)
    return best if objective(found.x) <= objective(centre) else guess
