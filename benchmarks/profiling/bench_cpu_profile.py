"""Benchmark: how long profiling the 18 reference models takes, and what it measures.

CPU (default)::

    python benchmarks/profiling/bench_cpu_profile.py [--threads N] [--out FILE]

profiles the 18 models of the bundled H100 reference at batch 1, fp32, with the
default stopping rule of ``idnopt profile``, and prints per model the time
spent (building the model, warm-up, timing, memory) and the measured figures.

GPU::

    python benchmarks/profiling/bench_cpu_profile.py --device cuda --precision fp32,fp16 \\
        --batch 1,4,16,64

profiles with CUDA-graph replay and prints the latencies next to the bundled
H100 reference (``instances/profiles/h100.json``, hardware ``h100``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPOSITORY))

from idnopt.profiling import load_profile, profile_models, save_profile  # noqa: E402
from idnopt.profiling.models import REFERENCE_MODELS  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", default=",".join(REFERENCE_MODELS))
    parser.add_argument("--batch", default="1")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="also save the profile here")
    arguments = parser.parse_args(argv)

    models = arguments.models.split(",")
    batches = [int(b) for b in arguments.batch.split(",")]
    precisions = arguments.precision.split(",")
    stamps: list[tuple[float, str]] = []

    def progress(done: int, total: int, label: str) -> None:
        stamps.append((time.perf_counter(), label))
        print(f"[{done}/{total}] {label}", file=sys.stderr, flush=True)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    started = time.perf_counter()
    profile = profile_models(
        models,
        batch_sizes=batches,
        precisions=precisions,
        device=arguments.device,
        threads=arguments.threads,
        progress=progress,
    )
    elapsed = time.perf_counter() - started
    if arguments.out is not None:
        save_profile(profile, arguments.out)

    ((hardware_name, hardware),) = profile.hardware.items()
    spent = {label.split()[0]: 0.0 for _, label in stamps[:-1]}
    for (start, label), (end, _) in zip(stamps, stamps[1:], strict=False):
        spent[label.split()[0]] += end - start
    print(
        f"\ndevice: {hardware.device}; torch {hardware.environment['torch']}; "
        f"threads {hardware.environment['threads']}; load average at start {load:.2f}"
    )
    print(
        f"total time to profile {len(models)} models x {len(batches)} batch sizes x "
        f"{len(precisions)} precisions: {elapsed:.1f} s\n"
    )

    reference = load_profile(REPOSITORY / "instances" / "profiles" / "h100.json")
    gpu = hardware.kind == "gpu"
    header = "| model | prec | batch | median ms | p95 ms | ±CI | reps | early | peak MB | " + (
        "H100 ref ms | ratio |" if gpu else "time s |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name in models:
        for measured in hardware.models[name].measurements:
            low, high = measured.median_ci_ms
            row = (
                f"| {name} | {measured.precision} | {measured.batch} | "
                f"{measured.median_ms:.3f} | {measured.p95_ms:.3f} | "
                f"{(high - low) / 2 / measured.median_ms:.1%} | {measured.repetitions} | "
                f"{'yes' if measured.stopped_early else 'no'} | "
                f"{measured.peak_memory_mb or float('nan'):.1f} | "
            )
            if gpu:
                expected = reference.lookup("h100", name, measured.batch, measured.precision)
                row += (
                    f"{expected.latency_ms:.3f} | {measured.median_ms / expected.latency_ms:.2f} |"
                )
            else:
                steps = len(hardware.models[name].measurements)
                row += f"{spent.get(name, float('nan')) / steps:.1f} |"
            print(row)
    for note in hardware.notes:
        print(f"\nnote: {note}")
    print(f"\nhardware name in the profile: {hardware_name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
