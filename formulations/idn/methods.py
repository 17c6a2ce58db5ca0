"""The IDN family's methods, declared once on the method contract, and the family itself.

Methods: ``milp`` (exact), ``relaxation`` (LP, the bound :math:`L^*`),
``rounding`` (DepRound per node on the LP solution, repair to knapsack
feasibility, then greedy filling; best of several draws), ``greedy`` (largest
marginal gain per MB, lazy evaluation thanks to submodularity) and
``repository`` (nothing cached, the zero point). See ``THEORY.md``.

Every method shares the call's time budget: the LP bound, the exact program,
the flow LP of ``shared`` capacity and the decoding all draw on it, and each is
booked under its own phase (``build``, ``bound``, ``solve``, ``decode``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from idnopt.backends import get_backend, solve_program
from idnopt.family import Family, Generator
from idnopt.formulations.idn.candidates import Candidates, build_candidates
from idnopt.formulations.idn.evaluation import decode, fix_allocation
from idnopt.formulations.idn.gain import (
    cumulative_served,
    gain,
    gain_upper_bound,
    relaxed_gain,
)
from idnopt.formulations.idn.generator import generate_idn
from idnopt.formulations.idn.heuristics import greedy_allocation, rounded_allocation
from idnopt.formulations.idn.programs import build_program
from idnopt.formulations.idn.schema import IdnInstance
from idnopt.formulations.idn.writing import instance_to_dict, refer_to_profile
from idnopt.method import Call, Method, Parameters
from idnopt.program import Program
from idnopt.result import Result, Status, relative_gap


class BoundParameters(Parameters):
    """Options of every IDN method."""

    bound: bool = Field(
        True, description="also solve the LP relaxation: the bound L* and each ratio to it"
    )


class RoundingParameters(BoundParameters):
    """Options of ``rounding``."""

    seed: int | None = Field(0, description="seed of the DepRound draws (None: fresh entropy)")
    samples: int = Field(16, ge=1, description="DepRound draws; the best is kept")


def build(instance: IdnInstance, *, relax: bool = False) -> Program:
    """The exact program of ``instance`` (or its LP relaxation)."""
    return build_program(build_candidates(instance), capacity=instance.capacity, relax=relax)


def _candidates(instance: IdnInstance, call: Call) -> Candidates:
    with call.phase("build"):
        return build_candidates(instance)


BOUND_SHARE = 0.5
"""Most of the remaining time the LP bound may take when it precedes another solve."""


def _lp_bound(instance: IdnInstance, candidates: Candidates, call: Call) -> Result:
    with call.phase("build"):
        program = build_program(candidates, capacity=instance.capacity, relax=True)
    return call.solve(program, phase="bound", relax=False, share=BOUND_SHARE)


def _finish(
    instance: IdnInstance,
    candidates: Candidates,
    result: Result,
    relaxation: Result | None,
    call: Call,
    method: str,
) -> Result:
    result.method = method
    result.build_seconds = call.budget.spent.get("build", 0.0) + (
        result.build_seconds if result.solver != "heuristic" else 0.0
    )
    with call.phase("decode"):
        result = decode(
            instance, candidates, result, relaxation, time_limit=call.budget.remaining()
        )
    gain_of_allocation = result.metrics.get("gain")
    if (
        result.has_solution
        and not result.relaxed
        and gain_of_allocation is not None
        and gain_of_allocation > result.objective + 1e-9 * max(1.0, abs(result.objective))
    ):
        # an incumbent stopped early may leave its served amounts below what its allocation
        # serves: report the allocation's gain, so objective and metrics describe the same answer
        result.objective = float(gain_of_allocation)
        result.gap = None
    if result.has_solution and result.bound is None and not result.relaxed:
        # the time limit stopped the LP too: fall back on the bound that needs no solve
        result.bound = gain_upper_bound(candidates)
    if result.gap is None and result.has_solution:
        result.gap = relative_gap(result.objective, result.bound)
    return result


def run_milp(instance: IdnInstance, parameters: BoundParameters, call: Call) -> Result:
    """Exact MILP (prefix-sum capacities) on the call's backend."""
    candidates = _candidates(instance, call)
    relaxation = _lp_bound(instance, candidates, call) if parameters.bound else None
    with call.phase("build"):
        program = build_program(candidates, capacity=instance.capacity)
    start = None
    options = {}
    if call.solver.initial_values is None:
        start = _start(program, candidates, relaxation)
        if get_backend(call.backend).takes_start:
            options["initial_values"] = start
    result = call.solve(program, phase="solve", relax=False, **options)
    if not result.has_solution and result.status == Status.TIME_LIMIT and start is not None:
        # stopped before the solver held an incumbent: the start is one, feasible by construction
        block = program.variables["x"]
        result.values["x"] = start[block.start : block.start + block.size].reshape(block.shape)
        result.labels.setdefault("x", block.labels)
        result.message = (result.message + "; " if result.message else "") + (
            "stopped before the solver found an incumbent: the integral part of the LP "
            "optimum is returned"
        )
    return _finish(instance, candidates, result, relaxation, call, "milp")


