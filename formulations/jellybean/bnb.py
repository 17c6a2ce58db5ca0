"""The exact branch-and-bound over (accuracy-table row, maximal tier pattern) pairs (``bnb``).

Every plan uses one table row (its combination) and fits one maximal tier
pattern (:mod:`~idnopt.formulations.jellybean.patterns`), so the optimum is the
least optimum over pairs. The search, best bound first:

1. **Incumbent** from the simplified heuristic, priced exactly, when a time limit
   may stop the search (otherwise only if the result is not certified, then
   with the published optimizer's plan too, so that an uncertified result is
   never worse than either baseline).
2. **Bounds for every pair at once** (:mod:`~idnopt.formulations.jellybean.bounds`):
   the larger of a Lagrangian bound priced by the duals of the flow MILP's LP
   relaxation and a multiplier-free one; pairs whose confined operators need
   more workers than their tiers hold are dropped. Most pairs end here.
3. **Per-pattern tightening**: for a pattern with many surviving rows, the LP
   restricted to the pattern and those rows bounds them all at once; its duals
   price a Lagrangian bound per row, and of every other open pair as well.
4. **Per pair**, cheapest bound first: the LP with the row and pattern fixed,
   a Lagrangian bound with that LP's duals, and finally the pair's MILP with the
   incumbent as cut-off (:mod:`~idnopt.formulations.jellybean.pairs`).

The search stops when the least open bound reaches the incumbent (``optimal``)
or the budget runs out (``time_limit``, with the incumbent, the least open
bound and the gap). Under the proportional rule a pair whose pattern splits
both ends of an edge across tiers (or with worker-specific prices) is only
bounded: its MILP under-estimates, its plan is priced exactly, and the result
is ``optimal`` only if the bounds still meet the incumbent.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

from idnopt.budget import Budget
from idnopt.formulations.jellybean.bounds import (
    OperatorTables,
    Prices,
    Relaxation,
    capacity_infeasible,
    crossing_bound,
    list_prices,
    pair_sums,
)
from idnopt.formulations.jellybean.compiled import CompiledWorkflow
from idnopt.formulations.jellybean.evaluation import attach_evaluation, evaluate_plan
from idnopt.formulations.jellybean.explain import explain_infeasible
from idnopt.formulations.jellybean.heuristic import heuristic_plan
from idnopt.formulations.jellybean.pairs import PairOutcome, PairSolver
from idnopt.formulations.jellybean.patterns import Patterns, maximal_patterns
from idnopt.formulations.jellybean.plan import Evaluation, Plan
from idnopt.formulations.jellybean.program import MIP_GAP, eligible_rows
from idnopt.formulations.jellybean.published import published_plan
from idnopt.formulations.jellybean.schema import JellyBeanInstance
from idnopt.result import Result, Status, relative_gap

TIGHTEN_ROWS = 6
"""A pattern with at least this many open rows gets its own LP before its pairs are visited."""
DIVE_PAIRS = 4
"""Pairs bounded by their LPs at a time while looking for a first incumbent."""
DIVE_LIMIT = 64
"""Most pairs bounded before the search goes best-first without an incumbent."""
DIVE_GAP = 0.02
"""Relative gap at which the first incumbent's pair MILP stops."""
SLICE_SECONDS = 4.0
"""Seconds of a pair MILP's first attempt; each reopening doubles it."""


