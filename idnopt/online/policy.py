"""The policy contract: what every online policy of every family looks like.

Conventions follow scikit-learn's estimators:

* every parameter is an argument of ``__init__`` stored unchanged under the
  same name (no validation, no derived state there), so :meth:`Policy.get_params`,
  :meth:`Policy.set_params`, :meth:`Policy.clone` and ``repr`` work for free;
* :meth:`Policy.reset` receives the problem and a seeded generator and builds
  the learned state, in attributes whose names end with ``_`` (``state_``,
  ``step_``), discarding any previous run;
* :meth:`Policy.act` returns the slot's :class:`~idnopt.online.problem.Decision`
  and :meth:`Policy.observe` receives the slot's demand and the gain obtained.

Each slot runs ``act(t)`` then ``observe(t, demand, gain)``; a policy may use
only what it was told before ``act(t)``, so the trace stays hidden until the
slot is played. All randomness comes from the generator given to ``reset``:
the same seed gives the same run.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from idnopt.online.problem import Decision, OnlineProblem
from idnopt.online.regret import RegretBound


class Policy:
    """Base class of online policies.

    Subclasses implement :meth:`reset`, :meth:`act` and :meth:`observe`, and
    may state a guarantee through :meth:`regret_bound` (a-priori) and
    :meth:`bound_after` (data-dependent). Class attribute :attr:`name` is the
    name the command line and sweeps use.
    """

    name: ClassVar[str] = ""
    """Short name (``infida``, ``oga``…)."""

    summary: ClassVar[str] = ""
    """One line for listings."""

    # -- parameters (scikit-learn conventions) ------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        names = []
        for parameter in signature.parameters.values():
            if parameter.name == "self":
                continue
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ must name every parameter explicitly")
            names.append(parameter.name)
        return names

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters and their current values."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Policy:
        """Change constructor parameters (takes effect at the next :meth:`reset`).

        Raises
        ------
        ValueError
            Naming the accepted parameters when a name is unknown.
        """
        known = self._param_names()
        for name, value in params.items():
            if name not in known:
                raise ValueError(
                    f"{type(self).__name__} has no parameter {name!r}; "
                    f"accepted: {', '.join(known) or 'none'}"
                )
            setattr(self, name, value)
        return self

    def clone(self) -> Policy:
        """A fresh policy with the same parameters and no learned state."""
        return type(self)(**copy.deepcopy(self.get_params()))

    def learned_state(self) -> dict[str, Any]:
        """The learned attributes (names ending with ``_``) set by :meth:`reset` and updates."""
        return {
            name: value
            for name, value in vars(self).items()
            if name.endswith("_") and not name.startswith("_")
        }

    def __repr__(self) -> str:
        defaults = {
            name: parameter.default
            for name, parameter in inspect.signature(type(self).__init__).parameters.items()
        }
        shown = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if not _same(value, defaults.get(name, inspect.Parameter.empty))
        ]
        return f"{type(self).__name__}({', '.join(shown)})"

    # -- the online protocol -------------------------------------------------------------
    def reset(self, problem: OnlineProblem, rng: np.random.Generator) -> Policy:
        """Forget everything and prepare to play ``problem`` from slot 0.

        Parameters
        ----------
        problem : OnlineProblem
            What is known in advance (instance, horizon, request classes).
        rng : numpy.random.Generator
            The only source of randomness of the run.

        Returns
        -------
        Policy
            ``self``.
        """
        raise NotImplementedError

    def act(self, slot: int) -> Decision:
        """The decision for ``slot`` (before its demand is revealed)."""
        raise NotImplementedError

    def observe(self, slot: int, demand: np.ndarray, gain: float) -> Mapping[str, float] | None:
        """Learn from ``slot``'s demand (one entry per request class) and the gain obtained.

        Returns
        -------
        dict or None
            Per-slot figures for the trajectory; ``messages`` (messages
            exchanged between nodes for this update) is the conventional one.
        """
        raise NotImplementedError

    # -- guarantees ----------------------------------------------------------------------
    def regret_bound(self) -> RegretBound | None:
        """The policy's regret guarantee for the problem it was reset on (``None``: none)."""
        return None

    def bound_after(self, slots: int) -> float | None:
        """Bound on the cumulative regret after ``slots`` observed slots.

        The default evaluates :meth:`regret_bound`; policies with
        data-dependent bounds return the bound computed from what they observed.
        """
        bound = self.regret_bound()
        return None if bound is None else float(bound.at(slots))


def _same(value: Any, default: Any) -> bool:
    if default is inspect.Parameter.empty:
        return False
    try:
        return bool(value == default)
    except Exception:  # noqa: BLE001 - arrays and odd types: show them
        return False
