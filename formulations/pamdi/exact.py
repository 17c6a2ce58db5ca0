"""The exact method: branch-and-bound over splits, or an outer-approximation MILP loop.

Both start from the same incumbent and both return a proven gap.

``branch-and-bound`` (default): :mod:`~idnopt.formulations.pamdi.search`,
from the incumbent of the seeds (below). Under a time limit, on four sources or
more, it runs in stages: a first search gets :data:`PROBE_SHARE` of the time;
an instance it does not settle gets the group bound of
:mod:`~idnopt.formulations.pamdi.groups` (at most :data:`GROUP_SHARE` of the
time), which sees the crowding inside groups of sources that the search's
per-source bound misses, and then a second search with the rest. The bound
reported is the best of the three; the status is ``optimal`` when a search
finishes or the bound meets the incumbent within ``tolerance``.

``milp`` (through the Program backends):

1. Seeds: the baselines' and the per-hop rule's splits, the best feasible one
   improved by best-response descent (:mod:`~idnopt.formulations.pamdi.descent`),
   give the first incumbent (an upper bound) and the first tangent points and
   breakpoints.
2. Solve the MILP outer approximation (:mod:`~idnopt.formulations.pamdi.milp`),
   keeping only splits whose approximated value is below the incumbent's (a
   cutoff row: an infeasible MILP proves the incumbent optimal). HiGHS' dual
   bound is a lower bound of the exact optimum; the exact delay of the MILP's
   split may improve the incumbent.
3. Refine the approximation at the MILP's split (it is then valued exactly)
   and repeat until ``(upper - lower) / upper <= tolerance`` (optimal), the
   budget runs out (time limit, incumbent and gap returned) or the iteration
   cap is reached (feasible, with its gap).

A split the MILP returns twice is valued exactly the second time, so the loop
cannot cycle: each round either closes the gap or visits a new split.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from idnopt.formulations.pamdi.baselines import (
    ar_mdi_split,
    local_split,
    mdi_llm_split,
    per_hop_split,
)
from idnopt.formulations.pamdi.compiled import Compiled
from idnopt.formulations.pamdi.delay import Evaluation, Split, evaluate_split
from idnopt.formulations.pamdi.descent import descend, pair_descent, sequential_split
from idnopt.formulations.pamdi.groups import group_bound
from idnopt.formulations.pamdi.milp import (
    build_milp,
    decode_split,
    initial_approximation,
    refine,
)
from idnopt.formulations.pamdi.search import Outcome, branch_and_bound
from idnopt.method import Call
from idnopt.result import Result, Status, relative_gap

SEEDS: dict[str, Callable[[Compiled], Split]] = {
    "local": local_split,
    "pa-mdi": per_hop_split,
    "ms-mdi": lambda compiled: per_hop_split(compiled, priorities=False),
    "ar-mdi": ar_mdi_split,
    "mdi-llm-2": lambda compiled: mdi_llm_split(compiled, 2),
    "mdi-llm-3": lambda compiled: mdi_llm_split(compiled, 3),
}
"""Splits tried as first incumbents."""

CUTOFF_SLACK = 1e-9
"""The MILP keeps splits up to the incumbent's value times ``1 + slack``."""

PROBE_SHARE = 0.1
"""Share of the time limit a first search gets; an instance it does not settle gets the
group bound (:mod:`~idnopt.formulations.pamdi.groups`) and then the rest of the time."""

GROUP_SHARE = 0.4
"""Share of the time limit the group bound may take."""

EARLY_GAP = 0.02
"""MILP gap while the outer gap is wide: early MILPs only need a split to refine at and a
bound; the MILP gap tightens with the outer gap (down to ``tolerance / 10``)."""


@dataclass
class ExactOutcome:
    """What the loop found.

    Attributes
    ----------
    status : Status
        ``optimal`` (gap within tolerance), ``time_limit``, ``feasible`` (iteration
        cap) or ``infeasible``.
    incumbent : Evaluation or None
        Best split found.
    lower : float
        Best proven lower bound.
    iterations : int
        MILPs solved, or nodes of the search.
    message : str
        Why it stopped.
    history : list of dict
        Per iteration: lower and upper bound, cuts, buckets, seconds.
    seed : str
        Which seed gave the first incumbent.
    """

    status: Status
    incumbent: Evaluation | None
    lower: float
    iterations: int
    message: str
    history: list[dict] = field(default_factory=list)
    seed: str = ""

    @property
    def gap(self) -> float | None:
        """Relative gap between the incumbent and the lower bound."""
        if self.incumbent is None:
            return None
        return relative_gap(self.incumbent.objective, self.lower)


