r"""Demand traces for online IDN allocation: generated (seeded) or replayed from files.

Every generator takes the instance, ``slots``, ``seed`` and its own
parameters, and returns a :class:`~idnopt.online.Trace` whose columns are the
instance's request classes. Demand is in requests per slot; the expected total
per slot (``volume``) defaults to the instance's total rate times the slot length.

* ``stationary`` — Zipf popularity over the request classes (ranks drawn once
  from the seed), Poisson counts every slot;
* ``shifting`` — the same, with fresh popularity ranks every ``every`` slots;
* ``diurnal`` — stationary popularity, total volume modulated by
  :math:`1 + a \sin(2\pi t / \text{period})`;
* ``adversarial`` — round robin over the tasks: in slot ``t`` only the classes
  of task ``t mod tasks`` ask, with the whole volume. Counting past requests
  (LFU) or keeping the last ones (LRU) always caches the task that is not
  asked next;
* replay — a CSV or Parquet file with columns ``slot, ingress, task, count``
  (:func:`read_trace`); classes that share an ingress and a task split its
  count in proportion to their rates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from idnopt.errors import InputError
from idnopt.formulations.idn import IdnInstance, zipf_popularity
from idnopt.online import Trace, read_table, write_table
from idnopt.online.trace import dense_demand

TRACE_KINDS = ("stationary", "shifting", "diurnal", "adversarial")
"""Kinds of generated traces."""


def _classes(instance: IdnInstance) -> tuple[str, ...]:
    return tuple(r.name or f"{r.task}@{r.ingress}#{q}" for q, r in enumerate(instance.requests))


def _check(
    slots: int, seed: int, volume: float | None, instance: IdnInstance, slot_seconds: float
) -> float:
    if int(slots) != slots or slots < 1:
        raise InputError(f"slots must be a positive integer, got {slots!r}")
    if int(seed) != seed or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    if not slot_seconds > 0:
        raise InputError(f"slot_seconds must be positive, got {slot_seconds!r}")
    if volume is None:
        volume = float(sum(r.rate for r in instance.requests)) * slot_seconds
    if not (np.isfinite(volume) and volume > 0):
        raise InputError(f"volume must be a positive number of requests per slot, got {volume!r}")
    return float(volume)


def _popularity(classes: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    if not (np.isfinite(exponent) and exponent >= 0):
        raise InputError(f"zipf must be a finite number >= 0, got {exponent!r}")
    probabilities = np.empty(classes)
    probabilities[rng.permutation(classes)] = zipf_popularity(classes, exponent)
    return probabilities


def _trace(instance, demand, kind, params, slot_seconds) -> Trace:
    return Trace(demand, _classes(instance), kind=kind, params=params, slot_seconds=slot_seconds)


def stationary_trace(
    instance: IdnInstance,
    *,
    slots: int,
    seed: int = 0,
    zipf: float = 0.8,
    volume: float | None = None,
    slot_seconds: float = 1.0,
) -> Trace:
    """Stationary Zipf popularity over request classes, Poisson counts."""
    volume = _check(slots, seed, volume, instance, slot_seconds)
    rng = np.random.default_rng(seed)
    popularity = _popularity(len(instance.requests), zipf, rng)
    demand = rng.poisson(volume * popularity, size=(int(slots), popularity.size))
    params = {"seed": seed, "zipf": zipf, "volume": volume}
    return _trace(instance, demand, "stationary", params, slot_seconds)


def shifting_trace(
    instance: IdnInstance,
    *,
    slots: int,
    seed: int = 0,
    every: int = 100,
    zipf: float = 0.8,
    volume: float | None = None,
    slot_seconds: float = 1.0,
) -> Trace:
    """Zipf popularity whose ranks are drawn afresh every ``every`` slots."""
    volume = _check(slots, seed, volume, instance, slot_seconds)
    if int(every) != every or every < 1:
        raise InputError(f"every must be a positive number of slots, got {every!r}")
    rng = np.random.default_rng(seed)
    classes = len(instance.requests)
    demand = np.empty((int(slots), classes))
    for start in range(0, int(slots), int(every)):
        popularity = _popularity(classes, zipf, rng)
        stop = min(start + int(every), int(slots))
        demand[start:stop] = rng.poisson(volume * popularity, size=(stop - start, classes))
    params = {"seed": seed, "every": every, "zipf": zipf, "volume": volume}
    return _trace(instance, demand, "shifting", params, slot_seconds)


def diurnal_trace(
    instance: IdnInstance,
    *,
    slots: int,
    seed: int = 0,
    period: int = 100,
    amplitude: float = 0.5,
    zipf: float = 0.8,
    volume: float | None = None,
    slot_seconds: float = 1.0,
) -> Trace:
    """Stationary popularity; volume times ``1 + amplitude * sin(2 pi t / period)``."""
    volume = _check(slots, seed, volume, instance, slot_seconds)
    if not period > 0:
        raise InputError(f"period must be a positive number of slots, got {period!r}")
    if not 0 <= amplitude <= 1:
        raise InputError(f"amplitude must be in [0, 1], got {amplitude!r}")
    rng = np.random.default_rng(seed)
    popularity = _popularity(len(instance.requests), zipf, rng)
    level = 1.0 + amplitude * np.sin(2 * np.pi * np.arange(int(slots)) / period)
    demand = rng.poisson(volume * level[:, None] * popularity[None, :])
    params = {
        "seed": seed,
        "period": period,
        "amplitude": amplitude,
        "zipf": zipf,
        "volume": volume,
    }
    return _trace(instance, demand, "diurnal", params, slot_seconds)


def adversarial_trace(
    instance: IdnInstance,
    *,
    slots: int,
    seed: int = 0,
    volume: float | None = None,
    slot_seconds: float = 1.0,
) -> Trace:
    """Round robin over tasks (in an order drawn from ``seed``): one task asks per slot."""
    volume = _check(slots, seed, volume, instance, slot_seconds)
    rng = np.random.default_rng(seed)
    tasks = sorted({r.task for r in instance.requests})
    order = [tasks[i] for i in rng.permutation(len(tasks))]
    members = [np.array([r.task == task for r in instance.requests]) for task in order]
    demand = np.zeros((int(slots), len(instance.requests)))
    for slot in range(int(slots)):
        active = members[slot % len(members)]
        demand[slot, active] = np.round(volume / active.sum())
    params = {"seed": seed, "volume": volume, "order": order}
    return _trace(instance, demand, "adversarial", params, slot_seconds)


GENERATORS = {
    "stationary": stationary_trace,
    "shifting": shifting_trace,
    "diurnal": diurnal_trace,
    "adversarial": adversarial_trace,
}
"""Trace generators by kind."""


# ---------------------------------------------------------------------------------------
# files


def read_trace(
    instance: IdnInstance,
    path: str | Path,
    *,
    slots: int | None = None,
    slot_seconds: float = 1.0,
) -> Trace:
    """Replay a CSV or Parquet file with columns ``slot, ingress, task, count``.

    Parameters
    ----------
    instance : IdnInstance
        Gives the request classes (columns of the trace).
    path : str or Path
        The file; other columns are ignored.
    slots : int, optional
        Number of slots (default: the largest slot + 1).
    slot_seconds : float
        Slot length in seconds.

    Raises
    ------
    InputError
        At the file, line (CSV) or row, and column of the first bad value: a
        missing column, a slot that is not a non-negative integer, a count that
        is not a non-negative number, an unknown ingress, or a task that no
        request class asks at that ingress.
    """
    rows = read_table(path, ["slot", "ingress", "task", "count"])
    classes_at: dict[tuple[str, str], list[int]] = {}
    for q, request in enumerate(instance.requests):
        classes_at.setdefault((request.ingress, request.task), []).append(q)
    rates = np.array([r.rate for r in instance.requests], dtype=float)
    nodes = set(instance.node_names)
    entries: list[tuple[int, int, float]] = []
    for row in rows:
        slot = row.integer("slot", minimum=0)
        count = row.number("count", minimum=0.0)
        ingress, task = row.text("ingress"), row.text("task")
        if ingress not in nodes:
            raise row.error("ingress", f"unknown node {ingress!r}")
        members = classes_at.get((ingress, task))
        if members is None:
            raise row.error("task", f"no request class asks task {task!r} at ingress {ingress!r}")
        weights = rates[members]
        weights = (
            weights / weights.sum()
            if weights.sum() > 0
            else np.full(len(members), 1 / len(members))
        )
        entries.extend((slot, q, count * w) for q, w in zip(members, weights))

    demand = dense_demand(entries, len(instance.requests), slots, path=path)
    return _trace(instance, demand, "replay", {"file": str(path)}, slot_seconds)


def write_trace(trace: Trace, instance: IdnInstance, path: str | Path) -> Path:
    """Write ``trace`` as ``slot, ingress, task, count`` rows (CSV or Parquet, atomically).

    Classes sharing an ingress and a task are summed into one row per slot.
    """
    if trace.num_classes != len(instance.requests):
        raise InputError("the trace's classes are not the instance's request classes")
    keys = [(r.ingress, r.task) for r in instance.requests]
    distinct = sorted(set(keys))
    index = {key: i for i, key in enumerate(distinct)}
    summed = np.zeros((trace.slots, len(distinct)))
    np.add.at(summed, (slice(None), [index[k] for k in keys]), trace.demand)
    slots, columns = np.nonzero(summed)
    rows: list[dict[str, Any]] = [
        {
            "slot": int(t),
            "ingress": distinct[k][0],
            "task": distinct[k][1],
            "count": float(summed[t, k]),
        }
        for t, k in zip(slots, columns)
    ]
    return write_table(path, ["slot", "ingress", "task", "count"], rows)
