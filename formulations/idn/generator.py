"""Random IDN instances for sweeps: topology, model catalog, Zipf requests.

:func:`generate_idn` builds a complete, validated :class:`IdnInstance` from a
handful of knobs and a seed; the same arguments always give the same instance.
How topology, models, tasks, budgets and requests are drawn is described in
``THEORY.md`` (section "Random instances").
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from idnopt.documents import Document
from idnopt.errors import InputError
from idnopt.formulations.idn.catalog import catalog_models
from idnopt.formulations.idn.schema import IdnInstance
from idnopt.loading import validate_document
from idnopt.topology import build_topology

MEAN_RATE = 50.0
"""Average rate of a request class (requests/s)."""

BUDGET_FRACTION: dict[str, float] = {"regional": 0.08, "edge": 0.04, "access": 0.02}
"""Model-memory budget per tier as a fraction of the catalog's total memory."""

TIER_ORDER = ("cloud", "regional", "edge", "access")


def zipf_popularity(tasks: int, exponent: float) -> np.ndarray:
    """Zipf probabilities ``p_t ∝ t^{-exponent}`` of tasks ``t = 1 … tasks``.

    Parameters
    ----------
    tasks : int
        Number of tasks.
    exponent : float
        Zipf exponent (0 = uniform).

    Returns
    -------
    numpy.ndarray
        Probabilities of tasks 1 … ``tasks``, summing to 1.
    """
    weights = np.arange(1, tasks + 1, dtype=float) ** -float(exponent)
    return weights / weights.sum()


def _slug(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_.-]+", "-", text).strip("-").lower() or "topology"


def generate_idn(
    topology: str = "tree",
    *,
    nodes: int | None = None,
    models: int = 10,
    request_classes: int = 50,
    seed: int = 0,
    zipf: float = 0.8,
    alpha: float = 200.0,
    budget_scale: float = 1.0,
    capacity: str = "per_request",
) -> IdnInstance:
    """Generate a random, validated IDN instance (deterministic for a seed).

    Parameters
    ----------
    topology : str
        ``tree``, ``grid``, ``abilene``, ``geant``, ``synthetic`` or a
        ``topohub`` key such as ``topozoo/Sprint`` (see
        :func:`idnopt.topology.build_topology`).
    nodes : int, optional
        Total number of nodes including the cloud (default per topology:
        tree 15, grid 37, synthetic 101, real backbones 4 × sites + 1).
    models : int
        Number of models; beyond the 18 measured architectures, compressed
        variants are added (see :mod:`~idnopt.formulations.idn.catalog`).
    request_classes : int
        Number of (task, ingress) request classes.
    seed : int
        Seed of every random choice.
    zipf : float
        Exponent of the Zipf task popularity (0 = uniform).
    alpha : float
        ms of cost per unit of accuracy lost (cost = 2·path + inference + alpha·(1 − accuracy)).
    budget_scale : float
        Multiplies every node's model-memory budget.
    capacity : {"per_request", "shared"}
        Capacity model of the instance.

    Returns
    -------
    IdnInstance
        Repository ``cloud`` hosting every model.

    Raises
    ------
    InputError
        On an unknown topology or out-of-range argument.
    """
    if capacity not in ("per_request", "shared"):
        raise InputError(f"unknown capacity model {capacity!r}; use 'per_request' or 'shared'")
    if request_classes < 1:
        raise InputError(f"need at least one request class, got {request_classes}")
    if int(seed) != seed or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    for label, value in (("zipf", zipf), ("alpha", alpha), ("budget_scale", budget_scale)):
        if not (math.isfinite(value) and value >= 0):
            raise InputError(f"{label} must be a finite number >= 0, got {value}")
    topology_seed, model_seed, request_seed = np.random.SeedSequence(seed).spawn(3)

    catalog = catalog_models(models, seed=np.random.default_rng(model_seed))
    task_count = max(1, round(math.sqrt(len(catalog))))
    tasks = [f"task-{t + 1}" for t in range(task_count)]
    for k, entry in enumerate(catalog):
        entry["task"] = tasks[k % task_count]
    total_memory = float(sum(entry["memory"] for entry in catalog))
    budgets = {tier: budget_scale * f * total_memory for tier, f in BUDGET_FRACTION.items()}
    graph = build_topology(
        topology, nodes, seed=np.random.default_rng(topology_seed), budgets=budgets
    )

    rng = np.random.default_rng(request_seed)
    ingress = _ingress_nodes(graph)
    popularity = zipf_popularity(task_count, zipf)
    pairs = [(t, node) for t in range(task_count) for node in ingress]
    repeats, remainder = divmod(request_classes, len(pairs))
    picked = sorted(rng.choice(len(pairs), size=remainder, replace=False).tolist())
    classes = [(p, r) for r in range(repeats) for p in range(len(pairs))]
    classes += [(p, repeats) for p in picked]
    classes.sort()
    requests = []
    for p, r in classes:
        t, node = pairs[p]
        rate = MEAN_RATE * task_count * popularity[t] * rng.uniform(0.5, 1.5)
        name = f"{tasks[t]}@{node}" + (f"#{r + 1}" if r else "")
        requests.append(
            {"name": name, "task": tasks[t], "ingress": node, "rate": max(0.1, round(rate, 1))}
        )

    counts = {tier: 0 for tier in TIER_ORDER}
    for _, tier in graph.nodes(data="tier"):
        counts[tier] += 1
    description = (
        f"{topology} topology, {graph.number_of_nodes()} nodes (cloud, "
        f"{counts['regional']} regional, {counts['edge']} edge, {counts['access']} access), "
        f"{len(catalog)} models, "
        f"{task_count} tasks, {len(requests)} request classes, Zipf {zipf:g}, seed {seed}"
    )
    data = {
        "kind": "idn",
        "name": f"{_slug(topology)}-n{graph.number_of_nodes()}-m{len(catalog)}-"
        f"r{len(requests)}-s{seed}",
        "description": description,
        "repository": "cloud",
        "alpha": float(alpha),
        "capacity": capacity,
        "nodes": _node_entries(graph),
        "links": _link_entries(graph),
        "models": [_ordered_model(entry) for entry in catalog],
        "requests": requests,
    }
    instance = validate_document(Document(path=Path("<generated>"), data=data, lines={}))
    assert isinstance(instance, IdnInstance)
    return instance


