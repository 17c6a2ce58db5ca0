"""What a serving simulation runs on, as arrays: deployments, request classes, delays, targets.

A :class:`ServingSystem` is the compiled, family-agnostic picture of inference
serving at millisecond timescales:

* **deployments** - pools of identical model servers at a node: ``replicas``
  servers, each serving one batch of up to ``batch`` queries at a time
  (waiting at most ``max_wait`` ms for a batch to fill), a FIFO queue of at
  most ``queue_limit`` waiting queries, a single-query service time
  ``latency`` (a batch of ``b`` takes ``latency * (1 + batch_cost * (b - 1))``)
  and the model's ``accuracy``;
* **request classes** - an application's queries entering at one ingress:
  end-to-end ``deadline``, ``min_accuracy``, coefficient of variation of the
  service time, and which deployments can serve them (same task);
* **network** - per class and deployment, the uncongested delay of the
  query to the deployment's node (``uplink``) and of the answer back
  (``downlink``), and the mean of the exponential jitter added on each way;
* **targets** - what a scheduler chooses per query. With ``level="node"``
  (ASET: a cluster) a target is a node that hosts deployments and the class's
  deployment there is fixed (the fastest one meeting the class's accuracy,
  else the most accurate); with ``level="deployment"`` (tier x model
  variant) every deployment is a target.

Times are in ms. The family that owns the instance builds the system; the
engines (:mod:`~idnopt.sim.fast`, :mod:`~idnopt.sim.reference`), the
schedulers and the Gymnasium environment read only these arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

UNLIMITED_QUEUE = 1 << 40
"""``queue_limit`` of a deployment whose queue never refuses a query."""

LEVELS = ("node", "deployment")
"""What a target is: a node (the class's deployment there) or a deployment.

A family may also build its own targets (``level="custom"``, e.g. tier x model
variant, where "local" is a different deployment for every device); such a
system cannot change level."""


@dataclass(frozen=True, eq=False)
class Deployments:
    """Pools of model servers, one entry per deployment.

    Attributes
    ----------
    names : tuple of str
        ``node/model`` labels.
    node : numpy.ndarray
        Node index of each deployment.
    model : tuple of str
        Model names.
    task : tuple of str
        Task each model solves.
    replicas, batch, queue_limit : numpy.ndarray
        Servers, largest batch and most waiting queries (integers).
    latency : numpy.ndarray
        Single-query service time in ms.
    batch_cost : numpy.ndarray
        Extra service time per additional query in a batch, as a fraction of ``latency``.
    max_wait : numpy.ndarray
        Longest time (ms) the oldest waiting query waits for a batch to fill.
    accuracy : numpy.ndarray
        Accuracy of the model, in [0, 1].
    pool : numpy.ndarray, optional
        Server pool of each deployment (default: its own). Deployments of one
        pool share its servers and its FIFO queue - model variants on one
        device's processor - so they must not batch and must have the same
        replicas and queue limit.
    loaded : numpy.ndarray, optional
        Whether the deployment's service time is multiplied by the query's
        ``compute_factor`` (a processor with time-varying background load, such
        as an end device; default: no deployment).
    """

    names: tuple[str, ...]
    node: np.ndarray
    model: tuple[str, ...]
    task: tuple[str, ...]
    replicas: np.ndarray
    batch: np.ndarray
    queue_limit: np.ndarray
    latency: np.ndarray
    batch_cost: np.ndarray
    max_wait: np.ndarray
    accuracy: np.ndarray
    pool: np.ndarray | None = None
    loaded: np.ndarray | None = None

    def __post_init__(self) -> None:
        count = len(self.names)
        pool = np.arange(count) if self.pool is None else np.asarray(self.pool, dtype=np.int64)
        loaded = np.zeros(count, bool) if self.loaded is None else np.asarray(self.loaded, bool)
        if pool.shape != (count,) or loaded.shape != (count,):
            raise ValueError("pool and loaded need one entry per deployment")
        object.__setattr__(self, "pool", pool)
        object.__setattr__(self, "loaded", loaded)
        for group in np.unique(pool):
            members = np.flatnonzero(pool == group)
            if members.size < 2:
                continue
            if (self.batch[members] != 1).any():
                raise ValueError("deployments sharing a server pool cannot batch")
            for name in ("replicas", "queue_limit"):
                values = getattr(self, name)[members]
                if (values != values[0]).any():
                    raise ValueError(f"deployments sharing a server pool need the same {name}")

    def __len__(self) -> int:
        return len(self.names)

    def pool_head(self) -> np.ndarray:
        """For each deployment, the first deployment of its pool (which holds the pool's state)."""
        first: dict[int, int] = {}
        for index, group in enumerate(self.pool.tolist()):
            first.setdefault(group, index)
        return np.array([first[g] for g in self.pool.tolist()], dtype=np.int64)

    def batch_time(self, index: int, size: int) -> float:
        """Service time (ms, before the random factor) of a batch of ``size`` at a deployment."""
        return float(self.latency[index] * (1.0 + self.batch_cost[index] * (size - 1)))

    @property
    def capacity(self) -> np.ndarray:
        """Queries per ms each deployment sustains at full batches (alone in its pool)."""
        full = self.latency * (1.0 + self.batch_cost * (self.batch - 1))
        return self.replicas * self.batch / full


@dataclass(frozen=True, eq=False)
class Classes:
    """Request classes: one application at one ingress.

    Attributes
    ----------
    names : tuple of str
        ``application@ingress`` labels.
    application : numpy.ndarray
        Index into :attr:`ServingSystem.applications`.
    ingress : numpy.ndarray
        Node index of the ingress.
    task : tuple of str
        Task asked.
    deadline : numpy.ndarray
        End-to-end deadline in ms.
    min_accuracy : numpy.ndarray
        Least model accuracy that counts as accurate service.
    service_cv : numpy.ndarray
        Coefficient of variation of the service time (0: deterministic).
    """

    names: tuple[str, ...]
    application: np.ndarray
    ingress: np.ndarray
    task: tuple[str, ...]
    deadline: np.ndarray
    min_accuracy: np.ndarray
    service_cv: np.ndarray

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True, eq=False)
class ServingSystem:
    """Deployments, request classes, network delays and the scheduler's targets.

    Attributes
    ----------
    nodes : tuple of str
        Node names.
    applications : tuple of str
        Application names (metrics are reported per application).
    deployments : Deployments
        The model server pools.
    classes : Classes
        The request classes.
    uplink, downlink : numpy.ndarray
        (classes, deployments) uncongested delays in ms, ingress to the
        deployment's node and back (propagation plus transfer of the input,
        respectively the result).
    jitter : numpy.ndarray
        (classes, deployments) mean of the exponential jitter (ms) added on each way.
    transfer_up, transfer_down : numpy.ndarray, optional
        (classes, deployments) the part of the delay each way that is scaled by
        the query's ``network_factor`` (a transfer over a link whose bandwidth
        varies); a query's delay is ``uplink + network_factor * transfer_up``
        (default: nothing scales).
    level : {"node", "deployment", "custom"}
        What a target is.
    targets : tuple of str
        Target names (nodes hosting deployments, or deployments).
    target_deployment : numpy.ndarray
        (classes, targets) deployment serving a class's query sent to a target,
        ``-1`` where the target cannot serve the class.
    cloud : int
        Target index of the cloud (``-1`` when there is none).
    report_interval : float
        Period (ms) of the load reports schedulers see (0: exact, current loads).
    """

    nodes: tuple[str, ...]
    applications: tuple[str, ...]
    deployments: Deployments
    classes: Classes
    uplink: np.ndarray
    downlink: np.ndarray
    jitter: np.ndarray
    level: str = "node"
    targets: tuple[str, ...] = ()
    target_deployment: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), int))
    cloud: int = -1
    report_interval: float = 0.0
    transfer_up: np.ndarray | None = None
    transfer_down: np.ndarray | None = None

    def __post_init__(self) -> None:
        shape = np.shape(self.uplink)
        for name in ("transfer_up", "transfer_down"):
            value = getattr(self, name)
            value = np.zeros(shape) if value is None else np.asarray(value, dtype=float)
            if value.shape != shape:
                raise ValueError(f"{name} must be (classes, deployments) = {shape}")
            object.__setattr__(self, name, value)

    @cached_property
    def varies(self) -> bool:
        """Whether queries carry conditions: scaled transfers or loaded deployments."""
        return bool(
            self.transfer_up.any() or self.transfer_down.any() or self.deployments.loaded.any()
        )

    @cached_property
    def round_trip(self) -> np.ndarray:
        """(classes, deployments) mean round trip (ms) without the scaled transfers.

        ``uplink + downlink + 2 * jitter``: what every query pays on the network
        before ``network_factor`` scales ``transfer_up + transfer_down``.
        """
        return self.uplink + self.downlink + 2.0 * self.jitter

    @property
    def num_targets(self) -> int:
        """Number of targets a scheduler chooses among."""
        return len(self.targets)

    def way(
        self,
        back: bool,
        klass: int | np.ndarray,
        deployment: int | np.ndarray,
        jitter_draw: float | np.ndarray,
        network_factor: float | np.ndarray,
    ) -> float | np.ndarray:
        """A query's delay (ms) to a deployment (``back`` false) or from it.

        ``uplink`` (``downlink``) plus the query's jitter draw times the mean
        jitter plus its ``network_factor`` times the scaled transfer
        (``transfer_up``, ``transfer_down``). Works element-wise on arrays.

        Parameters
        ----------
        back : bool
            The way back (result) rather than the way there (input).
        klass, deployment : int or numpy.ndarray
            Class and deployment indices.
        jitter_draw : float or numpy.ndarray
            Standard exponential draw(s) of the query's jitter on that way.
        network_factor : float or numpy.ndarray
            The query's network condition(s).

        Returns
        -------
        float or numpy.ndarray
            The delay in ms.
        """
        base, scaled = (
            (self.downlink, self.transfer_down) if back else (self.uplink, self.transfer_up)
        )
        return (
            base[klass, deployment]
            + jitter_draw * self.jitter[klass, deployment]
            + network_factor * scaled[klass, deployment]
        )

    def admissible(self, klass: int) -> np.ndarray:
        """Target indices that can serve class ``klass``."""
        return np.flatnonzero(self.target_deployment[klass] >= 0)

    def with_level(self, level: str) -> ServingSystem:
        """The same system with targets at ``level`` (see :func:`targets_at`)."""
        if level == self.level:
            return self
        if self.level not in LEVELS:
            raise ValueError(f"a system with {self.level} targets cannot change level")
        names, table, cloud = targets_at(
            level, self.nodes, self.deployments, self.classes, self.cloud_node
        )
        return _replace(self, level=level, targets=names, target_deployment=table, cloud=cloud)

    def with_report_interval(self, interval: float) -> ServingSystem:
        """The same system with another load-report period (ms)."""
        return _replace(self, report_interval=float(interval))

    @property
    def cloud_node(self) -> int:
        """Node index of the cloud (``-1`` when there is none)."""
        if self.cloud < 0:
            return -1
        if self.level == "node":
            return self.nodes.index(self.targets[self.cloud])
        return int(self.deployments.node[self.cloud])


