"""An offloading scenario as the simulator's arrays: tier x variant targets, conditions per query.

:func:`compile_offloading` compiles the scenario as a serving scenario at
deployment level (:func:`idnopt.formulations.serving.compiled.compile_scenario`:
delays along the cheapest paths, one class per application and device) and
then gives it offloading's shape:

* **targets** are ``tier/variant`` (``local/…``, ``edge/…``, ``cloud/…``):
  ``local/v`` is, for a class, the deployment of ``v`` on the class's own
  device;
* **pools** - every node's deployments share its processors;
* **loaded** - deployments on devices are slowed by the device's background load;
* **transfers** - the transfer of the input (and of the result) over the
  device's access link is moved out of the fixed delay into
  ``transfer_up`` / ``transfer_down``, which the query's ``network_factor``
  (nominal over current bandwidth) scales.

:func:`draw` draws a run's queries and, for each, the conditions of its
device at its arrival from per-device chains (or the replayed trace): every
policy simulated with one seed sees the same requests under the same
conditions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from idnopt.formulations.offloading.schema import (
    BandwidthTrace,
    MarkovLevels,
    OffloadingInstance,
    read_bandwidth_trace,
)
from idnopt.formulations.serving.compiled import compile_scenario
from idnopt.formulations.serving.compiled import draw as draw_serving
from idnopt.sim.engine import Streams
from idnopt.sim.links import MS_PER_MB_AT_1_MBIT
from idnopt.sim.system import Deployments, ServingSystem
from idnopt.sim.workload import ArrivalProcess, Mmpp, Queries

TIERS = ("local", "edge", "cloud")
"""Where a request can be served, in target order."""


@dataclass(frozen=True, eq=False)
class OffloadingScenario:
    """A compiled offloading scenario.

    Attributes
    ----------
    system : ServingSystem
        Deployments, classes, delays and the ``tier/variant`` targets.
    processes, rates
        Arrival process and base rate (queries/s) of each class.
    devices : tuple of str
        Device names.
    class_device : numpy.ndarray
        Device index of each class.
    target_tier : numpy.ndarray
        Tier index (into :data:`TIERS`) of each target.
    target_variant : tuple of str
        Model variant of each target.
    best_accuracy : numpy.ndarray
        Per class, the highest accuracy of a target that can serve it.
    penalty : float
        ms per accuracy point below a class's floor.
    bandwidth, device_load
        The chains (or trace) of the conditions; ``None``: constant.
    trace : dict, optional
        Device to ``(times, factors)`` of a replayed bandwidth trace.
    """

    system: ServingSystem
    processes: list[ArrivalProcess | np.ndarray]
    rates: np.ndarray
    devices: tuple[str, ...]
    class_device: np.ndarray
    target_tier: np.ndarray
    target_variant: tuple[str, ...]
    best_accuracy: np.ndarray
    penalty: float
    bandwidth: MarkovLevels | BandwidthTrace | None
    device_load: MarkovLevels | None
    trace: dict[str, tuple[list[float], list[float]]] | None = None

    def tier_targets(self, tier: str) -> np.ndarray:
        """Target indices of ``tier``."""
        return np.flatnonzero(self.target_tier == TIERS.index(tier))


def compile_offloading(instance: OffloadingInstance) -> OffloadingScenario:
    """Arrays of ``instance`` for the simulator (see the module notes)."""
    serving = compile_scenario(instance, level="deployment", report_interval=None)
    base = serving.system
    nodes = base.nodes
    deployments = base.deployments
    devices = tuple(instance.devices)
    device_index = [nodes.index(name) for name in devices]
    tier_of_node = {}
    for node_index, name in enumerate(nodes):
        if node_index in device_index:
            tier_of_node[node_index] = 0
        elif name == instance.edge:
            tier_of_node[node_index] = 1
        elif name == instance.cloud:
            tier_of_node[node_index] = 2
    variants = list(dict.fromkeys(m.name for m in instance.models))
    pairs = sorted(
        {
            (tier_of_node[int(n)], model)
            for n, model in zip(deployments.node, deployments.model)
            if int(n) in tier_of_node
        },
        key=lambda pair: (pair[0], variants.index(pair[1])),
    )
    classes = base.classes
    table = np.full((len(classes), len(pairs)), -1, dtype=np.int64)
    where = {(int(n), m): d for d, (n, m) in enumerate(zip(deployments.node, deployments.model))}
    edge, cloud = nodes.index(instance.edge), nodes.index(instance.cloud)
    for klass in range(len(classes)):
        own = int(classes.ingress[klass])
        for target, (tier, model) in enumerate(pairs):
            node = (own, edge, cloud)[tier]
            index = where.get((node, model), -1)
            if index >= 0 and base.target_deployment[klass, index] >= 0:
                table[klass, target] = index
    pooled = replace(
        deployments,
        pool=deployments.node.copy(),
        loaded=np.isin(deployments.node, device_index),
    )
    transfer_up, transfer_down = _access_transfers(instance, base, pooled)
    system = ServingSystem(
        nodes=nodes,
        applications=base.applications,
        deployments=pooled,
        classes=classes,
        uplink=base.uplink - transfer_up,
        downlink=base.downlink - transfer_down,
        jitter=base.jitter,
        level="tier x variant",
        targets=tuple(f"{TIERS[tier]}/{model}" for tier, model in pairs),
        target_deployment=table,
        cloud=-1,
        report_interval=base.report_interval,
        transfer_up=transfer_up,
        transfer_down=transfer_down,
    )
    accuracy = np.where(table >= 0, deployments.accuracy[np.maximum(table, 0)], -np.inf)
    trace = None
    if isinstance(instance.bandwidth, BandwidthTrace):
        trace = read_bandwidth_trace(instance.trace_path(), list(devices))
    return OffloadingScenario(
        system=system,
        processes=serving.processes,
        rates=serving.rates,
        devices=devices,
        class_device=np.array([device_index.index(int(i)) for i in classes.ingress]),
        target_tier=np.array([tier for tier, _ in pairs], dtype=np.int64),
        target_variant=tuple(model for _, model in pairs),
        best_accuracy=accuracy.max(axis=1),
        penalty=float(instance.accuracy_penalty),
        bandwidth=instance.bandwidth,
        device_load=instance.device_load,
        trace=trace,
    )


def _access_transfers(instance: OffloadingInstance, base: ServingSystem, deployments: Deployments):
    """(classes, deployments) transfer times over each class's access link, each way."""
    nodes = base.nodes
    classes = base.classes
    applications = {app.name: app for app in instance.applications}
    up = np.zeros(base.uplink.shape)
    down = np.zeros(base.downlink.shape)
    for klass in range(len(classes)):
        device = nodes[int(classes.ingress[klass])]
        link = instance.links[instance.access_link(device)]
        app = applications[base.applications[int(classes.application[klass])]]
        remote = deployments.node != classes.ingress[klass]
        up[klass, remote] = MS_PER_MB_AT_1_MBIT * app.input / link.bandwidth
        down[klass, remote] = MS_PER_MB_AT_1_MBIT * app.result / link.bandwidth
    return up, down


