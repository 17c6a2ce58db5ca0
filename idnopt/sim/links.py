"""Network links and multi-hop paths.

A :class:`Link` moves ``size`` MB in ``latency + 8000 * size / bandwidth`` ms
(bandwidth in Mbit/s). By default links are *uncongested*: transfers overlap
freely, each taking exactly that time. With ``contended=True`` transmissions
share the link one at a time in arrival order (the serialisation delay
``8000 * size / bandwidth`` is served by a FIFO :class:`~idnopt.sim.servers.Server`,
then the latency elapses). An optional ``jitter(rng) -> ms`` adds a random
delay per transfer. :class:`Network` holds the links of a topology and sends
data hop by hop along a path, or along the cheapest path for a size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from idnopt.sim.servers import Server

MS_PER_MB_AT_1_MBIT = 8000.0
"""Milliseconds to send 1 MB (8 Mbit) at 1 Mbit/s."""


class Link:
    """One directed link.

    Parameters
    ----------
    simulator : Simulator
        Owner of the event loop and random streams.
    name : str
        For metrics and random streams.
    latency : float
        Propagation and processing delay in ms.
    bandwidth : float
        Mbit/s.
    contended : bool
        Serialise transmissions (FIFO) instead of letting them overlap.
    jitter : callable, optional
        ``jitter(rng) -> ms`` drawn per transfer from the link's own stream.
    """

    def __init__(
        self,
        simulator,
        name: str,
        latency: float,
        bandwidth: float,
        *,
        contended: bool = False,
        jitter: Callable[[np.random.Generator], float] | None = None,
    ) -> None:
        self.env = simulator.env
        self.name = name
        self.latency = float(latency)
        self.bandwidth = float(bandwidth)
        self.jitter = jitter
        self._rng = simulator.streams(f"link:{name}") if jitter is not None else None
        self._wire = Server(simulator, f"{name}:wire", "fifo") if contended else None
        self.transfers = 0
        self.megabytes = 0.0

    def time(self, size: float) -> float:
        """Uncongested transfer time of ``size`` MB in ms (without jitter)."""
        return self.latency + MS_PER_MB_AT_1_MBIT * size / self.bandwidth

    def transfer(self, size: float):
        """Process moving ``size`` MB across the link (use with ``yield from``)."""
        self.transfers += 1
        self.megabytes += size
        extra = self.jitter(self._rng) if self.jitter is not None else 0.0
        if self._wire is None:
            yield self.env.timeout(self.time(size) + extra)
            return
        yield self._wire.submit(MS_PER_MB_AT_1_MBIT * size / self.bandwidth)
        yield self.env.timeout(self.latency + extra)


class Network:
    """Links between named nodes, with cheapest paths per payload size.

    Parameters
    ----------
    simulator : Simulator
        Owner of the event loop.
    nodes : sequence of str
        Node names; paths are lists of node indices.
    """

    def __init__(self, simulator, nodes: Sequence[str]) -> None:
        self.simulator = simulator
        self.nodes = list(nodes)
        self.links: dict[tuple[int, int], Link] = {}
        self._paths: dict[tuple[float, int, int], list[int]] = {}

    def add(self, tail: int, head: int, latency: float, bandwidth: float, **options) -> Link:
        """Add the directed link ``tail -> head``."""
        link = Link(
            self.simulator,
            f"{self.nodes[tail]}>{self.nodes[head]}",
            latency,
            bandwidth,
            **options,
        )
        self.links[tail, head] = link
        self._paths.clear()
        return link

    def path(self, size: float, source: int, target: int) -> list[int]:
        """Nodes of the cheapest path for ``size`` MB (uncongested times), ends included.

        Raises
        ------
        ValueError
            When ``target`` cannot be reached.
        """
        key = (float(size), source, target)
        if key not in self._paths:
            from scipy.sparse.csgraph import csgraph_from_dense, shortest_path

            count = len(self.nodes)
            dense = np.full((count, count), np.inf)
            for (tail, head), link in self.links.items():
                dense[tail, head] = link.time(size)
            graph = csgraph_from_dense(dense, null_value=np.inf)
            _, predecessors = shortest_path(
                graph, method="D", directed=True, indices=source, return_predecessors=True
            )
            if source != target and predecessors[target] < 0:
                raise ValueError(
                    f"{self.nodes[target]!r} is unreachable from {self.nodes[source]!r}"
                )
            nodes = [target]
            while nodes[-1] != source:
                nodes.append(int(predecessors[nodes[-1]]))
            self._paths[key] = nodes[::-1]
        return self._paths[key]

    def send(self, size: float, source: int, target: int):
        """Process moving ``size`` MB from ``source`` to ``target`` hop by hop."""
        nodes = self.path(size, source, target)
        for tail, head in zip(nodes, nodes[1:]):
            yield from self.links[tail, head].transfer(size)
