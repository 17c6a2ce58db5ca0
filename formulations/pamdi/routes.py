r"""A source's splits grouped by route: the devices it visits, in order.

A split is a *route* (distinct devices ``d_1 .. d_m``, the first taking layer 0)
and cut points ``0 = c_0 < c_1 < .. < c_m = L``. Under the costs of an
:class:`~idnopt.formulations.pamdi.branch.Increments` table, the cheapest cut
points of a fixed route are a shortest path over (position on the route,
boundary): ``forward[i][b]`` is the least cost of the first ``i`` segments ending
at boundary ``b``, ``backward[i][b]`` the least cost of the rest from there. Routes
are enumerated depth-first, a prefix pruned where ``min_b forward[i][b] +
to_go[b, d_i]`` exceeds the threshold (``to_go`` the table's costs-to-go without
the used set, a lower bound). For each route the least cost, every split below
the threshold (cheapest first) and the *floor* of each device - the least
segment time on it over those splits - are available; the floors give one
bound for all the route's splits (``THEORY.md`` section 4).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from idnopt.formulations.pamdi.branch import Increments, segment_times
from idnopt.formulations.pamdi.compiled import Compiled


@dataclass
class Route:
    """One route of a source below a threshold.

    Attributes
    ----------
    devices : tuple of int
        Devices in visiting order.
    cost : float
        Least cost of a split along the route.
    forward : list of numpy.ndarray
        ``forward[i][b]``: least cost of the first ``i`` segments ending at boundary ``b``
        (``forward[0]`` is 0 at ``b = 0``).
    """

    devices: tuple[int, ...]
    cost: float
    forward: list[np.ndarray]


def _relaxed_to_go(table: Increments) -> np.ndarray:
    """``(L + 1, D)`` costs-to-go without the used set (a lower bound for any used set)."""
    return table.to_go.min(axis=2)


def enumerate_routes(
    compiled: Compiled,
    source: int,
    table: Increments,
    threshold: float,
    fresh: list[list[int]] | None = None,
) -> Iterator[Route]:
    """Routes of ``source`` whose cheapest split costs at most ``threshold``.

    Devices of one ``fresh`` group are entered lowest unused first (see
    :func:`~idnopt.formulations.pamdi.branch.enumerate_splits`).

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    source : int
        The source whose splits are routed.
    table : Increments
        Segment costs and costs-to-go of ``source`` at the node.
    threshold : float
        Largest cost kept.
    fresh : list of list of int, optional
        Groups of interchangeable unused devices.

    Yields
    ------
    Route
        In depth-first order.
    """
    chain = compiled.chains[source]
    length, origin = chain.length, int(compiled.origin[source])
    transfer = compiled.weight[source] * chain.transfer
    to_go = _relaxed_to_go(table)
    group_of = {device: group for group in fresh or [] for device in group}
    start = np.full(length + 1, np.inf)
    start[0] = 0.0
    lower = np.tril(np.ones((length + 1, length + 1), dtype=bool))  # e <= b: no segment

    def extend(route: list[int], forward: list[np.ndarray], here: int, used: int):
        done = forward[-1]
        for target in range(compiled.num_devices):
            if used & (1 << target):
                continue
            group = group_of.get(target)
            if group is not None and target != min(d for d in group if not used & (1 << d)):
                continue
            reach = done + transfer[:, here, target]
            cost = reach[:, None] + table.segment[:, :, target]
            cost[lower] = np.inf
            after = cost.min(axis=0)
            finish = after[length] + transfer[length, target, origin]
            steps = [*forward, after]
            if finish <= threshold:
                yield Route((*route, target), float(finish), steps)
            if (after[:length] + to_go[:length, target]).min() <= threshold:
                yield from extend([*route, target], steps, target, used | (1 << target))

    yield from extend([], [start], origin, 0)


def route_backward(compiled: Compiled, source: int, table: Increments, route: Route) -> list:
    """``backward[i][b]``: least cost after the first ``i`` segments end at boundary ``b``.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    source : int
        The source whose splits are routed.
    table : Increments
        Segment costs and costs-to-go of ``source`` at the node.
    route : Route
        The route.

    Returns
    -------
    list of numpy.ndarray
        ``len(route.devices) + 1`` arrays of ``L + 1`` costs.
    """
    chain = compiled.chains[source]
    length, origin = chain.length, int(compiled.origin[source])
    transfer = compiled.weight[source] * chain.transfer
    devices = route.devices
    backward = [np.full(length + 1, np.inf) for _ in range(len(devices) + 1)]
    backward[-1][length] = transfer[length, devices[-1], origin]
    lower = np.tril(np.ones((length + 1, length + 1), dtype=bool))
    for i in range(len(devices) - 1, -1, -1):
        device = devices[i]
        before = devices[i - 1] if i else origin
        cost = table.segment[:, :, device] + backward[i + 1][None, :]
        cost[lower] = np.inf
        backward[i] = transfer[:, before, device] + cost.min(axis=1)
    return backward


def route_floors(
    compiled: Compiled, source: int, table: Increments, route: Route, threshold: float
) -> np.ndarray:
    """``(D,)`` least segment time on each device of ``route`` over its splits below ``threshold``.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    source : int
        The source whose splits are routed.
    table : Increments
        Segment costs and costs-to-go of ``source`` at the node.
    route : Route
        The route.
    threshold : float
        Largest cost of a split counted.

    Returns
    -------
    numpy.ndarray
        Zero off the route; ``inf`` on its devices when no split is below ``threshold``.
    """
    backward = route_backward(compiled, source, table, route)
    times = segment_times(compiled, source)
    transfer = compiled.weight[source] * compiled.chains[source].transfer
    origin = int(compiled.origin[source])
    floors = np.zeros(compiled.num_devices)
    lower = np.tril(np.ones(times.shape[:2], dtype=bool))
    for i, device in enumerate(route.devices):
        before = route.devices[i - 1] if i else origin
        reach = route.forward[i] + transfer[:, before, device]
        total = reach[:, None] + table.segment[:, :, device] + backward[i + 1][None, :]
        total[lower] = np.inf
        feasible = total <= threshold
        floors[device] = times[:, :, device][feasible].min() if feasible.any() else np.inf
    return floors


def route_splits(
    compiled: Compiled, source: int, table: Increments, route: Route, threshold: float
) -> list[tuple[float, np.ndarray]]:
    """Every split along ``route`` of cost at most ``threshold``, cheapest first.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    source : int
        The source whose splits are routed.
    table : Increments
        Segment costs and costs-to-go of ``source`` at the node.
    route : Route
        The route.
    threshold : float
        Largest cost kept.

    Returns
    -------
    list of (float, numpy.ndarray)
        Cost and device of each layer.
    """
    chain = compiled.chains[source]
    length, origin = chain.length, int(compiled.origin[source])
    transfer = compiled.weight[source] * chain.transfer
    backward = route_backward(compiled, source, table, route)
    devices = route.devices
    found: list[tuple[float, np.ndarray]] = []
    split = np.empty(length, dtype=np.int64)

    def place(i: int, boundary: int, spent: float) -> None:
        device = devices[i]
        before = devices[i - 1] if i else origin
        move = spent + transfer[boundary, before, device]
        last = i == len(devices) - 1
        ends = [length] if last else range(boundary + 1, length)
        for end in ends:
            cost = move + table.segment[boundary, end, device]
            if cost + backward[i + 1][end] > threshold:
                continue
            split[boundary:end] = device
            if last:
                found.append((float(cost + transfer[length, device, origin]), split.copy()))
            else:
                place(i + 1, end, float(cost))

    place(0, 0, 0.0)
    found.sort(key=lambda item: item[0])
    return found


ROUTE_BAND = 400
"""Most routes gathered, priced and sorted at a time (see :func:`route_bands`)."""


def route_bands(
    compiled: Compiled,
    source: int,
    table: Increments,
    threshold: float,
    fresh: list[list[int]] | None = None,
) -> Iterator[tuple[float, float, list[Route]]]:
    """The routes of :func:`enumerate_routes` up to ``threshold``, band by band.

    Each band holds the routes of least cost in ``(low, high]``, at most
    :data:`ROUTE_BAND` of them (halved until it fits, unless they tie), sorted by
    cost; bands follow in increasing order and cover every route up to
    ``threshold``, so every route after an unfinished band costs more than its
    ``high``. Without a finite threshold, routes come in chunks in search order
    with ``high`` the table's least cost (a bound for every route).

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    source : int
        The source whose splits are routed.
    table : Increments
        Segment costs and costs-to-go of ``source`` at the node.
    threshold : float
        Largest cost kept.
    fresh : list of list of int, optional
        Groups of interchangeable unused devices.

    Yields
    ------
    tuple of (float, float, list of Route)
        ``low``, ``high`` and the band's routes.
    """
    if not math.isfinite(threshold):
        found = enumerate_routes(compiled, source, table, threshold, fresh)
        while band := list(itertools.islice(found, ROUTE_BAND)):
            yield -math.inf, table.best, sorted(band, key=lambda route: route.cost)
        return
    low, width = -math.inf, math.inf
    while low < threshold:
        floor = max(low, table.best)
        high = min(threshold, floor + width)
        while True:
            found = (
                route
                for route in enumerate_routes(compiled, source, table, high, fresh)
                if route.cost > low
            )
            band = list(itertools.islice(found, ROUTE_BAND + 1))
            if len(band) <= ROUTE_BAND:
                break
            if high - floor <= 1e-12 * max(1.0, abs(floor)):  # ties: take them all
                band.extend(found)
                break
            high = floor + (high - floor) / 2
        yield low, high, sorted(band, key=lambda route: route.cost)
        width = 2 * (high - floor)
        low = high
