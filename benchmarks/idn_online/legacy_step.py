"""The per-slot step code as it was before the buffer rework, kept to time old against new.

A copy of ``formulations/idn/online/projection.py`` at commit 4a280d7, its
module docstring replaced (projection with ``np.sort`` copies and fancy-index
temporaries, DepRound in blocks of 256 rows, repair and fill by full-row
``argsort``), imported only by ``bench_step.py``. Not used by the package.
"""

from __future__ import annotations

import numpy as np

TOLERANCE = 1e-12
"""Relative slack under which a budget counts as respected without projecting."""


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
        self._buffers: dict[tuple[str, int], np.ndarray] = {}

    def _buffer(self, name: str, rows: int, columns: int) -> np.ndarray:
        """A work array of ``rows`` × ``columns`` (a view of one kept between calls)."""
        buffer = self._buffers.get((name, columns))
        if buffer is None:
            buffer = self._buffers[(name, columns)] = np.empty((self.shape[0], columns))
        return buffer[:rows]

    def loads(self, allocation: np.ndarray) -> np.ndarray:
        r"""Memory used on every node, :math:`\sum_m s_m y_{v,m}`."""
        return np.asarray(allocation) @ self.sizes

    def _over_budget(self, clipped: np.ndarray) -> np.ndarray:
        load = clipped @ self.sizes
        return np.flatnonzero(load > self.budgets * (1 + TOLERANCE) + TOLERANCE)

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
        count, models = rows.size, self.shape[1]
        full = count == self.shape[0]
        point = self._buffer("point", count, models)
        if full:
            np.multiply(values, self._mask, out=point)
        else:
            np.multiply(values[rows], self._mask[rows], out=point)
        scale = self._entropic_scale(point, self.budgets[rows], out[rows] @ self.sizes)
        np.multiply(point, scale[:, None], out=point)
        np.minimum(point, 1.0, out=point)
        if full:
            out[...] = point
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
        candidates = self._buffer("candidates", count, models + 2)
        inner = candidates[:, 1:-1]
        inner[...] = np.sort(point, axis=1)[:, ::-1]  # largest value first
        with np.errstate(divide="ignore"):
            np.divide(1.0, inner, out=inner)
        np.minimum(inner, 1.0, out=inner)
        candidates[:, 0] = 0.0
        candidates[:, -1] = 1.0
        low = np.zeros(count, dtype=np.int64)
        high = np.full(count, models + 1, dtype=np.int64)
        use_low, use_high = np.zeros(count), load.copy()
        probe = self._buffer("probe", count, models)
        pick = np.arange(count)
        for _ in range(int(np.ceil(np.log2(models + 1)))):
            middle = (low + high) // 2
            scale = candidates[pick, middle]
            np.multiply(point, scale[:, None], out=probe)
            np.minimum(probe, 1.0, out=probe)
            use = probe @ self.sizes
            above = use > budgets
            high = np.where(above, middle, high)
            use_high = np.where(above, use, use_high)
            low = np.where(above, low, middle)
            use_low = np.where(above, use_low, use)
        scale_low, scale_high = candidates[pick, low], candidates[pick, high]
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
        rows = None
        point = values
        np.clip(values, 0.0, 1.0, out=out)
        out *= self._mask
        rows = self._over_budget(out)
        if rows.size == 0:
            return out
        count, models = rows.size, self.shape[1]
        full = count == self.shape[0]
        point = self._buffer("point", count, models)
        slope = self._buffer("slope", count, models)
        hostable = self.hostable if full else self.hostable[rows]
        np.copyto(point, values if full else values[rows])
        np.copyto(point, -1.0, where=~hostable)  # never above 0 for a multiplier >= 0
        if weights is None:
            slope[...] = self.sizes
        else:
            np.divide(self.sizes, weights if full else weights[rows], out=slope)
        multiplier = self._euclidean_multiplier(point, slope, self.budgets[rows], out[rows])
        np.multiply(slope, multiplier[:, None], out=slope)
        np.subtract(point, slope, out=point)
        np.clip(point, 0.0, 1.0, out=point)
        if full:
            out[...] = point
        else:
            out[rows] = point
        return out

    def _euclidean_multiplier(
        self, point: np.ndarray, slope: np.ndarray, budgets: np.ndarray, clipped: np.ndarray
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
        candidates[:, 1:] = np.sort(breaks, axis=1)
        np.maximum(candidates, 0.0, out=candidates)
        candidates[:, 0] = 0.0
        low = np.zeros(count, dtype=np.int64)
        high = np.full(count, 2 * models, dtype=np.int64)
        use_low, use_high = clipped @ self.sizes, np.zeros(count)
        probe = self._buffer("probe", count, models)
        pick = np.arange(count)
        for _ in range(int(np.ceil(np.log2(2 * models)))):
            middle = (low + high) // 2
            multiplier = candidates[pick, middle]
            np.multiply(slope, multiplier[:, None], out=probe)
            np.subtract(point, probe, out=probe)
            np.clip(probe, 0.0, 1.0, out=probe)
            use = probe @ self.sizes
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


# ---------------------------------------------------------------------------------------
# rounding and repair


class DepRound:
    r"""DepRound of every row of (rows, columns) arrays, with work arrays kept between calls.

    Rounds pairs of fractional entries so that at least one of each pair
    becomes integral while every entry keeps its expectation; disjoint pairs
    are rounded at the same time, and the fractional survivor of each pair
    meets the survivor of the neighbouring pair in the next round
    (:math:`\lceil \log_2 M \rceil` rounds for ``M`` columns; where both
    entries of a pair end integral, which one moves left does not matter). Rows are
    processed in blocks of ``block`` rows so that the work arrays stay in the
    processor's cache.

    Parameters
    ----------
    shape : tuple of int
        (rows, columns) of the arrays to round.
    tolerance : float
        Values this close to 0 or 1 count as integral.
    block : int
        Rows rounded together.
    """

    def __init__(
        self, shape: tuple[int, int], *, tolerance: float = 1e-9, block: int = 256
    ) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self.tolerance = float(tolerance)
        self.block = max(1, int(block))
        self._blocks: dict[int, dict] = {}

    def _work(self, width: int) -> dict:
        """Work arrays for a block of ``width`` rows, in a (columns, rows) layout."""
        work = self._blocks.get(width)
        if work is not None:
            return work
        columns = self.shape[1]
        rounds = {}
        step = 1
        while step < columns:  # one set of contiguous arrays per round
            pairs = len(range(step, columns, 2 * step))
            rounds[step] = (
                [np.empty((pairs, width)) for _ in range(4)],
                [np.empty((pairs, width), dtype=bool) for _ in range(2)],
                np.empty((pairs, width), dtype=np.int64),
            )
            step *= 2
        work = self._blocks[width] = {
            "current": np.empty((columns, width)),
            "position": np.empty((columns, width), dtype=np.int64),
            "identity": np.broadcast_to(np.arange(columns)[:, None], (columns, width)),
            "offset": np.arange(width, dtype=np.int64) * columns,
            "flat": np.empty((columns, width), dtype=np.int64),
            "rounds": rounds,
        }
        return work

    def __call__(
        self, fractions: np.ndarray, rng: np.random.Generator, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Round ``fractions`` (values in [0, 1]).

        Parameters
        ----------
        fractions : numpy.ndarray
            (rows, columns) values in [0, 1].
        rng : numpy.random.Generator
            Source of the coin flips.
        out : numpy.ndarray, optional
            Where to write the 0/1 result (C-contiguous).

        Returns
        -------
        numpy.ndarray
            0/1 array: ``P[x = 1] = fractions`` entry-wise and every row sums to
            its total rounded down or up.
        """
        rows, columns = self.shape
        fractions = np.asarray(fractions, dtype=float)
        if out is None:
            out = np.empty(self.shape)
        if columns == 0:
            return out
        for start in range(0, rows, self.block):
            stop = min(start + self.block, rows)
            self._round_block(fractions[start:stop], rng, out[start:stop])
        return out

    def _round_block(
        self, fractions: np.ndarray, rng: np.random.Generator, out: np.ndarray
    ) -> None:
        width, columns = fractions.shape
        work = self._work(width)
        current, position = work["current"], work["position"]
        np.copyto(current, fractions.T)
        np.clip(current, 0.0, 1.0, out=current)
        position[...] = work["identity"]
        high = 1.0 - self.tolerance
        step = 1
        while step < columns:
            stride = 2 * step
            right = current[step::stride]
            pairs = right.shape[0]
            left = current[0::stride][:pairs]
            reals, flags, moved = work["rounds"][step]
            up, down, total, shift = reals
            go_up, swap = flags
            np.subtract(1.0, left, out=up)
            np.minimum(up, right, out=up)  # raise left, lower right
            np.subtract(1.0, right, out=down)
            np.minimum(down, left, out=down)  # lower left, raise right
            np.add(up, down, out=total)
            rng.random(out=shift)
            shift *= total
            np.less(shift, down, out=go_up)  # P(up) = down / (up + down) keeps the means
            np.multiply(go_up, total, out=shift)
            shift -= down  # +up when going up, -down otherwise
            left += shift
            right -= shift
            # the survivor moves left: swap wherever the left entry became integral
            np.subtract(left, 0.5, out=up)
            np.abs(up, out=up)
            np.greater_equal(up, high - 0.5, out=swap)
            np.copyto(up, left)
            np.copyto(left, right, where=swap)
            np.copyto(right, up, where=swap)
            left_position = position[0::stride][:pairs]
            right_position = position[step::stride]
            np.copyto(moved, left_position)
            np.copyto(left_position, right_position, where=swap)
            np.copyto(right_position, moved, where=swap)
            step = stride
        current[0] = rng.random(width) < current[0]
        np.round(current, out=current)
        np.add(position, work["offset"], out=work["flat"])
        out.ravel()[work["flat"].ravel()] = current.ravel()


def depround_rows(fractions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """DepRound of every row of a [0, 1] array; see :class:`DepRound`."""
    fractions = np.asarray(fractions, dtype=float)
    return DepRound(fractions.shape)(fractions, rng)


def repair_rows(
    allocation: np.ndarray,
    sizes: np.ndarray,
    budgets: np.ndarray,
    priority: np.ndarray,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Drop models from over-full nodes until every budget holds.

    On every node over its budget, the hosted models are taken in decreasing
    ``priority`` and kept while they fit (a model that does not fit is skipped
    and smaller ones after it may still be kept); other nodes are unchanged.

    Parameters
    ----------
    allocation : numpy.ndarray
        (nodes, models) 0/1 allocation.
    sizes, budgets : numpy.ndarray
        Model sizes and node budgets.
    priority : numpy.ndarray
        (nodes, models) scores; higher is kept first (e.g. the fractional state).
    out : numpy.ndarray, optional
        Where to write the result (may be ``allocation``).

    Returns
    -------
    numpy.ndarray
        A 0/1 allocation within every budget.
    """
    allocation = np.asarray(allocation, dtype=float)
    if out is None:
        out = allocation.copy()
    elif out is not allocation:
        out[...] = allocation
    load = out @ sizes
    rows = np.flatnonzero(load > budgets * (1 + TOLERANCE) + TOLERANCE)
    if rows.size == 0:
        return out
    hosted = out[rows] > 0.5
    order = np.argsort(np.where(hosted, -np.asarray(priority)[rows], np.inf), axis=1)
    kept = np.zeros_like(hosted)
    used = np.zeros(rows.size)
    pick = np.arange(rows.size)
    room = budgets[rows] * (1 + TOLERANCE) + TOLERANCE
    for column in range(int(hosted.sum(axis=1).max())):
        model = order[:, column]
        size = sizes[model]
        take = hosted[pick, model] & (used + size <= room)
        kept[pick[take], model[take]] = True
        used += np.where(take, size, 0.0)
    out[rows] = kept
    return out


def fill_rows(
    allocation: np.ndarray,
    sizes: np.ndarray,
    budgets: np.ndarray,
    priority: np.ndarray,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Add models to nodes with room left, in decreasing ``priority``, while they fit.

    Only entries with a positive priority are added (the gain is monotone, so
    adding a model never lowers it). Each node uses only its own row.

    Parameters
    ----------
    allocation : numpy.ndarray
        (nodes, models) 0/1 allocation within the budgets.
    sizes, budgets : numpy.ndarray
        Model sizes and node budgets.
    priority : numpy.ndarray
        (nodes, models) scores (e.g. the fractional state); zero entries are never added.
    out : numpy.ndarray, optional
        Where to write the result (may be ``allocation``).

    Returns
    -------
    numpy.ndarray
    """
    allocation = np.asarray(allocation, dtype=float)
    if out is None:
        out = allocation.copy()
    elif out is not allocation:
        out[...] = allocation
    priority = np.asarray(priority)
    room = budgets * (1 + TOLERANCE) + TOLERANCE - out @ sizes
    addable = (out < 0.5) & (priority > 0) & (sizes[None, :] <= room[:, None])
    rows = np.flatnonzero(addable.any(axis=1))
    if rows.size == 0:
        return out
    order = np.argsort(np.where(addable[rows], -priority[rows], np.inf), axis=1)
    room = room[rows]
    pick = np.arange(rows.size)
    added = np.zeros((rows.size, out.shape[1]), dtype=bool)
    for column in range(int(addable[rows].sum(axis=1).max())):
        model = order[:, column]
        size = sizes[model]
        take = addable[rows, model] & (size <= room)
        added[pick[take], model[take]] = True
        room -= np.where(take, size, 0.0)
    out[rows] = np.maximum(out[rows], added)
    return out
