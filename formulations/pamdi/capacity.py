r"""A capacity-aware lower bound: device loads priced by a Lagrangian (``THEORY.md`` section 4).

The root bound of :mod:`.search` prices every source alone, so it never sees
that sources crowding onto the same fast devices make each other wait. Here
each device's waiting cost is also bounded below by a function of its loads
alone. Group the sources by (priority class, priority weight) — under
``priority`` queueing the groups are the classes. With ``σ_g`` the load of
group ``g`` at a device, ``c_g = E[X²] γ_g / (2 Σ_r γ_r λ_r)`` and Cobham's
factor ``φ_g = 1 / ((1 − σ_{<k_g})(1 − σ_{≤k_g}))`` of the group's class,

.. math:: G_d \ge \Phi_d(\sigma) = \sum_g c_g \, \sigma_g^2 \, \varphi_g(\sigma),

and, by supermodularity, ``G_d ≥`` the sum of the sources' waits alone. For
any ``θ_d ∈ [0, 1]`` the objective is at least the modular part plus
``θ_d ·`` (waits alone) ``+ (1 − θ_d) Φ_d(σ_d)``; pricing the loads
``σ_{g,d} = Σ_{s ∈ g} λ_s S_{s,d}`` with free multipliers ``μ_{g,d}`` makes the
bound separable — one shortest path per source with segment costs
``a_s S + θ_d · wait alone + μ_{g,d} λ_s S``, one small minimisation per device
— and every ``(θ, μ)`` gives a valid bound. The device minimisation is bounded
below on a grid of cells (``Φ`` at a cell's lower corner, the linear term at
its worst corner), so no solver tolerance enters. The dual is maximised by
projected subgradient steps (Polyak's step towards the incumbent).
"""

from __future__ import annotations

import math
import time

import numpy as np

from idnopt.formulations.pamdi.branch import (
    cheapest_path,
    increments,
    segment_times,
    shortest_paths,
)
from idnopt.formulations.pamdi.compiled import Compiled
from idnopt.formulations.pamdi.delay import segments

GRID = 200
"""Cells per load axis of the device minimisation."""

MAX_GROUPS = 2
"""Most (class, priority) groups handled; above it no bound is computed."""


