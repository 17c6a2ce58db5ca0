"""Offloading with model selection: every policy across bandwidth, users and accuracy requirements.

For each scenario (the generator's default - variable 20 Mbit/s access, one
user per device, mixed floors - and one axis changed at a time), the learned
policies are trained once on training seeds (tabular Q-learning, Q-learning
without model selection, DQN), then every policy runs on the same evaluation
seeds (common random numbers: same requests, bandwidth and load). Reported
per scenario and policy, means over seeds: cost (response + accuracy
penalty), response time, accuracy loss (points below the most accurate
variant the request could have had), share of requests below their floor,
cost over the no-waiting lower bound and over the oracle's cost.

Published headline (Shahhosseini et al., ACM TECS 2022, abstract): 35 %
faster average response than the state of the art with less than 0.9 %
accuracy loss. Here "the state of the art" is ``offload-only``: the same
Q-learning choosing only the tier, always with the most accurate variant
(learned offloading without model selection, what the paper adds to); the
reduction of Q-learning's (and DQN's) mean response time against it, and
their accuracy loss against it, are reported per scenario.

    python benchmarks/offloading/bench_offloading.py --jobs 2      # about 5 min on 2 cores
    python benchmarks/offloading/bench_offloading.py --quick
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchkit import machine as describe_machine  # noqa: E402
from benchkit import markdown_table, results_writers  # noqa: E402

RESULTS = HERE / "results"
from idnopt.formulations.offloading import POLICIES  # noqa: E402

SCENARIOS = {
    "default": {},
    "stable": {"network": "stable"},
    "poor": {"network": "poor"},
    "users x2": {"users": 2.0},
    "users x3": {"users": 3.0},
    "relaxed": {"accuracy": "relaxed"},
    "strict": {"accuracy": "strict"},
    "strict, pen. 200": {"accuracy": "strict", "penalty": 200.0},
}


def run_scenario(name: str, knobs: dict, arguments) -> list[dict]:
    """Train the learned policies once, then run every policy on every evaluation seed."""
    import torch

    from idnopt.formulations.offloading import (
        OffloadingGeneratorParameters,
        OffloadingSimulationParameters,
        TabularQ,
        compile_offloading,
        draw,
        generate_offloading,
        make_env,
        scheduler_for,
    )
    from idnopt.formulations.offloading.simulation import (
        run_policy,
        summarize_run,
        train_tabular,
    )
    from idnopt.sim.learning import train_scheduler

    torch.set_num_threads(1)
    instance = generate_offloading(OffloadingGeneratorParameters(**knobs))
    scenario = compile_offloading(instance)
    base = OffloadingSimulationParameters(duration=arguments.duration, seed=7)
    trained, seconds = {}, {}
    for policy in ("q-learning", "offload-only"):
        started = time.perf_counter()
        variants = "most-accurate" if policy == "offload-only" else "all"
        learner = TabularQ(scenario, variants=variants)
        train_tabular(scenario, learner, base, arguments.steps)
        trained[policy], seconds[policy] = learner, time.perf_counter() - started
    if "dqn" in arguments.policies:
        started = time.perf_counter()
        trained["dqn"] = train_scheduler(
            lambda: make_env(scenario, base),
            scenario.system,
            steps=arguments.steps,
            seed=7,
        )
        seconds["dqn"] = time.perf_counter() - started
    records = []
    for seed in range(100, 100 + arguments.seeds):
        parameters = base.model_copy(update={"seed": seed})
        queries = draw(scenario, parameters.duration_ms, seed)
        for policy in arguments.policies:
            if policy in trained:
                scheduler = copy.deepcopy(trained[policy])
            else:
                scheduler = scheduler_for(scenario, policy, parameters, queries)[0]
            outcome = run_policy(scenario, scheduler, queries, seed)
            result = summarize_run(scenario, queries, outcome, parameters, policy=policy)
            metrics = result.metrics
            records.append(
                {
                    "scenario": name,
                    "knobs": knobs,
                    "policy": policy,
                    "seed": seed,
                    "cost_ms": metrics["cost_ms"],
                    "response_ms": metrics["response_mean_ms"],
                    "accuracy": metrics["accuracy"],
                    "accuracy_loss_points": metrics["accuracy_loss_points"],
                    "below_floor_share": metrics["below_floor_share"],
                    "cost_over_bound": metrics["cost_over_bound"],
                    "training_seconds": seconds.get(policy),
                }
            )
    print(f"{name}: done", flush=True)
    return records


def summarise(records: list[dict], arguments) -> tuple[str, list[dict]]:
    """Per scenario and policy: means over seeds, and the headline against offload-only."""
    rows, table = [], []
    for name in dict.fromkeys(r["scenario"] for r in records):
        here = [r for r in records if r["scenario"] == name]
        means = {}
        for policy in arguments.policies:
            runs = [r for r in here if r["policy"] == policy]
            means[policy] = {
                key: float(np.mean([r[key] for r in runs]))
                for key in (
                    "cost_ms",
                    "response_ms",
                    "accuracy",
                    "accuracy_loss_points",
                    "below_floor_share",
                    "cost_over_bound",
                )
            }
        oracle = means.get("oracle", {}).get("cost_ms", float("nan"))
        prior = means.get("offload-only")
        for policy, values in means.items():
            reduction = accuracy_drop = None
            if prior is not None and policy in ("q-learning", "dqn"):
                reduction = 1.0 - values["response_ms"] / prior["response_ms"]
                accuracy_drop = 100.0 * (prior["accuracy"] - values["accuracy"])
            row = {"scenario": name, "policy": policy, **values}
            row["cost_over_oracle"] = values["cost_ms"] / oracle
            row["response_reduction_vs_offload_only"] = reduction
            row["accuracy_drop_points_vs_offload_only"] = accuracy_drop
            table.append(row)
            rows.append(
                [
                    name,
                    policy,
                    values["cost_ms"],
                    values["response_ms"],
                    values["accuracy_loss_points"],
                    values["below_floor_share"],
                    values["cost_over_bound"],
                    row["cost_over_oracle"],
                    "" if reduction is None else f"{-100 * reduction:+.1f} %".replace("-", "−"),
                    "" if accuracy_drop is None else f"{accuracy_drop:.2f}",
                ]
            )
    header = [
        "scenario",
        "policy",
        "cost (ms)",
        "response (ms)",
        "accuracy loss (points)",
        "below floor",
        "cost / bound",
        "cost / oracle",
        "response change vs offload-only",
        "accuracy drop vs offload-only (points)",
    ]
    return markdown_table(header, rows), table


def figures(table: list[dict]) -> None:
    """Response time and accuracy loss per policy across the scenarios (two PNGs)."""
    from idnopt.report import Series, line_plot

    scenarios = list(dict.fromkeys(row["scenario"] for row in table))
    for key, label, stem in (
        ("response_ms", "mean response time (ms)", "offloading_response"),
        ("accuracy_loss_points", "accuracy loss (points)", "offloading_accuracy_loss"),
    ):
        series = []
        for policy in dict.fromkeys(row["policy"] for row in table):
            values = {r["scenario"]: r[key] for r in table if r["policy"] == policy}
            series.append(Series(policy, scenarios, [values.get(s) for s in scenarios]))
        figure = line_plot(
            series,
            "scenario",
            label,
            f"offloading: {label} per policy",
            RESULTS / f"{stem}.png",
            categories=scenarios,
            logy=key == "response_ms",
        )
        import matplotlib.pyplot as plt

        plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="training decisions")
    parser.add_argument("--seeds", type=int, default=5, help="evaluation seeds")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds per evaluation")
    parser.add_argument("--policies", nargs="+", default=list(POLICIES))
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    parser.add_argument("--jobs", type=int, default=1, help="scenarios run in parallel")
    parser.add_argument("--quick", action="store_true", help="2 scenarios, 5,000 steps, 2 seeds")
    parser.add_argument("--replot", action="store_true", help="redraw from results/offloading.json")
    arguments = parser.parse_args()
    if arguments.replot:
        import json

        figures(json.loads((RESULTS / "offloading.json").read_text())["table"])
        return
    if arguments.quick:
        arguments.scenarios = ["default", "poor"]
        arguments.steps, arguments.seeds, arguments.duration = 5_000, 2, 120.0
    from joblib import Parallel, delayed

    started = time.perf_counter()
    batches = Parallel(n_jobs=arguments.jobs)(
        delayed(run_scenario)(name, SCENARIOS[name], arguments) for name in arguments.scenarios
    )
    records = [record for batch in batches for record in batch]
    text, table = summarise(records, arguments)
    facts = describe_machine(("numpy", "simpy", "gymnasium", "stable-baselines3", "torch"))
    preface = (
        f"Generated scenarios (idnopt generate offloading, one knob changed per row group); "
        f"training {arguments.steps:,} decisions (seed 7), evaluation {arguments.duration:g} s x "
        f"{arguments.seeds} seeds; {arguments.jobs} jobs, {time.perf_counter() - started:.0f} s "
        f"wall; load average {facts['load_average']}.\n\n"
    )
    save_json, save_markdown = results_writers(RESULTS)
    save_json(
        "offloading",
        {"machine": facts, "arguments": vars(arguments), "records": records, "table": table},
    )
    save_markdown("offloading", preface + text)
    figures(table)
    print(preface + text)


if __name__ == "__main__":
    main()
