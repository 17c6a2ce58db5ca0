r"""INFIDA and online gradient ascent: fractional state, integral allocation served.

Both keep a fractional allocation :math:`y_t \in Y` (one row per node), serve
the integral allocation :math:`x_t` that DepRound samples from it on every
node (repaired to fit the knapsack when model sizes differ), and update
:math:`y` from a supergradient of the slot's gain at :math:`y_t`:

* :class:`Infida` — mirror ascent with the size-weighted negative entropy:
  :math:`\hat y = y \odot e^{\eta g / s}`, then the exact entropic projection;
* :class:`OnlineGradientAscent` — :math:`\hat y = y + \eta g`, then the
  Euclidean projection.

``eta``: a number; ``"auto"`` (default), the step minimising the policy's
a-priori regret bound at the horizon; or ``"adaptive"``, data-dependent steps
with their own bound (INFIDA: entropic follow-the-regularised-leader with an
AdaGrad-norm step per node; OGA: diagonal AdaGrad). Every update is local to
a node: it uses the supergradient entries of its own models, computed from the
requests crossing it and the thresholds its path neighbours relay, so the
messages are those of :meth:`~.problem.IdnOnlineProblem.messages`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from idnopt.errors import InputError
from idnopt.formulations.idn.online.bounds import (
    infida_adaptive_envelope,
    infida_bound,
    node_dual_norms_squared,
    oga_adaptive_envelope,
    oga_bound,
    uniform_start,
)
from idnopt.formulations.idn.online.projection import Projector
from idnopt.formulations.idn.online.rounding import DepRound, fill_rows, repair_rows
from idnopt.online import Decision, Policy, RegretBound

EXPONENT_CAP = 700.0
"""Largest exponent of the entropic dual point (beyond it ``exp`` overflows)."""


def _step_setting(eta: float | str) -> float | str:
    if isinstance(eta, str):
        if eta in ("auto", "adaptive"):
            return eta
        try:
            eta = float(eta)
        except ValueError:
            raise InputError(
                f"eta must be 'auto', 'adaptive' or a positive number, not {eta!r}"
            ) from None
    if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta > 0):
        raise InputError(f"eta must be 'auto', 'adaptive' or a positive number, not {eta!r}")
    return float(eta)


class _FractionalPolicy(Policy):
    """Shared machinery: state, DepRound + repair, supergradient, messages."""

    def __init__(self, eta: float | str = "auto", fill: bool = True) -> None:
        self.eta = eta
        self.fill = fill

    def reset(self, problem, rng: np.random.Generator) -> _FractionalPolicy:
        """Start from the uniform fractional allocation; compute steps and bounds."""
        self.setting_ = _step_setting(self.eta)
        self.problem_ = problem
        self.rng_ = rng
        self.start_ = uniform_start(problem)
        self.state_ = self.start_.copy()
        self.projector_ = Projector(problem.sizes, problem.budgets, problem.hostable)
        self.rounder_ = DepRound(problem.shape)
        self.allocation_ = np.zeros(problem.shape)
        self.gradient_ = np.zeros(problem.shape)
        self.work_ = np.empty(problem.shape)
        self.observed_ = 0
        self._prepare(problem)
        return self

    def _prepare(self, problem) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def act(self, slot: int) -> Decision:
        """DepRound of the fractional state per node, repaired to the budget, then filled."""
        self.rounder_(self.state_, self.rng_, out=self.allocation_)
        repair_rows(
            self.allocation_,
            self.problem_.sizes,
            self.problem_.budgets,
            self.state_,
            out=self.allocation_,
        )
        if self.fill:
            fill_rows(
                self.allocation_,
                self.problem_.sizes,
                self.problem_.budgets,
                self.state_,
                out=self.allocation_,
                work=self.work_,  # free between updates
            )
        return Decision(served=self.allocation_.copy(), fractional=self.state_.copy())

    def observe(self, slot: int, demand: np.ndarray, gain: float) -> Mapping[str, float]:
        """Supergradient at the fractional state, then the policy's update."""
        self.problem_.evaluate(self.state_, demand, gradient=self.gradient_)
        step = self._update(self.gradient_)
        self.observed_ += 1
        return {"messages": self.problem_.messages(demand), "step": step}

    def _update(self, gradient: np.ndarray) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def regret_bound(self) -> RegretBound | None:
        """The bound stated at :meth:`reset` (a-priori, or the adaptive envelope)."""
        return getattr(self, "bound_", None)


