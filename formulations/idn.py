r"""IDN: model allocation in inference delivery networks (Si Salem et al., arXiv 2105.02510).

Nodes :math:`v` have a model-memory budget :math:`b_v`; :math:`x_{v,m}\in\{0,1\}`
hosts model :math:`m` on :math:`v` under the knapsack
:math:`\sum_m s_m x_{v,m} \le b_v`. A repository node always hosts a model for
every task, so every request can be served.

A request class :math:`\rho` (task, path :math:`p_1\ldots p_J` from its ingress
to the repository, rate :math:`r_\rho`) served by :math:`(v, m)` costs

.. math:: C = 2\,d(p_1, v) + \ell_{m,v} + \alpha\,(1 - a_m)

(round-trip path latency, inference latency, accuracy penalty). ``(v, m)``
serves at most :math:`l_{v,m}` requests/s (its profiled throughput); we use
:math:`\min(l, r_\rho)`. With :math:`\rho`'s candidates sorted by cost
:math:`\gamma^1\le\dots\le\gamma^K` (:math:`K` = the repository's best),
requests go greedily to the cheapest hosted candidates and the gain over
repository-only service is

.. math:: G(x) = \sum_\rho \sum_{k<K} (\gamma^{k+1}-\gamma^k)\,
          \min\Big\{r_\rho, \sum_{k'\le k} l^{k'} x^{k'}\Big\}.

Exact program (``per_request`` capacity, the paper's model). With
:math:`t_{\rho,k}\le r_\rho` and the *prefix* rows

.. math:: t_{\rho,k} \le t_{\rho,k-1} + l^k x^k ,

maximising :math:`\sum \Delta_{\rho,k} t_{\rho,k}` gives
:math:`t_{\rho,k} = \min\{r_\rho, \sum_{k'\le k} l^{k'}x^{k'}\}` at the optimum
(all :math:`\Delta \ge 0`), so the program is exact with one row and three
non-zeros per candidate: the model grows with :math:`\sum_\rho K_\rho`, not its
square. Relaxing :math:`x` to :math:`y\in[0,1]` gives the concave relaxation
:math:`L(y)` as an LP.

``shared`` capacity: servers share their throughput across request classes
(flows :math:`z_{\rho,k}\ge 0`, :math:`\sum_k z_{\rho,k} = r_\rho`,
:math:`\sum_{\rho} z_{\rho,(v,m)} \le l_{v,m} x_{v,m}`; the repository is
unlimited). The gain is then :math:`\sum_\rho r_\rho\gamma^K_\rho - \sum C z`,
never more than the per-request gain of the same allocation.

Methods: ``milp`` (exact), ``relaxation`` (LP, the bound :math:`L^*`),
``rounding`` (DepRound per node on the LP solution, repair to knapsack
feasibility, then greedy filling; best of several draws), ``greedy`` (largest
marginal gain per MB, lazy evaluation thanks to submodularity) and
``repository`` (nothing cached, the zero point).
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import numpy as np
from pydantic import Field

from idnopt.backends import solve_program
from idnopt.errors import InputError, format_location
from idnopt.formulation import Formulation
from idnopt.instance import NetworkInstance, Problem
from idnopt.program import LabelAxis, Program
from idnopt.registry import Family, register
from idnopt.result import Result, Status, relative_gap

# ---------------------------------------------------------------------------------------
# instance schema


class IdnInstance(NetworkInstance):
    """An inference delivery network: nodes with model-memory budgets and a repository.

    Attributes
    ----------
    repository : str
        The node that always hosts a model for every task (usually the cloud).
    alpha : float
        Weight of the accuracy loss in the cost, in ms per unit of accuracy
        (cost = 2·path latency + inference latency + alpha·(1 − accuracy)).
    capacity : {"per_request", "shared"}
        ``per_request``: each request class sees a server's full throughput (the
        paper's gain); ``shared``: request classes share it (flow model).
    repository_models : list of str, optional
        Models the repository hosts (default: every model it has a latency for).
    """

    kind: Literal["idn"]
    repository: str
    alpha: float = Field(default=0.0, ge=0)
    capacity: Literal["per_request", "shared"] = "per_request"
    repository_models: list[str] | None = None

    def cross_check(self, *, profiles_resolved: bool = False) -> list[Problem]:
        """Network checks plus repository, model and reachability checks.

        Numbers that the ``profiles`` section supplies (memory, accuracy, the
        repository hardware's latencies) are checked by :meth:`resolve` once the
        profiles are read (``profiles_resolved=True``), not before.
        """
        problems = super().cross_check()
        if problems:
            return problems
        pending = bool(self.profiles) and not profiles_resolved
        nodes = {node.name: node for node in self.nodes}
        if self.repository not in nodes:
            from idnopt.instance import unknown_name

            return [(("repository",), unknown_name("node", self.repository, nodes))]
        for index, model in enumerate(self.models if not pending else []):
            if model.memory is None:
                problems.append(
                    (("models", index, "memory"), f"model {model.name!r} needs a memory size (MB)")
                )
            if model.accuracy is None:
                problems.append(
                    (
                        ("models", index, "accuracy"),
                        f"model {model.name!r} needs an accuracy in [0, 1]",
                    )
                )
        for index, node in enumerate(self.nodes):
            if node.name != self.repository and node.memory > 0 and node.hardware is None:
                problems.append(
                    (
                        ("nodes", index, "hardware"),
                        f"node {node.name!r} has a memory budget but no hardware to run models on",
                    )
                )
        repository = nodes[self.repository]
        if repository.hardware is None:
            problems.append(
                (
                    ("nodes", self.node_names.index(self.repository), "hardware"),
                    "the repository needs a hardware name to run its models",
                )
            )
            return problems
        latencies_pending = pending and repository.hardware in self.profiles
        hosted = self.hosted_by_repository()
        for index, name in enumerate(self.repository_models or []):
            model = next((m for m in self.models if m.name == name), None)
            if model is None:
                from idnopt.instance import unknown_name

                problems.append(
                    (("repository_models", index), unknown_name("model", name, self.model_names))
                )
            elif model.latency_on(repository.hardware) is None and not latencies_pending:
                problems.append(
                    (
                        ("repository_models", index),
                        f"model {name!r} has no latency on the repository's hardware "
                        f"{repository.hardware!r}; add it to the model's latency or a profile",
                    )
                )
        tasks_at_repository = {m.task for m in self.models if m.name in hosted}
        graph = self.graph()
        for index, request in enumerate(self.requests):
            if request.task not in tasks_at_repository and not latencies_pending:
                problems.append(
                    (
                        ("requests", index, "task"),
                        f"no model for task {request.task!r} runs at the repository "
                        f"{self.repository!r}; the repository must serve every task",
                    )
                )
            if request.path is None and not nx.has_path(graph, request.ingress, self.repository):
                problems.append(
                    (
                        ("requests", index, "ingress"),
                        f"ingress {request.ingress!r} has no route to the repository "
                        f"{self.repository!r}; add a link or give an explicit path",
                    )
                )
            if request.path is not None and request.path[-1] != self.repository:
                problems.append(
                    (
                        ("requests", index, "path"),
                        f"path must end at the repository {self.repository!r}",
                    )
                )
        return problems

    def resolve(self, base: Path | None) -> IdnInstance:
        """Fill numbers from the ``profiles`` files, then check what needed them."""
        resolved = super().resolve(base)
        if self.profiles:
            problems = resolved.cross_check(profiles_resolved=True)
            if problems:
                location, message = problems[0]
                raise InputError(
                    message, location=format_location(location), more=len(problems) - 1
                )
        return resolved

    def hosted_by_repository(self) -> list[str]:
        """Names of the models the repository hosts."""
        hardware = next(n.hardware for n in self.nodes if n.name == self.repository)
        if self.repository_models is not None:
            return list(self.repository_models)
        return [m.name for m in self.models if hardware and m.latency_on(hardware) is not None]


# ---------------------------------------------------------------------------------------
# derived data


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


def request_paths(instance: IdnInstance) -> list[list[str]]:
    """Each request class's path: given, or the lowest-latency path to the repository."""
    graph = instance.graph()
    missing = [r for r in instance.requests if r.path is None]
    shortest: dict[str, list[str]] = {}
    if missing:
        _, shortest = nx.single_source_dijkstra(
            graph.reverse(copy=False), instance.repository, weight="latency"
        )
    return [
        list(r.path) if r.path is not None else list(reversed(shortest[r.ingress]))
        for r in instance.requests
    ]


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


# ---------------------------------------------------------------------------------------
# gain, relaxation and supergradient


def _grouped_cumsum(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at every group start."""
    total = np.cumsum(values)
    before = np.concatenate([[0.0], total])[start[:-1]]
    counts = np.diff(start)
    return total - np.repeat(before, counts)


def _allocation_per_candidate(candidates: Candidates, allocation: np.ndarray) -> np.ndarray:
    allocation = np.asarray(allocation, dtype=float)
    if allocation.shape != candidates.shape:
        raise ValueError(f"allocation must have shape {candidates.shape}, got {allocation.shape}")
    return allocation.ravel()[candidates.pair]


def relaxed_gain(candidates: Candidates, allocation: np.ndarray) -> float:
    r"""The concave relaxation :math:`L(y)` (equal to :math:`G(x)` on binary inputs).

    Parameters
    ----------
    candidates : Candidates
        From :func:`build_candidates`.
    allocation : numpy.ndarray
        (nodes, models) array with entries in [0, 1].

    Returns
    -------
    float
        :math:`\sum_\rho\sum_{k<K}(\gamma^{k+1}-\gamma^k)\min\{r, \sum_{k'\le k} l y\}`.
    """
    y = _allocation_per_candidate(candidates, allocation)
    served = np.minimum(
        candidates.rate[candidates.request],
        _grouped_cumsum(candidates.capacity * y, candidates.start),
    )
    return float(np.dot(candidates.gap, served))


def gain(candidates: Candidates, allocation: np.ndarray) -> float:
    """The gain :math:`G(x)` of a binary allocation over repository-only service."""
    return relaxed_gain(candidates, np.asarray(allocation, dtype=float))


def supergradient(candidates: Candidates, allocation: np.ndarray) -> np.ndarray:
    r"""A supergradient of :math:`L` at ``allocation``, shaped (nodes, models).

    For each class let :math:`K^*` be its first candidate whose cumulative
    capacity reaches the rate (the repository if none); every candidate
    :math:`k` gets :math:`l^k\max(0, \gamma^{K^*}-\gamma^k)`.
    """
    y = _allocation_per_candidate(candidates, allocation)
    if candidates.num_candidates == 0:  # nothing can be served below the repository
        return np.zeros(candidates.shape)
    cumulative = _grouped_cumsum(candidates.capacity * y, candidates.start)
    reached = cumulative >= candidates.rate[candidates.request] - 1e-12
    index = np.arange(candidates.num_candidates)
    sentinel = np.iinfo(np.int64).max
    first = np.full(len(candidates.rate), sentinel, dtype=np.int64)
    np.minimum.at(first, candidates.request[reached], index[reached])
    threshold = np.where(
        first == sentinel,
        candidates.repository_cost,
        candidates.cost[np.minimum(first, max(candidates.num_candidates - 1, 0))],
    )
    per_candidate = candidates.capacity * np.maximum(
        0.0, threshold[candidates.request] - candidates.cost
    )
    grad = np.bincount(
        candidates.pair, weights=per_candidate, minlength=int(np.prod(candidates.shape))
    )
    return grad.reshape(candidates.shape)


def serving(candidates: Candidates, allocation: np.ndarray) -> np.ndarray:
    """Requests/s each candidate serves under greedy serving (per-request capacity)."""
    x = _allocation_per_candidate(candidates, allocation)
    cumulative = _grouped_cumsum(candidates.capacity * x, candidates.start)
    rate = candidates.rate[candidates.request]
    capped = np.minimum(rate, cumulative)
    before = np.concatenate([[0.0], capped[:-1]])
    firsts = candidates.start[:-1][np.diff(candidates.start) > 0]
    before[firsts] = 0.0
    return capped - before


# ---------------------------------------------------------------------------------------
# programs


def build_program(
    candidates: Candidates, *, capacity: str = "per_request", relax: bool = False
) -> Program:
    """Declare the exact MILP (or its LP relaxation) of an IDN instance.

    Parameters
    ----------
    candidates : Candidates
        From :func:`build_candidates`.
    capacity : {"per_request", "shared"}
        Capacity semantics (see the module docstring).
    relax : bool
        Continuous allocation variables (the concave relaxation as an LP).

    Returns
    -------
    Program
        Maximise the gain over repository-only service.
    """
    nodes, models = candidates.shape
    program = Program("idn", sense="maximize")
    x = program.add_variables(
        "x",
        (nodes, models),
        upper=candidates.hostable.astype(float),
        integer=not relax,
        labels=[candidates.node_names, candidates.model_names],
    )
    budget_rows, budget_models = np.nonzero(candidates.hostable)
    program.add_constraints(
        "budget",
        [(x, budget_rows, budget_rows * models + budget_models, candidates.sizes[budget_models])],
        upper=candidates.budgets,
        shape=nodes,
        labels=[candidates.node_names],
    )
    count = candidates.num_candidates
    # "request:node/model", made only for the candidates a result or report shows
    request_names, node_names, model_names = (
        candidates.request_names,
        candidates.node_names,
        candidates.model_names,
    )
    request_of, pair_of = candidates.request, candidates.pair

    def candidate_label(k: int) -> str:
        node, model = divmod(int(pair_of[k]), models)
        return f"{request_names[request_of[k]]}:{node_names[node]}/{model_names[model]}"

    labels = LabelAxis(count, candidate_label)
    rows = np.arange(count)
    if capacity == "per_request":
        t = program.add_variables(
            "served", count, upper=candidates.rate[candidates.request], labels=[labels]
        )
        prior = candidates.previous()
        has_prior = prior >= 0
        program.add_constraints(
            "prefix_capacity",
            [
                (t, rows, rows, 1.0),
                (t, rows[has_prior], prior[has_prior], -1.0),
                (x, rows, candidates.pair, -candidates.capacity),
            ],
            upper=0.0,
            shape=count,
            labels=[labels],
        )
        program.set_objective([(t, candidates.gap)])
        return program
    if capacity != "shared":
        raise InputError(f"unknown capacity model {capacity!r}; use 'per_request' or 'shared'")
    # shared capacity: flows per candidate, the rest goes to the repository
    z = program.add_variables(
        "flow", count, upper=candidates.rate[candidates.request], labels=[labels]
    )
    classes = len(candidates.rate)
    program.add_constraints(
        "demand",
        [(z, candidates.request, rows, 1.0)],
        upper=candidates.rate,
        shape=classes,
        labels=[candidates.request_names],
    )
    throughput = np.zeros(nodes * models)
    throughput[candidates.pair] = candidates.throughput
    used_pairs, pair_row = np.unique(candidates.pair, return_inverse=True)
    pair_labels = [
        f"{candidates.node_names[p // models]}/{candidates.model_names[p % models]}"
        for p in used_pairs
    ]
    program.add_constraints(
        "server_capacity",
        [
            (z, pair_row, rows, 1.0),
            (x, np.arange(used_pairs.size), used_pairs, -throughput[used_pairs]),
        ],
        upper=0.0,
        shape=used_pairs.size,
        labels=[pair_labels],
    )
    saving = candidates.repository_cost[candidates.request] - candidates.cost
    program.set_objective([(z, saving)])
    return program


# ---------------------------------------------------------------------------------------
# heuristics


def greedy_allocation(candidates: Candidates) -> np.ndarray:
    """Greedy allocation by marginal gain per MB (lazy evaluation, submodularity).

    Returns
    -------
    numpy.ndarray
        Binary (nodes, models) allocation within every budget.
    """
    allocation = np.zeros(candidates.shape)
    return _greedy_fill(candidates, allocation)


def _class_gains(candidates: Candidates, allocation: np.ndarray, classes: np.ndarray) -> float:
    """Gain of the given request classes only."""
    x = allocation.ravel()
    total = 0.0
    for q in classes:
        lo, hi = candidates.start[q], candidates.start[q + 1]
        pairs = candidates.pair[lo:hi]
        served = np.minimum(candidates.rate[q], np.cumsum(candidates.capacity[lo:hi] * x[pairs]))
        total += float(np.dot(candidates.gap[lo:hi], served))
    return total


def _greedy_fill(candidates: Candidates, allocation: np.ndarray) -> np.ndarray:
    """Add models by largest marginal gain per MB while they fit (lazy greedy)."""
    allocation = allocation.copy()
    models = candidates.shape[1]
    classes_of_pair: dict[int, np.ndarray] = {}
    order = np.argsort(candidates.pair, kind="stable")
    pairs_sorted = candidates.pair[order]
    unique, first = np.unique(pairs_sorted, return_index=True)
    bounds = np.append(first, pairs_sorted.size)
    for p, lo, hi in zip(unique, bounds[:-1], bounds[1:]):
        classes_of_pair[int(p)] = np.unique(candidates.request[order[lo:hi]])
    used = (allocation * candidates.sizes[None, :]).sum(axis=1)

    def marginal(p: int) -> float:
        classes = classes_of_pair[p]
        before = _class_gains(candidates, allocation, classes)
        allocation.flat[p] = 1.0
        after = _class_gains(candidates, allocation, classes)
        allocation.flat[p] = 0.0
        return after - before

    heap = []
    for p in classes_of_pair:
        if allocation.flat[p] == 0 and candidates.hostable.flat[p]:
            size = candidates.sizes[p % models]
            heap.append((-marginal(p) / size, p))
    heapq.heapify(heap)
    while heap:
        negative_ratio, p = heapq.heappop(heap)
        node, model = divmod(p, models)
        size = candidates.sizes[model]
        if used[node] + size > candidates.budgets[node] + 1e-9:
            continue
        fresh = marginal(p) / size
        if heap and fresh < -heap[0][0] - 1e-12:
            heapq.heappush(heap, (-fresh, p))
            continue
        if fresh <= 1e-12:
            break
        allocation.flat[p] = 1.0
        used[node] += size
    return allocation


def depround(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dependent rounding (Byrka et al.): round [0,1] entries keeping their sum.

    Each entry is 1 with probability equal to its value and the number of ones
    is the sum rounded down or up; used per node on the fractional allocation.
    """
    y = np.clip(np.asarray(weights, dtype=float), 0.0, 1.0).copy()
    tolerance = 1e-9
    fractional = [i for i in range(y.size) if tolerance < y[i] < 1 - tolerance]
    while len(fractional) >= 2:
        i, j = fractional[0], fractional[1]
        up, down = min(1 - y[i], y[j]), min(y[i], 1 - y[j])
        if rng.random() < down / (up + down):
            y[i] += up
            y[j] -= up
        else:
            y[i] -= down
            y[j] += down
        fractional = [k for k in fractional if tolerance < y[k] < 1 - tolerance]
    if fractional:
        k = fractional[0]
        y[k] = 1.0 if rng.random() < y[k] else 0.0
    return np.round(y)


def repair(candidates: Candidates, allocation: np.ndarray) -> np.ndarray:
    """Drop models from over-full nodes (smallest marginal gain per MB first)."""
    allocation = allocation.copy()
    models = candidates.shape[1]
    for node in range(candidates.shape[0]):
        while allocation[node] @ candidates.sizes > candidates.budgets[node] + 1e-9:
            hosted = np.flatnonzero(allocation[node] > 0.5)
            base = gain(candidates, allocation)
            losses = []
            for m in hosted:
                allocation[node, m] = 0.0
                losses.append((base - gain(candidates, allocation)) / candidates.sizes[m])
                allocation[node, m] = 1.0
            allocation[node, hosted[int(np.argmin(losses))]] = 0.0
    del models
    return allocation


def rounded_allocation(
    candidates: Candidates, fractional: np.ndarray, *, samples: int = 16, seed: int | None = 0
) -> np.ndarray:
    """Round a fractional allocation: DepRound per node, repair, greedy fill; best of draws.

    Parameters
    ----------
    candidates : Candidates
        From :func:`build_candidates`.
    fractional : numpy.ndarray
        (nodes, models) allocation in [0, 1], typically the LP optimum.
    samples : int
        Number of independent roundings; the best is kept.
    seed : int, optional
        Seed of the random generator.

    Returns
    -------
    numpy.ndarray
        A knapsack-feasible binary allocation.
    """
    rng = np.random.default_rng(seed)
    best, best_gain = None, -np.inf
    for _ in range(max(1, samples)):
        rounded = np.zeros_like(fractional)
        for node in range(fractional.shape[0]):
            if fractional[node].any():
                rounded[node] = depround(fractional[node], rng)
        rounded = _greedy_fill(candidates, repair(candidates, rounded * candidates.hostable))
        value = gain(candidates, rounded)
        if value > best_gain:
            best, best_gain = rounded, value
    return best


# ---------------------------------------------------------------------------------------
# evaluation and the formulation


def evaluate(
    candidates: Candidates, allocation: np.ndarray, served: np.ndarray | None = None
) -> dict[str, float]:
    """Metrics of an allocation under greedy serving (per-request capacity).

    Parameters
    ----------
    candidates : Candidates
        From :func:`build_candidates`.
    allocation : numpy.ndarray
        (nodes, models) allocation.
    served : numpy.ndarray, optional
        Requests/s per candidate (e.g. shared-capacity flows); greedy serving
        with per-request capacity when omitted.

    Returns
    -------
    dict
        ``gain``, ``cost`` (total over requests/s), ``average_latency_ms``,
        ``average_accuracy``, ``served_at_edge`` (fraction of requests not sent
        to the repository) and ``memory_used_mb``.
    """
    if served is None:
        served = serving(candidates, allocation)
    edge_served = np.bincount(candidates.request, weights=served, minlength=len(candidates.rate))
    to_repository = candidates.rate - edge_served
    total_rate = candidates.rate.sum()
    cost = float(served @ candidates.cost + to_repository @ candidates.repository_cost)
    latency = float(served @ candidates.latency + to_repository @ candidates.repository_latency)
    accuracy = float(served @ candidates.accuracy + to_repository @ candidates.repository_accuracy)
    scale = 1.0 / total_rate if total_rate > 0 else 0.0
    return {
        "gain": float(candidates.repository_cost @ candidates.rate) - cost,
        "cost": cost,
        "average_latency_ms": float(latency * scale),
        "average_accuracy": float(accuracy * scale),
        "served_at_edge": float(edge_served.sum() * scale),
        "memory_used_mb": float((np.asarray(allocation) * candidates.sizes[None, :]).sum()),
    }


class IdnFormulation(Formulation):
    """IDN model allocation: exact MILP, LP bound, rounding, greedy, repository-only."""

    kind = "idn"
    methods = {
        "milp": "exact MILP (prefix-sum capacities), any backend",
        "relaxation": "LP relaxation of the MILP: the concave bound L*",
        "rounding": "DepRound of the LP optimum per node, repair, greedy fill",
        "greedy": "largest marginal gain per MB until budgets are full",
        "repository": "nothing cached at the edge (the zero point of the gain)",
    }

    def build(self, instance: IdnInstance, *, relax: bool = False) -> Program:
        """Build the exact program (or its relaxation) of ``instance``."""
        return build_program(build_candidates(instance), capacity=instance.capacity, relax=relax)

    def solve(
        self,
        instance: IdnInstance,
        *,
        method: str | None = None,
        backend: str = "highs",
        relax: bool = False,
        time_limit: float | None = None,
        bound: bool = True,
        seed: int | None = 0,
        samples: int = 16,
        **options: Any,
    ) -> Result:
        """Run one method; see the module docstring for what each does.

        Parameters
        ----------
        instance : IdnInstance
            A validated instance.
        method : str, optional
            One of :attr:`methods` (default ``milp``).
        backend : {"highs", "pyomo", "cvxpy"}
            Backend for the MILP and the LP relaxation.
        relax : bool
            Solve the LP relaxation (same as ``method="relaxation"``).
        time_limit : float, optional
            Seconds allowed to each solver call.
        bound : bool
            Also compute the LP bound :math:`L^*` and each method's ratio to it.
        seed, samples : int
            Rounding draws and their seed.
        **options
            Passed to :func:`idnopt.backends.solve_program`.
        """
        method = method or self.default_method
        if relax and method == "milp":
            method = "relaxation"
        if method not in self.methods:
            known = ", ".join(self.methods)
            raise InputError(f"unknown method {method!r} for kind 'idn'; choose one of {known}")
        started = time.perf_counter()
        candidates = build_candidates(instance)
        capacity = instance.capacity
        derived = time.perf_counter() - started
        relaxation = None
        if method in ("relaxation", "rounding") or bound:
            relaxation = solve_program(
                build_program(candidates, capacity=capacity, relax=True),
                backend,
                time_limit=time_limit,
                **options,
            )
            relaxation.build_seconds += derived
        if method == "relaxation":
            result = relaxation
            result.relaxed = True
        elif method == "milp":
            program = build_program(candidates, capacity=capacity)
            built = time.perf_counter()
            result = solve_program(program, backend, time_limit=time_limit, **options)
            result.build_seconds += built - started
        else:
            clock = time.perf_counter()
            if method == "greedy":
                allocation = greedy_allocation(candidates)
            elif method == "repository":
                allocation = np.zeros(candidates.shape)
            else:
                fractional = (
                    relaxation.value("x") if relaxation.has_solution else np.zeros(candidates.shape)
                )
                allocation = rounded_allocation(candidates, fractional, samples=samples, seed=seed)
            result = Result(
                status=Status.FEASIBLE,
                objective=None,
                backend=backend if method == "rounding" else "",
                solver="heuristic",
                build_seconds=derived,
                solve_seconds=time.perf_counter() - clock,
                values={"x": allocation},
                labels={"x": (tuple(candidates.node_names), tuple(candidates.model_names))},
            )
        result.method = method
        return self._decode(instance, candidates, result, relaxation)

    def _decode(
        self,
        instance: IdnInstance,
        candidates: Candidates,
        result: Result,
        relaxation: Result | None,
    ) -> Result:
        if not result.has_solution and "x" not in result.values:
            if result.status == Status.INFEASIBLE and not result.message:
                result.message = "infeasible"
            return result
        allocation = result.value("x")
        if result.method != "relaxation":
            allocation = np.round(allocation)
            result.values["x"] = allocation
        served = None
        if instance.capacity == "shared":
            # route the allocation's flows before pruning: a model that greedy
            # per-request serving leaves idle can still carry flow when capacity is shared
            if "flow" not in result.values:
                fixed = solve_program(
                    _fixed(build_program(candidates, capacity="shared"), allocation), "highs"
                )
                result.values["flow"] = fixed.value("flow")
            served = result.values["flow"]
        if result.method != "relaxation":
            allocation = _prune(candidates, allocation, result.values.get("flow"))
            result.values["x"] = allocation
        metrics = evaluate(candidates, allocation, served)
        if result.objective is None:
            result.objective = metrics["gain"]
        if relaxation is not None and relaxation.has_solution:
            metrics["lp_bound"] = float(relaxation.objective)
            metrics["ratio_to_lp_bound"] = (
                metrics["gain"] / relaxation.objective if relaxation.objective > 0 else 1.0
            )
            if result.bound is None and result.method != "relaxation":
                # L* bounds every allocation's gain: a heuristic's answer gets a proven gap
                result.bound = float(relaxation.objective)
                result.gap = relative_gap(result.objective, result.bound)
        result.metrics.update(metrics)
        placement = []
        for node, model in zip(*np.nonzero(allocation > 1e-9)):
            placement.append(
                {
                    "node": candidates.node_names[node],
                    "model": candidates.model_names[model],
                    "task": instance.models[model].task,
                    "memory_mb": float(candidates.sizes[model]),
                    "budget_mb": float(candidates.budgets[node]),
                    "fraction": float(allocation[node, model]),
                }
            )
        if served is None:
            served = serving(candidates, allocation)
        routing = []
        for c in np.flatnonzero(served > 1e-9):
            routing.append(
                {
                    "request": candidates.request_names[candidates.request[c]],
                    "node": candidates.node_names[candidates.node[c]],
                    "model": candidates.model_names[candidates.model[c]],
                    "rate": float(served[c]),
                    "latency_ms": float(candidates.latency[c]),
                }
            )
        edge = np.bincount(candidates.request, weights=served, minlength=len(candidates.rate))
        for q in np.flatnonzero(candidates.rate - edge > 1e-9):
            routing.append(
                {
                    "request": candidates.request_names[q],
                    "node": instance.repository,
                    "model": "(repository)",
                    "rate": float(candidates.rate[q] - edge[q]),
                    "latency_ms": float(candidates.repository_latency[q]),
                }
            )
        result.tables["placement"] = placement
        result.tables["serving"] = routing
        return result


def _prune(candidates: Candidates, allocation: np.ndarray, flows: np.ndarray | None) -> np.ndarray:
    """Drop hosted models that serve no request: the gain is unchanged, memory is freed.

    Under greedy serving a hosted candidate that serves nothing sits behind
    candidates that already cover its class's rate, so removing it changes no
    cumulative capacity that matters; with flows, an unused server carries none.
    """
    served = flows if flows is not None else serving(candidates, allocation)
    used = np.bincount(candidates.pair, weights=served, minlength=allocation.size)
    return np.where(used.reshape(allocation.shape) > 1e-9, allocation, 0.0)


def _fixed(program: Program, allocation: np.ndarray) -> Program:
    """Copy of a program with the allocation block fixed to ``allocation``."""
    from dataclasses import replace

    fixed = program.copy()
    block = program.variables["x"]
    value = np.asarray(allocation, dtype=float).ravel()
    fixed.variables["x"] = replace(block, lower=value, upper=value, integer=False)
    return fixed


FORMULATION = IdnFormulation()
register(
    Family(
        kind="idn",
        instance_type=IdnInstance,
        formulation=FORMULATION,
        summary="IDN model allocation: maximise the serving gain under memory budgets",
    )
)
