"""The offloading family's method (the best static policy in hindsight) and the family.

An offloading scenario is mostly simulated (``idnopt simulate``: learned and
baseline policies); its one method, ``static``, answers which fixed tier and
variant each class should use: :func:`~.simulation.best_static` on a seeded
run of ``duration`` seconds, with the mean cost as objective and the
no-waiting lower bound (:func:`~.simulation.lower_bound`) as bound. Its
``assignment`` table names the target of every class; the evaluator
re-simulates that assignment on the same run.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from idnopt.family import Family, Generator, Simulation
from idnopt.formulations.offloading.compiled import compile_offloading, draw
from idnopt.formulations.offloading.generator import (
    OffloadingGeneratorParameters,
    generate_offloading,
)
from idnopt.formulations.offloading.policies import Fixed
from idnopt.formulations.offloading.schema import OffloadingInstance, instance_to_dict
from idnopt.formulations.offloading.simulation import (
    POLICIES,
    OffloadingSimulationParameters,
    best_static,
    request_cost,
    run_policy,
    run_simulation,
    summarize_run,
)
from idnopt.method import Call, Method, Parameters
from idnopt.result import Result


class StaticParameters(Parameters):
    """Options of ``static``."""

    duration: float = Field(300.0, gt=0, description="seconds of simulated requests")
    warmup: float = Field(0.0, ge=0, description="seconds not measured at the start")
    seed: int = Field(0, ge=0, description="seed of the requests and conditions")
    load: float = Field(1.0, gt=0, description="multiplies every arrival rate (users)")


def _simulation_parameters(parameters: StaticParameters) -> OffloadingSimulationParameters:
    return OffloadingSimulationParameters(
        duration=parameters.duration,
        warmup=parameters.warmup,
        seed=parameters.seed,
        load=parameters.load,
    )


def run_static(instance: OffloadingInstance, parameters: StaticParameters, call: Call) -> Result:
    """The best fixed target per class on one seeded run, with its cost and lower bound."""
    settings = _simulation_parameters(parameters)
    with call.phase("build"):
        scenario = compile_offloading(instance)
        queries = draw(scenario, settings.duration_ms, settings.seed, load=settings.load)
    with call.phase("solve"):
        targets, facts = best_static(scenario, queries, settings.seed, settings.warmup_ms)
        outcome = run_policy(scenario, Fixed(targets), queries, settings.seed)
    with call.phase("explain"):
        result = summarize_run(scenario, queries, outcome, settings, policy="static")
        system = scenario.system
        result.tables["assignment"] = [
            {"class": name, "target": system.targets[int(targets[klass])]}
            for klass, name in enumerate(system.classes.names)
        ]
        result.metrics.update(facts)
        result.metrics.update({"duration_s": parameters.duration, "warmup_s": parameters.warmup})
        result.metrics["seed"] = float(parameters.seed)
        result.metrics["load"] = parameters.load
    result.method = "static"
    return result


def evaluate_static(instance: OffloadingInstance, result: Result) -> float:
    """Mean cost of the result's assignment, re-simulated on the run it was found on."""
    from idnopt.errors import InputError

    scenario = compile_offloading(instance)
    system = scenario.system
    chosen = {row["class"]: row["target"] for row in result.tables.get("assignment", [])}
    try:
        targets = np.array([system.targets.index(chosen[name]) for name in system.classes.names])
    except (KeyError, ValueError):
        raise InputError("the result's assignment does not name a target for every class") from None
    metrics = result.metrics
    settings = StaticParameters(
        duration=metrics.get("duration_s", 300.0),
        warmup=metrics.get("warmup_s", 0.0),
        seed=int(metrics.get("seed", 0)),
        load=metrics.get("load", 1.0),
    )
    parameters = _simulation_parameters(settings)
    queries = draw(scenario, parameters.duration_ms, parameters.seed, load=parameters.load)
    outcome = run_policy(scenario, Fixed(targets), queries, parameters.seed)
    cost = request_cost(scenario, queries, outcome)
    return float(cost[queries.time >= parameters.warmup_ms].mean())


def _header(instance: OffloadingInstance, parameters: OffloadingGeneratorParameters) -> list[str]:
    return [
        f"Generated offloading scenario: {instance.description}.",
        "MobileNetV1 accuracies and MACs as published (Howard et al. 2017); latencies are "
        "stated per hardware (idnopt.formulations.offloading.generator.HARDWARE), not measured.",
    ]


def _describe(instance: OffloadingInstance) -> str:
    return (
        f"{len(instance.devices)} devices, {len(instance.models)} variants, "
        f"{len(instance.applications)} applications"
    )


METHODS = (
    Method(
        "static",
        "best fixed tier x variant per class in hindsight, on one seeded run",
        run_static,
        StaticParameters,
    ),
)

FAMILY = Family(
    kind="offloading",
    summary="end-edge-cloud offloading with model selection: Q-learning, DQN and baselines",
    instance_type=OffloadingInstance,
    methods=METHODS,
    evaluate=evaluate_static,
    to_document=instance_to_dict,
    generator=Generator(
        run=generate_offloading,
        parameters=OffloadingGeneratorParameters,
        summary="ARM devices, an edge server and a cloud GPU with MobileNetV1 variants",
        header=_header,
        describe=_describe,
    ),
    simulation=Simulation(
        run=run_simulation,
        policies=POLICIES,
        parameters=OffloadingSimulationParameters,
        summary="per-request tier x variant choice on the serving engine (varying conditions)",
    ),
    sense="minimize",
)
"""The ``offloading`` family (entry point ``idnopt.families: offloading``)."""
