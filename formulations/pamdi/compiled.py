"""A PA-MDI instance compiled once into named flat arrays.

Every solver, heuristic, evaluation and the simulation read these arrays:
devices (speed, memory), directed arcs (latency, ms per MB), sources (origin,
rate, weight, priority class) and, per source, its chain (work per layer in ms
at speed 1, bytes at every boundary, weight memory) with the cheapest transfer
time between every pair of devices at every boundary.

Units: time in ms, sizes in MB, rates in requests per **millisecond** (so that
``rate * time`` is a utilisation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
from scipy.sparse.csgraph import csgraph_from_dense, shortest_path

from idnopt.formulations.pamdi.schema import PamdiInstance

MS_PER_MB_AT_1_MBIT = 8000.0
"""Milliseconds to send 1 MB (8 Mbit) at 1 Mbit/s."""


@dataclass(frozen=True, eq=False)
class Chain:
    """One source's layer chain.

    Attributes
    ----------
    names : tuple of str
        Layer names.
    work : numpy.ndarray
        ``(L,)`` compute time of each layer in ms on a device of speed 1.
    sizes : numpy.ndarray
        ``(L + 1,)`` MB crossing boundary ``b``: ``b = 0`` the input, ``0 < b < L``
        the output of layer ``b - 1``, ``b = L`` the result returned to the source.
    memory : numpy.ndarray
        ``(L,)`` weight memory of each layer in MB.
    transfer : numpy.ndarray
        ``(L + 1, D, D)`` cheapest time in ms to move boundary ``b``'s data from
        one device to another over the network (``inf`` when unreachable, 0 on
        the diagonal).
    """

    names: tuple[str, ...]
    work: np.ndarray
    sizes: np.ndarray
    memory: np.ndarray
    transfer: np.ndarray

    @property
    def length(self) -> int:
        """Number of layers."""
        return int(self.work.size)

    @cached_property
    def cumulative(self) -> np.ndarray:
        """``(L + 1,)`` work of layers ``0 .. b - 1`` at boundary ``b``."""
        return np.concatenate([[0.0], np.cumsum(self.work)])


@dataclass(frozen=True, eq=False)
class Compiled:
    """Arrays of one instance (see the module docstring for units).

    Attributes
    ----------
    instance : PamdiInstance
        The instance compiled.
    device_names, source_names, model_names : tuple of str
        Names in file order.
    speed, memory : numpy.ndarray
        ``(D,)`` relative speed and weight memory (``inf`` when unlimited).
    arc_tail, arc_head : numpy.ndarray
        ``(A,)`` device indices of each directed arc.
    arc_latency, arc_ms_per_mb : numpy.ndarray
        ``(A,)`` latency and transmission time per MB of each arc.
    origin, model_of : numpy.ndarray
        ``(S,)`` device and model index of each source.
    rate : numpy.ndarray
        ``(S,)`` arrival rate in requests per ms.
    priority : numpy.ndarray
        ``(S,)`` priority weights.
    klass : numpy.ndarray
        ``(S,)`` priority class of each source, 0 the highest; sources of equal
        priority share a class (under FIFO queueing every source is class 0).
    class_priority : numpy.ndarray
        ``(K,)`` priority weight of each class.
    chains : tuple of Chain
        One chain per source.
    queueing : str
        ``priority`` or ``fifo``.
    second_moment : float
        ``E[X^2]`` of the compute-time factor ``X`` (mean 1): ``1 + compute_cv^2``.
    max_load : float
        Largest utilisation allowed at a device.
    """

    instance: PamdiInstance
    device_names: tuple[str, ...]
    source_names: tuple[str, ...]
    model_names: tuple[str, ...]
    speed: np.ndarray
    memory: np.ndarray
    arc_tail: np.ndarray
    arc_head: np.ndarray
    arc_latency: np.ndarray
    arc_ms_per_mb: np.ndarray
    origin: np.ndarray
    model_of: np.ndarray
    rate: np.ndarray
    priority: np.ndarray
    klass: np.ndarray
    class_priority: np.ndarray
    chains: tuple[Chain, ...]
    queueing: str
    second_moment: float
    max_load: float
    _neighbours: tuple[np.ndarray, ...] = field(default=(), repr=False)

    @property
    def num_devices(self) -> int:
        """D."""
        return len(self.device_names)

    @property
    def num_sources(self) -> int:
        """S."""
        return len(self.source_names)

    @property
    def num_classes(self) -> int:
        """K."""
        return int(self.class_priority.size)

    @property
    def num_arcs(self) -> int:
        """A."""
        return int(self.arc_tail.size)

    @property
    def weight(self) -> np.ndarray:
        """``(S,)`` objective weight of each source, ``priority * rate`` normalised to sum 1."""
        raw = self.priority * self.rate
        return raw / raw.sum()

    @property
    def max_length(self) -> int:
        """Longest chain."""
        return max(chain.length for chain in self.chains)

    @property
    def memory_limited(self) -> bool:
        """Whether some device has a finite weight memory."""
        return bool(np.isfinite(self.memory).any())

    @cached_property
    def latency(self) -> np.ndarray:
        """``(D, D)`` shortest network latency between devices (no payload), ms."""
        arcs = (self.arc_tail, self.arc_head, self.arc_latency, self.arc_ms_per_mb)
        return _shortest_times(arcs, self.num_devices, 0.0)

    @cached_property
    def interchangeable(self) -> list[list[int]]:
        """Groups of devices that no source starts at and that a relabelling swaps exactly.

        Two such devices have the same speed and memory, the same links (latency and
        bandwidth, both directions) to every other device, and symmetric links
        between them; exchanging their roles in any split gives a split of the same
        value. Exact methods use this to skip relabelled copies of a split.
        """
        origins = set(self.origin.tolist())
        links = np.full((self.num_devices, self.num_devices, 2), np.nan)
        links[self.arc_tail, self.arc_head, 0] = self.arc_latency
        links[self.arc_tail, self.arc_head, 1] = self.arc_ms_per_mb
        groups: list[list[int]] = []
        for device in range(self.num_devices):
            if device in origins:
                continue
            for group in groups:
                if self._swappable(links, device, group[0]):
                    group.append(device)
                    break
            else:
                groups.append([device])
        return [group for group in groups if len(group) > 1]

    def _swappable(self, links: np.ndarray, a: int, b: int) -> bool:
        if self.speed[a] != self.speed[b] or self.memory[a] != self.memory[b]:
            return False
        others = [d for d in range(self.num_devices) if d not in (a, b)]
        same = np.array_equal(links[a, others], links[b, others], equal_nan=True)
        same = same and np.array_equal(links[others, a], links[others, b], equal_nan=True)
        return same and np.array_equal(links[a, b], links[b, a], equal_nan=True)

    def subset(self, sources: Sequence[int]) -> Compiled:
        """The same system with only ``sources`` (indices, in the order given).

        Devices, links, chains and priority classes are kept (a class may be left
        without sources, which changes no wait, though per-class summaries of it
        are undefined); the objective weights are
        normalised over the sources kept, so a value of the subset times
        ``self.weight[sources].sum()`` is in this instance's units.

        Parameters
        ----------
        sources : sequence of int
            Source indices of this instance.

        Returns
        -------
        Compiled
            The arrays of the smaller instance.
        """
        kept = np.asarray(list(sources), dtype=np.int64)
        instance = self.instance.model_copy(
            update={"sources": [self.instance.sources[s] for s in kept]}
        )
        return replace(
            self,
            instance=instance,
            source_names=tuple(self.source_names[s] for s in kept),
            origin=self.origin[kept],
            model_of=self.model_of[kept],
            rate=self.rate[kept],
            priority=self.priority[kept],
            klass=self.klass[kept],
            chains=tuple(self.chains[s] for s in kept),
        )

    def neighbours(self, device: int) -> np.ndarray:
        """Devices one arc away from ``device``."""
        return self._neighbours[device]

    def class_label(self, klass: int) -> str:
        """Readable name of a priority class: the sources' labels or the priority weight."""
        labels = sorted(
            {
                source.label
                for source, k in zip(self.instance.sources, self.klass)
                if k == klass and source.label
            }
        )
        value = f"priority {self.class_priority[klass]:g}"
        return f"{'/'.join(labels)} ({value})" if labels else value


