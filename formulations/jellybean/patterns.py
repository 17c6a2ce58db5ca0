"""Maximal tier patterns: the tier intervals operators may use, as wide as the tier order allows.

Tier order only constrains each operator's lowest and highest tier: on every
edge ``u -> v``, the highest tier of ``u`` is at most the lowest tier of ``v``.
A *pattern* gives every operator an interval ``[lo_v, hi_v]`` of (compressed)
tiers with ``hi_u <= lo_v`` on every edge; inside a pattern any shares respect
the tier order. A pattern is *maximal* when no interval can be widened, i.e. it
is a fixed point of

    lo_v = max(floor_v, max over predecessors u of hi_u)
    hi_v = min over successors w of lo_w   (the top tier for a sink)

where ``floor_v`` is the lowest tier allowed by ``v``'s data sources. Every plan
fits inside at least one maximal pattern (widen its intervals one at a time), so
an exact search may enumerate (table row, maximal pattern) pairs only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from idnopt.formulations.jellybean.compiled import CompiledWorkflow


@dataclass(frozen=True)
class Patterns:
    """The maximal tier patterns of a workflow.

    Attributes
    ----------
    lo, hi : numpy.ndarray
        ``(Q, V)`` lowest and highest compressed tier of every operator.
    intervals : list of tuple
        Every interval ``(lo, hi)`` with ``lo <= hi`` over the tiers in use.
    interval : numpy.ndarray
        ``(Q, V)`` index into :attr:`intervals` of every operator's interval.
    """

    lo: np.ndarray
    hi: np.ndarray
    intervals: list[tuple[int, int]]
    interval: np.ndarray

    @property
    def count(self) -> int:
        """Number of patterns."""
        return int(self.lo.shape[0])

    def text(self, workflow: CompiledWorkflow, q: int) -> str:
        """``operator@tier`` or ``operator@low..high`` for every operator of pattern ``q``."""
        parts = []
        for v, name in enumerate(workflow.operators):
            low, high = int(self.lo[q, v]), int(self.hi[q, v])
            span = workflow.tier_label(low)
            if high > low:
                span += ".." + workflow.tier_label(high)
            parts.append(f"{name}@{span}")
        return ", ".join(parts)


def source_floor(workflow: CompiledWorkflow) -> np.ndarray:
    """``(V,)`` lowest compressed tier each operator may use because of its data sources."""
    ranks = np.asarray(workflow.tier_ranks)
    floor = np.zeros(workflow.num_operators, dtype=np.int64)
    for s, v, _, _ in workflow.source_edges:
        lowest = int(np.searchsorted(ranks, workflow.source_tier_rank[s]))
        floor[v] = max(floor[v], min(lowest, workflow.num_tiers - 1))
    return floor


def maximal_patterns(workflow: CompiledWorkflow) -> Patterns:
    """Enumerate the maximal tier patterns (vectorised over partial patterns).

    Operators are visited in topological order; each row of the working arrays
    is a partial pattern. ``lo_v`` follows from the predecessors' ``hi``; a
    non-sink chooses ``hi_v`` in ``[lo_v, top]``; once all successors of an
    operator are placed, rows where its ``hi`` is not the least ``lo`` of its
    successors (not maximal) are dropped.

    Parameters
    ----------
    workflow : CompiledWorkflow
        The compiled instance.

    Returns
    -------
    Patterns
        Every maximal pattern, each exactly once.
    """
    num_ops, top = workflow.num_operators, workflow.num_tiers - 1
    preds: list[list[int]] = [[] for _ in range(num_ops)]
    succs: list[list[int]] = [[] for _ in range(num_ops)]
    for u, v, _, _ in workflow.operator_edges:
        preds[v].append(u)
        succs[u].append(v)
    order = workflow.topological_order
    position = {v: k for k, v in enumerate(order)}
    last_successor = {u: max(position[w] for w in succs[u]) for u in range(num_ops) if succs[u]}
    closes: dict[int, list[int]] = {}
    for u, k in last_successor.items():
        closes.setdefault(k, []).append(u)
    floor = source_floor(workflow)
    lo = np.zeros((1, num_ops), dtype=np.int64)
    hi = np.zeros((1, num_ops), dtype=np.int64)
    for k, v in enumerate(order):
        low = np.full(lo.shape[0], floor[v], dtype=np.int64)
        for u in preds[v]:
            low = np.maximum(low, hi[:, u])
        lo[:, v] = low
        if not succs[v]:
            hi[:, v] = top
        else:
            choices = [low + step for step in range(top + 1)]
            keep = [c <= top for c in choices]
            rows = np.concatenate([np.flatnonzero(m) for m in keep])
            values = np.concatenate([c[m] for c, m in zip(choices, keep)])
            lo, hi = lo[rows], hi[rows]
            hi[:, v] = values
        for u in closes.get(k, []):
            least = np.min(lo[:, succs[u]], axis=1)
            tight = hi[:, u] == least
            lo, hi = lo[tight], hi[tight]
    intervals = [(a, b) for a in range(top + 1) for b in range(a, top + 1)]
    index = {pair: i for i, pair in enumerate(intervals)}
    lookup = np.full((top + 1, top + 1), -1, dtype=np.int64)
    for (a, b), i in index.items():
        lookup[a, b] = i
    keys = np.hstack([lo, hi])
    ranked = np.lexsort(keys.T[::-1])  # a stable, readable order: by lo, then hi
    lo, hi = lo[ranked], hi[ranked]
    return Patterns(lo, hi, intervals, lookup[lo, hi])


def fits(patterns: Patterns, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Patterns that contain a plan using tiers ``[low_v, high_v]`` (``-1``: operator unused)."""
    used = low >= 0
    return np.all(
        (patterns.lo[:, used] <= low[used]) & (patterns.hi[:, used] >= high[used]), axis=1
    )
