r"""The bundled model catalog and the hardware it is derived onto.

``data/idn_models.json`` holds torchvision ImageNet classifiers measured on an
NVIDIA H100; latency on the other hardware is :math:`a_{hw} L + G / c_{hw}`
(:data:`HARDWARE_SPEED`) and compressed :data:`VARIANTS` extend the catalog to
any number of models. ``THEORY.md`` (section "Random instances") gives the details.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from idnopt.errors import InputError
from idnopt.topology import TIER_HARDWARE


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
        """Latency (ms) of a model with these H100 latency and GFLOPs.

        Parameters
        ----------
        h100_ms : float
            Measured H100 latency at batch 1 (ms).
        gflops : float
            The model's GFLOPs per request.

        Returns
        -------
        float
            Latency on this hardware (ms).
        """
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
    package = resources.files("idnopt.formulations.idn")
    text = package.joinpath("data/idn_models.json").read_text(encoding="utf-8")
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
