r"""Each request class's serving candidates, sorted by cost, as flat numpy arrays.

:func:`build_candidates` derives, for every request class, the (node, model)
pairs on its path that may serve it more cheaply than the repository, with
their costs :math:`\gamma^k`, capacities :math:`\min(l^k, r)` and cost gaps
:math:`\gamma^{k+1} - \gamma^k` (see ``THEORY.md``). Every gain, program and
heuristic of the family works on these arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from idnopt.formulations.idn.schema import IdnInstance


@dataclass(frozen=True)
class Candidates:
    r"""Every request class's serving candidates, sorted by cost, as flat arrays.

    Candidates of request class ``q`` occupy ``start[q] : start[q + 1]``; the
    repository's best candidate is not stored (its cost is ``repository_cost``).

    Attributes
    ----------
    node_names, model_names, request_names : list of str
        Labels.
    sizes : numpy.ndarray
        Model memory (MB) per model.
    budgets : numpy.ndarray
        Model-memory budget per node (0 for the repository).
    hostable : numpy.ndarray
        Boolean (node, model) mask of pairs that may be allocated.
    rate : numpy.ndarray
        Rate per request class.
    repository_cost : numpy.ndarray
        :math:`\gamma^K` per request class.
    start : numpy.ndarray
        Offsets of each request class's candidates (length classes + 1).
    request, node, model : numpy.ndarray
        Per candidate: its request class, node and model indices.
    pair : numpy.ndarray
        Flat (node, model) index ``node * models + model``.
    cost, capacity : numpy.ndarray
        Per candidate: :math:`\gamma^k` and :math:`\min(l^k, r)`.
    throughput : numpy.ndarray
        Per candidate: the server's full throughput :math:`l^k` (requests/s).
    latency, accuracy : numpy.ndarray
        Per candidate: round-trip + inference latency (ms) and model accuracy.
    gap : numpy.ndarray
        :math:`\gamma^{k+1} - \gamma^k` per candidate.
    repository_latency, repository_accuracy : numpy.ndarray
        Per request class: latency and accuracy of the repository's best.
    """

    node_names: list[str]
    model_names: list[str]
    request_names: list[str]
    sizes: np.ndarray
    budgets: np.ndarray
    hostable: np.ndarray
    rate: np.ndarray
    repository_cost: np.ndarray
    repository_latency: np.ndarray
    repository_accuracy: np.ndarray
    start: np.ndarray
    request: np.ndarray
    node: np.ndarray
    model: np.ndarray
    pair: np.ndarray
    cost: np.ndarray
    capacity: np.ndarray
    throughput: np.ndarray
    latency: np.ndarray
    accuracy: np.ndarray
    gap: np.ndarray

    @property
    def num_candidates(self) -> int:
        """Number of (request class, node, model) candidates below the repository."""
        return int(self.cost.size)

    @property
    def shape(self) -> tuple[int, int]:
        """(nodes, models)."""
        return len(self.node_names), len(self.model_names)

    def previous(self) -> np.ndarray:
        """Index of the previous candidate of the same class, ``-1`` for the first."""
        prior = np.arange(self.num_candidates) - 1
        prior[self.start[:-1][np.diff(self.start) > 0]] = -1
        return prior


def _grouped_arange(counts: np.ndarray) -> np.ndarray:
    """``0 … counts[i] - 1`` for every group, concatenated (vectorised)."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(offsets, counts)


