"""Placement-aware dispatch: the flows of an IDN allocation of the scenario, as fixed shares.

The scenario is written as an ``idn`` instance (Si Salem et al.; see the
``idn`` family): its nodes and links, one request class per application and
ingress with the application's base rate, the cloud as the repository, and
each hosting node given its own hardware name whose latencies and
throughputs are those of the models deployed there (``replicas * batch``
queries per full-batch service time), with a memory budget that fits exactly
its deployments. Under ``shared`` capacity the exact MILP of that family
(solved by :func:`idnopt.solve`) routes each class's rate to the cheapest
hosted models on its path to the cloud (cost ``2 * path latency + inference
latency + alpha * (1 - accuracy)``) within their capacity, the rest to the
cloud. Those flows, normalised per class, are the shares the ``placement``
policy dispatches with (a target off every class's path gets nothing).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from idnopt.formulations.serving.compiled import Scenario
from idnopt.formulations.serving.schema import ServingInstance
from idnopt.result import Result

REPOSITORY_ROW = "(repository)"
"""Model name of the rows of the IDN serving table that the repository serves."""


def idn_document(instance: ServingInstance, *, alpha: float = 100.0) -> dict[str, Any]:
    """The scenario as the data of an ``idn`` instance (shared capacity).

    Parameters
    ----------
    instance : ServingInstance
        The scenario (resolved: every deployed model has its latency).
    alpha : float
        ms of cost per unit of accuracy lost, in the IDN cost.
    """
    models = {model.name: model for model in instance.models}
    hardware = {node.name: node.hardware for node in instance.nodes}
    hosting: dict[str, list] = {}
    for deployment in instance.deployments:
        hosting.setdefault(deployment.node, []).append(deployment)
    catalogue: dict[str, dict[str, Any]] = {}
    for deployment in instance.deployments:
        model = models[deployment.model]
        entry = catalogue.setdefault(
            model.name,
            {
                "name": model.name,
                "task": model.task,
                "memory": float(model.memory or 1.0),
                "accuracy": float(1.0 if model.accuracy is None else model.accuracy),
                "latency": {},
                "throughput": {},
            },
        )
        latency = float(model.latency_on(hardware[deployment.node]))
        full = latency * (1.0 + deployment.batch_cost * (deployment.batch - 1))
        entry["latency"][deployment.node] = latency
        entry["throughput"][deployment.node] = (
            1000.0 * deployment.replicas * deployment.batch / full
        )
    nodes = []
    for node in instance.nodes:
        deployed = hosting.get(node.name, [])
        row: dict[str, Any] = {"name": node.name, "tier": node.tier}
        if deployed:
            row["hardware"] = node.name
            if node.name != instance.cloud:
                row["memory"] = float(sum(catalogue[d.model]["memory"] for d in deployed))
        nodes.append(row)
    requests = [
        {
            "name": f"{application.name}@{ingress.node}",
            "task": application.task,
            "ingress": ingress.node,
            "rate": float(ingress.rate or 0.0),
        }
        for application in instance.applications
        for ingress in application.ingresses
    ]
    links = [
        {
            "source": link.source,
            "target": link.target,
            "latency": float(link.latency),
            "directed": link.directed,
        }
        for link in instance.links
    ]
    return {
        "kind": "idn",
        "name": f"{instance.name or 'serving'}-placement",
        "repository": instance.cloud,
        "alpha": float(alpha),
        "capacity": "shared",
        "repository_models": sorted({d.model for d in hosting.get(instance.cloud, [])}),
        "nodes": nodes,
        "links": links,
        "models": list(catalogue.values()),
        "requests": requests,
    }


def solve_placement(
    instance: ServingInstance, *, alpha: float = 100.0, time_limit: float | None = None
) -> Result:
    """Solve the scenario's IDN allocation (``milp``, shared capacity) with :func:`idnopt.solve`."""
    import idnopt

    idn = idnopt.from_dict(idn_document(instance, alpha=alpha), source="<serving placement>")
    return idnopt.solve(idn, method="milp", time_limit=time_limit)


def dispatch_shares(scenario: Scenario, result: Result) -> np.ndarray:
    """(classes, targets) shares of each class from the IDN result's ``serving`` table.

    Rows served by a node go to that node's target (node level) or to the
    deployment of that model there (deployment level); repository rows go to
    the cloud's target.
    """
    system = scenario.system
    classes = {name: index for index, name in enumerate(system.classes.names)}
    shares = np.zeros((len(system.classes), system.num_targets))
    for row in result.tables.get("serving", []):
        klass = classes.get(row["request"])
        if klass is None:
            continue
        target = _target_of(system, row["node"], row["model"], klass)
        if target is not None:
            shares[klass, target] += float(row["rate"])
    return shares


def _target_of(system, node: str, model: str, klass: int) -> int | None:
    if system.level == "node":
        if model == REPOSITORY_ROW:
            return system.cloud if system.cloud >= 0 else None
        return system.targets.index(node) if node in system.targets else None
    deployments = system.deployments
    for index, name in enumerate(deployments.names):
        place, served = name.split("/", 1)
        if place == node and (served == model or model == REPOSITORY_ROW):
            if system.target_deployment[klass, index] >= 0:
                return index
    return None
