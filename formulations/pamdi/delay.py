r"""The PA-MDI delay model: what one split of every source's chain costs.

Statement
---------
A *split* gives, for every source ``s`` and every layer of its chain, the
device that computes it; every device computes at most one contiguous range of
a source's layers (a *segment*). Requests of source ``s`` arrive at its device
``o_s`` as a Poisson process of rate :math:`\lambda_s`. A request

1. moves the input to the device of the first segment, then runs segment after
   segment, moving each segment's output to the next segment's device, and
   returns the result to ``o_s``; a move of ``b`` MB from ``i`` to ``j`` takes the
   cheapest network path, :math:`\tau_b(i, j) = \min_{path} \sum_{links}
   (\text{latency} + 8000\, b / \text{bandwidth})` ms (links are not congested);
2. at every device ``d`` it visits, waits in the device's queue, then is served
   for :math:`S_{s,d} = X \cdot \sum_{l \in seg} t_l / v_d` ms (``t_l`` the layer's
   time on the profiled hardware, :math:`v_d` the device speed, ``X`` a factor with
   mean 1 and :math:`E[X^2] = 1 + c_v^2`).

Each device is a single non-preemptive server. Arrivals at every device are
treated as Poisson (exact for first segments, Kleinrock's independence
approximation for later ones), so each device is an M/G/1 queue with
utilisation :math:`\rho_d = \sum_s \lambda_s S_{s,d} \le \rho_{max} < 1` and mean
residual work :math:`R_d = \sum_s \lambda_s E[S_{s,d}^2] / 2`.

* ``queueing: priority`` - non-preemptive priority, classes by priority weight
  (higher first, equal weights share a class, FIFO inside a class). Cobham:
  :math:`W_{k,d} = R_d / ((1 - \sigma_{k-1,d})(1 - \sigma_{k,d}))` with
  :math:`\sigma_{k,d}` the load of classes ``0 .. k`` at ``d``.
* ``queueing: fifo`` - one class, Pollaczek-Khinchine :math:`W_d = R_d / (1 - \rho_d)`.

The latency of a request of ``s`` is
:math:`T_s = \sum_d y_{s,d}(S_{s,d} + W_{k_s,d}) + \sum_b \tau_b(\cdot)` with
:math:`y_{s,d} = 1` when ``s`` has a segment on ``d``. The objective is the
priority-weighted mean over requests,
:math:`J = \sum_s \gamma_s \lambda_s T_s / \sum_s \gamma_s \lambda_s` (ms).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from idnopt.formulations.pamdi.compiled import Compiled

Split = tuple[np.ndarray, ...]
"""One integer array per source: the device of each layer."""

LOAD_SLACK = 1e-9
"""Utilisation above ``max_load`` tolerated as rounding."""


@dataclass(frozen=True, eq=False)
class Evaluation:
    """A split and what the delay model says of it.

    Attributes
    ----------
    split : Split
        Device of every layer of every source.
    service : numpy.ndarray
        ``(S, D)`` mean segment compute time (0 where the source has no segment).
    visits : numpy.ndarray
        ``(S, D)`` whether the source has a segment on the device.
    wait : numpy.ndarray
        ``(S, D)`` mean wait of the source's requests at the device (0 without a segment).
    transfer : numpy.ndarray
        ``(S,)`` network time of a request (input, cuts, result).
    latency : numpy.ndarray
        ``(S,)`` mean latency of a request.
    load : numpy.ndarray
        ``(D,)`` utilisation of each device.
    memory : numpy.ndarray
        ``(D,)`` weight memory in use on each device.
    objective : float
        Priority-weighted mean latency (``inf`` when infeasible).
    problem : str
        Why the split is infeasible (empty when feasible).
    """

    split: Split
    service: np.ndarray
    visits: np.ndarray
    wait: np.ndarray
    transfer: np.ndarray
    latency: np.ndarray
    load: np.ndarray
    memory: np.ndarray
    objective: float
    problem: str = ""

    @property
    def feasible(self) -> bool:
        """Whether the split meets every constraint."""
        return not self.problem

    @property
    def compute(self) -> np.ndarray:
        """``(S,)`` compute time of a request."""
        return self.service.sum(axis=1)

    @property
    def waiting(self) -> np.ndarray:
        """``(S,)`` queueing time of a request."""
        return self.wait.sum(axis=1)


def waiting_times(
    service: np.ndarray,
    visits: np.ndarray,
    rate: np.ndarray,
    klass: np.ndarray,
    second_moment: float,
    queueing: str = "priority",
) -> np.ndarray:
    """Mean wait of each source at each device (Cobham, or Pollaczek-Khinchine for FIFO).

    Parameters
    ----------
    service : numpy.ndarray
        ``(S, D)`` mean service time of each source's segment (ms).
    visits : numpy.ndarray
        ``(S, D)`` whether the source has a segment there.
    rate : numpy.ndarray
        ``(S,)`` arrival rates per ms.
    klass : numpy.ndarray
        ``(S,)`` priority class, 0 the highest.
    second_moment : float
        ``E[X^2]`` of the service factor.
    queueing : {"priority", "fifo"}
        Discipline.

    Returns
    -------
    numpy.ndarray
        ``(S, D)`` waits (``inf`` where a class' cumulative load reaches 1, 0
        where the source does not visit).
    """
    load = rate[:, None] * service
    residual = 0.5 * second_moment * (rate[:, None] * service**2).sum(axis=0)
    if queueing == "fifo":
        klass = np.zeros_like(klass)
    classes = int(klass.max()) + 1 if klass.size else 1
    per_class = np.zeros((classes, service.shape[1]))
    np.add.at(per_class, klass, load)
    cumulative = np.cumsum(per_class, axis=0)
    above = np.vstack([np.zeros((1, service.shape[1])), cumulative[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = 1.0 / ((1.0 - above) * (1.0 - cumulative))
        factor = np.where((cumulative < 1.0) & (above < 1.0), factor, np.inf)
        per_class_wait = residual[None, :] * factor
        wait = per_class_wait[klass]
    return np.where(visits, wait, 0.0)


def segments(devices: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of one split chain as ``(device, first layer, last layer)``.

    Parameters
    ----------
    devices : numpy.ndarray
        Device of each layer of one chain.

    Returns
    -------
    list of tuple
        Maximal runs of equal devices, in chain order.
    """
    devices = np.asarray(devices)
    if devices.size == 0:
        return []
    starts = np.flatnonzero(np.concatenate([[True], devices[1:] != devices[:-1]]))
    ends = np.concatenate([starts[1:] - 1, [devices.size - 1]])
    return [(int(devices[a]), int(a), int(b)) for a, b in zip(starts, ends)]


