r"""Per-node operations on (nodes, models) allocations, vectorised across nodes.

Every node :math:`v` has the feasible set

.. math:: Y_v = \{y \in [0, 1]^M : \textstyle\sum_m s_m y_m \le b_v\}

(model sizes :math:`s`, budget :math:`b_v`; models a node cannot host are
fixed at 0). Each operation treats all nodes at once with numpy array
operations, one row per node:

* :meth:`Projector.entropic` — Bregman projection for the size-weighted
  negative entropy :math:`\Phi(y) = \sum_m s_m y_m \log y_m`: the solution is
  :math:`y = \min(1, c_v \hat y)` with one scale :math:`c_v \le 1` per node,
  found exactly after sorting each row (:math:`O(M \log M)`);
* :meth:`Projector.euclidean` — (weighted) Euclidean projection
  :math:`y_m = \mathrm{clip}(z_m - \lambda_v s_m / w_m, 0, 1)`, with
  :math:`\lambda_v` found exactly on the sorted breakpoints of the
  piecewise-linear budget use;
* :func:`row_loads` — memory used per node, computed without BLAS threads.

Rounding (DepRound), repair and fill are in :mod:`.rounding`. A
:class:`Projector` keeps its work arrays between calls, so the per-slot step
of an online policy allocates (almost) nothing.
"""

from __future__ import annotations

import numpy as np

TOLERANCE = 1e-12
"""Relative slack under which a budget counts as respected without projecting."""


