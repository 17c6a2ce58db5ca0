"""Random PA-MDI instances: layer chains over a random multi-hop network.

Devices are placed uniformly in the unit square and linked to their nearest
neighbours (plus a spanning chain so that the network is connected); link
latency grows with distance, bandwidth is drawn per link. Chains have layers
of log-normal compute time whose activations shrink along the chain (as in
convolutional networks), every device has a speed drawn from a small menu,
and sources (split into ``classes`` priority classes, the first class the
most important) sit on random devices with rates that load their device to
``load`` on average when computed locally.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from idnopt.formulations.pamdi.schema import PamdiInstance
from idnopt.method import Parameters

SPEEDS = (0.5, 1.0, 2.0)
"""Relative device speeds drawn uniformly."""

PRIORITY_LEVELS = (4.0, 1.0, 0.5, 0.25)
"""Priority weights of the classes, highest first."""


class GeneratorParameters(Parameters):
    """Knobs of ``idnopt generate pamdi``."""

    devices: int = Field(20, ge=1, description="number of devices")
    layers: int = Field(100, ge=1, description="layers per chain")
    sources: int = Field(10, ge=1, description="number of data sources")
    models: int = Field(1, ge=1, description="distinct chains (sources pick one each)")
    classes: int = Field(2, ge=1, le=4, description="priority classes")
    degree: int = Field(3, ge=1, description="links to nearest neighbours per device")
    load: float = Field(0.5, gt=0, lt=1, description="mean local utilisation of a source")
    bandwidth: float = Field(100.0, gt=0, description="mean link bandwidth in Mbit/s")
    seed: int = Field(0, ge=0, description="seed of every random choice")


def generate(parameters: GeneratorParameters) -> PamdiInstance:
    """A random instance (the same parameters give the same instance)."""
    from idnopt.loading import from_dict

    rng = np.random.default_rng(parameters.seed)
    count = parameters.devices
    points = rng.random((count, 2))
    distance = np.linalg.norm(points[:, None] - points[None, :], axis=2)
    pairs = set()
    order = np.argsort(distance, axis=1)
    for device in range(count):
        for other in order[device, 1 : parameters.degree + 1]:
            pairs.add(tuple(sorted((device, int(other)))))
    for device in range(count - 1):
        pairs.add((device, device + 1))
    speeds = rng.choice(SPEEDS, size=count)
    devices = [{"name": f"dev-{d}", "speed": float(speeds[d])} for d in range(count)]
    links = [
        {
            "source": f"dev-{a}",
            "target": f"dev-{b}",
            "latency": round(float(1.0 + 10.0 * distance[a, b]), 3),
            "bandwidth": round(float(parameters.bandwidth * rng.uniform(0.5, 1.5)), 3),
        }
        for a, b in sorted(pairs)
    ]
    models = []
    for index in range(parameters.models):
        times = rng.lognormal(mean=0.0, sigma=0.6, size=parameters.layers)
        sizes = np.geomspace(2.0, 0.02, parameters.layers) * rng.uniform(
            0.5, 1.5, parameters.layers
        )
        models.append(
            {
                "name": f"chain-{index}",
                "layers": [
                    {"name": f"l{k}", "time": round(float(t), 4), "output": round(float(s), 4)}
                    for k, (t, s) in enumerate(zip(times, sizes))
                ],
                "input": 0.15,
                "result": 0.004,
            }
        )
    sources = []
    for index in range(parameters.sources):
        device = int(rng.integers(count))
        model = models[int(rng.integers(len(models)))]
        work = sum(layer["time"] for layer in model["layers"]) / speeds[device]
        klass = index % parameters.classes
        sources.append(
            {
                "name": f"src-{index}",
                "device": f"dev-{device}",
                "model": model["name"],
                "rate": round(float(1000.0 * parameters.load / work), 4),
                "priority": PRIORITY_LEVELS[klass],
                "label": f"class-{klass}",
            }
        )
    return from_dict(
        {
            "kind": "pamdi",
            "name": f"random-{count}d-{parameters.layers}l-{parameters.sources}s-{parameters.seed}",
            "description": "random PA-MDI instance (idnopt generate pamdi)",
            "devices": devices,
            "links": links,
            "models": models,
            "sources": sources,
        },
        source="<generated>",
    )


def header(instance: PamdiInstance, parameters: GeneratorParameters) -> list[str]:
    """Comment lines of a generated file."""
    return [
        f"Random PA-MDI instance: {len(instance.devices)} devices, "
        f"{len(instance.sources)} sources, chains of {parameters.layers} layers.",
        "Layer times are in ms on a device of speed 1; rates load each source's own "
        f"device to {parameters.load:g} when it computes alone.",
    ]
