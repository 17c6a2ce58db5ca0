r"""The gain :math:`G(x)`, its concave relaxation :math:`L(y)`, a supergradient, serving.

All functions take the :class:`~idnopt.formulations.idn.candidates.Candidates`
of an instance and a (nodes, models) allocation; see ``THEORY.md`` for the
definitions.
"""

from __future__ import annotations

import numpy as np

from idnopt.formulations.idn.candidates import Candidates


def _grouped_cumsum(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at every group start."""
    total = np.cumsum(values)
    before = np.concatenate([[0.0], total])[start[:-1]]
    counts = np.diff(start)
    return total - np.repeat(before, counts)


def _allocation_per_candidate(candidates: Candidates, allocation: np.ndarray) -> np.ndarray:
    allocation = np.asarray(allocation, dtype=float)
    if allocation.shape != candidates.shape:
        raise ValueError(f"allocation must have shape {candidates.shape}, got {allocation.shape}")
    return allocation.ravel()[candidates.pair]


def relaxed_gain(candidates: Candidates, allocation: np.ndarray) -> float:
    r"""The concave relaxation :math:`L(y)` (equal to :math:`G(x)` on binary inputs).

    Parameters
    ----------
    candidates : Candidates
        From :func:`build_candidates`.
    allocation : numpy.ndarray
        (nodes, models) array with entries in [0, 1].

    Returns
    -------
    float
        :math:`\sum_\rho\sum_{k<K}(\gamma^{k+1}-\gamma^k)\min\{r, \sum_{k'\le k} l y\}`.
    """
    y = _allocation_per_candidate(candidates, allocation)
    served = np.minimum(
        candidates.rate[candidates.request],
        _grouped_cumsum(candidates.capacity * y, candidates.start),
    )
    return float(np.dot(candidates.gap, served))


def gain(candidates: Candidates, allocation: np.ndarray) -> float:
    """The gain :math:`G(x)` of a binary allocation over repository-only service.

    Parameters
    ----------
    candidates : Candidates
        From :func:`~idnopt.formulations.idn.candidates.build_candidates`.
    allocation : numpy.ndarray
        Binary (nodes, models) allocation.

    Returns
    -------
    float
        The gain (cost units × requests/s), 0 when nothing is hosted.
    """
    return relaxed_gain(candidates, np.asarray(allocation, dtype=float))


def supergradient(candidates: Candidates, allocation: np.ndarray) -> np.ndarray:
    r"""A supergradient of :math:`L` at ``allocation``, shaped (nodes, models).

    For each class let :math:`K^*` be its first candidate whose cumulative
    capacity reaches the rate (the repository if none); every candidate
    :math:`k` gets :math:`l^k\max(0, \gamma^{K^*}-\gamma^k)`.

    Parameters
    ----------
    candidates : Candidates
        From :func:`~idnopt.formulations.idn.candidates.build_candidates`.
    allocation : numpy.ndarray
        (nodes, models) array with entries in [0, 1].

    Returns
    -------
    numpy.ndarray
        (nodes, models) supergradient, summed over every candidate of a pair.
    """
    y = _allocation_per_candidate(candidates, allocation)
    if candidates.num_candidates == 0:  # nothing can be served below the repository
        return np.zeros(candidates.shape)
    cumulative = _grouped_cumsum(candidates.capacity * y, candidates.start)
    reached = cumulative >= candidates.rate[candidates.request] - 1e-12
    index = np.arange(candidates.num_candidates)
    sentinel = np.iinfo(np.int64).max
    first = np.full(len(candidates.rate), sentinel, dtype=np.int64)
    np.minimum.at(first, candidates.request[reached], index[reached])
    threshold = np.where(
        first == sentinel,
        candidates.repository_cost,
        candidates.cost[np.minimum(first, max(candidates.num_candidates - 1, 0))],
    )
    per_candidate = candidates.capacity * np.maximum(
        0.0, threshold[candidates.request] - candidates.cost
    )
    grad = np.bincount(
        candidates.pair, weights=per_candidate, minlength=int(np.prod(candidates.shape))
    )
    return grad.reshape(candidates.shape)


def serving(candidates: Candidates, allocation: np.ndarray) -> np.ndarray:
    """Requests/s each candidate serves under greedy serving (per-request capacity).

    Parameters
    ----------
    candidates : Candidates
        From :func:`~idnopt.formulations.idn.candidates.build_candidates`.
    allocation : numpy.ndarray
        (nodes, models) allocation.

    Returns
    -------
    numpy.ndarray
        Requests/s per candidate; what a class's candidates leave of its rate
        goes to the repository.
    """
    capped = cumulative_served(candidates, allocation)
    before = np.concatenate([[0.0], capped[:-1]])
    firsts = candidates.start[:-1][np.diff(candidates.start) > 0]
    before[firsts] = 0.0
    return capped - before


def cumulative_served(candidates: Candidates, allocation: np.ndarray) -> np.ndarray:
    r"""Per candidate :math:`t_{\rho,k} = \min\{r_\rho, \sum_{k' \le k} l^{k'} x^{k'}\}`.

    The values of the exact program's ``served`` block for ``allocation``
    (requests/s of the class served by its first ``k`` candidates).

    Parameters
    ----------
    candidates : Candidates
        From :func:`~idnopt.formulations.idn.candidates.build_candidates`.
    allocation : numpy.ndarray
        (nodes, models) allocation.

    Returns
    -------
    numpy.ndarray
        One value per candidate.
    """
    x = _allocation_per_candidate(candidates, allocation)
    cumulative = _grouped_cumsum(candidates.capacity * x, candidates.start)
    return np.minimum(candidates.rate[candidates.request], cumulative)


def gain_upper_bound(candidates: Candidates) -> float:
    r"""A bound on every allocation's gain that needs no solve.

    :math:`\sum_\rho r_\rho (\gamma^K_\rho - \gamma^1_\rho)`:

    Each request class gains at most its whole rate served by its cheapest
    candidate; the LP bound :math:`L^*` is never weaker. Used when a time limit
    stops the LP before it has a bound.

    Parameters
    ----------
    candidates : Candidates
        From :func:`~idnopt.formulations.idn.candidates.build_candidates`.

    Returns
    -------
    float
        The bound.
    """
    counts = np.diff(candidates.start)
    has = counts > 0
    cheapest = candidates.repository_cost.copy()
    cheapest[has] = candidates.cost[candidates.start[:-1][has]]
    return float(candidates.rate @ (candidates.repository_cost - cheapest))