def best_seed(compiled: Compiled, deadline: float | None = None) -> tuple[Evaluation | None, str]:
    """The best feasible split from the seeds, improved by descent (``None``: none feasible).

    The best of :data:`SEEDS` is descended, and so is the sequential
    placement started from it
    (:func:`~idnopt.formulations.pamdi.descent.sequential_split`), which
    often descends further because each source already sees the others' load.
    The better of the two is then improved by
    :func:`~idnopt.formulations.pamdi.descent.pair_descent` (two sources
    re-split together), which escapes points where no single source can
    improve.
    """
    best, name = None, ""
    for label, make in SEEDS.items():
        evaluation = evaluate_split(compiled, make(compiled))
        if evaluation.feasible and (best is None or evaluation.objective < best.objective):
            best, name = evaluation, label
    if best is None:
        return None, ""
    starts = [(best, name)]
    sequential = evaluate_split(compiled, sequential_split(compiled, best.split))
    if sequential.feasible:
        starts.append((sequential, f"sequential from {name}"))
    chosen, chosen_name = best, name
    for start, label in starts:
        if deadline is not None and time.perf_counter() >= deadline:
            break
        improved = descend(compiled, start.split, deadline=deadline)
        if improved.objective < start.objective:
            start, label = improved, f"{label}+descent"
        if start.objective < chosen.objective:
            chosen, chosen_name = start, label
    if deadline is None or time.perf_counter() < deadline:
        paired = pair_descent(compiled, chosen, deadline=deadline)
        if paired.objective < chosen.objective:
            chosen, chosen_name = paired, f"{chosen_name}+pairs"
    return chosen, chosen_name


def solve_exact(
    compiled: Compiled,
    call: Call,
    *,
    algorithm: str = "branch-and-bound",
    tolerance: float = 1e-4,
    max_iterations: int = 50,
    lower_bound: float | None = None,
) -> ExactOutcome:
    """Find the optimal split with a proven gap (see the module docstring).

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    call : Call
        Backend, solver options and the call's budget; MILPs are solved through it.
    algorithm : {"branch-and-bound", "milp"}
        Search over splits, or the MILP outer-approximation loop.
    tolerance : float
        Relative gap at which the incumbent is declared optimal.
    max_iterations : int
        Most MILPs solved (``milp`` only).
    lower_bound : float, optional
        A known lower bound (e.g. the relaxation's).

    Returns
    -------
    ExactOutcome
        Incumbent, bound, status and history.
    """
    started = time.perf_counter()
    remaining = call.budget.remaining()
    deadline = None if remaining is None else started + 0.3 * remaining
    with call.phase("heuristic"):
        incumbent, seed = best_seed(compiled, deadline)
    lower = max(0.0, lower_bound if lower_bound is not None else 0.0)
    if algorithm == "branch-and-bound":
        return _branch(compiled, call, incumbent, seed, lower, tolerance, started)
    return _outer_approximation(
        compiled, call, incumbent, seed, lower, tolerance, max_iterations, started
    )


def _branch(
    compiled: Compiled,
    call: Call,
    incumbent: Evaluation | None,
    seed: str,
    lower: float,
    tolerance: float,
    started: float,
) -> ExactOutcome:
    remaining = call.budget.solver_time()
    now = time.perf_counter()
    deadline = None if remaining is None else now + remaining
    staged = remaining is not None and incumbent is not None and compiled.num_sources >= 4
    history: list[dict] = []

    def search(best: Evaluation | None, until: float | None) -> Outcome:
        with call.phase("search"):
            found = branch_and_bound(compiled, best, tolerance=tolerance / 10, deadline=until)
        history.append(
            {
                "stage": "search",
                "nodes": found.nodes,
                "root_bound": found.history[0]["root_bound"],
                "bound": found.lower,
                "seconds": time.perf_counter() - started,
            }
        )
        return found

    found = search(incumbent, now + PROBE_SHARE * remaining if staged else deadline)
    nodes = found.nodes
    if staged and not found.finished and found.incumbent is not None:
        with call.phase("group bound"):
            grouped = group_bound(
                compiled, found.incumbent.split, now + (PROBE_SHARE + GROUP_SHARE) * remaining
            )
        history.append(
            {
                "stage": "group bound",
                "nodes": 0,
                "root_bound": None,
                "bound": grouped,
                "seconds": time.perf_counter() - started,
            }
        )
        lower = max(lower, grouped, found.lower)
        if relative_gap(found.incumbent.objective, lower) > tolerance:
            found = search(found.incumbent, deadline)
            nodes += found.nodes
    lower = max(lower, found.lower) if math.isfinite(found.lower) else found.lower
    if found.incumbent is None:
        if found.finished:
            return ExactOutcome(
                Status.INFEASIBLE,
                None,
                math.inf,
                0,
                "no split keeps every device below max_load (and within memory)",
                history,
                seed,
            )
        return ExactOutcome(Status.TIME_LIMIT, None, lower, 0, "time limit reached", history, seed)
    if found.finished:
        status, message = Status.OPTIMAL, f"search complete ({nodes} nodes)"
    elif relative_gap(found.incumbent.objective, lower) <= tolerance:
        message = f"the bound meets the incumbent within tolerance ({nodes} nodes)"
        status = Status.OPTIMAL
    else:
        status, message = Status.TIME_LIMIT, f"time limit reached after {nodes} nodes"
    return ExactOutcome(status, found.incumbent, lower, nodes, message, history, seed)