class CapacityBound:
    """The Lagrangian dual of the load-priced bound of one instance.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays (at most :data:`MAX_GROUPS` groups).
    grid : int
        Cells per load axis of the device minimisation.
    """

    def __init__(self, compiled: Compiled, grid: int = GRID) -> None:
        self.compiled = compiled
        num_sources, num_devices = compiled.num_sources, compiled.num_devices
        keys = sorted({(int(k), float(p)) for k, p in zip(compiled.klass, compiled.priority)})
        if len(keys) > MAX_GROUPS:
            raise ValueError(f"at most {MAX_GROUPS} (class, priority) groups, got {len(keys)}")
        self.classes = np.array([k for k, _ in keys])
        self.group = np.array(
            [keys.index((int(k), float(p))) for k, p in zip(compiled.klass, compiled.priority)]
        )
        self.coefficient = np.zeros(len(keys))
        for s in range(num_sources):
            self.coefficient[self.group[s]] = (
                0.5 * compiled.second_moment * compiled.weight[s] / compiled.rate[s]
            )
        self.times = [segment_times(compiled, s) for s in range(num_sources)]
        empty = np.zeros((num_sources, num_devices))
        self.alone = []
        for s in range(num_sources):
            wait = increments(compiled, empty, s).segment - compiled.weight[s] * self.times[s]
            self.alone.append(np.where(np.isfinite(wait), wait, np.inf))
        edges = np.linspace(0.0, compiled.max_load, grid + 1)
        axes_low = np.meshgrid(*[edges[:-1]] * len(keys), indexing="ij")
        axes_high = np.meshgrid(*[edges[1:]] * len(keys), indexing="ij")
        low = np.stack([axis.ravel() for axis in axes_low], axis=1)
        high = np.stack([axis.ravel() for axis in axes_high], axis=1)
        keep = low.sum(axis=1) <= compiled.max_load
        self.low, self.high = low[keep], high[keep]
        self.phi_low = self.phi(self.low)

    def phi(self, load: np.ndarray) -> np.ndarray:
        """``Φ`` at group loads ``load`` of shape ``(..., groups)``.

        Parameters
        ----------
        load : numpy.ndarray
            Loads of the groups (last axis) at one device.

        Returns
        -------
        numpy.ndarray
            The lower bound of the device's weighted waiting cost.
        """
        value = np.zeros(load.shape[:-1])
        for g, klass in enumerate(self.classes):
            above = load[..., self.classes < klass].sum(axis=-1)
            upto = load[..., self.classes <= klass].sum(axis=-1)
            value = value + self.coefficient[g] * load[..., g] ** 2 / ((1 - above) * (1 - upto))
        return value

    def dual(self, theta: np.ndarray, price: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """The bound at ``(θ, μ)`` and a supergradient.

        Parameters
        ----------
        theta : numpy.ndarray
            ``(D,)`` weights in ``[0, 1]`` of the waits alone.
        price : numpy.ndarray
            ``(groups, D)`` multipliers of the group loads.

        Returns
        -------
        tuple
            The bound, its supergradient in ``θ`` and in ``μ``.
        """
        compiled = self.compiled
        total = 0.0
        load = np.zeros_like(price)
        alone = np.zeros(compiled.num_devices)
        for s in range(compiled.num_sources):
            times, group = self.times[s], self.group[s]
            usable = np.isfinite(self.alone[s]) & (times > 0)
            wait = np.where(usable, self.alone[s], 0.0)
            own = (compiled.weight[s] + price[group] * compiled.rate[s]) * times
            cost = own + theta * wait
            table = shortest_paths(compiled, s, np.where(usable, cost, np.inf))
            total += table.best
            for device, first, last in segments(cheapest_path(compiled, s, table)):
                load[group, device] += compiled.rate[s] * times[first, last + 1, device]
                alone[device] += wait[first, last + 1, device]
        grad_theta = np.zeros_like(theta)
        grad_price = np.zeros_like(price)
        for d in range(compiled.num_devices):
            worst = np.where(price[:, d] > 0, self.high * price[:, d], self.low * price[:, d])
            values = (1 - theta[d]) * self.phi_low - worst.sum(axis=1)
            cell = int(np.argmin(values))
            total += float(values[cell])
            middle = 0.5 * (self.low[cell] + self.high[cell])
            grad_theta[d] = alone[d] - float(self.phi(middle))
            grad_price[:, d] = load[:, d] - middle
        return total, grad_theta, grad_price


def capacity_bound(
    compiled: Compiled,
    upper: float,
    *,
    iterations: int = 150,
    deadline: float | None = None,
) -> float:
    """The best load-priced Lagrangian bound found by subgradient ascent.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    upper : float
        An incumbent's objective (the target of Polyak's step).
    iterations : int
        Most subgradient steps.
    deadline : float, optional
        ``time.perf_counter()`` value at which the ascent stops.

    Returns
    -------
    float
        A lower bound on the optimum (``-inf`` when the instance has more than
        :data:`MAX_GROUPS` groups or ``upper`` is not finite).
    """
    groups = {(int(k), float(p)) for k, p in zip(compiled.klass, compiled.priority)}
    if len(groups) > MAX_GROUPS or not math.isfinite(upper):
        return -math.inf
    problem = CapacityBound(compiled)
    theta = np.ones(compiled.num_devices)
    price = np.zeros((len(groups), compiled.num_devices))
    best, scale, stall = -math.inf, 1.0, 0
    kept = (theta, price)
    for _ in range(iterations):
        if deadline is not None and time.perf_counter() > deadline:
            break
        value, grad_theta, grad_price = problem.dual(theta, price)
        if value > best + 1e-9:
            best, stall, kept = value, 0, (theta, price)
        else:
            stall += 1
            if stall >= 10:  # shorten the step and restart from the best point
                scale, stall = scale / 1.5, 0
                theta, price = kept
                continue
        norm = float((grad_theta**2).sum() + (grad_price**2).sum())
        if norm == 0.0 or best >= upper:
            break
        step = scale * (upper - value) / norm
        theta = np.clip(theta + step * grad_theta, 0.0, 1.0)
        price = price + step * grad_price
    return best
