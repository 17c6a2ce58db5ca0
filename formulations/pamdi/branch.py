r"""Pricing for the branch-and-bound of :mod:`.search`: bounds, costs-to-go, split enumeration.

A node of the search fixes the splits of some sources (the *assigned* set ``A``).

Bound. With every split fixed, let ``F(T)`` be the objective counting only the
sources of a set ``T`` (their compute, transfers and waits among themselves).
``F`` is supermodular: adding a source adds load and residual work to the
devices it visits, every wait (Cobham or Pollaczek-Khinchine) is increasing in
both, and so is the *increase* of every wait caused by one more source (the
derivatives of :math:`R / ((1-a-\alpha)(1-b-\beta)) - R/((1-a)(1-b))` in ``R``,
``a`` and ``b`` are non-negative). Hence for the unassigned sources ``U``

.. math:: F(A \cup U) \ge F(A) + \sum_{j \in U} \min_{split_j} [F(A \cup \{j\}) - F(A)],

and each minimum is a shortest path over states ``(boundary, device holding the
data, devices used)`` whose segment edges cost exactly that increase
(:func:`device_increase`, :func:`increments`). The set of devices used is
tracked while :data:`EXACT_STATES` allows; beyond, paths may return to a device
(a relaxation, still a bound).

Enumeration. The valid splits (distinct devices) of one source whose cost stays
below a threshold are enumerated by depth-first search pruned with the
costs-to-go, cheapest first, entering interchangeable unused devices in index
order only (:func:`enumerate_splits`); the best valid split is the cheapest
path when it never returns to a device, else the pruned search
(:func:`best_split`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from idnopt.formulations.pamdi.compiled import Compiled
from idnopt.formulations.pamdi.delay import segments


def device_increase(
    compiled: Compiled,
    service: np.ndarray,
    source: int,
    times: np.ndarray,
    devices: np.ndarray | None = None,
) -> np.ndarray:
    """Increase of the objective when ``source`` runs a segment of each time in ``times``.

    The source's weighted compute time plus the change of every source's
    weighted wait at the device (the other sources' segments, rows of ``service``,
    fixed; the source's own row is ignored). ``times`` has shape ``(D, n)``; so
    has the result, ``inf`` where the device's load would exceed ``max_load``.
    With ``devices``, ``times`` has one row per device listed and only those
    devices are priced.
    """
    klass = compiled.klass
    rate, weight = compiled.rate, compiled.weight
    others = service.copy() if devices is None else service[:, devices]
    others[source] = 0.0
    visits = others > 0
    num_classes = compiled.num_classes
    class_load = np.zeros((num_classes, others.shape[1]))
    np.add.at(class_load, klass, rate[:, None] * others)
    class_weight = np.zeros((num_classes, others.shape[1]))
    np.add.at(class_weight, klass, weight[:, None] * visits)
    residual = 0.5 * compiled.second_moment * (rate[:, None] * others**2).sum(axis=0)
    cumulative = np.cumsum(class_load, axis=0)
    own = int(klass[source])
    extra = rate[source] * times
    total_residual = residual[:, None] + 0.5 * compiled.second_moment * rate[source] * times**2
    cost = weight[source] * times
    zero = np.zeros_like(times)
    for k in range(num_classes):
        above = (cumulative[k - 1][:, None] if k else 0.0) + (extra if own <= k - 1 else zero)
        upto = cumulative[k][:, None] + (extra if own <= k else zero)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(upto < 1.0, 1.0 / ((1.0 - above) * (1.0 - upto)), np.inf)
        base_above = cumulative[k - 1][:, None] if k else 0.0
        base = residual[:, None] / ((1.0 - base_above) * (1.0 - cumulative[k][:, None]))
        count = class_weight[k][:, None] + (weight[source] * (times > 0) if k == own else 0.0)
        with np.errstate(invalid="ignore"):
            cost = cost + count * total_residual * factor - class_weight[k][:, None] * base
    overload = cumulative[-1][:, None] + extra > compiled.max_load
    return np.where(overload, np.inf, np.nan_to_num(cost, nan=np.inf))


EXACT_STATES = 4_000_000
"""Largest ``(L + 1)^2 * D * 2^D`` for which costs-to-go track the devices already used
(exact over splits that never return to a device); above it they are relaxed."""


@dataclass
class Increments:
    """One unassigned source's shortest paths given the assigned sources.

    Attributes
    ----------
    segment : numpy.ndarray
        ``(L + 1, L + 1, D)`` increase of the objective when layers ``b .. e - 1``
        run on ``d`` (``inf`` where infeasible or ``e <= b``).
    to_go : numpy.ndarray
        ``(L + 1, D, M)`` least cost from "boundary ``b`` done, data on ``d``, devices
        of bit mask ``m`` used" to the end. With ``M = 2^D`` it is exact over splits
        that never return to a device; with ``M = 1`` the mask is ignored and
        paths may return (a relaxation).
    best : float
        Least increase over the paths ``to_go`` ranges over.
    """

    segment: np.ndarray
    to_go: np.ndarray
    best: float

    @property
    def exact(self) -> bool:
        """Whether the costs-to-go exclude returning to a device."""
        return self.to_go.shape[2] > 1

    def ahead(self, boundary: int, devices, masks) -> np.ndarray:
        """Costs-to-go from boundary ``boundary`` on ``devices`` with used ``masks``."""
        if not self.exact:
            masks = 0
        return self.to_go[boundary, devices, masks]


_TIMES: dict[tuple, tuple] = {}
"""Recent :func:`segment_times` arrays by (chain, speeds); each entry keeps its chain alive."""


def segment_times(compiled: Compiled, source: int) -> np.ndarray:
    """``(L + 1, L + 1, D)`` compute time of layers ``b .. e - 1`` of ``source`` on each device.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    source : int
        The source.

    Returns
    -------
    numpy.ndarray
        Zero where ``e <= b`` (no segment). The array is shared and read-only.
    """
    chain = compiled.chains[source]
    key = (id(chain), compiled.speed.tobytes())
    cached = _TIMES.get(key)
    if cached is not None and cached[0] is chain:
        return cached[1]
    work = chain.cumulative[None, :] - chain.cumulative[:, None]
    times = np.where(work > 0, work, 0.0)[:, :, None] / compiled.speed[None, None, :]
    times.setflags(write=False)
    if len(_TIMES) >= 8:
        _TIMES.pop(next(iter(_TIMES)))
    _TIMES[key] = (chain, times)
    return times


def increments(
    compiled: Compiled,
    service: np.ndarray,
    source: int,
    parent: Increments | None = None,
    changed: np.ndarray | None = None,
) -> Increments:
    """Segment costs and costs-to-go of ``source`` given the sources in ``service``.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    service : numpy.ndarray
        ``(S, D)`` segment times of the sources placed so far.
    source : int
        The source priced.
    parent, changed : optional
        Plain increments of ``source`` for a ``service`` that differs from this
        one only in the columns ``changed``: only those devices are re-priced
        (a segment's cost depends on its own device's column only).

    Returns
    -------
    Increments
        Segment costs and shortest paths.
    """
    count = compiled.num_devices
    times = segment_times(compiled, source)
    if parent is None or changed is None:
        flat = times.reshape(-1, count).T
        cost = device_increase(compiled, service, source, flat).T.reshape(times.shape)
        segment = np.where(times > 0, cost, np.inf)
    else:
        segment = parent.segment.copy()
        if changed.size:
            part = times[:, :, changed]
            flat = part.reshape(-1, changed.size).T
            cost = device_increase(compiled, service, source, flat, changed).T
            segment[:, :, changed] = np.where(part > 0, cost.reshape(part.shape), np.inf)
    return shortest_paths(compiled, source, segment)


def shortest_paths(compiled: Compiled, source: int, segment: np.ndarray) -> Increments:
    """Costs-to-go of ``source`` for the segment costs ``segment`` (see :class:`Increments`).

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    source : int
        The source whose paths are priced.
    segment : numpy.ndarray
        ``(L + 1, L + 1, D)`` cost of each segment (``inf`` where there is none).

    Returns
    -------
    Increments
        Segment costs, costs-to-go and the least path cost.
    """
    chain = compiled.chains[source]
    length, weight, count = chain.length, compiled.weight[source], compiled.num_devices
    origin = int(compiled.origin[source])
    transfer = weight * chain.transfer
    exact = (length + 1) ** 2 * count * 2**count <= EXACT_STATES
    if not exact:
        return _relaxed_paths(segment, transfer, origin)
    masks = np.arange(2**count if exact else 1)
    bits = 1 << np.arange(count)
    entered = masks[None, :] | bits[:, None] if exact else np.zeros((count, 1), dtype=np.int64)
    free = (masks[None, :] & bits[:, None]) == 0 if exact else np.ones((count, 1), dtype=bool)
    to_go = np.full((length + 1, count, masks.size), np.inf)
    to_go[length] = transfer[length, :, origin][:, None]
    targets = np.arange(count)[:, None]
    for boundary in range(length - 1, -1, -1):
        later = to_go[boundary + 1 :][:, targets, entered]
        ahead = np.min(segment[boundary, boundary + 1 :][:, :, None] + later, axis=0)
        ahead = np.where(free, ahead, np.inf)
        moves = transfer[boundary][:, :, None] + ahead[None, :, :]
        if boundary:
            moves[np.arange(count), np.arange(count)] = np.inf
        to_go[boundary] = np.min(moves, axis=1)
    best = float(to_go[0, origin, 0])
    return Increments(segment=segment, to_go=to_go, best=best)


def _relaxed_paths(segment: np.ndarray, transfer: np.ndarray, origin: int) -> Increments:
    """:func:`shortest_paths` without the used set (the same recursion, plain arrays)."""
    length, count = segment.shape[0] - 1, segment.shape[2]
    to_go = np.full((length + 1, count), np.inf)
    to_go[length] = transfer[length, :, origin]
    diagonal = np.arange(count)
    for boundary in range(length - 1, -1, -1):
        ahead = (segment[boundary, boundary + 1 :] + to_go[boundary + 1 :]).min(axis=0)
        moves = transfer[boundary] + ahead[None, :]
        if boundary:
            moves[diagonal, diagonal] = np.inf
        to_go[boundary] = moves.min(axis=1)
    return Increments(segment=segment, to_go=to_go[:, :, None], best=float(to_go[0, origin]))


def split_increase(
    compiled: Compiled, table: Increments, source: int, devices: np.ndarray
) -> float:
    """The increase of one given split of ``source`` under ``table`` (its path's cost).

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    table : Increments
        The source's segment costs given the other sources' loads.
    source : int
        The source.
    devices : numpy.ndarray
        Device of each layer.

    Returns
    -------
    float
        Weighted compute, waits added and weighted transfers of the split.
    """
    chain = compiled.chains[source]
    transfer = compiled.weight[source] * chain.transfer
    origin = int(compiled.origin[source])
    total, here, start = 0.0, origin, 0
    for index in range(1, chain.length + 1):
        if index == chain.length or devices[index] != devices[start]:
            device = int(devices[start])
            total += transfer[start, here, device] + table.segment[start, index, device]
            here, start = device, index
    return float(total + transfer[chain.length, here, origin])


def source_service(compiled: Compiled, split) -> np.ndarray:
    """``(S, D)`` segment compute time of every source of ``split`` on every device."""
    service = np.zeros((compiled.num_sources, compiled.num_devices))
    for source, devices in enumerate(split):
        devices = np.asarray(devices, dtype=np.int64)
        np.add.at(service[source], devices, compiled.chains[source].work / compiled.speed[devices])
    return service


def shared_load(compiled: Compiled, split) -> np.ndarray:
    r"""How much two sources' splits load the same devices.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    split : Split
        Device of each layer, per source.

    Returns
    -------
    numpy.ndarray
        ``(S, S)`` :math:`\sum_d \rho_{j,d}\rho_{k,d}` for the loads
        :math:`\rho_{j,d}` source ``j``'s segments put on device ``d`` (the
        diagonal: each source with itself).
    """
    load = compiled.rate[:, None] * source_service(compiled, split)
    return load @ load.T


def fresh_groups(compiled: Compiled, service: np.ndarray) -> list[list[int]]:
    """Interchangeable devices no source of ``service`` uses yet, grouped (two or more)."""
    unused = service.sum(axis=0) == 0
    groups = [[d for d in group if unused[d]] for group in compiled.interchangeable]
    return [group for group in groups if len(group) > 1]


def enumerate_splits(
    compiled: Compiled,
    source: int,
    table: Increments,
    threshold: float,
    fresh: list[list[int]] | None = None,
    *,
    improving: bool = False,
) -> Iterator[tuple[float, np.ndarray]]:
    """Valid splits of ``source`` whose increase is at most ``threshold``, in search order.

    Depth-first over (device, last layer) choices, never returning to a device,
    pruned where the cost so far plus the cost-to-go exceeds ``threshold``;
    the most promising device is tried first. Devices of one ``fresh`` group are
    interchangeable: only the lowest one not yet used by this split may be
    entered (the others give relabelled copies). With ``improving``, each split
    yielded lowers the threshold to its own increase (the last one is the best).

    Yields
    ------
    tuple of (float, numpy.ndarray)
        Increase of the objective and the split.
    """
    chain = compiled.chains[source]
    length, origin, count = chain.length, int(compiled.origin[source]), compiled.num_devices
    transfer = compiled.weight[source] * chain.transfer
    devices = np.empty(length, dtype=np.int64)
    group_of = {device: group for group in fresh or [] for device in group}
    bits = 1 << np.arange(count)
    every = np.arange(count)
    limit = [float(threshold)]

    def visit(boundary: int, here: int, used: int, spent: float):
        moves = spent + transfer[boundary, here]
        segment = table.segment[boundary, boundary + 1 :]
        ahead = segment + table.ahead(slice(boundary + 1, None), every, used | bits)
        promise = moves + ahead.min(axis=0)
        for target in np.argsort(promise, kind="stable"):
            target = int(target)
            if promise[target] > limit[0]:
                break
            if used & (1 << target):
                continue
            group = group_of.get(target)
            if group is not None and target != min(d for d in group if not used & (1 << d)):
                continue
            for offset in np.flatnonzero(moves[target] + ahead[:, target] <= limit[0]):
                total = moves[target] + segment[offset, target]
                end = boundary + 1 + int(offset)
                devices[boundary:end] = target
                if end == length:
                    final = float(total + transfer[length, target, origin])
                    if final <= limit[0]:
                        if improving:
                            limit[0] = final
                        yield final, devices.copy()
                elif total + table.ahead(end, target, used | (1 << target)) <= limit[0]:
                    yield from visit(end, target, used | (1 << target), float(total))

    yield from visit(0, origin, 0, 0.0)


def cheapest_path(compiled: Compiled, source: int, table: Increments) -> np.ndarray:
    """The cheapest path of ``table`` (one that never returns to a device if it is exact)."""
    chain = compiled.chains[source]
    transfer = compiled.weight[source] * chain.transfer
    devices = np.empty(chain.length, dtype=np.int64)
    every = np.arange(compiled.num_devices)
    bits = 1 << every
    here, boundary, used = int(compiled.origin[source]), 0, 0
    while boundary < chain.length:
        moves = transfer[boundary, here].copy()
        if boundary:
            moves[here] = np.inf
        if table.exact:
            moves[(used & bits) > 0] = np.inf
        options = (
            moves[None, :]
            + table.segment[boundary, boundary + 1 :]
            + table.ahead(slice(boundary + 1, None), every, used | bits)
        )
        offset, device = np.unravel_index(int(np.argmin(options)), options.shape)
        end = boundary + 1 + int(offset)
        devices[boundary:end] = device
        here, boundary, used = int(device), end, used | (1 << int(device))
    return devices


def best_split(
    compiled: Compiled,
    source: int,
    table: Increments,
    threshold: float,
    fresh: list[list[int]] | None = None,
) -> tuple[float, np.ndarray] | None:
    """The valid split of least increase below ``threshold`` (``None`` if there is none).

    The cheapest path of the shortest-path table is taken when it never returns
    to a device (always, when the table is exact: it is then the best valid
    split); otherwise the pruned search runs.
    """
    if table.best > threshold:
        return None
    path = cheapest_path(compiled, source, table)
    runs = [device for device, _, _ in segments(path)]
    if len(runs) == len(set(runs)):
        return table.best, path
    found = None
    for candidate in enumerate_splits(compiled, source, table, threshold, fresh, improving=True):
        found = candidate
    return found