@dataclass
class Search:
    """State of one branch-and-bound run.

    Attributes
    ----------
    workflow : CompiledWorkflow
        The compiled instance.
    routing : str
        Rule plans are priced under.
    target : float
        Accuracy target.
    budget : Budget
        The call's wall-clock budget.
    gap : float
        Relative gap at which a bound counts as reaching the incumbent.
    rows : numpy.ndarray
        The eligible table rows (positions in ``z`` of the programs).
    combos : numpy.ndarray
        ``(R, V)`` variant of every operator in each eligible row.
    patterns : Patterns
        The maximal tier patterns.
    incumbent : float
        Exact price of the best plan so far ($/h; ``inf``: none).
    plan, evaluation : Plan and Evaluation, optional
        That plan and its pricing.
    source : str
        Where it came from (``pair``, ``heuristic``, ``published``).
    unresolved : float
        Least lower bound of the pairs settled without proof (MILPs stopped,
        or under-estimated products of shares).
    covers : list of numpy.ndarray
        Per operator, cheapest covers at list prices per (variant, interval).
    counters : dict of str to int
        Work done, reported in the result's metrics.
    """

    workflow: CompiledWorkflow
    routing: str
    target: float
    budget: Budget
    gap: float
    rows: np.ndarray
    combos: np.ndarray
    patterns: Patterns
    incumbent: float = math.inf
    plan: Plan | None = None
    evaluation: Evaluation | None = None
    source: str = ""
    unresolved: float = math.inf
    covers: list[np.ndarray] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)

    def count(self, name: str, step: int = 1) -> None:
        """Add ``step`` to a counter."""
        self.counters[name] = self.counters.get(name, 0) + step

    @property
    def cutoff(self) -> float:
        """Bounds at or above this cannot improve the incumbent (relative gap allowed)."""
        if not math.isfinite(self.incumbent):
            return math.inf
        return self.incumbent - self.gap * max(abs(self.incumbent), 1e-10)

    def offer(self, plan: Plan | None, source: str, estimate: float | None = None) -> None:
        """Price a plan exactly and keep it if it beats the incumbent.

        ``estimate``, a lower bound on the plan's price (a pair program's value),
        spares the pricing of plans that cannot win.
        """
        if plan is None or (estimate is not None and estimate >= self.incumbent - 1e-12):
            return
        evaluation = evaluate_plan(self.workflow, plan, self.routing, self.target)
        if evaluation.feasible and evaluation.cost_per_hour < self.incumbent - 1e-12:
            self.incumbent = evaluation.cost_per_hour
            self.plan, self.evaluation, self.source = plan, evaluation, source


def solve_bnb(
    workflow: CompiledWorkflow,
    routing: str,
    target: float,
    budget: Budget,
    *,
    mip_gap: float | None = None,
    threads: int | None = None,
    instance: JellyBeanInstance | None = None,
) -> Result:
    """Run the branch-and-bound on a compiled workflow with an accuracy table.

    Parameters
    ----------
    workflow : CompiledWorkflow
        The compiled instance (``accuracy_rule == "table"``).
    routing : {"flows", "proportional"}
        Rule plans are optimised and priced under.
    target : float
        Accuracy target.
    budget : Budget
        The call's wall-clock budget; every LP and MILP draws on it.
    mip_gap : float, optional
        Relative gap at which the search (and each pair MILP) stops
        (default :data:`~idnopt.formulations.jellybean.program.MIP_GAP`).
    threads : int, optional
        HiGHS threads.
    instance : JellyBeanInstance, optional
        The instance; when given, a result that is not certified is also
        compared with the published optimizer's plan (while time remains).

    Returns
    -------
    Result
        Method ``bnb``; ``optimal``, ``feasible`` with a gap (proportional rule
        where not exact), ``time_limit`` with the incumbent and bound, or
        ``infeasible`` with the best reachable accuracy.
    """
    gap = MIP_GAP if mip_gap is None else float(mip_gap)
    rows = eligible_rows(workflow, target)
    if rows.size == 0:
        return _infeasible(workflow, routing, target, budget, threads)
    with budget.phase("build"):
        patterns = maximal_patterns(workflow)
        combos = workflow.table_combinations[rows]
    search = Search(workflow, routing, target, budget, gap, rows, combos, patterns)
    ran_heuristic = budget.time_limit is not None
    if ran_heuristic:  # a time limit may stop the search: start from a plan
        with budget.phase("heuristic"):
            plan, _, _, _ = heuristic_plan(workflow, target, routing)
            search.offer(plan, "heuristic")
    with budget.phase("bound"):
        bounds, relaxation, tables = _initial_bounds(search, threads)
    heap = [
        (float(bounds[r, q]), 0, int(r), int(q)) for r, q in zip(*np.nonzero(np.isfinite(bounds)))
    ]
    heapq.heapify(heap)
    search.counters.update(
        {"rows": int(rows.size), "patterns": patterns.count, "pairs": int(bounds.size)}
    )
    search.count("pairs_ruled_out", int(bounds.size - len(heap)))
    with budget.phase("build"):
        pairs = PairSolver(workflow, routing, threads, gap)
    _dive(search, heap, bounds, pairs)
    open_bound = _explore(search, heap, bounds, relaxation, tables, pairs)
    if min(open_bound, search.unresolved) < search.cutoff:
        # not certified: never worse than the baselines (the published one while time remains)
        with budget.phase("heuristic"):
            if not ran_heuristic:
                plan, _, _, _ = heuristic_plan(workflow, target, routing)
                search.offer(plan, "heuristic")
            if instance is not None and not budget.expired:
                outcome = published_plan(instance, workflow, target, routing, budget=budget)
                search.offer(outcome.plan, "published")
    return _result(search, open_bound, relaxation, pairs, tables, threads)


