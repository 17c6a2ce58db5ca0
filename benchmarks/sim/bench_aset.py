"""ASET against the static policies across loads: on-time-and-accurate ratio with 95 % CIs.

For each load factor (multiplying every rate of the scenario), ASET is trained
with DQN (and, with ``--ppo``, PPO) on episodes drawn with training seeds, then
every policy is simulated on the same evaluation seeds (common random
numbers). Reported per load and policy: mean on-time-and-accurate ratio over
the seeds and its 95 % confidence half-width (Student t over seeds), training
time. Figures at the first load of ``--figures``: on-time ratio over time and
latency CDFs per policy.

Published claim (Castellano et al., arXiv 2301.13618, abstract): "ASET
effectively provides the best performance compared to static policies".

    python benchmarks/sim/bench_aset.py                         # shifting load, ~20 min
    python benchmarks/sim/bench_aset.py --scenario abilene --loads 1.0 1.3 1.6
    python benchmarks/sim/bench_aset.py --quick
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import RESULTS, machine, markdown_table, one_core, save_json, save_markdown

ROOT = Path(__file__).resolve().parents[2]
STATIC = ("closest", "least-loaded", "random", "round-robin", "cloud", "placement")
"""ASET's static baselines (the best of them is marked)."""
HEURISTIC = ("expected-delay",)
"""A load- and delay-aware rule on the same information as ASET, outside its baseline set."""
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 9: 2.262}


def interval(values: list[float]) -> tuple[float, float]:
    """Mean and 95 % half-width (Student t) of per-seed values."""
    data = np.asarray(values, dtype=float)
    if data.size < 2:
        return float(data.mean()), float("nan")
    t = T_975.get(data.size - 1, 2.0)
    return float(data.mean()), float(t * data.std(ddof=1) / np.sqrt(data.size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="shifting", help="file stem in instances/serving")
    parser.add_argument("--loads", type=float, nargs="+", default=[0.6, 0.8, 1.0, 1.2])
    parser.add_argument("--steps", type=int, default=50_000, help="training decisions per load")
    parser.add_argument("--seeds", type=int, default=5, help="evaluation seeds")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per evaluation")
    parser.add_argument("--episode", type=float, default=10.0, help="seconds per training episode")
    parser.add_argument("--ppo", action="store_true", help="also train PPO")
    parser.add_argument(
        "--policies",
        nargs="+",
        default=[*STATIC, *HEURISTIC, "dqn"],
        help="policies to run (dqn, ppo: trained ASET)",
    )
    parser.add_argument("--name", default=None, help="results file stem (default aset_<scenario>)")
    parser.add_argument("--figures", type=float, nargs="*", default=[1.0])
    parser.add_argument("--quick", action="store_true", help="2 loads, 5,000 steps, 2 seeds")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.loads, arguments.steps, arguments.seeds = [0.8, 1.0], 5_000, 2
        arguments.duration = 10.0
    core = one_core(-1)  # the last core: the speed benchmark takes the first

    import idnopt
    from idnopt.formulations.serving import (
        ServingSimulationParameters,
        compile_scenario,
        make_env,
        scheduler_for,
        simulate_scenario,
    )
    from idnopt.sim.learning import train_scheduler

    path = ROOT / "instances" / "serving" / f"{arguments.scenario}.yaml"
    instance = idnopt.load(path)
    scenario = compile_scenario(instance)
    seeds = list(range(100, 100 + arguments.seeds))
    records, rows = [], []
    for load in arguments.loads:
        base = ServingSimulationParameters(
            duration=arguments.duration, load=load, episode=arguments.episode
        )
        schedulers = {}
        trained = {}
        algorithms = [a for a in ("dqn", "ppo") if a in arguments.policies]
        if arguments.ppo and "ppo" not in algorithms:
            algorithms.append("ppo")
        for algorithm in algorithms:
            started = time.perf_counter()
            schedulers[f"aset-{algorithm}"] = train_scheduler(
                lambda base=base: make_env(scenario, base),
                scenario.system,
                algorithm=algorithm,
                steps=arguments.steps,
                seed=7,
            )
            trained[f"aset-{algorithm}"] = time.perf_counter() - started
            print(
                f"load {load}: trained {algorithm} in {trained[f'aset-{algorithm}']:.0f} s",
                flush=True,
            )
        results: dict[str, list] = {}
        statics = [p for p in arguments.policies if p in STATIC or p in HEURISTIC]
        for policy in (*statics, *schedulers):
            for seed in seeds:
                parameters = base.model_copy(update={"seed": seed})
                if policy in schedulers:
                    scheduler = schedulers[policy]
                else:
                    scheduler = scheduler_for(instance, scenario, policy, parameters)[0]
                result = simulate_scenario(scenario, scheduler, parameters, policy=policy)
                results.setdefault(policy, []).append(result)
        baselines = [p for p in STATIC if p in results]
        best_static = max(
            baselines, key=lambda p: np.mean([r.objective for r in results[p]]), default=None
        )
        for policy, runs in results.items():
            mean, half = interval([r.objective for r in runs])
            record = {
                "scenario": instance.name,
                "load": load,
                "policy": policy,
                "on_time_accurate": mean,
                "ci95": half,
                "per_seed": [r.objective for r in runs],
                "latency_p95_ms": float(np.mean([r.metrics["latency_p95_ms"] for r in runs])),
                "dropped": int(sum(r.metrics["dropped"] for r in runs)),
                "training_seconds": trained.get(policy),
                "best_static": policy == best_static,
            }
            records.append(record)
            rows.append(
                [
                    load,
                    policy,
                    mean,
                    half,
                    record["latency_p95_ms"],
                    record["training_seconds"],
                    "best static" if policy == best_static else "",
                ]
            )
            print(rows[-1], flush=True)
        if load in arguments.figures:
            from idnopt.sim.figures import latency_cdf_by_policy, on_time_plot

            chosen = {policy: runs[0] for policy, runs in results.items()}
            RESULTS.mkdir(parents=True, exist_ok=True)
            stem = f"aset_{arguments.scenario}_load{load:g}"
            on_time_plot(
                chosen,
                RESULTS / f"{stem}_on_time.png",
                title=f"{instance.name}, load x{load:g}: on-time and accurate",
            )
            latency_cdf_by_policy(
                chosen,
                RESULTS / f"{stem}_latency_cdf.png",
                title=f"{instance.name}, load x{load:g}: latency CDF",
            )
    header = [
        "load",
        "policy",
        "on-time & accurate",
        "± 95 %",
        "p95 latency (ms)",
        "training (s)",
        "",
    ]
    text = (
        f"Scenario {instance.name} ({path.relative_to(ROOT)}); training {arguments.steps:,} "
        f"decisions per algorithm and load (episodes of {arguments.episode:g} s, seed 7); "
        f"evaluation {arguments.duration:g} s x {arguments.seeds} seeds; one core (#{core}); "
        f"load average {machine()['load_average']}.\n\n" + markdown_table(header, rows)
    )
    name = arguments.name or f"aset_{arguments.scenario}"
    save_json(name, {"machine": machine(), "arguments": vars(arguments), "records": records})
    save_markdown(name, text)
    print(text)


if __name__ == "__main__":
    main()
