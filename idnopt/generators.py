r"""Random IDN instances for sweeps: topology, model catalog, Zipf requests.

:func:`generate_idn` builds a complete, validated :class:`IdnInstance` from a
handful of knobs and a seed; the same arguments always give the same instance.

Topology
    :func:`idnopt.topology.build_topology`: a tiered tree, a grid backbone, a
    real backbone (Abilene, GÉANT or any ``topohub`` key) or a synthetic
    GÉANT-like backbone, with a cloud repository, regional sites, edge sites
    and access nodes. Hardware per tier: cloud ``h100``, regional ``t4``, edge
    ``orin``, access ``orin-nano``.

Models
    The bundled catalog (``idnopt/data/idn_models.json``) holds 18 torchvision
    ImageNet classifiers measured on an NVIDIA H100 (CUDA-graph replay, batch 1;
    memory = peak CUDA memory of a batch-1 forward; top-1 accuracy from the
    weights' metadata). Latency on the other hardware is derived from the H100
    figure ``L`` and the model's GFLOPs ``G``:

    .. math:: \ell_{hw} = a_{hw}\,L + G / c_{hw}

    (:data:`HARDWARE_SPEED`: ``a`` scales the launch/memory-bound part measured
    at batch 1, ``c`` is an effective compute rate in GFLOP/ms). Throughput is
    one request at a time, ``1000 / latency``. Up to 18 models are distinct
    architectures drawn at random; beyond that every architecture is kept and
    compressed variants (:data:`VARIANTS`: fp16 with its measured H100 figures,
    int8 quantisation, structured pruning) are added, and past those random
    copies with scaled figures, so any number of models can be generated. The
    variants' scaling factors are typical of post-training quantisation and
    pruning, not measurements.

Tasks
    ``T = round(√models)`` tasks (``task-1`` … ``task-T``: classification
    services for different label sets); model ``k`` of the random draw solves
    task ``k mod T``, so every task has a mix of small and large models. The
    cloud repository hosts every model.

Budgets
    Per tier, a fraction of the catalog's total memory (:data:`BUDGET_FRACTION`)
    times ``budget_scale``, jittered per node by ±25 %.

Requests
    Request classes are (task, ingress) pairs drawn uniformly without
    replacement among the access nodes (edge nodes when there are none); past
    the number of distinct pairs, pairs repeat as separate classes. Task
    popularity is Zipf with exponent ``zipf``: ``p_t ∝ t^{-zipf}`` for task
    ``t``, and a class's rate is ``MEAN_RATE · T · p_t · u`` with ``u`` uniform
    in [0.5, 1.5], so rates average :data:`MEAN_RATE` and popular tasks carry
    most requests.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import yaml

from idnopt.documents import Document, write_atomic
from idnopt.errors import InputError
from idnopt.formulations.idn import IdnInstance
from idnopt.loading import validate_document
from idnopt.topology import TIER_HARDWARE, build_topology

MEAN_RATE = 50.0
"""Average rate of a request class (requests/s)."""

BUDGET_FRACTION: dict[str, float] = {"regional": 0.08, "edge": 0.04, "access": 0.02}
"""Model-memory budget per tier as a fraction of the catalog's total memory."""

TIER_ORDER = ("cloud", "regional", "edge", "access")


@dataclass(frozen=True)
class HardwareSpeed:
    """How much slower than the measured H100 a piece of hardware runs a model.

    Attributes
    ----------
    launch_factor : float
        Multiplies the H100 batch-1 latency (dominated by kernel launches and
        memory traffic for small CNNs).
    gflops_per_ms : float
        Effective compute rate; the model's GFLOPs divided by it are added.
    """

    launch_factor: float
    gflops_per_ms: float

    def latency(self, h100_ms: float, gflops: float) -> float:
        """Latency (ms) of a model with these H100 latency and GFLOPs."""
        return self.launch_factor * h100_ms + gflops / self.gflops_per_ms


HARDWARE_SPEED: dict[str, HardwareSpeed] = {
    "t4": HardwareSpeed(launch_factor=4.0, gflops_per_ms=2.0),
    "orin": HardwareSpeed(launch_factor=11.0, gflops_per_ms=0.45),
    "orin-nano": HardwareSpeed(launch_factor=20.0, gflops_per_ms=0.12),
}
"""Derived hardware (ResNet-50: t4 ≈ 5.7 ms, orin ≈ 19 ms, orin-nano ≈ 53 ms; H100 0.92 ms)."""

CLOUD_HARDWARE = TIER_HARDWARE["cloud"]


@dataclass(frozen=True)
class Variant:
    """A compressed copy of a catalog model, as factors on the fp32 figures.

    Attributes
    ----------
    suffix : str
        Appended to the model name (``resnet50-int8``).
    precision : str
        Which measured H100 figures to start from (``fp32`` or ``fp16``).
    latency, compute, memory : float
        Factors on the H100 latency, the effective GFLOPs on derived hardware
        and the memory footprint.
    accuracy : float
        Change of top-1 accuracy (fraction, negative).
    """

    suffix: str
    precision: str
    latency: float
    compute: float
    memory: float
    accuracy: float