def _initial_bounds(
    search: Search, threads: int | None
) -> tuple[np.ndarray, Relaxation, OperatorTables]:
    """``(R, Q)`` bounds of every pair (``inf``: infeasible), the LP engine and the cover tables."""
    workflow, patterns, combos = search.workflow, search.patterns, search.combos
    tables = OperatorTables(workflow, patterns)
    used = [
        (np.unique(patterns.interval[:, v]), np.unique(combos[:, v]))
        for v in range(workflow.num_operators)
    ]
    plain = list_prices(workflow)
    covers = [tables.table(plain, v, k, i) for v, (k, i) in enumerate(used)]
    search.covers = covers
    bounds = pair_sums(covers, combos, patterns.interval)
    bounds += crossing_bound(workflow, patterns, combos)
    fewest = [tables.fewest(v, k, i) for v, (k, i) in enumerate(used)]
    bounds[capacity_infeasible(workflow, patterns, combos, fewest)] = np.inf
    relaxation = Relaxation(workflow, search.target, threads)
    lower, upper = relaxation.bounds_for(None, None, None)
    value, duals = relaxation.solve(lower, upper, search.budget.solver_time())
    if value is not None and math.isinf(value):
        bounds[:] = np.inf
    elif duals is not None:
        bounds = np.maximum(bounds, value)
        prices = relaxation.prices(duals)
        priced = []
        for v, (k, i) in enumerate(used):
            if search.budget.expired:  # the Lagrangian bound needs every operator's table
                return bounds, relaxation, tables
            priced.append(tables.table(prices, v, k, i))
        lagrangian = prices.constant + pair_sums(priced, combos, patterns.interval)
        bounds = np.maximum(bounds, lagrangian)
    return bounds, relaxation, tables


def _dive(
    search: Search,
    heap: list[tuple[float, int, int, int]],
    bounds: np.ndarray,
    pairs: PairSolver,
) -> None:
    """An incumbent early: bound the lowest pairs by their LPs and solve the best one's MILP.

    :data:`DIVE_PAIRS` pairs at a time, until one yields a plan or
    :data:`DIVE_LIMIT` pairs were bounded (the best-first search prunes far more
    with an incumbent than without). The pairs go back to the search, bounded.
    """
    visited = 0
    while not math.isfinite(search.incumbent) and visited < DIVE_LIMIT and heap:
        batch = []
        while heap and len(batch) < DIVE_PAIRS:
            bound, stage, r, q = heapq.heappop(heap)
            if bounds[r, q] > bound + 1e-12:  # stale entry
                if math.isfinite(bounds[r, q]):
                    heapq.heappush(heap, (float(bounds[r, q]), stage, r, q))
                continue
            batch.append((bound, r, q))
        scored = []
        for bound, r, q in batch:
            if search.budget.expired:
                break
            with search.budget.phase("bound"):
                bounds[r, q] = max(bound, _pair_bound(search, pairs, r, q))
            visited += 1
            if math.isfinite(bounds[r, q]):
                scored.append((float(bounds[r, q]), r, q))
        for _, r, q in sorted(scored):
            if search.budget.expired:
                break
            _solve_pair(search, pairs, bounds, r, q, bounds[r, q], rough=True)
            if math.isfinite(search.incumbent):
                break
        for _, r, q in batch:
            if math.isfinite(bounds[r, q]):
                heapq.heappush(heap, (float(bounds[r, q]), 1, r, q))
        if search.budget.expired:
            return


def _explore(
    search: Search,
    heap: list[tuple[float, int, int, int]],
    bounds: np.ndarray,
    relaxation: Relaxation,
    tables: OperatorTables,
    pairs: PairSolver,
) -> float:
    """Best-first search over open pairs; returns the least bound left open (``inf``: none).

    ``bounds`` (rows x patterns) holds the best bound known of every pair; heap
    entries older than it are pushed back with it.
    """
    budget = search.budget
    tightened: set[int] = set()
    while heap:
        bound, stage, r, q = heapq.heappop(heap)
        if bounds[r, q] > bound + 1e-12:
            heapq.heappush(heap, (float(bounds[r, q]), stage, r, q))
            continue
        if bound >= search.cutoff or budget.expired:
            heapq.heappush(heap, (bound, stage, r, q))
            break
        if (
            stage == 0
            and q not in tightened
            and math.isfinite(search.incumbent)
            and int((bounds[:, q] < search.cutoff).sum()) >= TIGHTEN_ROWS
        ):
            tightened.add(q)
            with budget.phase("bound"):
                _tighten(search, bounds, relaxation, tables, q)
            heapq.heappush(heap, (float(bounds[r, q]), stage, r, q))
            continue
        if stage == 0:
            with budget.phase("bound"):
                better = _pair_bound(search, pairs, r, q)
            bounds[r, q] = max(bound, better)
            if bounds[r, q] < search.cutoff:
                heapq.heappush(heap, (float(bounds[r, q]), 1, r, q))
            continue
        if _solve_pair(search, pairs, bounds, r, q, bound, attempt=stage - 1) is None:
            heapq.heappush(heap, (float(bounds[r, q]), stage + 1, r, q))  # its slice ran out
    return heap[0][0] if heap else math.inf


