"""Simulator speed: simulated queries per wall-clock second on one core, 20 edge clusters.

The scenario: ``idnopt generate serving --clusters 20 --applications 3 --load 0.7``
(20 edge clusters on a ring, a cloud with batching, 60 deployments), 60 s of
arrivals (about half a million queries). Each path is timed on the same
queries, best of ``--repetitions``; the arrivals are drawn once and timed on
their own. Paths:

* vectorised - schedulers that read no state (closest, random, round-robin,
  cloud, placement): decisions at once, arrivals per deployment with numpy,
  the Lindley recursion or a tight loop per deployment;
* event loop - the same decisions through the heap-based loop (what every
  stateful scheduler uses), least-loaded on 50 ms reports and on exact loads,
  and a learned scheduler (a 64x64 network evaluated in numpy per query);
* simpy reference - one process per query (on the first 10 s only).

Every path is checked against the simpy reference on the first 10 s (same
targets, same times to 1e-9 ms).

    python benchmarks/sim/bench_speed.py               # about 3 minutes
    python benchmarks/sim/bench_speed.py --quick
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import machine, markdown_table, one_core, save_json, save_markdown

TARGET = 200_000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of arrivals")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10 s of arrivals, one repetition")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.duration, arguments.repetitions = 10.0, 1
    core = one_core()

    from idnopt.family import get_family
    from idnopt.formulations.serving import (
        ServingSimulationParameters,
        compile_scenario,
        draw,
        scheduler_for,
    )
    from idnopt.sim.learning import LearnedScheduler
    from idnopt.sim.reference import simulate_reference
    from idnopt.sim.scheduling import observation_size, simulate

    instance = get_family("serving").generator.generate(
        topology="ring", clusters=20, applications=3, load=0.7
    )
    scenario = compile_scenario(instance)
    system = scenario.system
    started = time.perf_counter()
    queries = draw(scenario, 1000.0 * arguments.duration, seed=1)
    draw_seconds = time.perf_counter() - started
    count = len(queries)
    rng = np.random.default_rng(0)
    size, hidden = observation_size(system), 64
    weights = [
        (rng.normal(0, 0.3, (hidden, size)), np.zeros(hidden)),
        (rng.normal(0, 0.3, (hidden, hidden)), np.zeros(hidden)),
        (rng.normal(0, 0.3, (system.num_targets, hidden)), np.zeros(system.num_targets)),
    ]

    def make(policy: str):
        if policy == "learned (64x64 numpy)":
            return LearnedScheduler(weights=weights)
        name = "least-loaded" if policy == "least-loaded (exact)" else policy
        return scheduler_for(instance, scenario, name, ServingSimulationParameters())[0]

    runs = [
        ("vectorised", "closest", system, True),
        ("vectorised", "random", system, True),
        ("vectorised", "round-robin", system, True),
        ("vectorised", "cloud", system, True),
        ("vectorised", "placement", system, True),
        ("event loop", "closest", system, False),
        ("event loop", "random", system, False),
        ("event loop", "least-loaded", system, False),
        ("event loop", "least-loaded (exact)", system.with_report_interval(0.0), False),
        ("event loop", "learned (64x64 numpy)", system, False),
    ]
    rows, records = [], []
    reference_queries = queries.head(int(np.searchsorted(queries.time, 10_000.0)))
    for path, policy, chosen, vectorised in runs:
        best = float("inf")
        for _ in range(arguments.repetitions):
            scheduler = make(policy)
            started = time.perf_counter()
            outcome = simulate(
                chosen, queries, scheduler, np.random.default_rng(3), vectorised=vectorised
            )
            best = min(best, time.perf_counter() - started)
        outcome.check_conservation()
        # the same policy on the first 10 s, against the simpy reference
        short = simulate(
            chosen, reference_queries, make(policy), np.random.default_rng(3), vectorised=vectorised
        )
        reference = simulate_reference(
            chosen, reference_queries, make(policy), np.random.default_rng(3)
        )
        same = bool(
            np.array_equal(short.target, reference.target)
            and np.allclose(
                np.nan_to_num(short.finish, nan=-1),
                np.nan_to_num(reference.finish, nan=-1),
                atol=1e-9,
            )
        )
        rate = count / best
        rows.append(
            [
                path,
                policy,
                count,
                round(best, 3),
                round(rate),
                "yes" if rate >= TARGET else "no",
                same,
            ]
        )
        records.append(
            {
                "path": path,
                "policy": policy,
                "queries": count,
                "seconds": best,
                "queries_per_second": rate,
                "matches_reference": same,
            }
        )
        print(rows[-1], flush=True)
    started = time.perf_counter()
    simulate_reference(system, reference_queries, make("closest"), np.random.default_rng(3))
    seconds = time.perf_counter() - started
    rate = len(reference_queries) / seconds
    rows.append(
        [
            "simpy reference",
            "closest",
            len(reference_queries),
            round(seconds, 3),
            round(rate),
            "yes" if rate >= TARGET else "no",
            True,
        ]
    )
    records.append(
        {
            "path": "simpy reference",
            "policy": "closest",
            "queries": len(reference_queries),
            "seconds": seconds,
            "queries_per_second": rate,
        }
    )
    print(rows[-1], flush=True)
    header = [
        "path",
        "policy",
        "queries",
        "seconds",
        "queries/s",
        "≥ 200,000/s",
        "= simpy (first 10 s)",
    ]
    facts = {
        "scenario": instance.name,
        "clusters": 20,
        "deployments": len(system.deployments),
        "targets": system.num_targets,
        "classes": len(system.classes),
        "duration_s": arguments.duration,
        "draw_seconds": draw_seconds,
        "draw_queries_per_second": count / draw_seconds,
        "core": core,
        "machine": machine(),
    }
    save_json("speed", {"facts": facts, "runs": records})
    text = (
        f"Scenario {instance.name}: {len(system.deployments)} deployments, {system.num_targets} "
        f"targets, {len(system.classes)} request classes, {arguments.duration:g} s of arrivals "
        f"({count:,} queries, drawn in {draw_seconds:.3f} s = {count / draw_seconds:,.0f}/s). "
        f"One core (#{core}), best of {arguments.repetitions}; load average "
        f"{facts['machine']['load_average']}.\n\n" + markdown_table(header, rows)
    )
    save_markdown("speed", text)
    print(text)


if __name__ == "__main__":
    main()