def _ingress_nodes(graph: nx.Graph) -> list[str]:
    for tier in ("access", "edge", "regional"):
        found = sorted(n for n, t in graph.nodes(data="tier") if t == tier)
        if found:
            return found
    raise InputError("the topology has no node that can be an ingress")


def _tier_key(graph: nx.Graph, node: str) -> tuple[int, str]:
    return TIER_ORDER.index(graph.nodes[node]["tier"]), node


def _node_entries(graph: nx.Graph) -> list[dict[str, Any]]:
    entries = []
    for node in sorted(graph.nodes, key=lambda n: _tier_key(graph, n)):
        attributes = graph.nodes[node]
        entry: dict[str, Any] = {"name": node, "tier": attributes["tier"]}
        if attributes["tier"] != "cloud":
            entry["memory"] = float(attributes["memory"])
        entry["hardware"] = attributes["hardware"]
        entries.append(entry)
    return entries


def _link_entries(graph: nx.Graph) -> list[dict[str, Any]]:
    def rank(node: str) -> int:
        return TIER_ORDER.index(graph.nodes[node]["tier"])

    links = []
    for u, v, latency in graph.edges(data="latency"):
        # the lower tier is the source (access -> edge -> regional -> cloud)
        source, target = sorted((u, v), key=lambda n: (-rank(n), n))
        links.append({"source": source, "target": target, "latency": round(float(latency), 3)})
    links.sort(key=lambda link: (rank(link["target"]), rank(link["source"]), link["source"]))
    return links


def _ordered_model(entry: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "task", "memory", "accuracy", "latency")
    return {key: entry[key] for key in keys}
