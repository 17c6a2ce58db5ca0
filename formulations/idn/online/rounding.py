r"""Rounding fractional allocations to integral ones, per node and vectorised across nodes.

* :class:`DepRound` / :func:`depround_rows` — DepRound on every row: each
  entry becomes 1 with probability equal to its value, the row's count of ones
  is its sum rounded down or up, and entries are negatively correlated.
  Disjoint pairs are rounded simultaneously (a tournament of
  :math:`\lceil\log_2 M\rceil` rounds), which is DepRound with one particular
  pairing order;
* :func:`repair_rows` — make sampled rows fit their budget by keeping models in
  order of priority (the fractional state) and skipping those that do not fit;
* :func:`fill_rows` — add models that still fit, in order of priority.

``THEORY.md`` §3 derives them.
"""

from __future__ import annotations

import numpy as np

from idnopt.formulations.idn.online.projection import TOLERANCE, row_loads


class DepRound:
    r"""DepRound of every row of (rows, columns) arrays, with work arrays kept between calls.

    Rounds pairs of fractional entries so that at least one of each pair
    becomes integral while every entry keeps its expectation; disjoint pairs
    are rounded at the same time, and the fractional survivor of each pair
    meets the survivor of the neighbouring pair in the next round
    (:math:`\lceil \log_2 M \rceil` rounds for ``M`` columns; where both
    entries of a pair end integral, which one moves left does not matter). Rows are
    processed in blocks of ``block`` rows: larger blocks mean fewer numpy calls
    per slot, smaller ones keep the work arrays in cache (at 1,000 × 100,
    blocks of 256 to 1,024 rows took about the same time).

    Parameters
    ----------
    shape : tuple of int
        (rows, columns) of the arrays to round.
    tolerance : float
        A row's last fractional rest this close to 0 or 1 is rounded to it
        without a draw.
    block : int
        Rows rounded together (default 1,024).
    """

    def __init__(
        self, shape: tuple[int, int], *, tolerance: float = 1e-9, block: int = 1024
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
        step = 1
        while step < columns:
            stride = 2 * step
            right = current[step::stride]
            pairs = right.shape[0]
            left = current[0::stride][:pairs]
            reals, flags, moved = work["rounds"][step]
            total, numerator, scale, draw = reals
            above, swap = flags
            # a pair with sum t ends as (t, 0) or (0, t) when t <= 1, else as (1, t - 1) or
            # (t - 1, 1); the left entry keeps the fractional rest with probability
            # left / t, or (1 - left) / (2 - t) when t > 1: both entries keep their means
            np.add(left, right, out=total)
            np.greater(total, 1.0, out=above)
            np.copyto(numerator, left)
            np.subtract(1.0, left, out=numerator, where=above)
            np.copyto(scale, total)
            np.subtract(2.0, total, out=scale, where=above)
            rng.random(out=draw)
            draw *= scale
            np.greater_equal(draw, numerator, out=swap)  # the right entry keeps the rest
            np.copyto(left, total)  # the rest moves left: t, or t - 1 when t > 1
            np.subtract(total, 1.0, out=left, where=above)
            right.fill(0.0)  # the integral entry: 0, or 1 when t > 1 (no bool-to-float cast:
            np.copyto(right, 1.0, where=above)  # numpy would copy the whole operand)
            left_position = position[0::stride][:pairs]
            right_position = position[step::stride]
            moved.fill(0)  # swap positions by adding the difference (copyto with a mask
            np.subtract(right_position, left_position, out=moved, where=swap)  # copies views)
            left_position += moved
            right_position -= moved
            step = stride
        last = current[0]  # the last fractional rest of every row
        np.copyto(last, 1.0, where=last >= 1.0 - self.tolerance)
        np.copyto(last, 0.0, where=last <= self.tolerance)
        current[0] = rng.random(width) < current[0]
        np.round(current, out=current)
        np.add(position, work["offset"], out=work["flat"])
        out.ravel()[work["flat"].ravel()] = current.ravel()


def depround_rows(fractions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """DepRound of every row of a [0, 1] array; see :class:`DepRound`."""
    fractions = np.asarray(fractions, dtype=float)
    return DepRound(fractions.shape)(fractions, rng)


def _ranked(rows: np.ndarray, columns: np.ndarray, priority: np.ndarray) -> tuple:
    """Entries sorted by row, then by decreasing priority; each row's start and count."""
    order = np.lexsort((-priority, rows))
    rows, columns = rows[order], columns[order]
    first = np.ones(rows.size, dtype=bool)
    np.not_equal(rows[1:], rows[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, rows.size))
    return rows, columns, starts, counts


def _into(allocation: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``allocation`` as floats in ``out`` (a new copy when ``out`` is omitted)."""
    allocation = np.asarray(allocation, dtype=float)
    if out is None:
        return allocation.copy()
    if out is not allocation:
        out[...] = allocation
    return out


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
    Works on the list of hosted entries of over-full nodes only (no temporary
    of the allocation's size but a boolean mask); ties in priority are taken
    in column order.

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
    out = _into(allocation, out)
    sizes = np.asarray(sizes, dtype=float)
    room = np.asarray(budgets, dtype=float) * (1 + TOLERANCE) + TOLERANCE
    over = row_loads(out, sizes) > room
    if not over.any():
        return out
    rows, columns = np.nonzero(out > 0.5)
    pick = over[rows]
    rows, columns = rows[pick], columns[pick]
    rows, columns, starts, counts = _ranked(rows, columns, np.asarray(priority)[rows, columns])
    entry_size = sizes[columns]
    used = np.zeros(out.shape[0])
    kept = np.zeros(rows.size, dtype=bool)
    for rank in range(int(counts.max())):
        entry = starts[counts > rank] + rank  # the rank-th best entry of every row that has one
        node = rows[entry]
        take = used[node] + entry_size[entry] <= room[node]
        kept[entry[take]] = True
        used[node[take]] += entry_size[entry[take]]  # one entry per node: no repeated index
    drop = ~kept
    out[rows[drop], columns[drop]] = 0.0
    return out


def fill_rows(
    allocation: np.ndarray,
    sizes: np.ndarray,
    budgets: np.ndarray,
    priority: np.ndarray,
    *,
    out: np.ndarray | None = None,
    work: np.ndarray | None = None,
) -> np.ndarray:
    """Add models to nodes with room left, in decreasing ``priority``, while they fit.

    Only entries with a positive priority are added (the gain is monotone, so
    adding a model never lowers it). Each node uses only its own row. Taking
    models in decreasing priority and skipping those that do not fit is the
    same as repeatedly adding the highest-priority model that still fits
    (room only shrinks), which is how it is computed: one arg-max over the
    candidates per model added.

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
    work : numpy.ndarray, optional
        A float (nodes, models) C-contiguous array to use as scratch (its
        content is overwritten); one is allocated when omitted.

    Returns
    -------
    numpy.ndarray
    """
    out = _into(allocation, out)
    sizes = np.asarray(sizes, dtype=float)
    room = np.asarray(budgets, dtype=float) * (1 + TOLERANCE) + TOLERANCE - row_loads(out, sizes)
    if not (room >= sizes.min(initial=np.inf)).any():
        return out
    key = np.empty(out.shape) if work is None else work
    np.copyto(key, priority)
    np.copyto(key, -np.inf, where=key <= 0.0)
    np.copyto(key, -np.inf, where=out > 0.5)
    active = np.arange(out.shape[0])  # rows of `key` are the nodes `active`
    while True:
        np.copyto(key, -np.inf, where=sizes > room[active, None])  # never fits again
        best = key.argmax(axis=1)
        add = np.flatnonzero(key[np.arange(active.size), best] > -np.inf)
        if add.size == 0:
            return out
        model = best[add]
        out[active[add], model] = 1.0
        key[add, model] = -np.inf
        room[active[add]] -= sizes[model]
        if 2 * add.size < active.size:  # rows that added nothing never will: drop them
            key = key[add]
            active = active[add]
