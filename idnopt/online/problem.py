"""What a problem family supplies to run policies over time: the online problem contract.

The runner (:func:`idnopt.online.run`) knows no family. A family describes
its online version as an object satisfying :class:`OnlineProblem`: the
horizon and the request classes the learner knows in advance, the gain of a
decision for one slot's demand, how far a decision is from feasible, and the
best static decision in hindsight. Policies receive that object in
:meth:`~idnopt.online.Policy.reset`; family policies may use more of it
(supergradients, per-node structure), the runner only uses this protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from idnopt.online.trace import Trace


@dataclass(frozen=True, eq=False)
class Decision:
    """What a policy decides for one slot.

    Attributes
    ----------
    served : numpy.ndarray
        The decision actually applied (for allocation problems, an integral
        allocation); its gain is the slot's ``gain``.
    fractional : numpy.ndarray, optional
        The learner's fractional state, when it keeps one; its gain under the
        concave relaxation is the slot's ``fractional_gain`` and the one the
        regret bounds speak about. ``None`` for policies that only take
        integral decisions (then the fractional gain is the served gain).
    """

    served: np.ndarray
    fractional: np.ndarray | None = None

    @property
    def learner_state(self) -> np.ndarray:
        """The decision the regret is measured on: the fractional state if any."""
        return self.served if self.fractional is None else self.fractional


@dataclass(frozen=True, eq=False)
class Hindsight:
    """The best static decision for a whole trace, known only afterwards.

    Attributes
    ----------
    decision : numpy.ndarray
        The static decision.
    value : float
        Its total gain over the trace as the solver reports it.
    per_slot : numpy.ndarray
        Its gain in every slot (recomputed slot by slot; sums to ``value`` up
        to solver tolerances).
    integral : bool
        Whether the decision is integral (best static integral allocation)
        rather than the fractional optimum of the relaxation.
    status : str
        Solver status (``optimal``, ``time_limit``…).
    bound : float, optional
        Best proven bound on the static optimum (equal to ``value`` when optimal).
    seconds : float
        Time to build and solve.
    details : dict
        Sizes and solver facts (variables, rows, scenarios…).
    """

    decision: np.ndarray
    value: float
    per_slot: np.ndarray
    integral: bool = False
    status: str = "optimal"
    bound: float | None = None
    seconds: float = 0.0
    details: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class OnlineProblem(Protocol):
    """The contract between a family's online problem and the generic runner.

    Attributes
    ----------
    kind : str
        The family (``idn``).
    horizon : int
        Number of slots the learner is told in advance (the trace's length).
    classes : tuple of str
        Request class labels; a trace's columns follow this order.
    shape : tuple of int
        Shape of a decision.
    """

    kind: str
    horizon: int
    classes: tuple[str, ...]
    shape: tuple[int, ...]

    def gain(self, decision: np.ndarray, demand: np.ndarray) -> float:
        """Gain of ``decision`` for one slot's ``demand`` (one entry per class).

        Fractional decisions get the gain of the concave relaxation.
        """
        ...

    def slot_gains(self, decision: np.ndarray, demand: np.ndarray) -> np.ndarray:
        """Gains of one static ``decision`` for every row of a (slots, classes) ``demand``."""
        ...

    def violation(self, decision: np.ndarray) -> float:
        """Largest constraint violation of ``decision`` (0 when feasible)."""
        ...

    def hindsight(self, trace: Trace, *, integral: bool = False, **options: Any) -> Hindsight:
        """Best static decision for ``trace`` (fractional, or integral where affordable)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Sizes and facts for results and logs (nodes, models, classes…)."""
        ...