def _start(program: Program, candidates: Candidates, relaxation: Result | None) -> np.ndarray:
    """A feasible MILP start: the integral part of the LP optimum (or nothing cached).

    Rounding every fractional ``y`` down keeps each knapsack satisfied, so the
    solver holds an incumbent from its first node and a time limit always
    returns an allocation with its gap. Under per-request capacity the served
    prefix sums of that allocation complete the start; shared-capacity flows
    are left to the solver.
    """
    start = np.full(program.num_variables, np.nan)
    allocation = np.zeros(candidates.shape)
    if relaxation is not None and relaxation.has_solution:
        allocation = np.floor(np.asarray(relaxation.value("x")) + 1e-9)
    block = program.variables["x"]
    start[block.start : block.start + block.size] = allocation.ravel()
    if "served" in program.variables:
        served = program.variables["served"]
        cumulative = cumulative_served(candidates, allocation)
        start[served.start : served.start + served.size] = cumulative
    return start


def run_relaxation(instance: IdnInstance, parameters: Parameters, call: Call) -> Result:
    """LP relaxation: the concave bound L*."""
    candidates = _candidates(instance, call)
    with call.phase("build"):
        program = build_program(candidates, capacity=instance.capacity, relax=True)
    result = call.solve(program, phase="solve", relax=False)
    result.relaxed = True
    return _finish(instance, candidates, result, result, call, "relaxation")


def _heuristic_result(
    candidates: Candidates, allocation: np.ndarray, started: float, backend: str
) -> Result:
    return Result(
        status=Status.FEASIBLE,
        objective=None,
        backend=backend,
        solver="heuristic",
        solve_seconds=time.perf_counter() - started,
        values={"x": allocation},
        labels={"x": (tuple(candidates.node_names), tuple(candidates.model_names))},
    )


def run_rounding(instance: IdnInstance, parameters: RoundingParameters, call: Call) -> Result:
    """DepRound of the LP optimum per node, repair, greedy fill."""
    candidates = _candidates(instance, call)
    relaxation = _lp_bound(instance, candidates, call)
    with call.phase("heuristic"):
        started = time.perf_counter()
        fractional = (
            relaxation.value("x") if relaxation.has_solution else np.zeros(candidates.shape)
        )
        allocation = rounded_allocation(
            candidates, fractional, samples=parameters.samples, seed=parameters.seed
        )
        result = _heuristic_result(candidates, allocation, started, call.backend)
    return _finish(instance, candidates, result, relaxation, call, "rounding")


def _simple_heuristic(name: str, allocate):
    def run(instance: IdnInstance, parameters: BoundParameters, call: Call) -> Result:
        candidates = _candidates(instance, call)
        relaxation = _lp_bound(instance, candidates, call) if parameters.bound else None
        with call.phase("heuristic"):
            started = time.perf_counter()
            result = _heuristic_result(candidates, allocate(candidates), started, "")
        return _finish(instance, candidates, result, relaxation, call, name)

    run.__name__ = f"run_{name}"
    return run


def allocation_gain(instance: IdnInstance, result: Result) -> float:
    """The gain of a result's allocation, recomputed from the allocation alone.

    Per-request capacity: :math:`G(x)` (or :math:`L(y)` for a fractional
    allocation) from the candidate arrays. Shared capacity: the optimal flows
    of the fixed allocation, by a flow LP.

    Parameters
    ----------
    instance : IdnInstance
        The instance the result answers.
    result : Result
        A result with an allocation in ``values["x"]``.

    Returns
    -------
    float
        The gain.
    """
    candidates = build_candidates(instance)
    allocation = np.asarray(result.value("x"), dtype=float)
    if instance.capacity == "shared":
        program = build_program(candidates, capacity="shared", relax=result.relaxed)
        return float(solve_program(fix_allocation(program, allocation), "highs").objective)
    if result.relaxed:
        return relaxed_gain(candidates, allocation)
    return gain(candidates, allocation)