def _replace(system: ServingSystem, **changes) -> ServingSystem:
    from dataclasses import replace

    return replace(system, **changes)


def targets_at(
    level: str,
    nodes: tuple[str, ...],
    deployments: Deployments,
    classes: Classes,
    cloud_node: int = -1,
) -> tuple[tuple[str, ...], np.ndarray, int]:
    """Targets, the (classes, targets) deployment table and the cloud's target index.

    Parameters
    ----------
    level : {"node", "deployment"}
        ``node``: a target is a node hosting deployments; a class sent there is
        served by its fastest deployment there whose accuracy meets the class's
        minimum, else by its most accurate one. ``deployment``: every
        deployment is a target.
    nodes : tuple of str
        Node names.
    deployments : Deployments
        The deployments.
    classes : Classes
        The request classes.
    cloud_node : int
        Node index of the cloud (``-1``: none).

    Returns
    -------
    tuple
        ``(names, table, cloud)``.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    solves = np.array(
        [[task == served for served in deployments.task] for task in classes.task], dtype=bool
    ).reshape(len(classes), len(deployments))
    if level == "deployment":
        table = np.where(solves, np.arange(len(deployments))[None, :], -1)
        cloud = -1
        if cloud_node >= 0:
            at_cloud = np.flatnonzero(deployments.node == cloud_node)
            cloud = int(at_cloud[0]) if at_cloud.size else -1
        return tuple(deployments.names), table, cloud
    hosting = sorted(set(int(n) for n in deployments.node))
    table = np.full((len(classes), len(hosting)), -1, dtype=int)
    for target, node in enumerate(hosting):
        here = np.flatnonzero(deployments.node == node)
        for klass in range(len(classes)):
            usable = [d for d in here if solves[klass, d]]
            if not usable:
                continue
            accurate = [
                d for d in usable if deployments.accuracy[d] >= classes.min_accuracy[klass] - 1e-12
            ]
            if accurate:
                best = min(accurate, key=lambda d: (deployments.latency[d], d))
            else:
                best = max(usable, key=lambda d: (deployments.accuracy[d], -d))
            table[klass, target] = best
    cloud = hosting.index(cloud_node) if cloud_node in hosting else -1
    return tuple(nodes[n] for n in hosting), table, cloud
