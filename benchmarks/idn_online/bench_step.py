"""Per-slot step time of INFIDA and OGA at 1,000 nodes x 100 models.

One step = update (multiplicative or additive) + projection + DepRound +
repair (+ fill), vectorised across nodes. Wall-clock medians, the fastest
step, and the median CPU time of the step's thread (less sensitive to other
processes on a shared machine). Measured with the policies' reused
work arrays ("buffered") and with a version that makes fresh arrays every slot
("fresh"), under glibc's default malloc and with its mmap/trim thresholds
raised (set through the environment of a child process). The supergradient
(computed from the slot's demand over all candidates) is timed on its own.

    python benchmarks/idn_online/bench_step.py            # about 2 minutes
    python benchmarks/idn_online/bench_step.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
from common import machine, markdown_table, save_json, save_markdown

MALLOC_TUNED = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "4294967296"}


def measure(repetitions: int, warmup: int) -> dict:
    from idnopt.formulations.idn import generate_idn
    from idnopt.formulations.idn.online import (
        DepRound,
        Infida,
        OnlineGradientAscent,
        Projector,
        fill_rows,
        make_problem,
        repair_rows,
        stationary_trace,
    )

    instance = generate_idn("tree", nodes=1000, models=100, request_classes=10000, seed=0)
    trace = stationary_trace(instance, slots=32, seed=0)
    problem = make_problem(instance, trace)
    rng = np.random.default_rng(0)
    out: dict = {"shape": list(problem.shape), "candidates": problem.candidates.num_candidates}
    for name, cls in (("infida", Infida), ("oga", OnlineGradientAscent)):
        policy = cls().reset(problem, np.random.default_rng(0))
        gradient = np.empty(problem.shape)
        allocation = np.empty(problem.shape)
        times = {key: [] for key in ("supergradient", "update", "depround", "repair", "fill")}
        fresh = {key: [] for key in ("update", "depround", "repair")}
        cpu = []
        for slot in range(warmup + repetitions):
            demand = trace.demand[slot % trace.slots]
            clock = time.perf_counter()
            problem.evaluate(policy.state_, demand, gradient=gradient)
            t1 = time.perf_counter()
            cpu_start = time.thread_time()
            policy._update(gradient)  # update + projection (buffered)
            t2 = time.perf_counter()
            policy.rounder_(policy.state_, rng, out=allocation)
            t3 = time.perf_counter()
            repair_rows(allocation, problem.sizes, problem.budgets, policy.state_, out=allocation)
            t4 = time.perf_counter()
            cpu_step = time.thread_time() - cpu_start
            fill_rows(allocation, problem.sizes, problem.budgets, policy.state_, out=allocation)
            t5 = time.perf_counter()
            # the same step with fresh arrays every slot (a plain numpy version)
            state = policy.state_.copy()
            t6 = time.perf_counter()
            if name == "infida":
                point = state * np.exp(gradient * (policy.step_ / problem.sizes))
                projected = Projector(problem.sizes, problem.budgets, problem.hostable).entropic(
                    point
                )
            else:
                point = state + policy.step_ * gradient
                projected = Projector(problem.sizes, problem.budgets, problem.hostable).euclidean(
                    point
                )
            t7 = time.perf_counter()
            sample = DepRound(problem.shape)(projected, rng)
            t8 = time.perf_counter()
            repair_rows(sample, problem.sizes, problem.budgets, projected)
            t9 = time.perf_counter()
            if slot < warmup:
                continue
            for key, value in zip(times, (t1 - clock, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                times[key].append(value)
            for key, value in zip(fresh, (t7 - t6, t8 - t7, t9 - t8)):
                fresh[key].append(value)
            cpu.append(cpu_step)
        steps = np.array(times["update"]) + np.array(times["depround"]) + np.array(times["repair"])
        filled = steps + np.array(times["fill"])
        plain = np.sum([fresh[key] for key in fresh], axis=0)
        out[name] = {
            "median_ms": {key: 1e3 * float(np.median(v)) for key, v in times.items()},
            "step_ms": 1e3 * float(np.median(steps)),
            "step_with_fill_ms": 1e3 * float(np.median(filled)),
            "step_p90_ms": 1e3 * float(np.percentile(steps, 90)),
            "step_min_ms": 1e3 * float(np.min(steps)),
            "step_cpu_ms": 1e3 * float(np.median(cpu)),
            "fresh_median_ms": {key: 1e3 * float(np.median(v)) for key, v in fresh.items()},
            "fresh_step_ms": 1e3 * float(np.median(plain)),
        }
    return out


def child(args: argparse.Namespace, environment: dict) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--repetitions",
        str(args.repetitions),
        "--warmup",
        str(args.warmup),
    ]
    done = subprocess.run(
        command, env={**os.environ, **environment}, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(data: dict) -> str:
    lines = [
        "Per-slot step at 1,000 nodes x 100 models (median over "
        f"{data['repetitions']} warmed slots; ms). Step = update + projection + DepRound + repair. "
        f"Load average at start {data['machine']['load_average']}, at end "
        f"{data['load_average_at_end']} (2 cores).",
        "",
    ]
    rows = []
    for malloc, result in data["runs"].items():
        for name in ("infida", "oga"):
            r = result[name]
            m = r["median_ms"]
            rows.append(
                [
                    name,
                    malloc,
                    m["update"],
                    m["depround"],
                    m["repair"],
                    r["step_ms"],
                    r["step_min_ms"],
                    r["step_cpu_ms"],
                    r["step_p90_ms"],
                    m["fill"],
                    r["step_with_fill_ms"],
                    r["fresh_step_ms"],
                    m["supergradient"],
                ]
            )
    lines.append(
        markdown_table(
            [
                "policy",
                "malloc",
                "update + projection",
                "DepRound",
                "repair",
                "step (buffered)",
                "step min",
                "step CPU time",
                "step p90",
                "fill",
                "step + fill",
                "step (fresh arrays)",
                "supergradient",
            ],
            rows,
        )
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.repetitions, args.warmup = 30, 5
    if args.child:
        print(json.dumps(measure(args.repetitions, args.warmup)))
        return
    started = time.perf_counter()
    data = {"machine": machine(), "repetitions": args.repetitions, "warmup": args.warmup}
    # run alone: other processes on a 2-core machine inflate every number
    data["runs"] = {
        "glibc default": child(args, {}),
        "mmap/trim thresholds 4 GiB": child(args, MALLOC_TUNED),
    }
    data["wall_s"] = time.perf_counter() - started
    data["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    text = report(data)
    save_json("step", data)
    save_markdown("step", text)
    print(text)


if __name__ == "__main__":
    main()
