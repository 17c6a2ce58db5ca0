"""The offloading scenario schema: end devices, an edge and a cloud, model variants per tier.

An offloading scenario is a serving scenario (:mod:`idnopt.formulations.serving.schema`:
nodes, links, a model catalog from inline numbers or profiles, deployments,
applications with arrival processes) read with offloading's meaning:

* **devices** are the nodes of tier ``device``; each is one machine that
  reaches the rest of the network through exactly one **access link** (its
  Wi-Fi or cellular connection). Applications enter at devices: a request is
  served on the device itself (``local``), at the ``edge`` node, or at the
  ``cloud`` node;
* **model variants** are the catalog's models of one task (for instance
  MobileNetV1 at several widths, or quantised versions) with an accuracy each;
  a node deploys the variants it can run. A node is one machine: its
  deployments share its ``replicas`` processors and one FIFO queue, so they
  all have the same ``replicas`` and do not batch;
* **accuracy requirement** - an application's ``min_accuracy`` is a soft
  floor: a request served below it pays ``accuracy_penalty`` ms per accuracy
  point (0.01) missing, on top of its response time (the objective,
  :func:`idnopt.sim.outcome.penalised_response`); ``deadline`` is the response
  time the application considers on time (reported, and the unit of the
  learned policies' rewards);
* **varying conditions** - ``bandwidth``: each access link's bandwidth is its
  nominal value times a level of a Markov chain (one chain per device,
  ``levels`` and mean ``sojourn`` per level, the next level drawn uniformly
  among the others) or of a replayed CSV trace (``time`` in ms, ``factor``,
  optional ``device``); ``device_load``: the service time of a device's own
  variants is multiplied by a level of another chain per device (background
  load); the number of users is the applications' arrival process (``mmpp``
  levels are user counts relative to the base rate).

Example::

    kind: offloading
    cloud: cloud
    edge: edge
    accuracy_penalty: 20 ms
    bandwidth: {levels: [1.0, 0.2, 0.05], sojourn: [20 s, 10 s, 5 s]}
    device_load: {levels: [1.0, 2.5], sojourn: [30 s, 10 s]}
    nodes:
      - {name: cloud, tier: cloud, hardware: gpu}
      - {name: edge, tier: edge, hardware: xeon}
      - {name: phone-1, tier: device, hardware: cortex-a72}
    links:
      - {source: phone-1, target: edge, latency: 5 ms, bandwidth: 20 Mbit/s}
      - {source: edge, target: cloud, latency: 20 ms, bandwidth: 1 Gbit/s}
    models:
      - {name: mobilenet_v1_1.0, task: classify, accuracy: 0.706,
         latency: {cortex-a72: 120 ms, xeon: 12 ms, gpu: 2 ms}}
    deployments:
      - {node: phone-1, model: mobilenet_v1_1.0}
      - {node: edge, model: mobilenet_v1_1.0, replicas: 4}
      - {node: cloud, model: mobilenet_v1_1.0, replicas: 16}
    applications:
      - {name: camera, task: classify, deadline: 300 ms, min_accuracy: 0.68,
         input: 0.15 MB, ingresses: [{node: phone-1, rate: 2 req/s}]}
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag

from idnopt.errors import InputError, format_location
from idnopt.formulations.serving.schema import ServingInstance
from idnopt.instance import Name, Problem, Strict, unknown_name
from idnopt.sim.workload import csv_rows
from idnopt.units import Milliseconds

DEVICE_TIER = "device"


class MarkovLevels(Strict):
    """A continuous-time Markov chain over levels.

    Attributes
    ----------
    levels : list of float
        Value of each state (the chain starts in the first).
    sojourn : list of float
        Mean time (ms) in each state; the next state is drawn uniformly among the others.
    """

    levels: list[Annotated[float, Field(gt=0)]] = Field(min_length=1)
    sojourn: list[Annotated[Milliseconds, Field(gt=0)]] = Field(min_length=1)


class LoadLevels(MarkovLevels):
    """A Markov chain of service-time multipliers (1: no background load, 2.5: 2.5x slower)."""

    levels: list[Annotated[float, Field(ge=1)]] = Field(min_length=1)


class BandwidthTrace(Strict):
    """Bandwidth factors replayed from a CSV file (``time`` in ms, ``factor``, ``device``)."""

    trace: str = Field(min_length=1)


def _bandwidth_kind(value: object) -> str:
    if isinstance(value, dict):
        return "trace" if "trace" in value else "chain"
    return "trace" if isinstance(value, BandwidthTrace) else "chain"


Bandwidth = Annotated[
    Annotated[MarkovLevels, Tag("chain")] | Annotated[BandwidthTrace, Tag("trace")],
    Discriminator(_bandwidth_kind),
]
"""A chain of bandwidth levels, or a replayed trace (chosen by the ``trace`` key)."""


class OffloadingInstance(ServingInstance):
    """An end-edge-cloud offloading scenario (see the module notes)."""

    kind: Literal["offloading"]  # type: ignore[assignment]
    edge: Name
    report_interval: Annotated[Milliseconds, Field(ge=0)] = 0.0
    accuracy_penalty: Annotated[Milliseconds, Field(ge=0)] = 20.0
    bandwidth: Bandwidth | None = None
    device_load: LoadLevels | None = None

    @property
    def devices(self) -> list[str]:
        """Names of the device nodes, in file order."""
        return [node.name for node in self.nodes if node.tier == DEVICE_TIER]

    def access_link(self, device: str) -> int:
        """Index in ``links`` of the device's access link."""
        return next(i for i, link in enumerate(self.links) if device in (link.source, link.target))

    def cross_check(self, *, profiles_resolved: bool = False) -> list[Problem]:
        """Serving checks plus devices, access links, the edge, pools and conditions."""
        problems = super().cross_check(profiles_resolved=profiles_resolved)
        if problems:
            return problems
        nodes = {node.name: node for node in self.nodes}
        devices = self.devices
        if not devices:
            problems.append((("nodes",), "no node has tier 'device': requests start at devices"))
        if self.edge not in nodes:
            problems.append((("edge",), unknown_name("node", self.edge, nodes)))
        elif nodes[self.edge].tier == DEVICE_TIER or self.edge == self.cloud:
            problems.append((("edge",), "the edge must be a node other than the devices and cloud"))
        for name in devices:
            touching = [
                i for i, link in enumerate(self.links) if name in (link.source, link.target)
            ]
            where = ("nodes", list(nodes).index(name), "name")
            if len(touching) != 1:
                problems.append(
                    (
                        where,
                        f"device {name!r} has {len(touching)} links; a device reaches the "
                        "network through exactly one access link",
                    )
                )
            elif self.links[touching[0]].bandwidth is None:
                problems.append(
                    (("links", touching[0], "bandwidth"), "an access link needs a bandwidth")
                )
        problems += self._check_pools()
        for index, application in enumerate(self.applications):
            for position, ingress in enumerate(application.ingresses):
                if ingress.node in nodes and ingress.node not in devices:
                    problems.append(
                        (
                            ("applications", index, "ingresses", position, "node"),
                            f"requests enter at devices; {ingress.node!r} has tier "
                            f"{nodes[ingress.node].tier!r}",
                        )
                    )
        for name in ("bandwidth", "device_load"):
            chain = getattr(self, name)
            if isinstance(chain, MarkovLevels) and len(chain.levels) != len(chain.sojourn):
                problems.append(((name, "sojourn"), "give one mean sojourn per level"))
        return problems

    def _check_pools(self) -> list[Problem]:
        """Deployments do not batch or refuse; a node's deployments share its processors."""
        problems: list[Problem] = []
        by_node: dict[str, list[int]] = {}
        for index, deployment in enumerate(self.deployments):
            where = ("deployments", index)
            if deployment.batch != 1:
                problems.append(
                    (where + ("batch",), "offloading deployments do not batch (batch: 1)")
                )
            if deployment.queue_limit is not None:
                problems.append(
                    (
                        where + ("queue_limit",),
                        "offloading serves every request (no queue limit); remove queue_limit",
                    )
                )
            by_node.setdefault(deployment.node, []).append(index)
        for node, members in by_node.items():
            values = [self.deployments[index].replicas for index in members]
            # the most common value is taken as meant (the first among equally common ones)
            usual = max(values, key=lambda value: (values.count(value), -values.index(value)))
            for index in members:
                if self.deployments[index].replicas != usual:
                    problems.append(
                        (
                            ("deployments", index, "replicas"),
                            f"the deployments on {node!r} share its processors: give every "
                            f"one replicas {usual}, as the others there have",
                        )
                    )
        return problems

    def resolve(self, base: Path | None) -> OffloadingInstance:
        """Serving resolution, then read the bandwidth trace (errors located in its file)."""
        resolved = super().resolve(base)
        if isinstance(resolved.bandwidth, BandwidthTrace):
            path = resolved.trace_path()
            if not path.is_file():
                raise InputError(
                    f"bandwidth trace {resolved.bandwidth.trace!r} not found (looked in "
                    f"{path.parent})",
                    location=format_location(("bandwidth", "trace")),
                )
            read_bandwidth_trace(path, resolved.devices)
        return resolved

    def trace_path(self) -> Path:
        """Path of the bandwidth trace file (relative to the instance's folder)."""
        assert isinstance(self.bandwidth, BandwidthTrace)
        path = Path(self.bandwidth.trace)
        if not path.is_absolute() and self.folder is not None:
            path = self.folder / path
        return path