def _shortest_times(compiled_arcs: tuple, num_devices: int, size: float) -> np.ndarray:
    tail, head, latency, per_mb = compiled_arcs
    dense = np.full((num_devices, num_devices), np.inf)
    dense[tail, head] = latency + per_mb * size
    graph = csgraph_from_dense(dense, null_value=np.inf)
    times = shortest_path(graph, method="D", directed=True)
    np.fill_diagonal(times, 0.0)
    return times


def compile_instance(instance: PamdiInstance) -> Compiled:
    """Compile a validated, resolved instance into arrays.

    Parameters
    ----------
    instance : PamdiInstance
        As returned by :func:`idnopt.load` or :func:`idnopt.from_dict`.

    Returns
    -------
    Compiled
        The instance's arrays.
    """
    devices = {device.name: index for index, device in enumerate(instance.devices)}
    models = {model.name: index for index, model in enumerate(instance.models)}
    num_devices = len(devices)
    tails, heads, latencies, per_mb = [], [], [], []
    for link in instance.links:
        pairs = [(link.source, link.target)]
        if not link.directed:
            pairs.append((link.target, link.source))
        for a, b in pairs:
            tails.append(devices[a])
            heads.append(devices[b])
            latencies.append(link.latency)
            per_mb.append(MS_PER_MB_AT_1_MBIT / link.bandwidth)
    arcs = (
        np.asarray(tails, dtype=np.int64),
        np.asarray(heads, dtype=np.int64),
        np.asarray(latencies, dtype=float),
        np.asarray(per_mb, dtype=float),
    )
    neighbours = tuple(np.unique(arcs[1][arcs[0] == device]) for device in range(num_devices))
    cache: dict[float, np.ndarray] = {}

    def times(size: float) -> np.ndarray:
        if size not in cache:
            cache[size] = _shortest_times(arcs, num_devices, size)
        return cache[size]

    model_chains = {}
    for model in instance.models:
        layers = instance.model_layers(model.name)
        result = layers[-1].output if model.result is None else model.result
        sizes = np.asarray([model.input, *(layer.output for layer in layers[:-1]), result])
        model_chains[model.name] = Chain(
            names=tuple(layer.name for layer in layers),
            work=model.time_scale * np.asarray([layer.time for layer in layers], dtype=float),
            sizes=sizes,
            memory=np.asarray([layer.memory for layer in layers], dtype=float),
            transfer=np.stack([times(float(size)) for size in sizes]),
        )
    priority = np.asarray([source.priority for source in instance.sources], dtype=float)
    if instance.queueing == "fifo":
        class_priority = np.asarray([priority.max()])
        klass = np.zeros(priority.size, dtype=np.int64)
    else:
        class_priority = np.unique(priority)[::-1]
        klass = np.searchsorted(-class_priority, -priority)
    return Compiled(
        instance=instance,
        device_names=tuple(devices),
        source_names=tuple(source.name for source in instance.sources),
        model_names=tuple(models),
        speed=np.asarray([device.speed for device in instance.devices], dtype=float),
        memory=np.asarray(
            [np.inf if device.memory is None else device.memory for device in instance.devices]
        ),
        arc_tail=arcs[0],
        arc_head=arcs[1],
        arc_latency=arcs[2],
        arc_ms_per_mb=arcs[3],
        origin=np.asarray([devices[source.device] for source in instance.sources]),
        model_of=np.asarray([models[source.model] for source in instance.sources]),
        rate=np.asarray([source.rate / 1000.0 for source in instance.sources]),
        priority=priority,
        klass=np.asarray(klass, dtype=np.int64),
        class_priority=class_priority,
        chains=tuple(model_chains[source.model] for source in instance.sources),
        queueing=instance.queueing,
        second_moment=1.0 + float(instance.compute_cv) ** 2,
        max_load=float(instance.max_load),
        _neighbours=neighbours,
    )
