"""End-edge-cloud offloading scenarios: ARM devices, an edge server, a cloud GPU, MobileNetV1.

The set-up follows the published experiments as far as they are described:
end devices with ARM cores, an edge server and a cloud instance, MobileNetV1
variants, a network connection, a number of users and accuracy requirements
that vary.

* **Variants** - MobileNetV1 at widths 1.0, 0.75, 0.5 and 0.25 (224 px) and
  1.0 at 160 px, with the ImageNet top-1 accuracies and multiply-accumulate
  counts published with MobileNets (Howard et al. 2017, tables 6 and 7);
  torchvision ships no MobileNetV1 weights to read them from.
* **Latencies** - stated, not measured: ``overhead + MACs * ms_per_mmac`` per
  hardware (:data:`HARDWARE`): an ARM Cortex-A72-class device (0.2 ms per
  million MACs: 1.0-224 in about 116 ms), a 4-core x86 edge server (0.04),
  a cloud GPU (1.5 ms per request plus 0.001).
* **Network** - each device reaches the edge over an access link of
  ``bandwidth`` Mbit/s and 5 ms; the edge reaches the cloud over 1 Gbit/s and
  20 ms. ``network``: ``stable`` (always nominal), ``variable`` (levels 1,
  0.3, 0.08 of nominal, mean sojourns 20, 10, 10 s) or ``poor`` (levels 0.3,
  0.08, 0.03; 20, 10, 10 s).
* **Users** - each device sends ``rate`` requests/s times ``users``; the
  number of active users follows a two-level chain (1 and 3 times, mean
  sojourns 30 s and 10 s).
* **Device load** - background load slows a device's own inference by 1 or
  2.5 (mean sojourns 30 s and 10 s).
* **Accuracy** - three applications with floors by ``accuracy``: ``relaxed``
  (0.60, 0.62, 0.64), ``mixed`` (0.60, 0.66, 0.70) or ``strict`` (0.68, 0.69,
  0.70); deadlines 150, 250 and 400 ms; devices are dealt to applications in turn.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from idnopt.formulations.offloading.schema import OffloadingInstance
from idnopt.method import Parameters

VARIANTS = (
    # name, ImageNet top-1, millions of multiply-accumulates
    ("mobilenet_v1_1.0_224", 0.706, 569.0),
    ("mobilenet_v1_1.0_160", 0.672, 290.0),
    ("mobilenet_v1_0.75_224", 0.684, 325.0),
    ("mobilenet_v1_0.5_224", 0.637, 149.0),
    ("mobilenet_v1_0.25_224", 0.506, 41.0),
)
"""MobileNetV1 variants with their published accuracy and MACs (Howard et al. 2017)."""

HARDWARE = {
    # name: (overhead ms, ms per million MACs)
    "cortex-a72": (2.0, 0.2),
    "xeon-4core": (1.0, 0.04),
    "cloud-gpu": (1.5, 0.001),
}
"""Stated latency model per hardware."""

NETWORKS = {
    "stable": ((1.0,), (60_000.0,)),
    "variable": ((1.0, 0.3, 0.08), (20_000.0, 10_000.0, 10_000.0)),
    "poor": ((0.3, 0.08, 0.03), (20_000.0, 10_000.0, 10_000.0)),
}
"""Bandwidth levels (of nominal) and mean sojourns (ms) per regime."""

FLOORS = {
    "relaxed": (0.60, 0.62, 0.64),
    "mixed": (0.60, 0.66, 0.70),
    "strict": (0.68, 0.69, 0.70),
}
"""Accuracy floors of the three applications per requirement."""

DEADLINES = (150.0, 250.0, 400.0)


class OffloadingGeneratorParameters(Parameters):
    """Knobs of :func:`generate_offloading`."""

    devices: int = Field(5, ge=1, le=200, description="end devices")
    rate: float = Field(2.0, gt=0, description="requests/s per device at one user")
    users: float = Field(1.0, gt=0, description="multiplies every device's rate")
    bandwidth: float = Field(20.0, gt=0, description="nominal access bandwidth, Mbit/s")
    network: Literal["stable", "variable", "poor"] = Field(
        "variable", description="how the access bandwidth varies"
    )
    accuracy: Literal["relaxed", "mixed", "strict"] = Field(
        "mixed", description="accuracy floors of the applications"
    )
    edge_replicas: int = Field(1, ge=1, description="processors of the edge server")
    penalty: float = Field(20.0, ge=0, description="ms per accuracy point below the floor")
    seed: int = Field(0, ge=0, description="unused: the scenario is deterministic")


def latency(hardware: str, macs: float) -> float:
    """Stated latency (ms) of a variant of ``macs`` million MACs on ``hardware``."""
    overhead, per_mmac = HARDWARE[hardware]
    return round(overhead + per_mmac * macs, 3)


def generate_offloading(parameters: OffloadingGeneratorParameters) -> OffloadingInstance:
    """An end-edge-cloud scenario (see the module notes)."""
    devices = [f"device-{i + 1}" for i in range(parameters.devices)]
    nodes = [
        {"name": "cloud", "tier": "cloud", "hardware": "cloud-gpu"},
        {"name": "edge", "tier": "edge", "hardware": "xeon-4core"},
    ] + [{"name": name, "tier": "device", "hardware": "cortex-a72"} for name in devices]
    links = [{"source": "edge", "target": "cloud", "latency": 20.0, "bandwidth": 1000.0}] + [
        {"source": name, "target": "edge", "latency": 5.0, "bandwidth": parameters.bandwidth}
        for name in devices
    ]
    models = [
        {
            "name": name,
            "task": "classify",
            "accuracy": accuracy,
            "latency": {hardware: latency(hardware, macs) for hardware in HARDWARE},
        }
        for name, accuracy, macs in VARIANTS
    ]
    deployments = []
    for name in devices:
        deployments += [{"node": name, "model": variant[0]} for variant in VARIANTS]
    deployments += [
        {"node": "edge", "model": variant[0], "replicas": parameters.edge_replicas}
        for variant in VARIANTS
    ]
    deployments += [{"node": "cloud", "model": variant[0], "replicas": 16} for variant in VARIANTS]
    floors = FLOORS[parameters.accuracy]
    applications = []
    for index, (floor, deadline) in enumerate(zip(floors, DEADLINES)):
        members = devices[index :: len(floors)]
        if not members:
            continue
        applications.append(
            {
                "name": f"app-{index + 1}",
                "task": "classify",
                "deadline": deadline,
                "min_accuracy": floor,
                "input": 0.1,
                "result": 0.001,
                "service_cv": 0.1,
                "ingresses": [
                    {"node": name, "rate": parameters.rate * parameters.users} for name in members
                ],
                "arrivals": {"process": "mmpp", "levels": [1.0, 3.0], "sojourn": [30_000, 10_000]},
            }
        )
    levels, sojourn = NETWORKS[parameters.network]
    document = {
        "kind": "offloading",
        "name": f"end-edge-cloud-{parameters.network}-{parameters.accuracy}",
        "description": (
            f"{parameters.devices} ARM devices, an edge server and a cloud GPU; MobileNetV1 "
            f"variants; {parameters.network} {parameters.bandwidth:g} Mbit/s access, "
            f"{parameters.accuracy} accuracy floors, users x{parameters.users:g}"
        ),
        "cloud": "cloud",
        "edge": "edge",
        "accuracy_penalty": parameters.penalty,
        "device_load": {"levels": [1.0, 2.5], "sojourn": [30_000, 10_000]},
        "nodes": nodes,
        "links": links,
        "models": models,
        "deployments": deployments,
        "applications": applications,
    }
    if len(levels) > 1:
        document["bandwidth"] = {"levels": list(levels), "sojourn": list(sojourn)}
    return OffloadingInstance.model_validate(document)
