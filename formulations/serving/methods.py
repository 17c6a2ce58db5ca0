"""The serving family: its method (the placement behind the ``placement`` policy) and the family.

A serving scenario is mostly simulated (``idnopt simulate``); its one method,
``placement``, answers where the deployed models should take each class's
traffic: the exact IDN allocation with shared capacity (through the ``idn``
family), whose flows become the ``placement`` policy's fixed shares. Its
result is the IDN result (gain, bound, placement and serving tables) plus a
``dispatch`` table of shares per class and target.
"""

from __future__ import annotations

from pydantic import Field

from idnopt.family import Family, Generator, Simulation
from idnopt.formulations.serving.compiled import compile_scenario
from idnopt.formulations.serving.generator import GeneratorParameters, generate_scenario
from idnopt.formulations.serving.placement import dispatch_shares, idn_document, solve_placement
from idnopt.formulations.serving.schema import ServingInstance, instance_to_dict
from idnopt.formulations.serving.simulation import (
    POLICIES,
    ServingSimulationParameters,
    run_simulation,
)
from idnopt.method import Call, Method, Parameters
from idnopt.result import Result


class PlacementParameters(Parameters):
    """Options of ``placement``."""

    alpha: float = Field(100.0, ge=0, description="ms of IDN cost per unit of accuracy lost")
    level: str = Field("node", pattern="^(node|deployment)$", description="targets of the shares")


def run_placement(instance: ServingInstance, parameters: PlacementParameters, call: Call) -> Result:
    """Exact IDN allocation (shared capacity) of the scenario and its dispatch shares."""
    with call.phase("solve"):
        result = solve_placement(
            instance, alpha=parameters.alpha, time_limit=call.budget.remaining()
        )
    with call.phase("decode"):
        scenario = compile_scenario(instance, level=parameters.level)
        shares = dispatch_shares(scenario, result)
        system = scenario.system
        rows = []
        for klass, name in enumerate(system.classes.names):
            total = shares[klass].sum()
            for target in range(system.num_targets):
                if shares[klass, target] > 1e-9:
                    rows.append(
                        {
                            "class": name,
                            "target": system.targets[target],
                            "rate": float(shares[klass, target]),
                            "share": float(shares[klass, target] / total),
                        }
                    )
        result.tables["dispatch"] = rows
    result.method = "placement"
    result.metrics["alpha"] = parameters.alpha
    return result


def evaluate_placement(instance: ServingInstance, result: Result) -> float:
    """The IDN gain of the result's allocation, recomputed by the ``idn`` family."""
    import idnopt
    from idnopt.family import get_family

    alpha = float(result.metrics.get("alpha", PlacementParameters().alpha))
    idn = idnopt.from_dict(idn_document(instance, alpha=alpha), source="<serving placement>")
    return get_family("idn").evaluate(idn, result)


def _header(instance: ServingInstance, parameters: GeneratorParameters) -> list[str]:
    return [
        f"Generated serving scenario: {instance.description}.",
        "Model latencies: NVIDIA H100 measurements (instances/profiles/h100.json, batch 1, "
        "fp32); T4 latency = 6.2 x H100 (idnopt.formulations.serving.generator.EDGE_SLOWDOWN).",
    ]


def _describe(instance: ServingInstance) -> str:
    return (
        f"{len(instance.nodes)} nodes, {len(instance.deployments)} deployments, "
        f"{len(instance.applications)} applications"
    )


METHODS = (
    Method(
        "placement",
        "exact IDN allocation with shared capacity: per-class dispatch shares",
        run_placement,
        PlacementParameters,
        exact=True,
    ),
)

FAMILY = Family(
    kind="serving",
    summary="inference serving at ms timescales: per-query scheduling (static policies, ASET)",
    instance_type=ServingInstance,
    methods=METHODS,
    evaluate=evaluate_placement,
    to_document=instance_to_dict,
    generator=Generator(
        run=generate_scenario,
        parameters=GeneratorParameters,
        summary="random serving scenario: edge clusters on a backbone, applications, cloud",
        header=_header,
        describe=_describe,
    ),
    simulation=Simulation(
        run=run_simulation,
        policies=POLICIES,
        parameters=ServingSimulationParameters,
        summary="discrete-event simulation of per-query scheduling (fast engine; simpy reference)",
    ),
    sense="maximize",
)
"""The ``serving`` family (entry point ``idnopt.families: serving``)."""
