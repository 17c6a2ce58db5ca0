"""The PA-MDI family's methods, declared once on the method contract, and the family.

``exact`` (default) is the outer-approximation MILP loop with a proven gap;
``relaxation`` the convex bound (cvxpy, Clarabel by default); ``pa-mdi`` the
per-hop rule on the modelled state; ``ms-mdi`` the same rule without
priorities; ``ar-mdi``, ``local`` and ``mdi-llm`` the published baselines. Every
method's split is valued by the same delay model (:mod:`.delay`), so their
objectives compare directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from pydantic import Field

from idnopt.family import Family, Generator, Simulation
from idnopt.formulations.pamdi.baselines import (
    ar_mdi_split,
    local_split,
    mdi_llm_split,
    per_hop_split,
)
from idnopt.formulations.pamdi.compiled import Compiled, compile_instance
from idnopt.formulations.pamdi.delay import Split, evaluate_split, split_from_array
from idnopt.formulations.pamdi.exact import outcome_result, solve_exact
from idnopt.formulations.pamdi.generator import GeneratorParameters, generate, header
from idnopt.formulations.pamdi.milp import build_milp
from idnopt.formulations.pamdi.relaxation import build_relaxation, relaxed_objective
from idnopt.formulations.pamdi.schema import PamdiInstance, instance_to_dict
from idnopt.formulations.pamdi.simulation import POLICIES, PamdiSimulationParameters, simulate
from idnopt.formulations.pamdi.tables import attach, attach_relaxed
from idnopt.method import Call, Method, Parameters
from idnopt.program import Program
from idnopt.result import Result, Status


class ExactParameters(Parameters):
    """Options of ``exact``."""

    algorithm: Literal["branch-and-bound", "milp"] = Field(
        "branch-and-bound",
        description="search over splits, or the MILP outer approximation (backend options "
        "apply to milp)",
    )
    tolerance: float = Field(
        1e-4, gt=0, le=1, description="relative gap at which the split is declared optimal"
    )
    max_iterations: int = Field(50, ge=1, description="most MILPs of the outer approximation")
    relaxation_bound: bool = Field(
        False, description="first solve the convex relaxation (cvxpy) for a starting bound"
    )


class RelaxationParameters(Parameters):
    """Options of ``relaxation`` (none besides the backend's ``solver``)."""


class PerHopParameters(Parameters):
    """Options of ``pa-mdi`` and ``ms-mdi``."""

    partition: int = Field(1, ge=1, description="layers per partition (one decision each)")


class ArMdiParameters(Parameters):
    """Options of ``ar-mdi``."""

    workers: int | None = Field(
        None, ge=1, description="most devices per source, its own included (None: all reachable)"
    )


class MdiLlmParameters(Parameters):
    """Options of ``mdi-llm``."""

    nodes: Literal[2, 3] = Field(2, description="devices per source: 5/7 (2) or 2/5/5 (3) blocks")


def _compile(instance: PamdiInstance, call: Call) -> Compiled:
    with call.phase("build"):
        return compile_instance(instance)


def _solve_relaxation(compiled: Compiled, call: Call) -> Result:
    with call.phase("build"):
        program = build_relaxation(compiled)
    solver = call.solver.solver
    result = call.solve(program, phase="bound", relax=False, backend="cvxpy", solver=solver)
    result.relaxed = True
    if result.has_solution:
        value = relaxed_objective(compiled, result.values)
        result.objective = value
        if result.status == Status.OPTIMAL:
            result.bound, result.gap = value, 0.0
        else:
            result.bound = result.gap = None
            result.message = (
                f"{result.solver} reported an inaccurate solution ({result.message}): "
                "its value is not a certified bound; another solver may help (-O solver=SCS)"
            )
    return result


def run_exact(instance: PamdiInstance, parameters: ExactParameters, call: Call) -> Result:
    """Exact splits by branch-and-bound or the MILP outer approximation (see :mod:`.exact`)."""
    compiled = _compile(instance, call)
    lower = None
    if parameters.relaxation_bound:
        relaxed = _solve_relaxation(compiled, call)
        lower = relaxed.bound if relaxed.has_solution else None
    outcome = solve_exact(
        compiled,
        call,
        algorithm=parameters.algorithm,
        tolerance=parameters.tolerance,
        max_iterations=parameters.max_iterations,
        lower_bound=lower,
    )
    result = outcome_result(outcome, call.backend, parameters.algorithm)
    counted = "nodes" if parameters.algorithm == "branch-and-bound" else "iterations"
    result.metrics[counted] = outcome.iterations
    result.metrics["first_incumbent"] = outcome.seed or "-"
    result.tables["bounds"] = outcome.history
    with call.phase("decode"):
        attach(result, compiled, outcome.incumbent)
    spent = call.budget.spent
    result.build_seconds = spent.get("build", 0.0)
    solving = ("solve", "search", "group bound")  # MILPs, or the search and its group bound
    result.solve_seconds = sum(spent.get(phase, 0.0) for phase in solving)
    return result


def run_relaxation(instance: PamdiInstance, parameters: RelaxationParameters, call: Call) -> Result:
    """Convex relaxation: a lower bound of every split's objective."""
    compiled = _compile(instance, call)
    result = _solve_relaxation(compiled, call)
    if result.status == Status.OPTIMAL and result.has_solution:
        result.message = "lower bound: fractional layer shares, waits by second-order cones"
    with call.phase("decode"):
        attach_relaxed(result, compiled)
    result.build_seconds = call.budget.spent.get("build", 0.0)
    return result


def heuristic_result(compiled: Compiled, split: Split, started: float) -> Result:
    """Value a heuristic's split and build its result (infeasible splits say why)."""
    evaluation = evaluate_split(compiled, split)
    if evaluation.feasible:
        result = Result(status=Status.FEASIBLE, objective=evaluation.objective)
    else:
        result = Result(status=Status.INFEASIBLE, message=f"the split {evaluation.problem}")
    result.solver = "heuristic"
    result.solve_seconds = time.perf_counter() - started
    return attach(result, compiled, evaluation)


def _heuristic(name: str, make: Callable[[Compiled, Parameters], Split]):
    def run(instance: PamdiInstance, parameters: Parameters, call: Call) -> Result:
        compiled = _compile(instance, call)
        with call.phase("heuristic"):
            started = time.perf_counter()
            result = heuristic_result(compiled, make(compiled, parameters), started)
        return result

    run.__name__ = f"run_{name.replace('-', '_')}"
    run.__doc__ = f"The {name} split valued by the delay model."
    return run


def split_of(instance: PamdiInstance, result: Result) -> Split:
    """The split a (non-relaxed) result answers."""
    compiled = compile_instance(instance)
    return split_from_array(compiled, result.value("assignment"))


def objective_of(instance: PamdiInstance, result: Result) -> float:
    """A result's objective recomputed from its decision alone.

    Integral results: the delay model of :mod:`.delay` on the split in
    ``values["assignment"]``; relaxed results: the relaxation's objective from
    its blocks.
    """
    compiled = compile_instance(instance)
    if result.relaxed:
        return relaxed_objective(compiled, result.values)
    return evaluate_split(
        compiled, split_from_array(compiled, result.value("assignment"))
    ).objective


def build(instance: PamdiInstance, *, relax: bool = False) -> Program:
    """The first MILP of the outer-approximation loop (its LP relaxation with ``relax``).

    The convex relaxation of method ``relaxation`` has second-order cones and
    cannot be written as ``.lp``/``.mps``; see :func:`.relaxation.build_relaxation`.
    """
    program = build_milp(compile_instance(instance))[0]
    return program.relaxed() if relax else program


SPLITS: dict[str, Callable[[Compiled, Parameters], Split]] = {
    "pa-mdi": lambda compiled, p: per_hop_split(compiled, p.partition, priorities=True),
    "ms-mdi": lambda compiled, p: per_hop_split(compiled, p.partition, priorities=False),
    "ar-mdi": lambda compiled, p: ar_mdi_split(compiled, p.workers),
    "local": lambda compiled, p: local_split(compiled),
    "mdi-llm": lambda compiled, p: mdi_llm_split(compiled, p.nodes),
}
"""Split makers of the heuristic methods, by method name."""

METHODS = (
    Method(
        "exact",
        "exact contiguous splits: branch-and-bound (or MILP) with a proven gap",
        run_exact,
        ExactParameters,
        solves_program=True,
        relaxation="relaxation",
        exact=True,
    ),
    Method(
        "relaxation",
        "convex relaxation (fractional layers, cones; cvxpy): a lower bound",
        run_relaxation,
        RelaxationParameters,
        solves_program=True,
        exact=True,
    ),
    Method(
        "pa-mdi",
        "per-hop PA-MDI rule on the modelled queues (priority-aware)",
        _heuristic("pa-mdi", SPLITS["pa-mdi"]),
        PerHopParameters,
    ),
    Method(
        "ms-mdi",
        "per-hop rule without priorities (FIFO waits): MS-MDI",
        _heuristic("ms-mdi", SPLITS["ms-mdi"]),
        PerHopParameters,
    ),
    Method(
        "ar-mdi",
        "work shares proportional to device speed, nearest workers first: AR-MDI",
        _heuristic("ar-mdi", SPLITS["ar-mdi"]),
        ArMdiParameters,
    ),
    Method(
        "local",
        "every source computes its whole model on its own device",
        _heuristic("local", SPLITS["local"]),
        Parameters,
    ),
    Method(
        "mdi-llm",
        "MDI-LLM-style fixed splits (GPT-2: 6/7 or 3/5/5 of 13 layers)",
        _heuristic("mdi-llm", SPLITS["mdi-llm"]),
        MdiLlmParameters,
    ),
)

FAMILY = Family(
    kind="pamdi",
    summary="PA-MDI: split layer chains over devices, minimise priority-weighted latency",
    instance_type=PamdiInstance,
    methods=METHODS,
    build=build,
    evaluate=objective_of,
    to_document=instance_to_dict,
    generator=Generator(
        run=generate,
        parameters=GeneratorParameters,
        summary="random layer chains over a random multi-hop network",
        header=header,
        describe=lambda instance: (
            f"{len(instance.devices)} devices, {len(instance.links)} links, "
            f"{len(instance.sources)} sources"
        ),
    ),
    simulation=Simulation(
        run=simulate,
        policies=POLICIES,
        parameters=PamdiSimulationParameters,
        summary="discrete-event simulation (simpy) of a split or of the online per-hop rule",
    ),
    sense="minimize",
)
"""The ``pamdi`` family (entry point ``idnopt.families: pamdi``)."""