def _solve_pair(
    search: Search,
    pairs: PairSolver,
    bounds: np.ndarray,
    r: int,
    q: int,
    bound: float,
    rough: bool = False,
    attempt: int = 0,
) -> PairOutcome | None:
    """Solve one pair's MILP below the incumbent; settle it or record what is left of it.

    A MILP gets ``SLICE_SECONDS * 2**attempt`` seconds (within the budget): one
    that runs out of its slice is reopened with the bound it proved (None is
    returned), so that other pairs can improve the incumbent first. ``rough``:
    stop at :data:`DIVE_GAP` (a first incumbent, fast); the pair then stays open
    with the MILP's bound unless that already settles it.

    Returns
    -------
    PairOutcome or None
        None when the pair was reopened because its slice ran out.
    """
    patterns = search.patterns
    budget = search.budget
    left = budget.solver_time()
    slice_ = SLICE_SECONDS * 2**attempt
    limited = left is None or left > slice_
    with budget.phase("solve"):
        outcome = pairs.solve(
            search.combos[r],
            patterns.lo[q],
            patterns.hi[q],
            search.cutoff,
            slice_ if limited else left,
            _floors(search, r, q),
            gap=DIVE_GAP if rough else None,
        )
    search.count("pair_milps")
    with budget.phase("decode"):
        search.offer(outcome.plan, "pair", outcome.value if outcome.exact else None)
    if not outcome.finished and limited and not budget.expired:
        bounds[r, q] = max(bound, outcome.bound)
        search.count("pair_milps_resumed")
        return None
    if rough and outcome.finished and outcome.bound < search.cutoff:
        bounds[r, q] = max(bound, outcome.bound)  # not settled: back to the search
        return outcome
    bounds[r, q] = math.inf
    if not outcome.finished or not outcome.exact:
        search.unresolved = min(search.unresolved, max(outcome.bound, bound))
        if not outcome.finished:
            search.count("pair_milps_stopped")
    return outcome


def _tighten(
    search: Search,
    bounds: np.ndarray,
    relaxation: Relaxation,
    tables: OperatorTables,
    q: int,
) -> None:
    """LP of pattern ``q`` over its open rows: a floor for all of them, then per-row bounds."""
    patterns, workflow = search.patterns, search.workflow
    picked = np.flatnonzero(bounds[:, q] < search.cutoff)
    lower, upper = relaxation.bounds_for(picked, patterns.lo[q], patterns.hi[q])
    value, duals = relaxation.solve(lower, upper, search.budget.solver_time())
    search.count("pattern_lps")
    if value is None:
        return
    bounds[picked, q] = np.maximum(bounds[picked, q], value)
    if math.isinf(value) or value >= search.cutoff or duals is None:
        return
    prices = relaxation.prices(duals)
    interval = patterns.interval[q]
    total = np.full(picked.size, prices.constant)
    for v in range(workflow.num_operators):
        variants = np.unique(search.combos[picked, v])
        table = tables.table(prices, v, np.array([interval[v]]), variants)
        total += table[search.combos[picked, v], interval[v]]
    bounds[picked, q] = np.maximum(bounds[picked, q], total)
    _share(search, bounds, tables, prices, q)