def transfer_times(compiled: Compiled, source: int, devices: np.ndarray) -> float:
    """Network time of one request of ``source`` under the split ``devices``."""
    chain = compiled.chains[source]
    origin = compiled.origin[source]
    before = np.concatenate([[origin], devices])
    after = np.concatenate([devices, [origin]])
    return float(chain.transfer[np.arange(chain.length + 1), before, after].sum())


def check_split(compiled: Compiled, split: Sequence[np.ndarray]) -> str:
    """Why ``split`` is not a split of the instance (empty when it is).

    Checks shapes, device indices and that no source returns to a device.
    """
    if len(split) != compiled.num_sources:
        return f"{len(split)} chains for {compiled.num_sources} sources"
    for source, devices in enumerate(split):
        name = compiled.source_names[source]
        devices = np.asarray(devices)
        if devices.shape != (compiled.chains[source].length,):
            return (
                f"source {name!r}: {devices.size} layers assigned, chain has "
                f"{compiled.chains[source].length}"
            )
        if devices.size and (devices.min() < 0 or devices.max() >= compiled.num_devices):
            return f"source {name!r}: device index out of range"
        runs = [device for device, _, _ in segments(devices)]
        if len(runs) != len(set(runs)):
            repeated = next(d for d in runs if runs.count(d) > 1)
            return (
                f"source {name!r} computes two separate layer ranges on "
                f"{compiled.device_names[repeated]!r}"
            )
    return ""


