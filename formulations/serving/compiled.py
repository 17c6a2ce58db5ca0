"""A serving scenario as the simulator's arrays, and its queries.

:func:`compile_scenario` turns a :class:`~.schema.ServingInstance` into a
:class:`~idnopt.sim.system.ServingSystem` (one request class per application
and ingress; delays along the cheapest path for the application's input
size, and back for its result size; jitter summed along those paths) and
one arrival process per class. :func:`draw` draws the queries of one run.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from idnopt.formulations.serving.schema import (
    DiurnalArrivals,
    MmppArrivals,
    ScheduledArrivals,
    ServingInstance,
    TraceArrivals,
)
from idnopt.sim.engine import Streams
from idnopt.sim.links import MS_PER_MB_AT_1_MBIT
from idnopt.sim.system import (
    UNLIMITED_QUEUE,
    Classes,
    Deployments,
    ServingSystem,
    targets_at,
)
from idnopt.sim.workload import (
    Diurnal,
    Mmpp,
    Poisson,
    Queries,
    Scheduled,
    draw_queries,
    read_arrival_trace,
)


@dataclass(frozen=True, eq=False)
class Scenario:
    """A compiled scenario: the system and each class's arrivals.

    Attributes
    ----------
    system : ServingSystem
        Deployments, classes, delays and targets.
    processes : list
        Arrival process of each class (or its replayed times in ms).
    rates : numpy.ndarray
        Base rate (queries/s) of each class.
    """

    system: ServingSystem
    processes: list
    rates: np.ndarray

    @property
    def offered_load(self) -> float:
        """Total base rate over the total capacity of every deployment (full batches)."""
        return float(self.rates.sum() / 1000.0 / self.system.deployments.capacity.sum())


def _graph(instance: ServingInstance) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(instance.node_names)
    for link in instance.links:
        attributes = {
            "latency": link.latency,
            "bandwidth": link.bandwidth,
            "jitter": link.jitter,
        }
        graph.add_edge(link.source, link.target, **attributes)
        if not link.directed:
            graph.add_edge(link.target, link.source, **attributes)
    return graph


def _delays(graph: nx.DiGraph, source: str, size: float, reverse: bool):
    """Cheapest time and summed jitter from ``source`` (to it when ``reverse``) per node."""

    def weight(tail, head, data):
        bandwidth = data.get("bandwidth")
        transfer = MS_PER_MB_AT_1_MBIT * size / bandwidth if bandwidth else 0.0
        return data["latency"] + transfer

    view = graph.reverse(copy=False) if reverse else graph
    times, paths = nx.single_source_dijkstra(view, source, weight=weight)
    jitter = {}
    for node, path in paths.items():
        total = 0.0
        for tail, head in zip(path, path[1:]):
            total += view[tail][head].get("jitter", 0.0)
        jitter[node] = total
    return times, jitter


def _process(spec, levels_scale: float = 1.0):
    if isinstance(spec, MmppArrivals):
        return Mmpp(tuple(spec.levels), tuple(spec.sojourn))
    if isinstance(spec, DiurnalArrivals):
        return Diurnal(spec.amplitude, spec.period, spec.phase)
    if isinstance(spec, ScheduledArrivals):
        return Scheduled(tuple(s.at for s in spec.steps), tuple(s.scale for s in spec.steps))
    return Poisson()


def compile_scenario(
    instance: ServingInstance,
    *,
    level: str = "node",
    report_interval: float | None = None,
) -> Scenario:
    """Arrays of ``instance`` for the simulator.

    Parameters
    ----------
    instance : ServingInstance
        A validated (and resolved) scenario.
    level : {"node", "deployment"}
        What a scheduler's target is (see :func:`idnopt.sim.system.targets_at`).
    report_interval : float, optional
        Load-report period in ms (default: the scenario's).

    Returns
    -------
    Scenario
        The system and the arrival processes.
    """
    nodes = tuple(instance.node_names)
    index_of = {name: i for i, name in enumerate(nodes)}
    models = {model.name: model for model in instance.models}
    hardware = {node.name: node.hardware for node in instance.nodes}
    entries = instance.deployments
    deployments = Deployments(
        names=tuple(f"{d.node}/{d.model}" for d in entries),
        node=np.array([index_of[d.node] for d in entries], dtype=np.int64),
        model=tuple(d.model for d in entries),
        task=tuple(models[d.model].task for d in entries),
        replicas=np.array([d.replicas for d in entries], dtype=np.int64),
        batch=np.array([d.batch for d in entries], dtype=np.int64),
        queue_limit=np.array(
            [UNLIMITED_QUEUE if d.queue_limit is None else d.queue_limit for d in entries],
            dtype=np.int64,
        ),
        latency=np.array([models[d.model].latency_on(hardware[d.node]) for d in entries]),
        batch_cost=np.array([d.batch_cost for d in entries]),
        max_wait=np.array([d.max_wait for d in entries]),
        accuracy=np.array(
            [1.0 if models[d.model].accuracy is None else models[d.model].accuracy for d in entries]
        ),
    )
    graph = _graph(instance)
    names, application, ingress, task = [], [], [], []
    deadline, min_accuracy, cv, rates, processes = [], [], [], [], []
    uplink, downlink, jitter = [], [], []
    traces: dict[str, list[np.ndarray]] = {}
    trace_classes: dict[tuple[str, str], int] = {}
    trace_specs: list[tuple[int, str]] = []
    for app_index, app in enumerate(instance.applications):
        for entry in app.ingresses:
            klass = len(names)
            names.append(f"{app.name}@{entry.node}")
            application.append(app_index)
            ingress.append(index_of[entry.node])
            task.append(app.task)
            deadline.append(app.deadline)
            min_accuracy.append(app.min_accuracy)
            cv.append(app.service_cv)
            rates.append(entry.rate or 0.0)
            spec = entry.arrivals or app.arrivals
            trace_classes[(app.name, entry.node)] = klass
            if isinstance(spec, TraceArrivals):
                trace_specs.append((klass, spec.file))
                processes.append(None)
            else:
                processes.append(_process(spec))
            up_time, up_jitter = _delays(graph, entry.node, app.input, reverse=False)
            down_time, down_jitter = _delays(graph, entry.node, app.result, reverse=True)
            place = [nodes[n] for n in deployments.node]
            uplink.append([up_time.get(p, np.inf) for p in place])
            downlink.append([down_time.get(p, np.inf) for p in place])
            jitter.append([0.5 * (up_jitter.get(p, 0.0) + down_jitter.get(p, 0.0)) for p in place])
    if trace_specs:
        singles = {
            app.name: app.ingresses[0].node
            for app in instance.applications
            if len(app.ingresses) == 1
        }
        for klass, file in trace_specs:
            if file not in traces:
                path = _trace_path(instance, file)
                traces[file] = read_arrival_trace(path, trace_classes, singles)
            processes[klass] = traces[file][klass]
    classes = Classes(
        names=tuple(names),
        application=np.array(application, dtype=np.int64),
        ingress=np.array(ingress, dtype=np.int64),
        task=tuple(task),
        deadline=np.array(deadline, dtype=float),
        min_accuracy=np.array(min_accuracy, dtype=float),
        service_cv=np.array(cv, dtype=float),
    )
    uplink_array = np.array(uplink, dtype=float)
    downlink_array = np.array(downlink, dtype=float)
    unreachable = ~np.isfinite(uplink_array) | ~np.isfinite(downlink_array)
    cloud = index_of[instance.cloud]
    target_names, table, cloud_target = targets_at(level, nodes, deployments, classes, cloud)
    for klass in range(len(classes)):
        blocked = table[klass] >= 0
        blocked[blocked] = unreachable[klass, table[klass][blocked]]
        table[klass, blocked] = -1
    system = ServingSystem(
        nodes=nodes,
        applications=tuple(app.name for app in instance.applications),
        deployments=deployments,
        classes=classes,
        uplink=np.where(unreachable, 0.0, uplink_array),
        downlink=np.where(unreachable, 0.0, downlink_array),
        jitter=np.array(jitter, dtype=float),
        level=level,
        targets=target_names,
        target_deployment=table,
        cloud=cloud_target,
        report_interval=float(
            instance.report_interval if report_interval is None else report_interval
        ),
    )
    return Scenario(system=system, processes=processes, rates=np.array(rates, dtype=float))


def _trace_path(instance: ServingInstance, file: str):
    from pathlib import Path

    path = Path(file)
    if not path.is_absolute() and instance.folder is not None:
        path = instance.folder / path
    return path


def draw(
    scenario: Scenario, duration: float, seed: int, *, load: float = 1.0, start: float = 0.0
) -> Queries:
    """The queries of one run: arrivals in ``[start, duration)`` ms, rates times ``load``."""
    return draw_queries(
        scenario.processes,
        scenario.rates,
        scenario.system.classes.service_cv,
        Streams(seed),
        duration,
        scale=load,
        start=start,
    )