def row_loads(matrix: np.ndarray, sizes: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    r"""Per row, :math:`\sum_m s_m a_{v,m}`, without BLAS.

    ``matrix @ sizes`` is a BLAS matrix-vector product, which OpenBLAS spreads
    over its worker threads at this size; they keep spinning after the call,
    and on a machine with few cores and other work they take the processor
    from the step itself (the per-slot wall time doubled on a loaded 2-core
    machine, ``benchmarks/idn_online``). ``einsum`` computes the same sums on
    the calling thread.

    Parameters
    ----------
    matrix : numpy.ndarray
        (rows, columns) array.
    sizes : numpy.ndarray
        (columns,) weights.
    out : numpy.ndarray, optional
        (rows,) array receiving the result.

    Returns
    -------
    numpy.ndarray
    """
    return np.einsum("ij,j->i", matrix, sizes, out=out)


class Projector:
    r"""Projections onto the per-node capped-knapsack sets, with reusable buffers.

    Both projections sort each row once and then locate the exact solution by
    bisection over the sorted breakpoints (every probe evaluates the budget
    use of all rows at once); on the final bracket the budget use is linear,
    so the multiplier is exact. Work arrays are kept between calls: an online
    policy projecting every slot allocates almost nothing.

    Parameters
    ----------
    sizes : numpy.ndarray
        Model sizes :math:`s_m > 0`, shape (models,).
    budgets : numpy.ndarray
        Node budgets :math:`b_v \ge 0`, shape (nodes,).
    hostable : numpy.ndarray, optional
        Boolean (nodes, models) mask; entries outside it are set to 0.
    """

    def __init__(
        self, sizes: np.ndarray, budgets: np.ndarray, hostable: np.ndarray | None = None
    ) -> None:
        self.sizes = np.asarray(sizes, dtype=float)
        self.budgets = np.asarray(budgets, dtype=float)
        if np.any(self.sizes <= 0):
            raise ValueError("model sizes must be positive")
        if np.any(self.budgets < 0):
            raise ValueError("budgets must be non-negative")
        self.shape = (self.budgets.size, self.sizes.size)
        mask = np.ones(self.shape, dtype=bool) if hostable is None else hostable
        self.hostable = np.asarray(mask, dtype=bool)
        self._mask = self.hostable.astype(float)
        self._blocked = ~self.hostable
        self._room = self.budgets * (1 + TOLERANCE) + TOLERANCE
        self._load = np.empty(self.shape[0])
        self._buffers: dict[tuple[str, int], np.ndarray] = {}

    def _buffer(self, name: str, rows: int, columns: int) -> np.ndarray:
        """A work array of ``rows`` × ``columns`` (a view of one kept between calls)."""
        buffer = self._buffers.get((name, columns))
        if buffer is None:
            buffer = self._buffers[(name, columns)] = np.empty((self.shape[0], columns))
        return buffer[:rows]

    def loads(self, allocation: np.ndarray) -> np.ndarray:
        r"""Memory used on every node, :math:`\sum_m s_m y_{v,m}`."""
        return row_loads(np.asarray(allocation, dtype=float), self.sizes)

    def _over_budget(self, clipped: np.ndarray) -> np.ndarray:
        """Rows of ``clipped`` over their budget; their loads are left in ``self._load``."""
        row_loads(clipped, self.sizes, out=self._load)
        return np.flatnonzero(self._load > self._room)

    def _rows(self, name: str, source: np.ndarray, rows: np.ndarray, full: bool) -> np.ndarray:
        """``source[rows]`` in the work array ``name`` (no temporary array)."""
        target = self._buffer(name, rows.size, source.shape[1])
        if full:
            np.copyto(target, source)
        else:
            np.take(source, rows, axis=0, out=target, mode="clip")  # "raise" buffers `out`
        return target

    # -- entropic (size-weighted negative entropy) ----------------------------------------
    def entropic(self, values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        r"""Bregman projection of non-negative ``values`` for the size-weighted entropy.

        Parameters
        ----------
        values : numpy.ndarray
            (nodes, models) non-negative point :math:`\hat y` (after a
            multiplicative update); may exceed 1 and the budgets.
        out : numpy.ndarray, optional
            Where to write the projection (may be ``values`` itself).

        Returns
        -------
        numpy.ndarray
            :math:`y_{v,m} = \min(1, c_v \hat y_{v,m})` with the largest
            :math:`c_v \le 1` such that the node's budget holds.
        """
        values = np.asarray(values, dtype=float)
        if out is None:
            out = np.empty(self.shape)
        np.multiply(values, self._mask, out=out)
        np.minimum(out, 1.0, out=out)
        rows = self._over_budget(out)
        if rows.size == 0:
            return out
        full = rows.size == self.shape[0]
        point = self._rows("point", values, rows, full)
        point *= self._mask if full else self._rows("mask", self._mask, rows, full)
        load = self._load if full else self._load[rows]
        scale = self._entropic_scale(point, self.budgets if full else self.budgets[rows], load)
        np.multiply(point, scale[:, None], out=point)
        np.minimum(point, 1.0, out=point)
        if full:
            np.copyto(out, point)
        else:
            out[rows] = point
        return out

    def _entropic_scale(
        self, point: np.ndarray, budgets: np.ndarray, load: np.ndarray
    ) -> np.ndarray:
        r"""Per-row scale :math:`c \in [0, 1]` with :math:`\sum_m s_m \min(1, c\,\hat y_m) = b`.

        The budget use :math:`h(c)` is increasing and piecewise linear with
        breakpoints :math:`1/\hat y_m`; candidates are 0, the breakpoints
        below 1 in increasing order, and 1 (where :math:`h(1) > b`).
        """
        count, models = point.shape
        breaks = self._buffer("breaks", count, models)  # contiguous: no ufunc buffering
        np.negative(point, out=breaks)
        breaks.sort(axis=1)  # in place: -(largest value) first
        with np.errstate(divide="ignore"):
            np.divide(-1.0, breaks, out=breaks)  # 1 / value, increasing
        np.minimum(breaks, 1.0, out=breaks)
        flat = breaks.ravel()
        offset = np.arange(count) * models

        def candidate(index: np.ndarray) -> np.ndarray:
            # candidate 0 is 0, candidates 1..M the breakpoints, candidate M + 1 is 1
            inside = flat[offset + np.clip(index - 1, 0, models - 1)]
            return np.where(index == 0, 0.0, np.where(index > models, 1.0, inside))

        low = np.zeros(count, dtype=np.int64)
        high = np.full(count, models + 1, dtype=np.int64)
        use_low, use_high = np.zeros(count), load.copy()
        probe = self._buffer("probe", count, models)
        for _ in range(int(np.ceil(np.log2(models + 1)))):
            middle = (low + high) // 2
            scale = candidate(middle)
            np.multiply(point, scale[:, None], out=probe)
            np.minimum(probe, 1.0, out=probe)
            use = row_loads(probe, self.sizes)
            above = use > budgets
            high = np.where(above, middle, high)
            use_high = np.where(above, use, use_high)
            low = np.where(above, low, middle)
            use_low = np.where(above, use_low, use)
        scale_low, scale_high = candidate(low), candidate(high)
        scale = scale_low + (budgets - use_low) * (scale_high - scale_low) / (use_high - use_low)
        return np.clip(scale, 0.0, 1.0)

    # -- Euclidean (optionally weighted) ---------------------------------------------------
    def euclidean(
        self,
        values: np.ndarray,
        out: np.ndarray | None = None,
        weights: np.ndarray | None = None,
    ) -> np.ndarray:
        r"""Euclidean projection, in the norm :math:`\sum_m w_m (y_m - z_m)^2` per node.

        Parameters
        ----------
        values : numpy.ndarray
            (nodes, models) point :math:`z`.
        out : numpy.ndarray, optional
            Where to write the projection (may be ``values`` itself).
        weights : numpy.ndarray, optional
            Positive (nodes, models) metric weights (AdaGrad); 1 when omitted.

        Returns
        -------
        numpy.ndarray
            :math:`\mathrm{clip}(z - \lambda_v s / w, 0, 1)`, :math:`\lambda_v \ge 0`
            the smallest multiplier making the node's budget hold.
        """
        values = np.asarray(values, dtype=float)
        if out is None:
            out = np.empty(self.shape)
        np.clip(values, 0.0, 1.0, out=out)
        out *= self._mask
        rows = self._over_budget(out)
        if rows.size == 0:
            return out
        count, models = rows.size, self.shape[1]
        full = count == self.shape[0]
        point = self._rows("point", values, rows, full)
        slope = self._buffer("slope", count, models)
        blocked = self._blocked if full else self._blocked[rows]
        np.copyto(point, -1.0, where=blocked)  # never above 0 for a multiplier >= 0
        if weights is None:
            slope[...] = self.sizes
        else:
            np.divide(self.sizes, self._rows("weights", weights, rows, full), out=slope)
        load = self._load if full else self._load[rows]
        budgets = self.budgets if full else self.budgets[rows]
        multiplier = self._euclidean_multiplier(point, slope, budgets, load)
        np.multiply(slope, multiplier[:, None], out=slope)
        np.subtract(point, slope, out=point)
        np.clip(point, 0.0, 1.0, out=point)
        if full:
            np.copyto(out, point)
        else:
            out[rows] = point
        return out

    def _euclidean_multiplier(
        self, point: np.ndarray, slope: np.ndarray, budgets: np.ndarray, load: np.ndarray
    ) -> np.ndarray:
        r"""Per-row multiplier :math:`\lambda \ge 0` making the budget use equal to :math:`b`.

        The budget use :math:`h(\lambda) = \sum_m s_m\,\mathrm{clip}(z_m - \lambda a_m, 0, 1)`
        is non-increasing and piecewise linear with breakpoints
        :math:`(z_m - 1)/a_m` (entry leaves 1) and :math:`z_m/a_m` (entry
        reaches 0); candidates are 0 and the non-negative breakpoints in
        increasing order, :math:`h(0) > b` and :math:`h` is 0 at the last one.
        """
        count, models = point.shape
        breaks = self._buffer("breaks", count, 2 * models)
        np.subtract(point, 1.0, out=breaks[:, :models])
        np.divide(breaks[:, :models], slope, out=breaks[:, :models])
        np.divide(point, slope, out=breaks[:, models:])
        candidates = self._buffer("candidates", count, 2 * models + 1)
        np.copyto(candidates[:, 1:], breaks)
        candidates[:, 1:].sort(axis=1)  # in place
        np.maximum(candidates, 0.0, out=candidates)
        candidates[:, 0] = 0.0
        low = np.zeros(count, dtype=np.int64)
        high = np.full(count, 2 * models, dtype=np.int64)
        use_low, use_high = load.copy(), np.zeros(count)
        probe = self._buffer("probe", count, models)
        pick = np.arange(count)
        for _ in range(int(np.ceil(np.log2(2 * models)))):
            middle = (low + high) // 2
            multiplier = candidates[pick, middle]
            np.multiply(slope, multiplier[:, None], out=probe)
            np.subtract(point, probe, out=probe)
            np.clip(probe, 0.0, 1.0, out=probe)
            use = row_loads(probe, self.sizes)
            above = use > budgets
            low = np.where(above, middle, low)
            use_low = np.where(above, use, use_low)
            high = np.where(above, high, middle)
            use_high = np.where(above, use_high, use)
        left, right = candidates[pick, low], candidates[pick, high]
        multiplier = left + (use_low - budgets) * (right - left) / (use_low - use_high)
        return np.maximum(multiplier, 0.0)


def entropic_projection(
    values: np.ndarray,
    sizes: np.ndarray,
    budgets: np.ndarray,
    hostable: np.ndarray | None = None,
) -> np.ndarray:
    """Size-weighted entropic (Bregman) projection of every row; see :class:`Projector`."""
    return Projector(sizes, budgets, hostable).entropic(values)


def euclidean_projection(
    values: np.ndarray,
    sizes: np.ndarray,
    budgets: np.ndarray,
    hostable: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """(Weighted) Euclidean projection of every row; see :class:`Projector`."""
    return Projector(sizes, budgets, hostable).euclidean(values, weights=weights)
