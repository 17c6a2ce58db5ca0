r"""Regret bounds of the IDN policies, computed from the instance (``THEORY.md``).

Ingredients, all per node and vectorised across nodes:

* the entry-wise supergradient bound :math:`G_{v,m}`
  (:meth:`~.problem.IdnOnlineProblem.gradient_bound`);
* the dual norm for the entropic geometry,
  :math:`\|g\|_*^2 = \sum_v b_v \max_m (g_{v,m}/s_m)^2`;
* radii of the feasible set seen from the start :math:`y_1`: the Bregman
  radius :math:`\max_{y \in Y} D_\Phi(y, y_1)` and the squared Euclidean radius
  :math:`\max_{y \in Y}\|y - y_1\|^2`, each bounded by a fractional knapsack
  (exact per node after one sort).

Bounds (cumulative regret after :math:`t` slots, against any static :math:`u \in Y`):

* INFIDA, fixed step (mirror ascent): :math:`D_\Phi/\eta + \eta\,c(\eta\hat G)\,G_*^2\,t`,
  :math:`c(A) = (e^A - 1 - A)/A^2`, :math:`\hat G = \max G_{v,m}/s_m`;
* OGA, fixed step: :math:`D_2^2/(2\eta) + \eta\,G_2^2\,t/2`;
* INFIDA, adaptive (per-node entropic FTRL with AdaGrad-norm steps):
  :math:`\sum_v \sqrt{D_v}\,(\sqrt{G_v^2 + S_{v,t-1}} + \sqrt{S_{v,t}})`,
  :math:`S_{v,t}` the observed squared dual norms;
* OGA, adaptive (diagonal AdaGrad): :math:`\frac{1}{2\eta}\sum_i (\delta + \|g_{1:t,i}\|)
  + \eta \sum_i \|g_{1:t,i}\|`.
"""

from __future__ import annotations

import math

import numpy as np

from idnopt.online import RegretBound, best_step


def uniform_start(problem) -> np.ndarray:
    r"""The start :math:`y_1`: every hostable model of a node at :math:`\min(1, b_v / S_v)`.

    :math:`S_v` is the total size of the node's hostable models; nodes without
    budget or hostable models stay at 0.
    """
    hostable = problem.hostable.astype(float)
    total = hostable @ problem.sizes
    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.where(total > 0, np.minimum(1.0, problem.budgets / total), 0.0)
    return hostable * level[:, None]


