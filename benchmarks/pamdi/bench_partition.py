"""The online per-hop rule's partition size: time-sensitive latency for 1 to all layers.

Usage::

    python benchmarks/pamdi/bench_partition.py [--duration 300]

Simulates ``pa-mdi`` on every bundled set-up with partitions of 1, 2, 4 and
all layers (one decision per request), next to the exact split, and writes
``results/bench_partition.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPOSITORY))

import idnopt  # noqa: E402
from idnopt.documents import write_atomic  # noqa: E402
from idnopt.family import get_family  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
URGENT = "time-sensitive (priority 4)"


def urgent_mean(result) -> float:
    return next(r["mean_ms"] for r in result.tables["classes"] if r["class"] == URGENT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args(argv)
    simulation = get_family("pamdi").simulation
    lines = [
        "# Partition size of the online per-hop rule",
        "",
        f"Simulated {arguments.duration:g} s, seed {arguments.seed}; time-sensitive mean "
        "latency in ms at the bundled load.",
        "",
        "| set-up | exact split | 1 layer | 2 layers | 4 layers | whole model |",
        "|---|---|---|---|---|---|",
    ]
    for path in sorted((REPOSITORY / "instances" / "pamdi").glob("*.yaml")):
        instance = idnopt.load(path)
        layers = len(instance.model_layers(instance.models[0].name))
        options = {"duration": arguments.duration, "seed": arguments.seed}
        cells = [urgent_mean(simulation.simulate(instance, "exact", **options))]
        for partition in (1, 2, 4, layers):
            result = simulation.simulate(instance, "pa-mdi", partition=partition, **options)
            cells.append(urgent_mean(result))
        lines.append(f"| {path.stem} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
        print(lines[-1], flush=True)
    RESULTS.mkdir(exist_ok=True)
    write_atomic(RESULTS / "bench_partition.md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
