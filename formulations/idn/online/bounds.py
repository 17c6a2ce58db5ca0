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

Bounds (cumulative regret after :math:`t` slots, against any static :math:`u \in Y`;
*binding* nodes use their whole budget from the start and keep doing so,
:func:`node_regimes`):

* INFIDA, fixed step (mirror ascent): :math:`D_\Phi/\eta + \eta\,t\,\sum_v b_v
  \hat G_v^2/8` over binding nodes (Hoeffding's lemma), :math:`\hat G_v = \max_m
  G_{v,m}/s_m`; other nodes add :math:`c(\eta\hat G)\,b_v \hat G_v^2`,
  :math:`c(A) = (e^A - 1 - A)/A^2`;
* OGA, fixed step: :math:`D_2^2/(2\eta) + \eta\,Q\,t/2`, :math:`Q` the bound on the
  squared supergradient norm without its component along the size vector on
  binding nodes (:func:`projected_norm_bound`);
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


BINDING_TOLERANCE = 1e-9
"""Relative slack under which a start's memory use counts as equal to the node's budget."""


def node_regimes(problem, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Nodes whose budget binds at the start, and nodes that start (and stay) full.

    Both fixed-step policies keep a *binding* node binding: supergradients are
    non-negative, so the point before projection dominates :math:`y_t`
    entry-wise, its clipped memory use is at least :math:`b_v`, and the
    projection returns a point using exactly :math:`b_v` (``THEORY.md`` §4).
    A *saturated* node hosts every hostable model at 1 and they all fit: it
    stays at 1 and contributes :math:`g\cdot(u - y_t) \le 0` to the regret.

    Parameters
    ----------
    problem : IdnOnlineProblem
        Sizes, budgets, hostability.
    start : numpy.ndarray
        :math:`y_1`.

    Returns
    -------
    binding : numpy.ndarray
        Boolean per node: learning, and :math:`\sum_m s_m y_{1,v,m} = b_v`.
    saturated : numpy.ndarray
        Boolean per node: learning, not binding, :math:`y_1 = 1` on every hostable model.
    """
    mask = _learning(problem)
    learning = mask.any(axis=1)
    load = np.where(mask, start, 0.0) @ problem.sizes
    binding = learning & (np.abs(load - problem.budgets) <= BINDING_TOLERANCE * problem.budgets)
    full = np.all(np.where(mask, start, 1.0) >= 1.0, axis=1)
    saturated = learning & ~binding & full & (load <= problem.budgets)
    return binding, saturated


def projected_norm_bound(gradient: np.ndarray, sizes: np.ndarray, mask: np.ndarray) -> np.ndarray:
    r"""Per row, a bound on :math:`\max_{0 \le g \le G} \|g\|^2 - (s\cdot g)^2/\|s\|^2`.

    The squared norm of the supergradient once its component along the
    node's size vector is removed (what the Euclidean projection onto a
    binding budget takes away, ``THEORY.md`` §4). The maximum of this convex
    function over the box is at a vertex, where :math:`g_m^2 = G_m g_m`; the
    concave relaxation :math:`\sum_m G_m g_m - (s\cdot g)^2/\|s\|^2` is
    maximised exactly: for a fixed :math:`\sigma = s\cdot g` its first part
    is a fractional knapsack (items by decreasing :math:`G_m/s_m`), a concave
    piecewise-linear function of :math:`\sigma`, so the maximum over
    :math:`\sigma` is on one of its pieces, each solved in closed form.

    Parameters
    ----------
    gradient : numpy.ndarray
        (rows, columns) entry-wise bounds :math:`G \ge 0`.
    sizes : numpy.ndarray
        Positive sizes :math:`s`, shape (columns,).
    mask : numpy.ndarray
        Boolean (rows, columns): the coordinates of each row (others ignored).

    Returns
    -------
    numpy.ndarray
        One bound per row, at most :math:`\|G\|^2` and at least the true maximum.
    """
    bound = np.where(mask, np.maximum(gradient, 0.0), 0.0)
    norm = np.where(mask, sizes, 0.0) ** 2 @ np.ones(sizes.size)
    safe = np.where(norm > 0, norm, 1.0)[:, None]
    order = np.argsort(-bound / sizes, axis=1)
    slope = np.take_along_axis(bound / sizes, order, axis=1)
    weight = np.take_along_axis(bound * sizes, order, axis=1)  # s_m G_m: sigma used by item m
    value = np.take_along_axis(bound * bound, order, axis=1)  # G_m^2: its value
    weight_after, value_after = np.cumsum(weight, axis=1), np.cumsum(value, axis=1)
    weight_before, value_before = weight_after - weight, value_after - value
    sigma = np.clip(slope * safe / 2.0, weight_before, weight_after)
    piece = value_before + slope * (sigma - weight_before) - sigma**2 / safe
    return np.maximum(piece.max(axis=1, initial=0.0), 0.0)


# ---------------------------------------------------------------------------------------
# bounds of each policy


def infida_bound(problem, start: np.ndarray, step: float | None = None) -> RegretBound:
    r"""Mirror ascent with the size-weighted entropy: bound, and the step minimising it.

    On a node whose budget binds, the stability term of one slot is at most
    :math:`b_v \eta^2 \hat G_v^2 / 8` (Hoeffding's lemma, ``THEORY.md`` §4);
    on a saturated node it is 0; on any other node it is
    :math:`c(\eta \hat G)\,\eta^2 b_v \hat G_v^2`. Hence

    .. math:: R_t \le \frac{D_\Phi}{\eta}
              + \eta\,t\,\Big(\tfrac18 \textstyle\sum_{v\,\text{binding}} b_v \hat G_v^2
              + c(\eta\hat G) \sum_{v\,\text{other}} b_v \hat G_v^2\Big),
       \qquad \hat G_v = \max_m G_{v,m}/s_m.

    Parameters
    ----------
    problem : IdnOnlineProblem
        The problem (its horizon and demand bound).
    start : numpy.ndarray
        :math:`y_1`.
    step : float, optional
        :math:`\eta`; when omitted, the step minimising the bound at the horizon.

    Returns
    -------
    RegretBound
        ``a-priori``: constant :math:`D_\Phi/\eta`, per-slot term as above.
    """
    radius = float(entropic_radii(problem, start).sum())
    binding, saturated = node_regimes(problem, start)
    duals = node_dual_norms_squared(problem, problem.gradient_bound())
    spread = float(duals[binding].sum())  # sum_v b_v G_v^2 over binding nodes
    other = _learning(problem).any(axis=1) & ~binding & ~saturated
    dual = float(duals[other].sum())
    largest = float(np.sqrt(duals[other] / problem.budgets[other]).max(initial=0.0))
    horizon = max(problem.horizon, 1)

    def per_slot(eta: float) -> float:
        return eta * (spread / 8.0 + stability(eta * largest) * dual)

    if step is None:
        guess = 1.0
        if radius > 0 and spread + dual > 0:
            guess = math.sqrt(radius / ((spread / 8.0 + dual / 2.0) * horizon))
        step = (
            guess
            if dual == 0
            else best_step(lambda eta: radius / eta + per_slot(eta) * horizon, guess)
        )
    factor = stability(step * largest)
    return RegretBound(
        kind="a-priori",
        formula="D/eta + eta * (sum_binding b_v G_v^2 / 8 + c(eta * G_hat) * sum_other b_v G_v^2)"
        " * t (entropic mirror ascent)",
        horizon=problem.horizon,
        step=step,
        constant=radius / step,
        per_slot=per_slot(step),
        terms={
            "bregman_radius": radius,
            "binding_spread_bound": spread,
            "other_dual_norm_squared_bound": dual,
            "binding_nodes": int(binding.sum()),
            "saturated_nodes": int(saturated.sum()),
            "stability": factor,
        },
    )


def oga_bound(problem, start: np.ndarray, step: float | None = None) -> RegretBound:
    r"""Projected online gradient ascent: :math:`D^2/(2\eta) + \eta Q t / 2`.

    :math:`Q` sums, over binding nodes, :func:`projected_norm_bound` (the
    projection removes the supergradient's component along the size vector,
    ``THEORY.md`` §4), over saturated nodes 0, over other nodes
    :math:`\sum_m G_{v,m}^2`. Without ``step``, :math:`\eta = D/\sqrt{Q T}`
    (the minimiser at the horizon).

    Parameters
    ----------
    problem : IdnOnlineProblem
        The problem (its horizon and demand bound).
    start : numpy.ndarray
        :math:`y_1`.
    step : float, optional
        :math:`\eta`; when omitted, the step minimising the bound at the horizon.

    Returns
    -------
    RegretBound
        ``a-priori``: constant :math:`D^2/(2\eta)`, per-slot :math:`\eta Q/2`.
    """
    radius = euclidean_radius_squared(problem, start)
    mask = _learning(problem)
    gradient = np.where(mask, problem.gradient_bound(), 0.0)
    binding, saturated = node_regimes(problem, start)
    projected = projected_norm_bound(gradient, problem.sizes, mask)
    full = (gradient**2).sum(axis=1)
    norm = float(np.where(binding, projected, np.where(saturated, 0.0, full)).sum())
    horizon = max(problem.horizon, 1)
    if step is None:
        step = math.sqrt(radius / (norm * horizon)) if norm > 0 and radius > 0 else 1.0
    return RegretBound(
        kind="a-priori",
        formula="D^2/(2 eta) + eta * Q * t / 2 (Euclidean projection; Q: supergradient norm "
        "bound without its size-vector component on binding nodes)",
        horizon=problem.horizon,
        step=step,
        constant=radius / (2 * step),
        per_slot=step * norm / 2,
        terms={
            "euclidean_radius_squared": radius,
            "gradient_norm_squared_bound": norm,
            "unprojected_norm_squared_bound": float(full.sum()),
            "binding_nodes": int(binding.sum()),
            "saturated_nodes": int(saturated.sum()),
        },
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