def read_bandwidth_trace(
    path: Path, devices: list[str]
) -> dict[str, tuple[list[float], list[float]]]:
    """Piecewise-constant bandwidth factors per device from a CSV file.

    The header names ``time`` (ms, non-decreasing per device) and ``factor``
    (current over nominal bandwidth, positive), and optionally ``device``; a
    row without a device applies to every device. Before a device's first
    row its factor is 1.

    Returns
    -------
    dict
        Device to ``(times, factors)``.

    Raises
    ------
    InputError
        Located at the file and line of the first problem.
    """
    if not path.is_file():
        raise InputError("bandwidth trace file not found", path=path)
    series: dict[str, tuple[list[float], list[float]]] = {d: ([], []) for d in devices}
    for line, row, at in csv_rows(path, ("time", "factor"), "bandwidth trace"):
        values = {}
        for name, rule in (("time", "a non-negative number of ms"), ("factor", "positive")):
            text = row[at[name]].strip()
            try:
                value = float(text)
            except ValueError:
                value = float("nan")
            if not math.isfinite(value) or value < 0 or (name == "factor" and value == 0):
                raise InputError(
                    f"{name} must be {rule}, not {text!r}", path=path, line=line, location=name
                )
            values[name] = value
        device = row[at["device"]].strip() if "device" in at else ""
        if device and device not in series:
            raise InputError(
                unknown_name("device", device, series), path=path, line=line, location="device"
            )
        for name in [device] if device else devices:
            times, factors = series[name]
            if times and values["time"] < times[-1]:
                raise InputError(
                    f"time {values['time']:g} is before the previous row's {times[-1]:g} "
                    f"for device {name!r}",
                    path=path,
                    line=line,
                    location="time",
                )
            times.append(values["time"])
            factors.append(values["factor"])
    return series


def instance_to_dict(instance: OffloadingInstance) -> dict:
    """Plain data of a scenario, as written in a file (quantities in base units)."""
    from idnopt.formulations.serving.schema import instance_to_dict as serving_dict

    data = serving_dict(instance)
    extra = instance.model_dump(
        mode="json",
        exclude_defaults=True,
        include={"edge", "accuracy_penalty", "bandwidth", "device_load"},
    )
    extra["edge"] = instance.edge
    order = ["kind", "name", "description", "cloud", "edge", "accuracy_penalty"]
    head = {key: data.get(key, extra.get(key)) for key in order if key in data or key in extra}
    tail = {
        key: value
        for key, value in {**data, **extra}.items()
        if key not in head and key != "report_interval"
    }
    if instance.report_interval:
        head["report_interval"] = instance.report_interval
    return {**head, **tail}


__all__ = [
    "DEVICE_TIER",
    "BandwidthTrace",
    "MarkovLevels",
    "OffloadingInstance",
    "instance_to_dict",
    "read_bandwidth_trace",
]
