"""The JellyBean family's methods, declared once on the method contract, and the family.

``bnb`` (default) is the exact branch-and-bound over (accuracy-table row, tier
pattern) pairs of :mod:`~idnopt.formulations.jellybean.bnb`; ``milp`` the direct
exact MILP of :mod:`~idnopt.formulations.jellybean.program` solved by
:func:`~idnopt.formulations.jellybean.milp.solve_milp` (any backend);
``published`` the published JellyBean optimizer of
:mod:`~idnopt.formulations.jellybean.published`; ``heuristic`` a simplified beam
search with greedy fill (:mod:`~idnopt.formulations.jellybean.heuristic`), not the
published optimizer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from idnopt.errors import InputError
from idnopt.family import Family, Generator
from idnopt.formulations.jellybean.bnb import solve_bnb
from idnopt.formulations.jellybean.compiled import compile_workflow
from idnopt.formulations.jellybean.evaluation import evaluate
from idnopt.formulations.jellybean.generator import random_instance
from idnopt.formulations.jellybean.heuristic import solve_heuristic
from idnopt.formulations.jellybean.milp import solve_milp
from idnopt.formulations.jellybean.plan import Routing, check_routing, check_target
from idnopt.formulations.jellybean.program import build_program
from idnopt.formulations.jellybean.published import solve_published
from idnopt.formulations.jellybean.schema import JellyBeanInstance
from idnopt.method import Call, Method, Parameters
from idnopt.program import Program
from idnopt.result import Result


class HeuristicParameters(Parameters):
    """Options of ``heuristic``."""

    routing: Literal["flows", "proportional"] = Field(
        "flows", description="routing rule the plan is optimised and priced under"
    )
    target: float | None = Field(
        None, ge=0, le=1, description="accuracy target (None: the instance's)"
    )
    beam_width: int = Field(3, ge=1, description="beam width of the combination search")


class PublishedParameters(Parameters):
    """Options of ``published`` (the published optimizer's settings, with its defaults)."""

    routing: Literal["flows", "proportional"] = Field(
        "proportional",
        description="routing rule plans are compared and priced under (published: proportional)",
    )
    target: float | None = Field(
        None, ge=0, le=1, description="accuracy target (default: the instance's)"
    )
    beam_width: int = Field(
        10, ge=1, description="partial variant assignments kept per operator (BEST_K)"
    )
    orders: int = Field(10, ge=1, description="topological orders tried by the worker assignment")
    best_states: int = Field(
        10, ge=1, description="cheapest partial worker assignments kept per step"
    )
    sample_limit: int | None = Field(
        None, ge=1, description="accuracy samples used per sink variant (default: all)"
    )


class BnbParameters(Parameters):
    """Options of ``bnb``."""

    routing: Literal["flows", "proportional"] = Field(
        "flows", description="routing rule the plan is optimised and priced under"
    )
    target: float | None = Field(
        None, ge=0, le=1, description="accuracy target (default: the instance's)"
    )


class MilpParameters(HeuristicParameters):
    """Options of ``milp``."""

    warm_start: bool = Field(
        False, description="hand the heuristic's plan to a solver that takes a start"
    )


def build(
    instance: JellyBeanInstance,
    *,
    relax: bool = False,
    routing: Routing = "flows",
    target: float | None = None,
) -> Program:
    """Declare the MILP of ``instance`` (see ``THEORY.md``).

    Parameters
    ----------
    instance : JellyBeanInstance
        A validated instance.
    relax : bool
        Unused here (backends relax through :func:`idnopt.solve_program`).
    routing : {"flows", "proportional"}
        How network traffic between the workers of two operators is priced.
    target : float, optional
        Accuracy target (default: the instance's).

    Returns
    -------
    Program
        Blocks ``z``, ``x``, ``n``, ``t``, ``h`` and ``flow`` or ``crossing``.
    """
    workflow = compile_workflow(instance)
    return build_program(workflow, check_routing(routing), check_target(target, instance))


def run_milp(instance: JellyBeanInstance, parameters: MilpParameters, call: Call) -> Result:
    """Exact MILP over accuracy-table rows, workers and shares."""
    with call.phase("build"):
        workflow = compile_workflow(instance)
    options: dict[str, Any] = {
        name: value for name, value in call.solver.model_dump().items() if value is not None
    }
    if "initial_values" in options and parameters.warm_start:
        raise InputError("give either warm_start or initial_values, not both")
    return solve_milp(
        workflow,
        check_routing(parameters.routing),
        check_target(parameters.target, instance),
        call.backend,
        call.relax,
        None,
        parameters.beam_width,
        warm_start=parameters.warm_start,
        budget=call.budget,
        **options,
    )


def run_bnb(instance: JellyBeanInstance, parameters: BnbParameters, call: Call) -> Result:
    """Exact branch-and-bound over (accuracy-table row, tier pattern) pairs."""
    if call.backend != "highs":
        raise InputError(
            f"method 'bnb' runs its own search on HiGHS; for backend {call.backend!r} "
            "use method 'milp'"
        )
    if call.solver.solver is not None or call.solver.initial_values is not None:
        raise InputError(
            "method 'bnb' takes no 'solver' or 'initial_values' (it solves many small "
            "programs on HiGHS); use method 'milp' for those"
        )
    with call.phase("build"):
        workflow = compile_workflow(instance)
    routing = check_routing(parameters.routing)
    target = check_target(parameters.target, instance)
    if workflow.accuracy_rule != "table":
        result = solve_milp(
            workflow,
            routing,
            target,
            "highs",
            False,
            None,
            3,
            budget=call.budget,
            **{k: v for k, v in call.solver.model_dump().items() if v is not None},
        )
        note = (
            f"accuracy rule {workflow.accuracy_rule!r} (no table to branch on): "
            "solved by the direct MILP"
        )
        result.message = f"{note}; {result.message}" if result.message else note
        return result
    return solve_bnb(
        workflow,
        routing,
        target,
        call.budget,
        mip_gap=call.solver.mip_gap,
        threads=call.solver.threads,
        instance=instance,
    )


def run_heuristic(
    instance: JellyBeanInstance, parameters: HeuristicParameters, call: Call
) -> Result:
    """Beam search over combinations, then greedy worker fill."""
    with call.phase("build"):
        workflow = compile_workflow(instance)
    with call.phase("heuristic"):
        return solve_heuristic(
            workflow,
            check_routing(parameters.routing),
            check_target(parameters.target, instance),
            parameters.beam_width,
        )


def run_published(
    instance: JellyBeanInstance, parameters: PublishedParameters, call: Call
) -> Result:
    """The published optimizer: beam search, greedy multi-tier assignment, evaluator."""
    with call.phase("build"):
        workflow = compile_workflow(instance)
    with call.phase("heuristic"):
        return solve_published(
            instance,
            workflow,
            check_routing(parameters.routing),
            check_target(parameters.target, instance),
            beam_width=parameters.beam_width,
            orders=parameters.orders,
            best_states=parameters.best_states,
            sample_limit=parameters.sample_limit,
            budget=call.budget,
        )


def plan_cost(instance: JellyBeanInstance, result: Result) -> float:
    """The cost ($/h) of a result's plan, priced again by the evaluator under its routing rule.

    Parameters
    ----------
    instance : JellyBeanInstance
        The instance the result answers.
    result : Result
        A result of this family with a plan.

    Returns
    -------
    float
        Compute + network cost per hour.
    """
    routing = result.metrics.get("routing", "flows")
    return evaluate(instance, result, routing, target=result.metrics.get("target")).cost_per_hour


def to_document(instance: JellyBeanInstance) -> dict[str, Any]:
    """The instance as file content (normalised units) that loads back equal."""
    return {"kind": "jellybean", **instance.model_dump(mode="json", exclude_defaults=True)}


class GeneratorParameters(Parameters):
    """Knobs of ``idnopt generate jellybean`` and of the sweep generator ``jellybean``."""

    operators: int = Field(3, ge=1, description="operators of the workflow")
    variants: int = Field(3, ge=1, description="model variants per operator")
    workers: int = Field(6, ge=1, description="workers")
    tiers: int = Field(
        2, ge=1, le=3, description="1: cloud; 2: edge < cloud; 3: device < edge < cloud"
    )
    rows: int | None = Field(
        None,
        ge=1,
        description="rows of the accuracy table (default: every combination when there are few)",
    )
    sources: int = Field(1, ge=1, description="data sources")
    join_probability: float = Field(
        0.3, ge=0, le=1, description="probability that an operator also reads an earlier one"
    )
    worker_prices: bool = Field(False, description="network prices per worker pair, not per tier")
    worker_types: int | None = Field(
        None,
        ge=1,
        description="draw the workers from this many machine types (default: every worker "
        "distinct)",
    )
    target: float | None = Field(
        None, ge=0, le=1, description="accuracy target (default: the table's 40th percentile)"
    )
    seed: int = Field(0, ge=0, description="seed of every random choice")


def _generate(parameters: GeneratorParameters) -> JellyBeanInstance:
    values = parameters.model_dump()
    return random_instance(values.pop("seed"), **values)


def _document(
    instance: JellyBeanInstance, parameters: GeneratorParameters, folder: Path
) -> dict[str, Any]:
    return to_document(instance)


def _header(instance: JellyBeanInstance, parameters: GeneratorParameters) -> list[str]:
    return ["Generated JellyBean instance (random workflow; illustrative numbers)."]


def _describe(instance: JellyBeanInstance) -> str:
    return (
        f"{len(instance.operators)} operators, {len(instance.workers)} worker entries, "
        f"{len(instance.accuracy.rows or [])} accuracy rows"
    )


METHODS = (
    Method(
        "bnb",
        "exact branch-and-bound over accuracy-table rows x tier patterns (HiGHS)",
        run_bnb,
        BnbParameters,
        solves_program=True,
        relaxation="milp",
        exact=True,
    ),
    Method(
        "milp",
        "exact MILP over accuracy-table rows, workers and shares",
        run_milp,
        MilpParameters,
        solves_program=True,
        exact=True,
    ),
    Method(
        "published",
        "the published JellyBean optimizer: beam search over combinations, greedy "
        "multi-tier worker assignment",
        run_published,
        PublishedParameters,
    ),
    Method(
        "heuristic",
        "beam search over variant combinations + greedy worker fill (simplified baseline)",
        run_heuristic,
        HeuristicParameters,
    ),
)

FAMILY = Family(
    kind="jellybean",
    summary="JellyBean: cost-minimal model variants and workers for inference workflows",
    instance_type=JellyBeanInstance,
    methods=METHODS,
    build=build,
    evaluate=plan_cost,
    to_document=to_document,
    generator=Generator(
        run=_generate,
        parameters=GeneratorParameters,
        summary="random JellyBean workflow with tiered workers",
        document=_document,
        header=_header,
        describe=_describe,
    ),
    sense="minimize",
)
"""The ``jellybean`` family (entry point ``idnopt.families: jellybean``)."""


def solve(instance: JellyBeanInstance, **options: Any) -> Result:
    """Solve a JellyBean instance (same as ``idnopt.solve`` for this family).

    Parameters
    ----------
    instance : JellyBeanInstance
        A validated instance.
    **options
        ``method``, ``backend``, ``relax``, ``time_limit`` and the method's
        options (``routing``, ``target``, ``beam_width``…).

    Returns
    -------
    Result
        Metrics ``cost_per_hour``, ``compute_cost``, ``network_cost``,
        ``accuracy``…; tables ``plan``, ``combination``, ``cost``, ``traffic``.
    """
    return FAMILY.solve(instance, **options)