def _share(
    search: Search, bounds: np.ndarray, tables: OperatorTables, prices: Prices, q: int
) -> None:
    """Bound the open pairs of every other pattern with pattern ``q``'s duals too.

    Any duals of the right signs give valid Lagrangian bounds for every pair,
    and a pattern's duals often lift its neighbours above the incumbent, which
    spares their own LPs.
    """
    patterns, workflow = search.patterns, search.workflow
    open_ = bounds < search.cutoff
    open_[:, q] = False
    cols = np.flatnonzero(open_.any(axis=0))
    rows = np.flatnonzero(open_.any(axis=1))
    if cols.size == 0:
        return
    sub = patterns.interval[cols]
    priced = []
    for v in range(workflow.num_operators):
        if search.budget.expired:
            return
        variants = np.unique(search.combos[rows, v])
        priced.append(tables.table(prices, v, np.unique(sub[:, v]), variants))
    total = prices.constant + pair_sums(priced, search.combos[rows], sub)
    block = bounds[np.ix_(rows, cols)]
    bounds[np.ix_(rows, cols)] = np.maximum(block, np.where(np.isnan(total), -np.inf, total))
    search.count("shared_duals")


def _pair_bound(search: Search, pairs: PairSolver, r: int, q: int) -> float:
    """The pair program's LP, raised by a Lagrangian bound priced with that LP's duals."""
    patterns = search.patterns
    search.count("pair_lps")
    return pairs.bound(
        search.combos[r],
        patterns.lo[q],
        patterns.hi[q],
        _floors(search, r, q),
        search.budget.solver_time(),
    )


def _floors(search: Search, r: int, q: int) -> np.ndarray:
    """``(V,)`` each operator's cheapest cover at list prices in pair ``(r, q)``."""
    interval = search.patterns.interval[q]
    return np.array(
        [search.covers[v][search.combos[r, v], interval[v]] for v in range(len(interval))]
    )


def _result(
    search: Search,
    open_bound: float,
    relaxation: Relaxation,
    pairs: PairSolver,
    tables: OperatorTables,
    threads: int | None,
) -> Result:
    """The search's outcome as a result (exact pricing of the incumbent, bound and gap)."""
    workflow, budget = search.workflow, search.budget
    bound = min(open_bound, search.unresolved, search.incumbent)
    metrics = {
        "routing": search.routing,
        "target": search.target,
        **search.counters,
        "lp_seconds": relaxation.seconds,
        "milp_seconds": pairs.seconds,
        "cover_calls": tables.calls,
    }
    if search.plan is None:
        if math.isinf(bound) and not budget.expired:
            return _infeasible(workflow, search.routing, search.target, budget, threads)
        result = Result(status=Status.TIME_LIMIT, method="bnb", backend="highs")
        result.message = "no plan found before the time limit"
        result.metrics.update(metrics)
        return result
    certified = bound >= search.cutoff
    stopped = budget.expired or search.counters.get("pair_milps_stopped", 0) > 0
    if certified:
        status = Status.OPTIMAL
    else:
        status = Status.TIME_LIMIT if stopped else Status.FEASIBLE
    result = Result(
        status=status,
        objective=search.incumbent,
        bound=search.incumbent if certified else bound,
        backend="highs",
        solver="branch-and-bound over table rows x tier patterns (HiGHS LPs and MILPs)",
        method="bnb",
    )
    result.gap = relative_gap(result.objective, result.bound)
    result.build_seconds = budget.spent.get("build", 0.0)
    result.solve_seconds = sum(budget.spent.get(k, 0.0) for k in ("bound", "solve", "decode"))
    result.metrics.update(metrics)
    result.metrics["incumbent"] = search.source
    if status == Status.FEASIBLE:
        result.message = (
            f"proportional routing with {workflow.num_tiers} tiers: some patterns split both "
            "ends of an edge across tiers, where the pair programs under-estimate the "
            f"products of shares; bound {result.bound:.6g} $/h, gap "
            f"{100 * (result.gap or 0):.3g} %"
        )
    elif status == Status.TIME_LIMIT:
        result.message = (
            f"time limit: incumbent {result.objective:.6g} $/h, least open bound "
            f"{result.bound:.6g} $/h (gap {100 * (result.gap or 0):.3g} %)"
        )
    exact = search.routing == "flows" or workflow.proportional_exact
    return attach_evaluation(result, workflow, search.evaluation, exact)


def _infeasible(
    workflow: CompiledWorkflow, routing: str, target: float, budget: Budget, threads: int | None
) -> Result:
    """No plan meets the target: name the best reachable accuracy (as the MILP does)."""
    result = Result(status=Status.INFEASIBLE, method="bnb", backend="highs")
    result.metrics["routing"] = routing
    options = {"threads": threads} if threads is not None else {}
    with budget.phase("explain"):
        return explain_infeasible(
            workflow, result, target, "highs", budget.solver_time(), mip_gap=MIP_GAP, **options
        )