VARIANTS: tuple[Variant, ...] = (
    Variant("fp16", "fp16", 1.0, 0.5, 1.0, -0.001),
    Variant("int8", "fp32", 0.9, 0.35, 0.3, -0.006),
    Variant("pruned30", "fp32", 0.9, 0.7, 0.75, -0.006),
    Variant("pruned50", "fp32", 0.8, 0.5, 0.55, -0.018),
    Variant("pruned70", "fp32", 0.7, 0.3, 0.4, -0.045),
    Variant("int8-pruned50", "fp32", 0.75, 0.18, 0.2, -0.025),
)
"""Compressed variants added when more models than architectures are asked for."""


def _significant(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")


@lru_cache(maxsize=1)
def _catalog_document() -> dict[str, Any]:
    text = resources.files("idnopt").joinpath("data/idn_models.json").read_text(encoding="utf-8")
    return json.loads(text)


def load_catalog() -> list[dict[str, Any]]:
    """The bundled model catalog (18 torchvision classifiers measured on an H100).

    Returns
    -------
    list of dict
        Per model: ``name``, ``family``, ``weights``, ``accuracy`` (top-1
        fraction), ``gflops``, ``params``, ``file_mb``, ``memory_mb`` and
        ``latency_ms`` (each per precision ``fp32``/``fp16``, batch 1, H100).
    """
    return [dict(entry) for entry in _catalog_document()["models"]]


def _model_entry(
    name: str, h100_ms: float, gflops: float, memory: float, accuracy: float
) -> dict[str, Any]:
    latency = {CLOUD_HARDWARE: _significant(h100_ms)}
    for hardware, speed in HARDWARE_SPEED.items():
        latency[hardware] = _significant(speed.latency(h100_ms, gflops))
    return {
        "name": name,
        "memory": _significant(memory),
        "accuracy": round(float(np.clip(accuracy, 0.0, 1.0)), 5),
        "latency": latency,
    }


def catalog_models(count: int, *, seed: int | np.random.Generator = 0) -> list[dict[str, Any]]:
    """Draw ``count`` models with figures on every tier's hardware.

    Parameters
    ----------
    count : int
        Number of models (1 or more).
    seed : int or numpy.random.Generator
        Randomness of the draw.

    Returns
    -------
    list of dict
        Instance model entries (``name``, ``memory`` MB, ``accuracy``,
        ``latency`` per hardware in ms), without a task; in random order.
    """
    if count < 1:
        raise InputError(f"need at least one model, got {count}")
    rng = np.random.default_rng(seed)
    catalog = load_catalog()
    base = [
        _model_entry(
            m["name"],
            m["latency_ms"]["fp32"],
            m["gflops"],
            m["memory_mb"]["fp32"],
            m["accuracy"],
        )
        for m in catalog
    ]
    if count <= len(base):
        return [base[i] for i in rng.permutation(len(base))[:count]]
    variants = [
        _model_entry(
            f"{m['name']}-{v.suffix}",
            m["latency_ms"][v.precision] * v.latency,
            m["gflops"] * v.compute,
            m["memory_mb"][v.precision] * v.memory,
            m["accuracy"] + v.accuracy,
        )
        for m in catalog
        for v in VARIANTS
    ]
    extra = count - len(base)
    chosen = [variants[i] for i in rng.permutation(len(variants))[: min(extra, len(variants))]]
    for k in range(extra - len(chosen)):
        m = catalog[int(rng.integers(len(catalog)))]
        chosen.append(
            _model_entry(
                f"{m['name']}-r{k + 1}",
                m["latency_ms"]["fp32"] * rng.uniform(0.6, 1.0),
                m["gflops"] * rng.uniform(0.2, 1.0),
                m["memory_mb"]["fp32"] * rng.uniform(0.2, 1.0),
                m["accuracy"] - rng.uniform(0.0, 0.05),
            )
        )
    models = base + chosen
    return [models[i] for i in rng.permutation(len(models))]


def zipf_popularity(tasks: int, exponent: float) -> np.ndarray:
    """Zipf probabilities ``p_t ∝ t^{-exponent}`` of tasks ``t = 1 … tasks``."""
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
        variants are added (see the module docstring).
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


# ---------------------------------------------------------------------------------------
# writing instances


def instance_to_dict(instance: IdnInstance) -> dict[str, Any]:
    """Plain data of an IDN instance, as it would be written in a file.

    Quantities are in base units (ms, MB, requests/s); fields at their default
    are left out (except ``tier``, ``alpha`` and ``capacity``, kept for
    readers). Loading the result (:func:`idnopt.from_dict`) gives back an equal
    instance.

    Parameters
    ----------
    instance : IdnInstance
        A validated instance.

    Returns
    -------
    dict
        Keys in reading order: kind, name, description, repository, alpha,
        capacity, repository_models, profiles, nodes, links, models, requests.
    """
    data: dict[str, Any] = {"kind": instance.kind}
    for key in ("name", "description"):
        if getattr(instance, key) is not None:
            data[key] = getattr(instance, key)
    data["repository"] = instance.repository
    data["alpha"] = float(instance.alpha)
    data["capacity"] = instance.capacity
    if instance.repository_models is not None:
        data["repository_models"] = list(instance.repository_models)
    if instance.profiles:
        data["profiles"] = {
            name: source.model_dump(mode="json", exclude_defaults=True)
            for name, source in instance.profiles.items()
        }

    def dump(item: Any) -> dict[str, Any]:
        return item.model_dump(mode="json", exclude_defaults=True)

    data["nodes"] = [{"name": n.name, "tier": n.tier, **dump(n)} for n in instance.nodes]
    data["links"] = [dump(link) for link in instance.links]
    data["models"] = [dump(model) for model in instance.models]
    data["requests"] = [dump(request) for request in instance.requests]
    return data


def instance_to_text(
    instance: IdnInstance | dict[str, Any], *, header: str | None = None, fmt: str = "yaml"
) -> str:
    """Serialise an instance (or its :func:`instance_to_dict` data) as YAML or JSON.

    Parameters
    ----------
    instance : IdnInstance or dict
        What to write.
    header : str, optional
        Comment lines put at the top of a YAML file (each prefixed with ``# ``).
    fmt : {"yaml", "json"}
        Output format (JSON has no comments; the header is dropped).

    Returns
    -------
    str
        The text, ending with a newline.
    """
    data = instance if isinstance(instance, dict) else instance_to_dict(instance)
    if fmt == "json":
        return json.dumps(data, indent=1) + "\n"
    if fmt != "yaml":
        raise InputError(f"unknown format {fmt!r}; use 'yaml' or 'json'")
    body = yaml.safe_dump(
        data, sort_keys=False, default_flow_style=None, width=200, allow_unicode=True
    )
    comment = ""
    if header:
        comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + body


def write_instance(
    instance: IdnInstance | dict[str, Any], path: str | Path, *, header: str | None = None
) -> Path:
    """Write an instance atomically as YAML (or JSON for a ``.json`` path).

    Parameters
    ----------
    instance : IdnInstance or dict
        What to write.
    path : str or Path
        Destination file; its folder must exist.
    header : str, optional
        Comment lines at the top of a YAML file.

    Returns
    -------
    Path
        The destination.
    """
    path = Path(path)
    fmt = "json" if path.suffix.lower() == ".json" else "yaml"
    return write_atomic(path, instance_to_text(instance, header=header, fmt=fmt))


def refer_to_profile(
    data: dict[str, Any],
    profile_file: str | Path,
    *,
    hardware: str = CLOUD_HARDWARE,
    base: str | Path | None = None,
) -> dict[str, Any]:
    """Take one hardware's model latencies from a profile file instead of inline numbers.

    Every model the profile has on ``hardware`` (batch 1, fp32) loses its inline
    latency and throughput for that hardware; the instance gains a
    ``profiles`` entry pointing at the file. Other models keep their numbers.

    Parameters
    ----------
    data : dict
        Instance data (from :func:`instance_to_dict`); not modified.
    profile_file : str or Path
        Path written into the instance (relative paths are relative to ``base``).
    hardware : str
        Hardware name used by the instance's nodes and present in the profile.
    base : str or Path, optional
        Folder of the instance file, to find a relative ``profile_file``.

    Returns
    -------
    dict
        New instance data.

    Raises
    ------
    InputError
        When the profile cannot be read or lacks the hardware.
    """
    from idnopt.profiling.format import load_profile

    location = Path(profile_file)
    if not location.is_absolute() and base is not None:
        location = Path(base) / location
    if not location.exists():
        raise InputError("profile file not found", path=location)
    profile = load_profile(location)
    if hardware not in profile.hardware_names():
        raise InputError(
            f"profile has no hardware {hardware!r} (it has {', '.join(profile.hardware_names())})",
            path=location,
        )
    covered = set()
    for name in profile.model_names(hardware):
        try:
            profile.lookup(hardware, name, 1, "fp32")
        except KeyError:
            continue
        covered.add(name)
    data = json.loads(json.dumps(data))
    for model in data["models"]:
        if model["name"] in covered:
            for field in ("latency", "throughput"):
                values = model.get(field, {})
                values.pop(hardware, None)
                if field in model and not values:
                    del model[field]
    profiles = dict(data.get("profiles", {}))
    profiles[hardware] = {"file": Path(profile_file).as_posix()}
    data = {key: value for key, value in data.items() if key != "profiles"}
    ordered: dict[str, Any] = {}
    for key, value in data.items():
        if key == "nodes":
            ordered["profiles"] = profiles
        ordered[key] = value
    return ordered
