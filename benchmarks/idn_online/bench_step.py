"""Per-slot step time of INFIDA and OGA at 1,000 nodes x 100 models, new code against old.

One step = update (multiplicative or additive) + projection + DepRound +
repair (fill reported apart), vectorised across nodes, after the slot's
supergradient (timed apart). Two versions of the step code:

* ``new``: ``formulations/idn/online`` (reused work arrays, in-place sort,
  ``np.take(..., out=)``, per-node loads by ``einsum`` instead of BLAS,
  DepRound blocks of 1,024 rows, repair on the hosted entries only, fill by
  arg-max);
* ``old``: the code before that rework (``formulations/idn/online/projection.py``
  at commit :data:`OLD_REVISION`, read from the repository's history when the
  script runs; BLAS matrix-vector products, which OpenBLAS runs on its worker
  threads). A clone without that history runs the new code only.

Each configuration runs in its own child process, one after the other in one
run of this script: new, old, old with ``OPENBLAS_NUM_THREADS=1``, then new
and old again with glibc's mmap/trim thresholds raised
(``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``). The load average is
recorded before and after each child. Reported: wall-clock median, fastest
step, 90th percentile, and the median CPU time of the step's thread.

    python benchmarks/idn_online/bench_step.py            # about 2 minutes; run it alone
    python benchmarks/idn_online/bench_step.py --quick    # writes step_quick.*
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import machine, markdown_table, save_json, save_markdown

MALLOC_TUNED = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "4294967296"}
PARTS = ("update", "depround", "repair", "fill")


def _summary(times: dict, cpu: list) -> dict:
    steps = np.array(times["update"]) + np.array(times["depround"]) + np.array(times["repair"])
    return {
        "median_ms": {key: 1e3 * float(np.median(v)) for key, v in times.items()},
        "step_ms": 1e3 * float(np.median(steps)),
        "step_with_fill_ms": 1e3 * float(np.median(steps + np.array(times["fill"]))),
        "step_p90_ms": 1e3 * float(np.percentile(steps, 90)),
        "step_min_ms": 1e3 * float(np.min(steps)),
        "step_cpu_ms": 1e3 * float(np.median(cpu)),
    }


OLD_REVISION = "4a280d7"
"""Commit whose step code the ``old`` rows time."""


def legacy_step():
    """The step module at :data:`OLD_REVISION`, loaded from git (``None`` if it cannot be)."""
    import importlib.util
    import tempfile

    root = Path(__file__).resolve().parents[2]
    try:
        text = subprocess.run(
            ["git", "show", f"{OLD_REVISION}:formulations/idn/online/projection.py"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    folder = Path(tempfile.mkdtemp(prefix="idnopt-old-step-"))
    (folder / "legacy_step.py").write_text(text)
    spec = importlib.util.spec_from_file_location("legacy_step", folder / "legacy_step.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure_policy(
    name: str, cls: type, problem, trace, code: str, repetitions: int, warmup: int
) -> dict:
    """The new or the old step of one policy, from the policy's own states."""
    from idnopt.formulations.idn.online import fill_rows, repair_rows

    legacy = legacy_step() if code == "old" else None
    if code == "old" and legacy is None:
        raise SystemExit(f"the old step code (commit {OLD_REVISION}) is not in this clone")

    sizes, budgets = problem.sizes, problem.budgets
    policy = cls().reset(problem, np.random.default_rng(0))
    rng_new, rng_old = np.random.default_rng(1), np.random.default_rng(1)
    gradient = np.empty(problem.shape)
    allocation, old_allocation = np.empty(problem.shape), np.empty(problem.shape)
    old_state, old_work = np.empty(problem.shape), np.empty(problem.shape)
    if legacy is not None:
        old_projector = legacy.Projector(sizes, budgets, problem.hostable)
        old_rounder = legacy.DepRound(problem.shape)  # its default: blocks of 256 rows

    def new_step() -> tuple[np.ndarray, float]:
        marks = [time.perf_counter()]
        cpu_start = time.thread_time()
        policy._update(gradient)  # update + projection
        marks.append(time.perf_counter())
        policy.rounder_(policy.state_, rng_new, out=allocation)
        marks.append(time.perf_counter())
        repair_rows(allocation, sizes, budgets, policy.state_, out=allocation)
        marks.append(time.perf_counter())
        cpu = time.thread_time() - cpu_start
        fill_rows(allocation, sizes, budgets, policy.state_, out=allocation, work=policy.work_)
        marks.append(time.perf_counter())
        return np.diff(marks), cpu

    def old_step() -> tuple[np.ndarray, float]:
        marks = [time.perf_counter()]
        cpu_start = time.thread_time()
        if name == "infida":  # the policy's update as it was, on the old projector
            np.multiply(gradient, policy.scaled_step_, out=old_work)
            np.exp(old_work, out=old_work)
            np.multiply(old_state, old_work, out=old_work)
            old_projector.entropic(old_work, out=old_state)
        else:
            np.multiply(gradient, policy.step_, out=old_work)
            np.add(old_work, old_state, out=old_work)
            old_projector.euclidean(old_work, out=old_state)
        marks.append(time.perf_counter())
        old_rounder(old_state, rng_old, out=old_allocation)
        marks.append(time.perf_counter())
        legacy.repair_rows(old_allocation, sizes, budgets, old_state, out=old_allocation)
        marks.append(time.perf_counter())
        cpu = time.thread_time() - cpu_start
        legacy.fill_rows(old_allocation, sizes, budgets, old_state, out=old_allocation)
        marks.append(time.perf_counter())
        return np.diff(marks), cpu

    times = {key: [] for key in PARTS}
    cpu, supergradient = [], []
    step = new_step if code == "new" else old_step
    for slot in range(warmup + repetitions):
        demand = trace.demand[slot % trace.slots]
        clock = time.perf_counter()
        problem.evaluate(policy.state_, demand, gradient=gradient)
        if code == "old":  # the gain's sum was a BLAS dot product then (now einsum)
            np.dot(problem.candidates.gap, problem.candidates.gap)
        elapsed = time.perf_counter() - clock
        np.copyto(old_state, policy.state_)
        parts, cpu_step = step()
        if code == "old":  # the state the policy would have reached (same projection)
            np.copyto(policy.state_, old_state)
        if slot >= warmup:
            for key, value in zip(PARTS, parts):
                times[key].append(value)
            cpu.append(cpu_step)
            supergradient.append(elapsed)
    result = _summary(times, cpu)
    result["supergradient_ms"] = 1e3 * float(np.median(supergradient))
    return result


