"""The published JellyBean optimizer, reimplemented step by step (method ``published``).

Wu et al.'s optimizer (github.com/libertyeagle/JellyBean, ``optimizer/``, with
the ``multiple-tiers`` strategy and ``greedy`` tier allocation its VQA example
ships) in three steps:

1. **Variant selection by beam search**, sink first, then the other operators in
   reverse topological order. Every end-to-end sample of the sink whose output
   accuracy meets the target turns into input-accuracy requirements on the other
   operators; a variant is admissible when its own output accuracy meets the
   requirement. Partial assignments are ranked by the sum of the variants' proxy
   costs, then by their requirements, and cut to ``beam_width``; every surviving
   complete assignment goes on (duplicates are not removed).
2. **Greedy worker assignment per assignment**: for up to ``orders`` topological
   orders of sources and operators, operators are placed one at a time. For each
   tier ``i`` from the highest tier of the operator's inputs up, one candidate
   uses the free workers of those tiers: the cheapest single worker of the lowest
   such tier (price + estimated incoming traffic $) when one can carry the rate,
   otherwise workers by increasing (price + traffic $) / capacity, each filled to
   capacity in pick order (the last one the remainder; whenever a single worker
   of the lowest remaining tier can take the remainder, only those are
   considered, the cheapest first). The ``best_states`` cheapest partial
   states survive each step, and across orders.
   (:mod:`~idnopt.formulations.jellybean.published_workers`)
3. **Pricing**: complete plans are priced by the evaluator (the published rule is
   ``proportional``) and the cheapest over all assignments is returned; among
   plans of the same cost (``numpy.allclose``) the more accurate one.

Inputs on this library's schema (``THEORY.md`` has the details): the sink's
samples are the rows of the accuracy table (inputs: the output accuracies of
every other operator's variant in the row; several sinks share one virtual sink
with one variant); ``Variant.output_accuracy`` and ``Variant.beam_cost`` give the
per-variant profiles, with defaults when absent.

Where the published code's behaviour depends on Python's set and hash order,
this implementation fixes it: operators in reverse topological order of the
instance (Kahn's order over the file's edges), requirement keys and sample inputs
in file order, and the topological orders of the worker assignment enumerated by
:func:`networkx.all_topological_sorts` on a graph built from the edges in file
order (the first ``orders`` of them, taken lazily: the published code lists all
of them first). Deviations, for plans that would be invalid: combinations
missing from the table or below the target (the beam assumes monotone
accuracy) are skipped and counted rather than returned, and a zero message size
costs nothing instead of dividing zero by zero.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from idnopt.budget import Budget
from idnopt.errors import InputError
from idnopt.formulations.jellybean.compiled import (
    TOLERANCE,
    CompiledWorkflow,
)
from idnopt.formulations.jellybean.evaluation import attach_evaluation, evaluate_plan
from idnopt.formulations.jellybean.plan import Assignment, Evaluation, Plan
from idnopt.formulations.jellybean.published_workers import (
    State,
    assign_workers,
    proportional_network,
    topological_orders,
)
from idnopt.formulations.jellybean.schema import JellyBeanInstance
from idnopt.result import Result, Status

VIRTUAL_SINK = -1
"""Index of the virtual sink that carries the end-to-end table when a workflow has several sinks."""


# -- step 1: variant selection -----------------------------------------------------------


@dataclass(frozen=True)
class BeamProfile:
    """The beam search's view of an instance.

    Attributes
    ----------
    sink : int
        The sink operator, or :data:`VIRTUAL_SINK`.
    order : list of int
        Operators in assignment order (the sink first when it is real).
    inputs : list of int
        Operators the sink's samples put requirements on, in file order.
    output_accuracy : numpy.ndarray
        ``(F,)`` each variant's own output accuracy (``-inf`` when unknown).
    cost : numpy.ndarray
        ``(F,)`` the proxy cost of each variant.
    samples : dict of int to list of tuple
        Sink variant (0 for the virtual sink) to ``(output, input accuracies)`` samples.
    """

    sink: int
    order: list[int]
    inputs: list[int]
    output_accuracy: np.ndarray
    cost: np.ndarray
    samples: dict[int, list[tuple[float, tuple[float, ...]]]]


def beam_profile(workflow: CompiledWorkflow) -> BeamProfile:
    """Derive the beam search's profiles from a compiled workflow with an accuracy table.

    Raises
    ------
    InputError
        When the accuracy comes from a rule rather than a table.
    """
    if workflow.accuracy_rule != "table":
        raise InputError(
            "the published optimizer reads an accuracy table (its sink's samples); "
            f"this instance uses 'rule: {workflow.accuracy_rule}'"
        )
    has_successor = {u for u, _, _, _ in workflow.operator_edges}
    sinks = [v for v in range(workflow.num_operators) if v not in has_successor]
    sink = sinks[0] if len(sinks) == 1 else VIRTUAL_SINK
    inputs = [v for v in range(workflow.num_operators) if v != sink]
    order = [v for v in reversed(workflow.topological_order) if v != sink]
    if sink != VIRTUAL_SINK:
        order.insert(0, sink)
    output = _default_output_accuracy(workflow)
    cost = _default_beam_cost(workflow)
    combos, accuracy = workflow.table_combinations, workflow.table_accuracy
    samples: dict[int, list[tuple[float, tuple[float, ...]]]] = {}
    for r in range(len(accuracy)):
        key = 0 if sink == VIRTUAL_SINK else int(combos[r, sink])
        required = tuple(float(output[workflow.flat_variant(v, int(combos[r, v]))]) for v in inputs)
        samples.setdefault(key, []).append((float(accuracy[r]), required))
    return BeamProfile(sink, order, inputs, output, cost, samples)


def _default_output_accuracy(workflow: CompiledWorkflow) -> np.ndarray:
    """``output_accuracy``, else ``accuracy``, else the mean table accuracy of its rows."""
    given = workflow.variant_output_accuracy
    values = given.copy() if given is not None else np.full(workflow.num_variants, np.nan)
    fallback = np.isnan(values)
    values[fallback] = workflow.variant_accuracy[fallback]
    for flat in np.flatnonzero(np.isnan(values)):
        v, i = workflow.variant_operator[flat], workflow.variant_in_operator[flat]
        rows = workflow.table_combinations[:, v] == i
        values[flat] = workflow.table_accuracy[rows].mean() if rows.any() else -np.inf
    return values


def _default_beam_cost(workflow: CompiledWorkflow) -> np.ndarray:
    """``beam_cost``, else the rate times the least $/request of the workers that can run it."""
    given = workflow.variant_beam_cost
    values = given.copy() if given is not None else np.full(workflow.num_variants, np.nan)
    for flat in np.flatnonzero(np.isnan(values)):
        v = workflow.variant_operator[flat]
        capacity = workflow.capacity[flat]
        ok = (capacity > 0) & workflow.tier_allowed[v]
        per_request = workflow.worker_price[ok] / capacity[ok]
        values[flat] = workflow.rate[v] * per_request.min() if ok.any() else np.inf
    return values


@dataclass
class _Partial:
    """A partial variant assignment and the input-accuracy requirements it leaves."""

    assigned: dict[int, int]
    required: dict[int, float]


def beam_search(
    workflow: CompiledWorkflow,
    profile: BeamProfile,
    target: float,
    beam_width: int,
    sample_limit: int | None = None,
) -> list[tuple[int, ...]] | None:
    """Step 1: complete variant assignments, cheapest by proxy cost first (duplicates kept).

    Parameters
    ----------
    workflow : CompiledWorkflow
        The compiled instance.
    profile : BeamProfile
        From :func:`beam_profile`.
    target : float
        End-to-end accuracy target.
    beam_width : int
        Partial assignments kept after each operator (``BEAM_SEARCH.BEST_K``).
    sample_limit : int, optional
        Samples used per sink variant, lowest output first
        (``BEAM_SEARCH.ACC_PROFILE_SAMPLE_LIMIT``; None: all).

    Returns
    -------
    list of tuple or None
        Variant index per operator; None where the published code gives up (an
        operator has no admissible variant for some partial assignment).
    """
    sink_key = profile.sink
    candidates = [_Partial({}, {sink_key: target})]
    for v in ([VIRTUAL_SINK] if sink_key == VIRTUAL_SINK else []) + profile.order:
        grown: list[_Partial] = []
        for partial in candidates:
            need = partial.required[v]
            if v == sink_key:
                variants = (
                    sorted(profile.samples)
                    if v == VIRTUAL_SINK
                    else range(len(workflow.variants[v]))
                )
                best = {
                    k: max((s[0] for s in profile.samples.get(k, [])), default=-math.inf)
                    for k in variants
                }
                feasible = [k for k in variants if best[k] >= need]
            else:
                feasible = [
                    i
                    for i in range(len(workflow.variants[v]))
                    if profile.output_accuracy[workflow.flat_variant(v, i)] >= need
                ]
            if not feasible:
                return None
            for i in feasible:
                if v != sink_key:
                    required = dict(partial.required)
                    required.pop(v, None)
                    grown.append(_Partial({**partial.assigned, v: i}, required))
                    continue
                samples = [s for s in profile.samples.get(i, []) if s[0] >= need]
                samples.sort(key=lambda s: (s[0], s[1]))
                for _, inputs in samples[:sample_limit]:
                    required = dict(partial.required)
                    for u, level in zip(profile.inputs, inputs):
                        required[u] = max(required[u], level) if u in required else level
                    assigned = dict(partial.assigned)
                    if v != VIRTUAL_SINK:
                        assigned[v] = i
                    required.pop(v, None)
                    grown.append(_Partial(assigned, required))
        keys = list(grown[0].required) if grown else []
        grown.sort(
            key=lambda p: (
                _proxy(workflow, profile, p.assigned),
                tuple(p.required[k] for k in keys),
            )
        )
        candidates = grown[:beam_width]
    return [tuple(p.assigned[v] for v in range(workflow.num_operators)) for p in candidates]


def _proxy(workflow: CompiledWorkflow, profile: BeamProfile, assigned: dict[int, int]) -> float:
    """Sum of the proxy costs of a partial assignment, in assignment order (as published)."""
    return sum(float(profile.cost[workflow.flat_variant(v, i)]) for v, i in assigned.items())


# -- step 3: pricing and the best plan -----------------------------------------------------


@dataclass
class PublishedOutcome:
    """What the published optimizer found.

    Attributes
    ----------
    plan, evaluation : Plan and Evaluation, optional
        The cheapest plan and its price (None when none was found).
    note : str
        Why no plan was found, or what was skipped.
    combinations : list of tuple
        The beam's complete assignments, in its order (duplicates kept).
    skipped : int
        Assignments missing from the table or below the target.
    plans_priced : int
        Complete worker assignments priced by the evaluator.
    stopped : bool
        Whether the budget ran out before every assignment was tried.
    """

    plan: Plan | None
    evaluation: Evaluation | None
    note: str
    combinations: list[tuple[int, ...]]
    skipped: int = 0
    plans_priced: int = 0
    stopped: bool = False


def published_plan(
    instance: JellyBeanInstance,
    workflow: CompiledWorkflow,
    target: float,
    routing: str,
    *,
    beam_width: int = 10,
    orders: int = 10,
    best_states: int = 10,
    sample_limit: int | None = None,
    budget: Budget | None = None,
) -> PublishedOutcome:
    """Run the three steps of the published optimizer.

    Parameters
    ----------
    instance : JellyBeanInstance
        The instance (its edge order fixes the topological orders).
    workflow : CompiledWorkflow
        Its compiled form.
    target : float
        Accuracy target.
    routing : {"flows", "proportional"}
        Rule plans are priced and compared under (published: ``"proportional"``).
    beam_width, orders, best_states, sample_limit
        The published settings (``BEST_K``, ``MAX_NUM_ASSIGN_ORDERS``,
        ``BEST_K_ASSIGNMENTS``, ``ACC_PROFILE_SAMPLE_LIMIT``).
    budget : Budget, optional
        Stops between worker assignments when it runs out.

    Returns
    -------
    PublishedOutcome
        The cheapest plan found and what was tried.
    """
    budget = budget if budget is not None else Budget()
    profile = beam_profile(workflow)
    combinations = beam_search(workflow, profile, target, beam_width, sample_limit)
    if combinations is None:
        best = max((s[0] for samples in profile.samples.values() for s in samples), default=0.0)
        return PublishedOutcome(
            None,
            None,
            f"the published optimizer finds no combination: no sample of the sink reaches "
            f"the target {target:g} (best {best:g})",
            [],
        )
    topological = topological_orders(instance, workflow, orders)
    outcome = PublishedOutcome(None, None, "", combinations)
    cache: dict[tuple[int, ...], list[State]] = {}
    best_cost, best_accuracy = math.inf, -math.inf
    for combo in combinations:
        accuracy = workflow.accuracy_of(combo)
        if accuracy is None or accuracy < target - 1e-12:
            outcome.skipped += 1  # the published code would crash on, or accept, these
            continue
        if budget.expired:
            outcome.stopped = True
            break
        if combo not in cache:
            cache[combo] = assign_workers(workflow, combo, topological, best_states)
        for state in cache[combo]:
            plan = _plan(workflow, combo, state, routing)
            evaluation = evaluate_plan(workflow, plan, routing, target)
            outcome.plans_priced += 1
            if not evaluation.feasible:  # pragma: no cover - the greedy respects every rule
                continue
            # compared as published: the greedy's compute sum (in pick order) plus the network
            # cost, which decides ties to the last bit as the published arithmetic does
            network = (
                proportional_network(workflow, combo, state)
                if routing == "proportional"
                else evaluation.network_cost
            )
            cost = state.compute + network
            close = math.isfinite(best_cost) and abs(cost - best_cost) <= 1e-8 + 1e-5 * best_cost
            if cost < best_cost or (close and accuracy > best_accuracy):
                best_cost, best_accuracy = cost, accuracy
                outcome.plan, outcome.evaluation = plan, evaluation
    if outcome.plan is None and not outcome.note:
        outcome.note = (
            "the published optimizer's greedy assignment found no plan for its "
            f"{len(combinations)} combinations"
            + (
                f" ({outcome.skipped} missing from the table or below the target)"
                if outcome.skipped
                else ""
            )
        )
    return outcome


def _plan(workflow: CompiledWorkflow, combo: Sequence[int], state: State, routing: str) -> Plan:
    """A complete greedy state as a plan (operators in file order, workers in pick order).

    A remainder below :data:`TOLERANCE` of the rate, left by round-off in the fill
    loop, is dropped with its worker (the published code pays for that worker).
    """
    assignments = tuple(
        Assignment(workflow.operators[v], workflow.workers[x], float(share))
        for v in range(workflow.num_operators)
        for x, share in state.assigned.get(v, [])
        if share > TOLERANCE * max(1.0, workflow.rate[v])
    )
    combination = {workflow.operators[v]: workflow.variants[v][c] for v, c in enumerate(combo)}
    return Plan(combination, assignments, routing)


def solve_published(
    instance: JellyBeanInstance,
    workflow: CompiledWorkflow,
    routing: str,
    target: float,
    *,
    beam_width: int = 10,
    orders: int = 10,
    best_states: int = 10,
    sample_limit: int | None = None,
    budget: Budget | None = None,
) -> Result:
    """Run :func:`published_plan` and report it as a result.

    Returns
    -------
    Result
        Method ``published``: ``feasible`` with the plan's metrics and tables,
        ``time_limit`` when the budget ran out first (with the best plan so far,
        if any), or ``infeasible`` with the reason.
    """
    started = time.perf_counter()
    outcome = published_plan(
        instance,
        workflow,
        target,
        routing,
        beam_width=beam_width,
        orders=orders,
        best_states=best_states,
        sample_limit=sample_limit,
        budget=budget,
    )
    if outcome.plan is not None:
        status = Status.FEASIBLE
    else:
        status = Status.TIME_LIMIT if outcome.stopped else Status.INFEASIBLE
    message = outcome.note
    if outcome.stopped:
        message = "stopped by the time limit before every combination was assigned workers"
    elif outcome.plan is not None and outcome.skipped:
        message = (
            f"{outcome.skipped} of the beam's {len(outcome.combinations)} combinations were "
            "skipped: missing from the accuracy table or below the target"
        )
    result = Result(
        status=status,
        solve_seconds=time.perf_counter() - started,
        backend="heuristic",
        solver=(
            f"published JellyBean optimizer (beam {beam_width}, {orders} orders, "
            f"{best_states} states)"
        ),
        method="published",
        message=message,
        metrics={
            "routing": routing,
            "target": target,
            "combinations_explored": len(outcome.combinations),
            "combinations_skipped": outcome.skipped,
            "plans_priced": outcome.plans_priced,
        },
    )
    if outcome.plan is not None:
        result.objective = outcome.evaluation.cost_per_hour
        attach_evaluation(result, workflow, outcome.evaluation, exact=False)
    return result