class Infida(_FractionalPolicy):
    r"""INFIDA: online mirror ascent with the size-weighted negative entropy.

    Parameters
    ----------
    eta : float or {"auto", "adaptive"}
        Step size :math:`\eta`; ``"auto"`` minimises the a-priori bound
        :math:`D_\Phi/\eta + \eta\,T\sum_v b_v \hat G_v^2/8` (binding budgets,
        :func:`~.bounds.infida_bound`); ``"adaptive"``
        switches to entropic FTRL with a per-node AdaGrad-norm step and its
        data-dependent bound.
    fill : bool
        After DepRound and repair, add models that still fit on a node, by
        decreasing fractional value (never lowers the gain; local to the node).
    """

    name = "infida"
    summary = "mirror ascent, size-weighted entropy, DepRound (Si Salem et al.)"

    def _prepare(self, problem) -> None:
        if self.setting_ == "adaptive":
            self.bound_, self.radii_, self.dual_bounds_ = infida_adaptive_envelope(
                problem, self.start_
            )
            self.log_start_ = np.log(np.where(self.start_ > 0, self.start_, 1.0))
            self.absent_ = self.start_ <= 0
            self.total_gradient_ = np.zeros(problem.shape)
            self.dual_sums_ = np.zeros(problem.shape[0])
            self.previous_sums_ = np.zeros(problem.shape[0])
            self.steps_ = self._node_steps(self.dual_sums_)
            self.step_ = float(np.mean(self.steps_))
            return
        self.bound_ = infida_bound(
            problem, self.start_, None if self.setting_ == "auto" else self.setting_
        )
        self.step_ = float(self.bound_.step)
        self.scaled_step_ = self.step_ / problem.sizes

    def _node_steps(self, sums: np.ndarray) -> np.ndarray:
        denominator = np.sqrt(self.dual_bounds_ + sums)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(denominator > 0, np.sqrt(self.radii_) / denominator, 0.0)

    def _update(self, gradient: np.ndarray) -> float:
        work = self.work_
        if self.setting_ != "adaptive":
            np.multiply(gradient, self.scaled_step_, out=work)
            np.exp(work, out=work)
            np.multiply(self.state_, work, out=work)
            self.projector_.entropic(work, out=self.state_)
            return self.step_
        self.total_gradient_ += gradient
        self.previous_sums_[...] = self.dual_sums_
        self.dual_sums_ += node_dual_norms_squared(self.problem_, gradient)
        self.steps_ = self._node_steps(self.dual_sums_)
        np.divide(self.total_gradient_, self.problem_.sizes, out=work)
        work *= self.steps_[:, None]
        work += self.log_start_
        np.minimum(work, EXPONENT_CAP, out=work)
        np.exp(work, out=work)
        work[self.absent_] = 0.0
        self.projector_.entropic(work, out=self.state_)
        return float(np.mean(self.steps_))

    def bound_after(self, slots: int) -> float | None:
        """A-priori bound, or the per-node FTRL bound from the dual norms observed."""
        if self.setting_ != "adaptive":
            return float(self.bound_.at(slots))
        return float(
            np.sum(
                np.sqrt(self.radii_)
                * (np.sqrt(self.dual_bounds_ + self.previous_sums_) + np.sqrt(self.dual_sums_))
            )
        )


class OnlineGradientAscent(_FractionalPolicy):
    r"""Online gradient ascent with Euclidean projection onto the same set.

    Parameters
    ----------
    eta : float or {"auto", "adaptive"}
        Step size; ``"auto"``: :math:`D/\sqrt{Q T}`, minimising
        :math:`D^2/(2\eta) + \eta Q T/2` (:math:`Q` bounds the squared supergradient
        norm the projection keeps, :func:`~.bounds.oga_bound`); ``"adaptive"``: diagonal AdaGrad
        (:math:`\eta = 1/\sqrt 2` on the unit box) with its data-dependent bound.
    fill : bool
        After DepRound and repair, add models that still fit on a node, by
        decreasing fractional value (never lowers the gain; local to the node).
    """

    name = "oga"
    summary = "online gradient ascent, Euclidean projection, DepRound"

    ADAGRAD_STEP = 1 / math.sqrt(2)
    """AdaGrad scale minimising its bound on a box of diameter 1."""

    def _prepare(self, problem) -> None:
        if self.setting_ == "adaptive":
            gradient = problem.gradient_bound()
            self.offset_ = 1e-6 * max(float(gradient.max(initial=0.0)), 1e-12)
            self.step_ = self.ADAGRAD_STEP
            self.bound_ = oga_adaptive_envelope(problem, self.step_, self.offset_)
            self.learning_ = problem.hostable & (problem.budgets > 0)[:, None]
            self.squares_ = np.zeros(problem.shape)
            self.scale_ = np.full(problem.shape, self.offset_)
            return
        self.bound_ = oga_bound(
            problem, self.start_, None if self.setting_ == "auto" else self.setting_
        )
        self.step_ = float(self.bound_.step)

    def _update(self, gradient: np.ndarray) -> float:
        work = self.work_
        if self.setting_ != "adaptive":
            np.multiply(gradient, self.step_, out=work)
            work += self.state_
            self.projector_.euclidean(work, out=self.state_)
            return self.step_
        np.multiply(gradient, gradient, out=work)
        self.squares_ += work
        np.sqrt(self.squares_, out=self.scale_)
        self.scale_ += self.offset_
        np.divide(gradient, self.scale_, out=work)
        work *= self.step_
        work += self.state_
        self.projector_.euclidean(work, out=self.state_, weights=self.scale_)
        return self.step_

    def bound_after(self, slots: int) -> float | None:
        """A-priori bound, or the AdaGrad bound from the squared gradients observed."""
        if self.setting_ != "adaptive":
            return float(self.bound_.at(slots))
        norms = np.sqrt(self.squares_[self.learning_])
        return float(
            (norms.size * self.offset_ + norms.sum()) / (2 * self.step_) + self.step_ * norms.sum()
        )