def measure(code: str, repetitions: int, warmup: int) -> dict:
    from idnopt.formulations.idn import generate_idn
    from idnopt.formulations.idn.online import (
        Infida,
        OnlineGradientAscent,
        make_problem,
        stationary_trace,
    )

    instance = generate_idn("tree", nodes=1000, models=100, request_classes=10000, seed=0)
    trace = stationary_trace(instance, slots=32, seed=0)
    problem = make_problem(instance, trace)
    out: dict = {
        "shape": list(problem.shape),
        "candidates": problem.candidates.num_candidates,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    for name, cls in (("infida", Infida), ("oga", OnlineGradientAscent)):
        out[name] = measure_policy(name, cls, problem, trace, code, repetitions, warmup)
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return out


CONFIGURATIONS = {
    "new, glibc default": ("new", {}),
    "old, glibc default": ("old", {}),
    "old, glibc default, OPENBLAS_NUM_THREADS=1": ("old", {"OPENBLAS_NUM_THREADS": "1"}),
    "new, mmap/trim thresholds 4 GiB": ("new", MALLOC_TUNED),
    "old, mmap/trim thresholds 4 GiB": ("old", MALLOC_TUNED),
}
"""Child processes of one run: (code, environment added)."""


def child(args: argparse.Namespace, code: str, environment: dict) -> dict:
    command = [sys.executable, __file__, "--child", code]
    command += ["--repetitions", str(args.repetitions), "--warmup", str(args.warmup)]
    done = subprocess.run(
        command, env={**os.environ, **environment}, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(data: dict) -> str:
    lines = [
        "Per-slot step at 1,000 nodes x 100 models (median over "
        f"{data['repetitions']} warmed slots; ms). Step = update + projection + DepRound + "
        "repair. One child process per row pair, in this order; load average (1, 5, 15 min; "
        "2 cores) before -> after each: "
        + "; ".join(
            f"{label}: {r['load_average_at_start']} -> {r['load_average_at_end']}"
            for label, r in data["runs"].items()
        )
        + ".",
        "",
    ]
    rows = []
    for label, result in data["runs"].items():
        for name in ("infida", "oga"):
            r = result[name]
            m = r["median_ms"]
            rows.append(
                [
                    name,
                    label,
                    m["update"],
                    m["depround"],
                    m["repair"],
                    r["step_ms"],
                    r["step_min_ms"],
                    r["step_cpu_ms"],
                    r["step_p90_ms"],
                    m["fill"],
                    r["step_with_fill_ms"],
                    r["supergradient_ms"],
                ]
            )
    header = ["policy", "code, environment", "update + projection", "DepRound", "repair"]
    header += ["step (median)", "step min", "step CPU time", "step p90", "fill", "step + fill"]
    lines.append(markdown_table([*header, "supergradient"], rows))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", choices=["new", "old"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.repetitions, args.warmup = 30, 5
    if args.child:
        print(json.dumps(measure(args.child, args.repetitions, args.warmup)))
        return
    started = time.perf_counter()
    data = {"machine": machine(), "repetitions": args.repetitions, "warmup": args.warmup}
    # run alone: other processes on a 2-core machine inflate every number
    data["runs"] = {
        label: child(args, code, environment)
        for label, (code, environment) in CONFIGURATIONS.items()
    }
    data["wall_s"] = time.perf_counter() - started
    data["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    text = report(data)
    name = "step_quick" if args.quick else "step"
    save_json(name, data)
    save_markdown(name, text)
    print(text)


if __name__ == "__main__":
    main()
