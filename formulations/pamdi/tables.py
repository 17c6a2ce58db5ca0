"""Decoded answers: a split and its modelled latencies as result metrics and tables.

Tables (one dict per row, printed by ``idnopt solve``):

* ``split`` - per source and segment: device, layer range, layer count, compute
  and wait time of the segment;
* ``latency`` - per source: priority class, rate, compute, transfer, wait and
  mean latency of a request;
* ``classes`` - per priority class: sources, total rate, mean latency;
* ``devices`` - per device: speed, utilisation, sources served (and weight
  memory when limited).
"""

from __future__ import annotations

import numpy as np

from idnopt.formulations.pamdi.compiled import Compiled
from idnopt.formulations.pamdi.delay import Evaluation, class_latency, segments, split_array
from idnopt.formulations.pamdi.structure import layout
from idnopt.result import Result


def _class_of(compiled: Compiled, source: int) -> str:
    return compiled.class_label(int(compiled.klass[source]))


def split_rows(compiled: Compiled, evaluation: Evaluation) -> list[dict]:
    """Rows of the ``split`` table."""
    rows = []
    for source, devices in enumerate(evaluation.split):
        chain = compiled.chains[source]
        for device, first, last in segments(devices):
            rows.append(
                {
                    "source": compiled.source_names[source],
                    "device": compiled.device_names[device],
                    "layers": chain.names[first]
                    if first == last
                    else f"{chain.names[first]}..{chain.names[last]}",
                    "count": last - first + 1,
                    "compute_ms": float(evaluation.service[source, device]),
                    "wait_ms": float(evaluation.wait[source, device]),
                }
            )
    return rows


def latency_rows(compiled: Compiled, evaluation: Evaluation) -> list[dict]:
    """Rows of the ``latency`` table."""
    return [
        {
            "source": name,
            "class": _class_of(compiled, source),
            "rate_per_s": float(compiled.rate[source] * 1000.0),
            "compute_ms": float(evaluation.compute[source]),
            "transfer_ms": float(evaluation.transfer[source]),
            "wait_ms": float(evaluation.waiting[source]),
            "latency_ms": float(evaluation.latency[source]),
        }
        for source, name in enumerate(compiled.source_names)
    ]


def class_rows(compiled: Compiled, latency: np.ndarray) -> list[dict]:
    """Rows of the ``classes`` table from per-source latencies."""
    means = class_latency(compiled, latency)
    rows = []
    for klass in range(compiled.num_classes):
        members = np.flatnonzero(compiled.klass == klass)
        rows.append(
            {
                "class": compiled.class_label(klass),
                "sources": ", ".join(compiled.source_names[s] for s in members),
                "rate_per_s": float(compiled.rate[members].sum() * 1000.0),
                "latency_ms": float(means[klass]),
            }
        )
    return rows


def device_rows(compiled: Compiled, evaluation: Evaluation) -> list[dict]:
    """Rows of the ``devices`` table."""
    rows = []
    for device, name in enumerate(compiled.device_names):
        row = {
            "device": name,
            "speed": float(compiled.speed[device]),
            "load": float(evaluation.load[device]),
            "sources": ", ".join(
                compiled.source_names[s] for s in np.flatnonzero(evaluation.visits[:, device])
            ),
        }
        if compiled.memory_limited:
            row["memory_mb"] = float(evaluation.memory[device])
        rows.append(row)
    return rows


def attach(result: Result, compiled: Compiled, evaluation: Evaluation | None) -> Result:
    """Put a split's decision, metrics and tables on ``result``.

    Parameters
    ----------
    result : Result
        The method's result (status, bounds already set).
    compiled : Compiled
        The instance's arrays.
    evaluation : Evaluation or None
        The split answered (nothing is attached without one).

    Returns
    -------
    Result
        ``result``, with ``values["assignment"]`` (device index per source and
        layer, ``-1`` past a chain's end), ``labels``, metrics and tables.
    """
    if evaluation is None:
        return result
    result.values["assignment"] = split_array(compiled, evaluation.split)
    result.labels["assignment"] = (
        compiled.source_names,
        tuple(str(layer) for layer in range(compiled.max_length)),
    )
    result.metrics["weighted_latency_ms"] = float(evaluation.objective)
    for klass, mean in enumerate(class_latency(compiled, evaluation.latency)):
        result.metrics[f"{compiled.class_label(klass)}: latency_ms"] = float(mean)
    result.metrics["max_load"] = float(evaluation.load.max())
    result.metrics["segments"] = int(evaluation.visits.sum())
    result.tables["split"] = split_rows(compiled, evaluation)
    result.tables["latency"] = latency_rows(compiled, evaluation)
    result.tables["classes"] = class_rows(compiled, evaluation.latency)
    result.tables["devices"] = device_rows(compiled, evaluation)
    return result


def attach_relaxed(result: Result, compiled: Compiled) -> Result:
    """Fractional layer shares of a relaxation's solution as a ``split`` table."""
    if not result.values or "x" not in result.values:
        return result
    shape = layout(compiled)
    x = np.asarray(result.values["x"], dtype=float)
    work = np.concatenate([chain.work for chain in compiled.chains])
    layers = np.zeros((compiled.num_sources, compiled.num_devices))
    shares = np.zeros_like(layers)
    np.add.at(layers, shape.layer_source, x)
    np.add.at(shares, shape.layer_source, work[:, None] * x)
    totals = np.asarray([chain.work.sum() for chain in compiled.chains])
    rows = []
    for source, device in zip(*np.nonzero(layers > 1e-6)):
        rows.append(
            {
                "source": compiled.source_names[source],
                "device": compiled.device_names[device],
                "layers": float(layers[source, device]),
                "work_share": float(shares[source, device] / totals[source]),
            }
        )
    result.tables["split"] = rows
    result.metrics["fractional_layers"] = int(np.sum((x > 1e-6) & (x < 1 - 1e-6)))
    return result