class GeneratorParameters(Parameters):
    """Knobs of ``idnopt generate idn`` and of the sweep generator ``idn``."""

    topology: str = Field(
        "tree",
        description="tree, grid, abilene, geant, synthetic, or a topohub key such as "
        "topozoo/Sprint",
    )
    nodes: int | None = Field(
        None, ge=2, description="total number of nodes, cloud included (default per topology)"
    )
    models: int = Field(10, ge=1, description="number of models")
    request_classes: int = Field(
        50,
        ge=1,
        description="number of request classes (task, ingress)",
        json_schema_extra={"flag": "requests"},
    )
    seed: int = Field(0, ge=0, description="seed of every random choice")
    zipf: float = Field(0.8, ge=0, description="exponent of the Zipf task popularity")
    alpha: float = Field(200.0, ge=0, description="ms of cost per unit of accuracy lost")
    budget_scale: float = Field(
        1.0, ge=0, description="multiplies every node's model-memory budget"
    )
    capacity: Literal["per_request", "shared"] = Field(
        "per_request", description="capacity model of the instance"
    )
    profile: Path | None = Field(
        None,
        description="profile file giving the cloud hardware's latencies (referred to, "
        "not copied; file output only)",
    )
    profile_hardware: str = Field("h100", description="hardware name taken from --profile")


def _generate(parameters: GeneratorParameters) -> IdnInstance:
    values = parameters.model_dump(exclude={"profile", "profile_hardware"})
    return generate_idn(values.pop("topology"), **values)


def _document(
    instance: IdnInstance, parameters: GeneratorParameters, folder: Path
) -> dict[str, Any]:
    import os

    from idnopt.documents import Document
    from idnopt.errors import InputError
    from idnopt.loading import validate_document

    data = instance_to_dict(instance)
    if parameters.profile is None:
        return data
    if not parameters.profile.is_file():
        raise InputError("profile file not found", path=parameters.profile)
    relative = Path(os.path.relpath(parameters.profile.resolve(), folder.resolve()))
    data = refer_to_profile(data, relative, hardware=parameters.profile_hardware, base=folder)
    validate_document(Document(path=folder / "<generated>", data=data, lines={}))
    return data


def _header(instance: IdnInstance, parameters: GeneratorParameters) -> list[str]:
    lines = [
        f"Generated IDN instance: {instance.description}.",
        "Models: torchvision classifiers measured on an NVIDIA H100 "
        "(idnopt/formulations/idn/data/idn_models.json);",
        "latency on t4, orin and orin-nano derived as in "
        "idnopt.formulations.idn.catalog.HARDWARE_SPEED.",
    ]
    if parameters.profile is not None:
        lines.append(
            f"Latencies on {parameters.profile_hardware} of the profiled models come from "
            "the profile file."
        )
    return lines


def _describe(instance: IdnInstance) -> str:
    return (
        f"{len(instance.nodes)} nodes, {len(instance.links)} links, "
        f"{len(instance.models)} models, {len(instance.requests)} request classes"
    )


METHODS = (
    Method(
        "milp",
        "exact MILP (prefix-sum capacities), any backend",
        run_milp,
        BoundParameters,
        solves_program=True,
        relaxation="relaxation",
        exact=True,
    ),
    Method(
        "relaxation",
        "LP relaxation of the MILP: the concave bound L*",
        run_relaxation,
        Parameters,
        solves_program=True,
        exact=True,
    ),
    Method(
        "rounding",
        "DepRound of the LP optimum per node, repair, greedy fill",
        run_rounding,
        RoundingParameters,
        solves_program=True,
    ),
    Method(
        "greedy",
        "largest marginal gain per MB until budgets are full",
        _simple_heuristic("greedy", greedy_allocation),
        BoundParameters,
        solves_program=True,
    ),
    Method(
        "repository",
        "nothing cached at the edge (the zero point of the gain)",
        _simple_heuristic("repository", lambda candidates: np.zeros(candidates.shape)),
        BoundParameters,
        solves_program=True,
    ),
)


def load_online() -> Any:
    """The online version of the family (imported on first use)."""
    from idnopt.formulations.idn.online import ONLINE

    return ONLINE


FAMILY = Family(
    kind="idn",
    summary="IDN model allocation: maximise the serving gain under memory budgets",
    instance_type=IdnInstance,
    methods=METHODS,
    build=build,
    evaluate=allocation_gain,
    to_document=instance_to_dict,
    generator=Generator(
        run=_generate,
        parameters=GeneratorParameters,
        summary="random IDN instance on a tree, grid or backbone",
        document=_document,
        header=_header,
        describe=_describe,
    ),
    online=load_online,
    sense="maximize",
)
"""The ``idn`` family (entry point ``idnopt.families: idn``)."""
