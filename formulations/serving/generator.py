"""Random serving scenarios: edge clusters on a backbone, a cloud, applications with deadlines.

Topologies: ``abilene`` (the 11 points of presence of the Abilene backbone,
links and latencies as in ``instances/idn/abilene.yaml``, the cloud reached
through Indianapolis and Kansas City) or ``ring`` (``clusters`` points of
presence on a ring with random chords, 2-8 ms per hop, the cloud 15-30 ms
from every fourth). Each point of presence hosts an edge cluster (T4 class
GPUs) and has one access node where queries enter.

Models and latencies: single-query latencies measured on an NVIDIA H100
(``instances/profiles/h100.json``, batch 1, fp32), and on the edge GPUs that
latency times :data:`EDGE_SLOWDOWN` (the ratio the ``idn`` catalog derives
for ResNet-50 on a T4). Applications (up to four, in this order): ``ar``
(20 ms, accuracy >= 0.69), ``video`` (40 ms, >= 0.75), ``assistant``
(120 ms, >= 0.80), ``archive`` (500 ms, >= 0.80). Every cluster deploys each
application's edge model; the cloud deploys every model with batching.

``load`` sets the rates: the traffic of each cluster's ingress is that share
of the cluster's capacity for the application. With ``shifting``, the first
half of the ingresses carries ``1 + shift`` times its rate in the first half
of the run and ``1 - shift`` in the second, the other half the opposite:
load moves between clusters while the total stays.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from idnopt.formulations.serving.schema import ServingInstance
from idnopt.method import Parameters

H100_MS = {
    "mobilenet_v3_large": (0.532, 0.75274, 21.107),
    "resnet18": (0.47968, 0.69758, 44.661),
    "efficientnet_b0": (0.761856, 0.77692, 20.451),
    "resnet50": (0.923232, 0.80858, 97.79),
    "efficientnet_b3": (1.531968, 0.82008, 47.184),
}
"""(latency ms at batch 1 fp32, ImageNet top-1, file MB) from the bundled H100 profile."""

EDGE_SLOWDOWN = 6.2
"""T4 latency over H100 latency (ResNet-50: 5.7 ms against 0.92 ms in the ``idn`` catalog)."""

APPLICATIONS = (
    # name, task, deadline ms, min accuracy, edge model, input MB, service cv
    ("ar", "detect", 20.0, 0.69, "resnet18", 0.05, 0.2),
    ("video", "classify", 40.0, 0.75, "efficientnet_b0", 0.15, 0.2),
    ("assistant", "caption", 120.0, 0.80, "resnet50", 0.3, 0.3),
    ("archive", "index", 500.0, 0.80, "efficientnet_b3", 1.0, 0.3),
)
"""The applications a generated scenario draws from, in order."""

CLOUD_MODELS = {
    "detect": ("resnet18", "mobilenet_v3_large"),
    "classify": ("efficientnet_b0", "resnet50"),
    "caption": ("resnet50", "efficientnet_b3"),
    "index": ("efficientnet_b3",),
}

ABILENE_LINKS = (
    ("atlanta", "washington-dc", 4.36),
    ("atlanta", "houston", 5.636),
    ("atlanta", "indianapolis", 3.438),
    ("chicago", "new-york", 5.728),
    ("chicago", "indianapolis", 1.315),
    ("denver", "seattle", 8.207),
    ("denver", "sunnyvale", 7.521),
    ("denver", "kansas-city", 4.456),
    ("houston", "los-angeles", 11.034),
    ("houston", "kansas-city", 5.209),
    ("indianapolis", "kansas-city", 3.654),
    ("los-angeles", "sunnyvale", 2.519),
    ("new-york", "washington-dc", 1.639),
    ("seattle", "sunnyvale", 5.694),
    ("indianapolis", "cloud", 10.214),
    ("kansas-city", "cloud", 14.601),
)
"""Abilene's backbone links with latencies (ms), as in the bundled IDN instance."""


class GeneratorParameters(Parameters):
    """Knobs of ``idnopt generate serving``."""

    topology: Literal["abilene", "ring"] = Field("ring", description="backbone")
    clusters: int = Field(8, ge=2, le=500, description="points of presence on a ring")
    applications: int = Field(3, ge=1, le=len(APPLICATIONS), description="applications")
    load: float = Field(0.7, gt=0, description="ingress rate over its cluster's capacity")
    replicas: int = Field(1, ge=1, description="servers per edge deployment")
    shifting: bool = Field(False, description="move load between halves of the ingresses")
    shift: float = Field(0.6, ge=0, le=1, description="relative rate change when shifting")
    duration: float = Field(60.0, gt=0, description="seconds over which the load shifts once")
    report_interval: float = Field(50.0, ge=0, description="ms between load reports")
    jitter: float = Field(0.3, ge=0, description="mean jitter (ms) of access links")
    seed: int = Field(0, ge=0, description="seed of the ring's latencies")