def fractional_knapsack_max(
    values: np.ndarray, sizes: np.ndarray, budgets: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    r"""Per node, :math:`\max\{\sum_m v_m y_m : y \in [0,1]^M, \sum_m s_m y_m \le b\}`.

    Items with a positive value (and in ``mask``) are taken in decreasing value
    per size, the last one fractionally.
    """
    values = np.where(mask & (values > 0), values, 0.0)
    ratio = values / sizes
    order = np.argsort(-ratio, axis=1)
    ordered_values = np.take_along_axis(values, order, axis=1)
    ordered_sizes = sizes[order]
    before = np.cumsum(ordered_sizes, axis=1) - ordered_sizes
    fraction = np.clip((budgets[:, None] - before) / ordered_sizes, 0.0, 1.0)
    return (fraction * ordered_values).sum(axis=1)


def _learning(problem) -> np.ndarray:
    mask = problem.hostable.copy()
    mask[problem.budgets <= 0] = False
    return mask


def entropic_radii(problem, start: np.ndarray) -> np.ndarray:
    r"""Per node, a bound on :math:`\max_{y \in Y_v} D_\Phi(y, y_1)`.

    :math:`D_\Phi(y, a) = \sum_m s_m (y_m \log(y_m/a_m) - y_m + a_m)` is convex in
    each :math:`y_m \in [0, 1]`, hence below the chord
    :math:`s_m(a_m + y_m(-\log a_m - 1))`; the maximum of the chord over
    :math:`Y_v` is a fractional knapsack.
    """
    mask = _learning(problem)
    safe = np.where(mask, start, 1.0)
    if np.any(safe <= 0):
        raise ValueError("the entropic start must be positive on every hostable model")
    constant = (np.where(mask, start, 0.0) * problem.sizes).sum(axis=1)
    values = problem.sizes * (-np.log(safe) - 1.0)
    return constant + fractional_knapsack_max(values, problem.sizes, problem.budgets, mask)


def euclidean_radius_squared(problem, start: np.ndarray) -> float:
    r"""A bound on :math:`\max_{y \in Y}\|y - y_1\|^2` (using :math:`y_m^2 \le y_m`)."""
    mask = _learning(problem)
    start = np.where(mask, start, 0.0)
    constant = (start**2).sum(axis=1)
    values = 1.0 - 2.0 * start
    return float(
        (constant + fractional_knapsack_max(values, problem.sizes, problem.budgets, mask)).sum()
    )


def node_dual_norms_squared(problem, gradient: np.ndarray) -> np.ndarray:
    r"""Per node, :math:`b_v \max_m (g_{v,m}/s_m)^2` (the entropic geometry's dual norm)."""
    mask = _learning(problem)
    scaled = np.where(mask, np.abs(gradient) / problem.sizes, 0.0)
    return problem.budgets * scaled.max(axis=1, initial=0.0) ** 2


def stability(exponent: float) -> float:
    r""":math:`c(A) = (e^A - 1 - A) / A^2` (:math:`1/2` at 0), increasing in :math:`A`."""
    if exponent < 1e-4:
        return 0.5 + exponent / 6.0
    return math.expm1(exponent) / exponent**2 - 1.0 / exponent


# ---------------------------------------------------------------------------------------
# bounds of each policy


def infida_bound(problem, start: np.ndarray, step: float | None = None) -> RegretBound:
    r"""Mirror ascent with the size-weighted entropy: bound, and the step minimising it.

    Parameters
    ----------
    problem : IdnOnlineProblem
        The problem (its horizon and demand bound).
    start : numpy.ndarray
        :math:`y_1`.
    step : float, optional
        :math:`\eta`; when omitted, the step minimising the bound at the horizon.
    """
    radius = float(entropic_radii(problem, start).sum())
    gradient = problem.gradient_bound()
    dual = float(node_dual_norms_squared(problem, gradient).sum())
    mask = _learning(problem)
    largest = float(np.max(np.where(mask, gradient / problem.sizes, 0.0), initial=0.0))
    horizon = max(problem.horizon, 1)

    def value(eta: float) -> float:
        return radius / eta + eta * stability(eta * largest) * dual * horizon

    if step is None:
        guess = math.sqrt(2 * radius / (dual * horizon)) if dual > 0 and radius > 0 else 1.0
        step = best_step(value, guess)
    factor = stability(step * largest)
    return RegretBound(
        kind="a-priori",
        formula="D/eta + eta * c(eta * G_hat) * G_*^2 * t (entropic mirror ascent)",
        horizon=problem.horizon,
        step=step,
        constant=radius / step,
        per_slot=step * factor * dual,
        terms={
            "bregman_radius": radius,
            "dual_norm_squared_bound": dual,
            "largest_scaled_gradient": largest,
            "stability": factor,
        },
    )


def oga_bound(problem, start: np.ndarray, step: float | None = None) -> RegretBound:
    r"""Projected online gradient ascent: :math:`D^2/(2\eta) + \eta G^2 t / 2`.

    Without ``step``, :math:`\eta = D/(G\sqrt{T})` (the minimiser at the horizon).
    """
    radius = euclidean_radius_squared(problem, start)
    gradient = problem.gradient_bound()
    norm = float((np.where(_learning(problem), gradient, 0.0) ** 2).sum())
    horizon = max(problem.horizon, 1)
    if step is None:
        step = math.sqrt(radius / (norm * horizon)) if norm > 0 and radius > 0 else 1.0
    return RegretBound(
        kind="a-priori",
        formula="D^2/(2 eta) + eta * G^2 * t / 2 (Euclidean projection)",
        horizon=problem.horizon,
        step=step,
        constant=radius / (2 * step),
        per_slot=step * norm / 2,
        terms={"euclidean_radius_squared": radius, "gradient_norm_squared_bound": norm},
    )


def infida_adaptive_envelope(
    problem, start: np.ndarray
) -> tuple[RegretBound, np.ndarray, np.ndarray]:
    r"""Per-node AdaGrad-norm entropic FTRL: its worst-case envelope and per-node constants.

    Returns
    -------
    RegretBound
        ``data-dependent``; :meth:`~RegretBound.at` is :math:`2\sum_v\sqrt{D_v} G_v\sqrt{t}`.
    radii : numpy.ndarray
        :math:`D_v` per node.
    dual_bounds : numpy.ndarray
        :math:`G_v^2` per node (a-priori bound on one slot's squared dual norm).
    """
    radii = entropic_radii(problem, start)
    dual_bounds = node_dual_norms_squared(problem, problem.gradient_bound())
    root = 2.0 * float(np.sum(np.sqrt(radii * dual_bounds)))
    bound = RegretBound(
        kind="data-dependent",
        formula="sum_v sqrt(D_v) (sqrt(G_v^2 + S_v,t-1) + sqrt(S_v,t)) (entropic FTRL, "
        "AdaGrad-norm step per node)",
        horizon=problem.horizon,
        step=None,
        root=root,
        terms={
            "bregman_radius": float(radii.sum()),
            "dual_norm_squared_bound": float(dual_bounds.sum()),
        },
    )
    return bound, radii, dual_bounds


def oga_adaptive_envelope(problem, step: float, offset: float) -> RegretBound:
    r"""Diagonal AdaGrad: worst-case envelope of its data-dependent bound.

    With :math:`\|g_{1:t,i}\| \le G_i\sqrt{t}`:
    :math:`n\delta/(2\eta) + (1/(2\eta) + \eta)\sum_i G_i \sqrt{t}`.
    """
    mask = _learning(problem)
    gradient = np.where(mask, problem.gradient_bound(), 0.0)
    coordinates = int(mask.sum())
    return RegretBound(
        kind="data-dependent",
        formula="sum_i (delta + ||g_1:t,i||) / (2 eta) + eta * sum_i ||g_1:t,i|| "
        "(diagonal AdaGrad, box diameter 1)",
        horizon=problem.horizon,
        step=step,
        constant=coordinates * offset / (2 * step),
        root=(1 / (2 * step) + step) * float(gradient.sum()),
        terms={"coordinates": coordinates, "offset": offset},
    )