def _distinct_paths(
    instance: IdnInstance, node_index: dict[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The distinct request paths as flat arrays, and which one each request class takes.

    Request classes without an explicit path share their ingress's lowest-latency
    path to the repository (one single-source Dijkstra from the repository on the
    reversed graph); a distance along a path is the running sum of its link
    latencies from the ingress, so every path is walked once, whatever the
    number of request classes that use it.

    Returns
    -------
    path_of : numpy.ndarray
        Per request class: its path's index.
    start : numpy.ndarray
        Offsets of each path's hops in ``hop_node`` / ``hop_distance``.
    hop_node, hop_distance : numpy.ndarray
        Per hop: node index and round-trip latency from the ingress (ms).
    on_path : numpy.ndarray
        Per path: number of leading hops that may serve (the repository at the
        end of a path is excluded).
    """
    graph = instance.graph()
    requests = instance.requests
    shortest: dict[str, list[str]] = {}
    if any(r.path is None for r in requests):
        _, shortest = nx.single_source_dijkstra(
            graph.reverse(copy=False), instance.repository, weight="latency"
        )
    key_index: dict[Any, int] = {}
    path_of = np.empty(len(requests), dtype=np.int64)
    hop_nodes: list[int] = []
    hop_distances: list[float] = []
    starts = [0]
    on_path: list[int] = []
    for q, request in enumerate(requests):
        key: Any = request.ingress if request.path is None else tuple(request.path)
        index = key_index.get(key)
        if index is None:
            index = key_index[key] = len(on_path)
            path = list(reversed(shortest[key])) if request.path is None else list(request.path)
            graph_latency = [0.0]
            for a, b in zip(path, path[1:]):
                graph_latency.append(graph_latency[-1] + float(graph.edges[a, b]["latency"]))
            hop_nodes.extend(node_index[v] for v in path)
            hop_distances.extend(2.0 * np.asarray(graph_latency))
            starts.append(len(hop_nodes))
            on_path.append(len(path) - 1 if path[-1] == instance.repository else len(path))
        path_of[q] = index
    return (
        path_of,
        np.asarray(starts, dtype=np.int64),
        np.asarray(hop_nodes, dtype=np.int64),
        np.asarray(hop_distances, dtype=float),
        np.asarray(on_path, dtype=np.int64),
    )


def _candidate_order(group: np.ndarray, cost: np.ndarray, pair: np.ndarray) -> np.ndarray:
    """Stable order by (group, cost, pair), as ``np.lexsort`` gives, but sorting once.

    Costs are replaced by their ranks so the three keys pack into one int64 key;
    ``np.lexsort`` is the fallback when the packed key would overflow.
    """
    if cost.size == 0:
        return np.zeros(0, dtype=np.int64)
    distinct, rank = np.unique(cost, return_inverse=True)
    pairs = int(pair.max()) + 1
    if (int(group.max()) + 1) * distinct.size * pairs >= 2**62:
        return np.lexsort((pair, cost, group))
    key = (group.astype(np.int64) * distinct.size + rank.reshape(-1)) * pairs + pair
    return np.argsort(key, kind="stable")


def build_candidates(instance: IdnInstance) -> Candidates:
    """Derive the sorted candidate lists of every request class (vectorised).

    Request classes that share a path and a task share their candidates: those
    are derived once per (path, task) group with numpy index arithmetic (hops ×
    models of the task, filtered by hostability and by being cheaper than the
    repository), sorted by (cost, node, model), and gathered per request class.

    Parameters
    ----------
    instance : IdnInstance
        A validated instance.

    Returns
    -------
    Candidates
        Flat candidate arrays; candidates no cheaper than the repository are dropped.
    """
    nodes, models, requests = instance.nodes, instance.models, instance.requests
    node_index = {n.name: i for i, n in enumerate(nodes)}
    hardware = sorted({n.hardware for n in nodes if n.hardware})
    hw_index = {h: i for i, h in enumerate(hardware)}
    latency_table = np.full((len(hardware), len(models)), np.nan)
    throughput_table = np.full((len(hardware), len(models)), np.nan)
    for j, model in enumerate(models):
        for h, name in enumerate(hardware):
            value = model.latency_on(name)
            if value is not None:
                latency_table[h, j] = value
                throughput_table[h, j] = model.throughput_on(name)
    node_hw = np.array([hw_index.get(n.hardware, -1) if n.hardware else -1 for n in nodes])
    sizes = np.array([m.memory for m in models], dtype=float)
    accuracy = np.array([m.accuracy for m in models], dtype=float)
    budgets = np.array([n.memory for n in nodes], dtype=float)
    repo = node_index[instance.repository]
    budgets[repo] = 0.0
    node_latency = np.where(node_hw[:, None] >= 0, latency_table[node_hw], np.nan)
    node_throughput = np.where(node_hw[:, None] >= 0, throughput_table[node_hw], np.nan)
    hostable = np.isfinite(node_latency) & (sizes[None, :] <= budgets[:, None])
    hostable[repo] = False

    tasks = sorted({m.task for m in models})
    task_index = {t: i for i, t in enumerate(tasks)}
    model_task = np.array([task_index[m.task] for m in models])
    hosted = set(instance.hosted_by_repository())
    repo_models = np.array([m.name in hosted for m in models])
    penalty = instance.alpha * (1.0 - accuracy)
    rates = np.array([r.rate for r in requests], dtype=float)
    request_task = np.array([task_index[r.task] for r in requests], dtype=np.int64)

    # one group per distinct (path, task): its candidates are the same for every member
    path_of, path_start, hop_node, hop_distance, on_path = _distinct_paths(instance, node_index)
    group_key, group_of = np.unique(path_of * len(tasks) + request_task, return_inverse=True)
    group_of = group_of.reshape(-1)
    group_path, group_task = np.divmod(group_key, len(tasks))
    solves = model_task[None, :] == np.arange(len(tasks))[:, None]  # (task, model)

    # the repository's best model per group
    end_distance = hop_distance[path_start[group_path + 1] - 1] if group_key.size else np.zeros(0)
    repo_costs = np.where(
        (solves & repo_models[None, :])[group_task],
        end_distance[:, None] + node_latency[repo][None, :] + penalty[None, :],
        np.inf,
    )
    best = np.argmin(repo_costs, axis=1) if group_key.size else np.zeros(0, dtype=np.int64)
    group_repository_cost = repo_costs[np.arange(group_key.size), best]
    repository_cost = group_repository_cost[group_of]
    repository_latency = (end_distance + node_latency[repo, best])[group_of]
    repository_accuracy = accuracy[best][group_of]

    # hops × models of the task, in (hop, model) order, filtered
    hop_group = np.repeat(np.arange(group_key.size), on_path[group_path])
    hop = path_start[group_path][hop_group] + _grouped_arange(on_path[group_path])
    task_models = np.argsort(model_task, kind="stable")
    task_first = np.searchsorted(model_task[task_models], np.arange(len(tasks)))
    per_hop = np.bincount(model_task, minlength=len(tasks))[group_task[hop_group]]
    entry_hop = np.repeat(np.arange(hop.size), per_hop)
    model = task_models[
        task_first[group_task[hop_group]][entry_hop] + _grouped_arange(per_hop)
    ].astype(np.int64)
    node = hop_node[hop][entry_hop]
    usable = hostable[node, model]
    entry_hop, node, model = entry_hop[usable], node[usable], model[usable]
    latency = hop_distance[hop][entry_hop] + node_latency[node, model]
    cost = latency + penalty[model]
    group = hop_group[entry_hop]
    keep = cost < group_repository_cost[group]
    group, node, model, cost, latency = (a[keep] for a in (group, node, model, cost, latency))
    order = _candidate_order(group, cost, node * len(models) + model)
    group, node, model, cost, latency = (a[order] for a in (group, node, model, cost, latency))
    group_count = np.bincount(group, minlength=group_key.size)
    group_start = np.cumsum(group_count) - group_count

    # gather each request class's block
    counts = group_count[group_of].astype(np.int64)
    start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    request_of = np.repeat(np.arange(len(requests)), counts)
    take = np.repeat(group_start[group_of], counts) + _grouped_arange(counts)
    node, model, cost, latency = node[take], model[take], cost[take], latency[take]
    throughput = node_throughput[node, model]
    capacity = np.minimum(throughput, rates[request_of])
    following = np.append(cost[1:], 0.0)
    last = start[1:][counts > 0] - 1
    following[last] = repository_cost[request_of[last]]
    return Candidates(
        node_names=[n.name for n in nodes],
        model_names=[m.name for m in models],
        request_names=[r.name or f"{r.task}@{r.ingress}#{q}" for q, r in enumerate(requests)],
        sizes=sizes,
        budgets=budgets,
        hostable=hostable,
        rate=rates,
        repository_cost=repository_cost,
        repository_latency=repository_latency,
        repository_accuracy=repository_accuracy,
        start=start,
        request=request_of,
        node=node,
        model=model,
        pair=node * len(models) + model,
        cost=cost,
        capacity=capacity,
        throughput=throughput,
        latency=latency,
        accuracy=accuracy[model],
        gap=following - cost,
    )