def _outer_approximation(
    compiled: Compiled,
    call: Call,
    incumbent: Evaluation | None,
    seed: str,
    lower: float,
    tolerance: float,
    max_iterations: int,
    started: float,
) -> ExactOutcome:
    approximation = initial_approximation(compiled)
    if incumbent is not None:
        refine(compiled, approximation, incumbent)
    fixed_gap = call.solver.mip_gap
    inner_gap = fixed_gap if fixed_gap is not None else EARLY_GAP
    history: list[dict] = []
    status, message = Status.FEASIBLE, f"iteration cap {max_iterations} reached"
    iterations = 0
    for iterations in range(1, max_iterations + 1):
        if call.budget.expired:
            status, message = Status.TIME_LIMIT, "time limit reached"
            iterations -= 1
            break
        cutoff = None if incumbent is None else incumbent.objective * (1 + CUTOFF_SLACK)
        with call.phase("build"):
            program, blocks = build_milp(compiled, approximation, cutoff)
        # No MILP start: HiGHS 1.16 values a user solution without the objective offset
        # of its presolve, reports it as optimal and stops (observed on these programs).
        result = call.solve(program, phase="solve", relax=False, mip_gap=inner_gap)
        if result.status == Status.INFEASIBLE and cutoff is not None:
            # no split beats the incumbent under an outer approximation: it is optimal
            lower = max(lower, incumbent.objective)
            history.append(_record(iterations, lower, lower, approximation, result, started))
            status, message = Status.OPTIMAL, "no split beats the incumbent (cutoff infeasible)"
            break
        if result.status == Status.INFEASIBLE:
            return ExactOutcome(
                Status.INFEASIBLE,
                None,
                math.inf,
                iterations,
                "no split keeps every device below max_load (and within memory): "
                + (", ".join(result.conflict[:6]) or result.message),
                history,
                seed,
            )
        if result.bound is not None and math.isfinite(result.bound):
            lower = max(lower, result.bound)
        added = False
        if result.has_solution:
            evaluation = evaluate_split(compiled, decode_split(compiled, program, result.values))
            if evaluation.feasible and (
                incumbent is None or evaluation.objective < incumbent.objective
            ):
                incumbent = evaluation
            added = refine(compiled, approximation, evaluation)
        upper = incumbent.objective if incumbent is not None else math.inf
        history.append(_record(iterations, lower, upper, approximation, result, started))
        gap = relative_gap(upper, lower) if incumbent is not None else None
        if fixed_gap is None and gap is not None:
            inner_gap = float(np.clip(gap / 4, tolerance / 10, EARLY_GAP))
        if gap is not None and gap <= tolerance:
            status, message = Status.OPTIMAL, f"gap {gap:.2e} within tolerance {tolerance:g}"
            break
        if result.status == Status.TIME_LIMIT or call.budget.expired:
            status, message = Status.TIME_LIMIT, "time limit reached"
            break
        if not added and result.has_solution:
            inner_gap = max(min(inner_gap, tolerance) / 10, 1e-9)
    if incumbent is None and status != Status.INFEASIBLE:
        message = f"{message}; no feasible split found"
    return ExactOutcome(status, incumbent, lower, iterations, message, history, seed)


def _record(
    iteration: int, lower: float, upper: float, approximation, result: Result, started: float
) -> dict:
    cuts, buckets = approximation.size
    return {
        "iteration": iteration,
        "lower": lower,
        "upper": upper,
        "cuts": cuts,
        "buckets": buckets,
        "milp_status": str(result.status),
        "seconds": time.perf_counter() - started,
    }


def outcome_result(outcome: ExactOutcome, backend: str, algorithm: str = "milp") -> Result:
    """A :class:`Result` shell (status, bounds, gap) of an outcome; tables are added later."""
    incumbent = outcome.incumbent
    objective = incumbent.objective if incumbent is not None else None
    status = outcome.status
    if incumbent is None and status != Status.INFEASIBLE:
        status = Status.TIME_LIMIT
    bound = outcome.lower if status != Status.INFEASIBLE else None
    if objective is not None and bound is not None:
        bound = min(bound, objective)
    return Result(
        status=status,
        objective=objective,
        bound=bound,
        gap=relative_gap(objective, bound),
        backend=backend if algorithm == "milp" else "",
        solver="outer-approximation" if algorithm == "milp" else "branch-and-bound",
        message=outcome.message,
    )