def _ring(clusters: int, rng: np.random.Generator):
    names = [f"pop-{i}" for i in range(clusters)]
    links = []
    for i in range(clusters):
        links.append((names[i], names[(i + 1) % clusters], float(rng.uniform(2.0, 8.0))))
    for i in range(0, clusters, 3):
        j = int(rng.integers(clusters))
        if j not in (i, (i + 1) % clusters, (i - 1) % clusters):
            links.append((names[i], names[j], float(rng.uniform(4.0, 12.0))))
    for i in range(0, clusters, 4):
        links.append((names[i], "cloud", float(rng.uniform(15.0, 30.0))))
    return names, links


def generate_scenario(parameters: GeneratorParameters) -> ServingInstance:
    """A scenario from ``parameters`` (the same parameters give the same scenario)."""
    import idnopt

    rng = np.random.default_rng(parameters.seed)
    if parameters.topology == "abilene":
        pops = sorted({end for a, b, _ in ABILENE_LINKS for end in (a, b)} - {"cloud"})
        backbone = list(ABILENE_LINKS)
    else:
        pops, backbone = _ring(parameters.clusters, rng)
    applications = APPLICATIONS[: parameters.applications]
    nodes = [{"name": "cloud", "tier": "cloud", "hardware": "h100"}]
    links = [
        {"source": a, "target": b, "latency": round(latency, 3), "bandwidth": 10_000.0}
        for a, b, latency in backbone
    ]
    for pop in pops:
        nodes.append({"name": pop, "tier": "edge", "hardware": "t4"})
        nodes.append({"name": f"{pop}-access", "tier": "access"})
        links.append(
            {
                "source": f"{pop}-access",
                "target": pop,
                "latency": round(float(rng.uniform(0.5, 1.5)), 3),
                "bandwidth": 1_000.0,
                "jitter": parameters.jitter,
            }
        )
    used = {app[4] for app in applications} | {
        model for app in applications for model in CLOUD_MODELS[app[1]]
    }
    tasks = {}
    for app in applications:
        tasks[app[4]] = app[1]
        for model in CLOUD_MODELS[app[1]]:
            tasks.setdefault(model, app[1])
    models = []
    for name in sorted(used):
        latency, accuracy, size = H100_MS[name]
        models.append(
            {
                "name": name,
                "task": tasks[name],
                "accuracy": accuracy,
                "memory": size,
                "latency": {"h100": latency, "t4": round(latency * EDGE_SLOWDOWN, 4)},
            }
        )
    deployments = []
    for pop in pops:
        for app in applications:
            deployments.append({"node": pop, "model": app[4], "replicas": parameters.replicas})
    for name in sorted(used):
        deployments.append(
            {"node": "cloud", "model": name, "replicas": 4, "batch": 8, "max_wait": 1.0}
        )
    half = len(pops) // 2
    entries = []
    for app in applications:
        name, task, deadline, accuracy, model, size, cv = app
        capacity = 1000.0 * parameters.replicas / (H100_MS[model][0] * EDGE_SLOWDOWN)
        rate = parameters.load * capacity
        ingresses = []
        for position, pop in enumerate(pops):
            ingress = {"node": f"{pop}-access", "rate": round(rate, 3)}
            if parameters.shifting:
                first = position < half
                high, low = 1.0 + parameters.shift, 1.0 - parameters.shift
                at = 500.0 * parameters.duration
                steps = [
                    {"at": 0.0, "scale": high if first else low},
                    {"at": at, "scale": low if first else high},
                ]
                ingress["arrivals"] = {"process": "schedule", "steps": steps}
            ingresses.append(ingress)
        entries.append(
            {
                "name": name,
                "task": task,
                "deadline": deadline,
                "min_accuracy": accuracy,
                "input": size,
                "service_cv": cv,
                "ingresses": ingresses,
            }
        )
    label = parameters.topology if parameters.topology == "abilene" else f"ring-{len(pops)}"
    data = {
        "kind": "serving",
        "name": f"{label}-a{len(applications)}-load{parameters.load:g}"
        + ("-shifting" if parameters.shifting else ""),
        "description": f"{len(pops)} edge clusters ({parameters.topology}), cloud, "
        f"{len(applications)} applications, load {parameters.load:g}"
        + (f", load shifting by {parameters.shift:g}" if parameters.shifting else ""),
        "cloud": "cloud",
        "report_interval": parameters.report_interval,
        "nodes": nodes,
        "links": links,
        "models": models,
        "deployments": deployments,
        "applications": entries,
    }
    return idnopt.from_dict(data, source="<generated serving scenario>")