def chain_values(chain: MarkovLevels, rng: np.random.Generator, times: np.ndarray) -> np.ndarray:
    """The chain's level at each of ``times`` (ms), drawn from time 0 with ``rng``."""
    if len(chain.levels) == 1 or times.size == 0:
        return np.full(times.size, float(chain.levels[0]))
    pieces = Mmpp(tuple(chain.levels), tuple(chain.sojourn)).segments(
        rng, 0.0, float(times.max()) + 1.0
    )
    ends = np.array([end for _, end, _ in pieces])
    levels = np.array([level for _, _, level in pieces])
    return levels[np.minimum(np.searchsorted(ends, times, side="right"), levels.size - 1)]


def trace_values(series: tuple[list[float], list[float]], times: np.ndarray) -> np.ndarray:
    """The replayed factor in force at each of ``times`` (1 before the first row)."""
    starts, factors = series
    if not starts:
        return np.ones(times.size)
    found = np.searchsorted(np.asarray(starts), times, side="right") - 1
    return np.where(found >= 0, np.asarray(factors)[np.maximum(found, 0)], 1.0)


def conditions(
    scenario: OffloadingScenario, queries: Queries, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Network and compute factors of each query: its device's conditions at its arrival.

    The chains of every device are drawn from time 0 with streams of their own
    (``bandwidth:<device>``, ``load:<device>``), so a window of a run (a
    training episode) sees the conditions the whole run would.
    """
    streams = Streams(seed)
    network = np.ones(len(queries))
    compute = np.ones(len(queries))
    device_of = scenario.class_device[queries.klass]
    for index, device in enumerate(scenario.devices):
        members = np.flatnonzero(device_of == index)
        if members.size == 0:
            continue
        times = queries.time[members]
        if isinstance(scenario.bandwidth, MarkovLevels):
            level = chain_values(scenario.bandwidth, streams(f"bandwidth:{device}"), times)
            network[members] = 1.0 / level
        elif scenario.trace is not None:
            network[members] = 1.0 / trace_values(scenario.trace[device], times)
        if scenario.device_load is not None:
            compute[members] = chain_values(scenario.device_load, streams(f"load:{device}"), times)
    return network, compute


def draw(
    scenario: OffloadingScenario,
    duration: float,
    seed: int,
    *,
    load: float = 1.0,
    start: float = 0.0,
) -> Queries:
    """The queries of one run with their conditions (arrivals in ``[start, duration)`` ms)."""
    queries = draw_serving(scenario, duration, seed, load=load, start=start)  # type: ignore[arg-type]
    return queries.with_conditions(*conditions(scenario, queries, seed))