def evaluate_split(
    compiled: Compiled, split: Sequence[np.ndarray], *, queueing: str | None = None
) -> Evaluation:
    """Evaluate a split under the delay model (see the module docstring).

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    split : sequence of numpy.ndarray
        Device of every layer, one array per source.
    queueing : {"priority", "fifo"}, optional
        Override the instance's discipline (default: the instance's).

    Returns
    -------
    Evaluation
        Per-source latencies, loads and the objective; an infeasible split
        (unreachable device, load above ``max_load``, memory exceeded) has
        ``objective = inf`` and says why in ``problem``.

    Raises
    ------
    ValueError
        If ``split`` is not a split of the instance (see :func:`check_split`).
    """
    error = check_split(compiled, split)
    if error:
        raise ValueError(error)
    split = tuple(np.asarray(devices, dtype=np.int64) for devices in split)
    num_sources, num_devices = compiled.num_sources, compiled.num_devices
    service = np.zeros((num_sources, num_devices))
    transfer = np.zeros(num_sources)
    hosted: set[tuple[int, int, int]] = set()
    used_memory = np.zeros(num_devices)
    for source, devices in enumerate(split):
        chain = compiled.chains[source]
        np.add.at(service[source], devices, chain.work / compiled.speed[devices])
        transfer[source] = transfer_times(compiled, source, devices)
        model = int(compiled.model_of[source])
        for layer, device in enumerate(devices):
            if (model, layer, int(device)) not in hosted:
                hosted.add((model, layer, int(device)))
                used_memory[device] += chain.memory[layer]
    visits = service > 0
    load = (compiled.rate[:, None] * service).sum(axis=0)
    wait = waiting_times(
        service,
        visits,
        compiled.rate,
        compiled.klass,
        compiled.second_moment,
        queueing or compiled.queueing,
    )
    latency = (service + wait).sum(axis=1) + transfer
    problem = ""
    if not np.isfinite(transfer).all():
        source = int(np.flatnonzero(~np.isfinite(transfer))[0])
        problem = f"source {compiled.source_names[source]!r} sends data between unconnected devices"
    elif (load > compiled.max_load + LOAD_SLACK).any():
        device = int(np.argmax(load))
        problem = (
            f"device {compiled.device_names[device]!r} is loaded {load[device]:.3f} "
            f"> max_load {compiled.max_load:g}"
        )
    elif (used_memory > compiled.memory * (1 + 1e-9) + 1e-9).any():
        device = int(np.argmax(used_memory - compiled.memory))
        problem = (
            f"device {compiled.device_names[device]!r} holds {used_memory[device]:.1f} MB of "
            f"weights > memory {compiled.memory[device]:g} MB"
        )
    objective = float(compiled.weight @ latency) if not problem else float("inf")
    return Evaluation(
        split=split,
        service=service,
        visits=visits,
        wait=wait,
        transfer=transfer,
        latency=latency if not problem else np.where(np.isfinite(latency), latency, np.inf),
        load=load,
        memory=used_memory,
        objective=objective,
        problem=problem,
    )


def class_latency(compiled: Compiled, latency: np.ndarray) -> np.ndarray:
    """``(K,)`` rate-weighted mean latency of each priority class."""
    totals = np.zeros(compiled.num_classes)
    rates = np.zeros(compiled.num_classes)
    np.add.at(totals, compiled.klass, compiled.rate * latency)
    np.add.at(rates, compiled.klass, compiled.rate)
    return totals / rates


def split_array(compiled: Compiled, split: Sequence[np.ndarray]) -> np.ndarray:
    """``(S, L_max)`` device indices, ``-1`` past the end of shorter chains."""
    table = np.full((compiled.num_sources, compiled.max_length), -1, dtype=np.int64)
    for source, devices in enumerate(split):
        table[source, : len(devices)] = devices
    return table


def split_from_array(compiled: Compiled, table: np.ndarray) -> Split:
    """Inverse of :func:`split_array`."""
    table = np.rint(np.asarray(table, dtype=float)).astype(np.int64)
    return tuple(
        table[source, : compiled.chains[source].length] for source in range(compiled.num_sources)
    )
