"""Latency samples and their summaries; where a simulation result keeps its samples.

:class:`LatencyRecorder` keeps, per key (a source, an application, a class),
the latency of every request that arrived after the warm-up, with its arrival
time. :func:`summarize` gives count, mean, standard deviation, percentiles and
a 95 % confidence half-width of the mean by batch means (requests in arrival
order cut into batches, which absorbs the correlation between consecutive
latencies of a queue).

A simulation result keeps its raw samples in ``Result.values`` under keys
``latency:<key>`` (:func:`latency_values`); :func:`latency_samples` reads them
back, e.g. to draw CDFs. They are left out of the printed tables and of
``Result.to_dict()`` unless ``values=True``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import numpy as np

LATENCY_PREFIX = "latency:"
"""Prefix of the ``Result.values`` keys that hold latency samples (ms)."""

BATCHES = 20
"""Batches of the batch-means confidence interval."""

T_975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    12: 2.179,
    15: 2.131,
    19: 2.093,
    20: 2.086,
    30: 2.042,
}
"""Student t quantiles (0.975) by degrees of freedom."""


def _t_quantile(freedom: int) -> float:
    if freedom in T_975:
        return T_975[freedom]
    known = [k for k in T_975 if k <= freedom]
    return T_975[max(known)] if known else T_975[1]


class LatencyRecorder:
    """Per-key latencies of requests that arrived after the warm-up.

    Parameters
    ----------
    warmup : float
        Arrival time (ms) before which requests are not recorded.
    """

    def __init__(self, warmup: float = 0.0) -> None:
        self.warmup = float(warmup)
        self._arrivals: dict[str, list[float]] = defaultdict(list)
        self._latencies: dict[str, list[float]] = defaultdict(list)
        self.pending = 0

    def start(self, arrival: float) -> bool:
        """Note a request arriving at ``arrival``; return whether it will be recorded."""
        measured = arrival >= self.warmup
        self.pending += measured
        return measured

    def record(self, key: str, arrival: float, finish: float) -> None:
        """Record one request (only if it arrived after the warm-up)."""
        if arrival < self.warmup:
            return
        self.pending -= 1
        self._arrivals[key].append(float(arrival))
        self._latencies[key].append(float(finish - arrival))

    def samples(self) -> dict[str, np.ndarray]:
        """Latencies per key, in arrival order."""
        out = {}
        for key, latencies in self._latencies.items():
            order = np.argsort(self._arrivals[key], kind="stable")
            out[key] = np.asarray(latencies)[order]
        return out


def summarize(samples: np.ndarray, batches: int = BATCHES) -> dict[str, float]:
    """Count, mean, spread, percentiles and the batch-means 95 % half-width of the mean.

    Parameters
    ----------
    samples : numpy.ndarray
        Latencies in arrival order.
    batches : int
        Number of batches (fewer when there are fewer samples).

    Returns
    -------
    dict
        ``count``, ``mean``, ``std``, ``p50``, ``p95``, ``p99``, ``max``, ``ci95``
        (``nan`` when there are no samples; ``ci95`` needs two batches).
    """
    samples = np.asarray(samples, dtype=float)
    if samples.size == 0:
        keys = ("mean", "std", "p50", "p95", "p99", "max", "ci95")
        return {"count": 0, **{key: float("nan") for key in keys}}
    count = min(batches, samples.size)
    if count >= 2:
        means = np.asarray([part.mean() for part in np.array_split(samples, count)])
        half_width = _t_quantile(count - 1) * means.std(ddof=1) / np.sqrt(count)
    else:
        half_width = float("nan")
    return {
        "count": int(samples.size),
        "mean": float(samples.mean()),
        "std": float(samples.std()),
        "p50": float(np.percentile(samples, 50)),
        "p95": float(np.percentile(samples, 95)),
        "p99": float(np.percentile(samples, 99)),
        "max": float(samples.max()),
        "ci95": float(half_width),
    }


def cdf_points(samples: np.ndarray, points: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Empirical CDF at up to ``points`` latencies: ``(x, F(x))``."""
    ordered = np.sort(np.asarray(samples, dtype=float))
    if ordered.size == 0:
        return ordered, ordered
    probabilities = np.arange(1, ordered.size + 1) / ordered.size
    if ordered.size > points:
        keep = np.unique(np.linspace(0, ordered.size - 1, points).round().astype(int))
        return ordered[keep], probabilities[keep]
    return ordered, probabilities


def latency_values(samples: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``Result.values`` entries holding ``samples`` (keys prefixed by :data:`LATENCY_PREFIX`)."""
    return {f"{LATENCY_PREFIX}{key}": np.asarray(value) for key, value in samples.items()}


def latency_samples(result) -> dict[str, np.ndarray]:
    """The latency samples a simulation result holds, by key."""
    return {
        key[len(LATENCY_PREFIX) :]: np.asarray(value)
        for key, value in result.values.items()
        if key.startswith(LATENCY_PREFIX)
    }
