"""One (accuracy-table row, tier pattern) pair as a small MILP: its bound, its solve, its plan.

With the row fixed, every operator's variant is known; with the pattern fixed,
every operator's tier interval. :func:`pair_program` declares only what the pair
can use — integer workers and shares of the usable (operator, pool) entries,
one row per pool, per operator and per traffic group — with a cover row per
operator (it pays at least its cheapest cover at list prices). The incumbent's
cost is handed to HiGHS as an objective cut-off, so a pair that cannot beat it
stops early. :meth:`PairSolver.bound` bounds a pair by the program's LP raised
by a Lagrangian bound on that LP's duals.

Under the proportional rule an edge with one end on a single price group is
priced exactly (linearly); with both ends on several groups (three tiers, or
worker-specific prices) the program under-estimates its cost, and the pair's
plan is re-priced exactly.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from idnopt.errors import SolverError
from idnopt.formulations.jellybean.compiled import MB_PER_S_TO_GB_PER_H, CompiledWorkflow
from idnopt.formulations.jellybean.covers import cover_cost
from idnopt.formulations.jellybean.milp import decode_plan
from idnopt.formulations.jellybean.plan import Plan
from idnopt.program import Program, VariableBlock
from idnopt.result import Result, Status


@dataclass
class PairProgram:
    """The MILP of one (row, pattern) pair, with only what the pair can use.

    Attributes
    ----------
    program : Program
        Blocks ``n`` (workers per usable (operator, pool)), ``t`` (their shares)
        and the network blocks; rows ``workers``, ``capacity``, ``rate``,
        ``reach`` (whole workers' capacity covers the rate), ``cover`` (each
        operator pays at least its cheapest cover), ``supply`` and ``demand``.
    operator, pool : numpy.ndarray
        Operator and pool of each entry of ``n`` and ``t``.
    exact : bool
        Whether the program prices the pair's plans exactly (False: some edge
        under proportional routing has both ends on several price groups and
        its cost is an under-estimate).
    combo : numpy.ndarray
        The variant of every operator.
    """

    program: Program
    operator: np.ndarray
    pool: np.ndarray
    exact: bool
    combo: np.ndarray


def pair_program(
    workflow: CompiledWorkflow,
    combo: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    routing: str,
    floors: np.ndarray | None = None,
) -> PairProgram | None:
    """Declare the MILP of a pair: variants ``combo``, tier intervals ``[lo, hi]``.

    Parameters
    ----------
    workflow : CompiledWorkflow
        The compiled instance.
    combo : numpy.ndarray
        ``(V,)`` variant of every operator.
    lo, hi : numpy.ndarray
        ``(V,)`` tier interval of every operator.
    routing : {"flows", "proportional"}
        How traffic between two operators is priced.
    floors : numpy.ndarray, optional
        ``(V,)`` least compute + source cost of every operator (its cheapest
        cover at list prices), added as valid rows.

    Returns
    -------
    PairProgram or None
        None when some operator with a positive rate has no usable pool.
    """
    first = workflow.pool_first_worker
    pool_tier = workflow.worker_tier[first]
    pool_group = workflow.worker_group[first]
    flats = workflow.variant_offset[:-1] + np.asarray(combo)
    capacity = workflow.capacity[np.ix_(flats, first)]  # (V, P)
    usable = (
        (capacity > 0)
        & workflow.tier_allowed[:, first]
        & (pool_tier[None, :] >= lo[:, None])
        & (pool_tier[None, :] <= hi[:, None])
    )
    rate = workflow.rate
    active = rate > 0
    if (~usable[active]).all(axis=1).any():
        return None
    usable &= active[:, None]
    op, pool = np.nonzero(usable)
    cap = capacity[op, pool]
    eff = np.minimum(cap, rate[op])
    size = workflow.pool_size[pool]
    most = np.minimum(size, np.maximum(1.0, np.ceil(rate[op] / cap - 1e-9)))
    program = Program("jellybean-pair", "minimize")
    m = op.size
    n = program.add_variables("n", m, upper=most, integer=True)
    t = program.add_variables("t", m, upper=np.minimum(cap * size, rate[op]))
    index = np.arange(m)
    program.add_constraints(
        "workers", [(n, pool, index, 1.0)], upper=workflow.pool_size, shape=workflow.num_pools
    )
    program.add_constraints(
        "capacity", [(t, index, index, 1.0 / eff), (n, index, index, -1.0)], upper=0.0, shape=m
    )
    program.add_constraints(
        "rate", [(t, op, index, 1.0)], lower=rate, upper=rate, shape=workflow.num_operators
    )
    program.add_constraints(
        "reach", [(n, op, index, eff)], lower=rate, shape=workflow.num_operators
    )
    share_cost = np.zeros(m)
    for s, v, _, sizes in workflow.source_edges:
        mine = op == v
        share_cost[mine] += (
            MB_PER_S_TO_GB_PER_H
            * sizes[combo[v]]
            * workflow.source_network_price[s, first[pool[mine]]]
        )
    price = workflow.worker_price[first[pool]]
    if floors is not None:
        program.add_constraints(
            "cover",
            [(n, op, index, price), (t, op, index, share_cost)],
            lower=np.where(np.isfinite(floors), floors, 0.0),
            shape=workflow.num_operators,
        )
    terms: list[tuple] = [(n, index, price), (t, index, share_cost)]
    exact = _network(program, workflow, combo, routing, op, pool, pool_group, t, terms)
    program.set_objective(terms)
    return PairProgram(program, op, pool, exact, np.asarray(combo))


def _network(
    program: Program,
    workflow: CompiledWorkflow,
    combo: np.ndarray,
    routing: str,
    op: np.ndarray,
    pool: np.ndarray,
    pool_group: np.ndarray,
    t: VariableBlock,
    terms: list[tuple],
) -> bool:
    """Declare the edges' traffic cost (appends objective terms); returns whether it is exact.

    Flows between the price groups of the two ends under ``"flows"`` (or when
    prices add up along tiers); under ``"proportional"`` an end on a single
    group makes the cost linear in the other end's shares; otherwise the edge
    costs the larger of its cheapest flow and its McCormick terms (an
    under-estimate).
    """
    proportional = routing == "proportional" and not workflow.potential_prices
    group_price = workflow.group_network_price
    groups = pool_group[pool]
    flow_cost, flow_edge, supply, demand = [], [], [], []  # per flow variable
    s_rows = d_rows = 0
    s_terms, d_terms = [], []
    cross_terms: list[tuple] = []
    exact = True
    linear = np.zeros(op.size)
    for e, (u, v, ratio, sizes) in enumerate(workflow.operator_edges):
        size = float(sizes[combo[u], combo[v]])
        if size <= 0 or workflow.rate[u] <= 0 or workflow.rate[v] <= 0:
            continue
        mine_u, mine_v = np.flatnonzero(op == u), np.flatnonzero(op == v)
        g_u, g_v = np.unique(groups[mine_u]), np.unique(groups[mine_v])
        if proportional and g_u.size == 1:
            linear[mine_v] += MB_PER_S_TO_GB_PER_H * size * group_price[g_u[0], groups[mine_v]]
            continue
        if proportional and g_v.size == 1:
            scale = workflow.rate[v] / workflow.rate[u]
            linear[mine_u] += (
                MB_PER_S_TO_GB_PER_H * size * scale * group_price[groups[mine_u], g_v[0]]
            )
            continue
        pairs = [
            (a, b) for a in g_u for b in g_v if workflow.group_tier[a] <= workflow.group_tier[b]
        ]
        pos_u = {g: k for k, g in enumerate(g_u)}
        pos_v = {g: k for k, g in enumerate(g_v)}
        first_flow = len(flow_cost)
        for a, b in pairs:
            flow_cost.append(MB_PER_S_TO_GB_PER_H * size * float(group_price[a, b]))
            supply.append(s_rows + pos_u[a])
            demand.append(d_rows + pos_v[b])
            flow_edge.append(e)
        s_terms.append((s_rows + np.array([pos_u[g] for g in groups[mine_u]]), mine_u, -ratio))
        d_terms.append((d_rows + np.array([pos_v[g] for g in groups[mine_v]]), mine_v, -1.0))
        s_rows += g_u.size
        d_rows += g_v.size
        if proportional:
            exact = False
            cross_terms.append(
                (e, u, v, size, first_flow, len(flow_cost), mine_u, mine_v, g_u, g_v)
            )
    terms.append((t, np.arange(op.size), linear))
    if not flow_cost:
        return exact
    count = len(flow_cost)
    flow = program.add_variables("flow", count)
    cols = np.arange(count)
    program.add_constraints(
        "supply",
        [(flow, np.array(supply), cols, 1.0)]
        + [(t, rows, mine, value) for rows, mine, value in s_terms],
        upper=0.0,
        shape=s_rows,
    )
    program.add_constraints(
        "demand",
        [(flow, np.array(demand), cols, 1.0)]
        + [(t, rows, mine, value) for rows, mine, value in d_terms],
        lower=0.0,
        upper=0.0,
        shape=d_rows,
    )
    if not cross_terms:
        terms.append((flow, cols, np.array(flow_cost)))
        return exact
    _mccormick(program, workflow, t, flow, np.array(flow_cost), cross_terms, groups, terms)
    return exact


def _mccormick(
    program: Program,
    workflow: CompiledWorkflow,
    t: VariableBlock,
    flow: VariableBlock,
    flow_cost: np.ndarray,
    cross_terms: list[tuple],
    groups: np.ndarray,
    terms: list[tuple],
) -> None:
    """Edge costs under proportional routing where both ends span several price groups.

    ``edge_cost >= cost of its cheapest flow`` (proportional traffic is one
    flow) and ``edge_cost >= sum of price * size * w`` with
    ``w[g, g'] >= (lam_v / lam_u) T_u[g] + T_v[g'] - lam_v`` (McCormick).
    """
    group_price = workflow.group_network_price
    count = len(cross_terms)
    edge_cost = program.add_variables("edge_cost", count)
    program.add_constraints(
        "flow_floor",
        [(edge_cost, np.arange(count), np.arange(count), 1.0)]
        + [
            (flow, np.full(stop - start, k), np.arange(start, stop), -flow_cost[start:stop])
            for k, (_, _, _, _, start, stop, *_) in enumerate(cross_terms)
        ],
        lower=0.0,
        shape=count,
    )
    spec = []
    for k, (_, u, v, size, _, _, mine_u, mine_v, g_u, g_v) in enumerate(cross_terms):
        for a in g_u:
            for b in g_v:
                if workflow.group_tier[a] < workflow.group_tier[b] and group_price[a, b] > 0:
                    spec.append(
                        (
                            k,
                            u,
                            v,
                            size,
                            a,
                            b,
                            mine_u[groups[mine_u] == a],
                            mine_v[groups[mine_v] == b],
                        )
                    )
    terms.append((edge_cost, np.arange(count), np.ones(count)))
    if not spec:
        return
    w = program.add_variables("crossing", len(spec))
    rows = np.arange(len(spec))
    program.add_constraints(
        "proportional",
        [(w, rows, rows, 1.0)]
        + [
            (t, np.full(a_cols.size, i), a_cols, -workflow.rate[v] / workflow.rate[u])
            for i, (_, u, v, _, _, _, a_cols, _) in enumerate(spec)
        ]
        + [(t, np.full(b_cols.size, i), b_cols, -1.0) for i, (*_, b_cols) in enumerate(spec)],
        lower=np.array([-workflow.rate[v] for _, _, v, *_ in spec]),
        shape=len(spec),
    )
    program.add_constraints(
        "crossing_floor",
        [(edge_cost, np.arange(count), np.arange(count), 1.0)]
        + [
            (w, np.array([k]), np.array([i]), -MB_PER_S_TO_GB_PER_H * size * group_price[a, b])
            for i, (k, _, _, size, a, b, _, _) in enumerate(spec)
        ],
        lower=0.0,
        shape=count,
    )


@dataclass
class PairOutcome:
    """What one pair MILP gave.

    Attributes
    ----------
    bound : float
        A proven lower bound on the pair's cost (``inf``: nothing below the cut-off).
    plan : Plan, optional
        The best plan found (None: none below the cut-off).
    value : float, optional
        The program's objective for ``plan`` (an under-estimate when not exact).
    finished : bool
        Whether the pair is settled (solved, or nothing below the cut-off).
    exact : bool
        Whether the pair program prices plans exactly (see :class:`PairProgram`).
    seconds : float
        Wall time.
    """

    bound: float
    plan: Plan | None
    value: float | None
    finished: bool
    exact: bool
    seconds: float


def _run(highs) -> None:
    """Run HiGHS; a run that fails outright (bad options, a broken model) is an error.

    Raises
    ------
    SolverError
        With HiGHS's model status.
    """
    import highspy

    if highs.run() == highspy.HighsStatus.kError:
        status = highs.modelStatusToString(highs.getModelStatus())
        raise SolverError(f"HiGHS failed on a pair program ({status})")


class PairSolver:
    """Solve pairs of one routing rule as small MILPs (:func:`pair_program`) on HiGHS.

    Parameters
    ----------
    workflow : CompiledWorkflow
        The compiled instance.
    routing : {"flows", "proportional"}
        The routing rule plans are priced under.
    threads : int, optional
        HiGHS threads.
    mip_gap : float
        Relative gap at which a pair MILP stops.
    """

    def __init__(
        self, workflow: CompiledWorkflow, routing: str, threads: int | None, mip_gap: float
    ) -> None:
        self.workflow = workflow
        self.routing = routing
        self.threads = threads
        self.mip_gap = mip_gap
        self.solves = 0
        self.lp_solves = 0
        self.seconds = 0.0

    def solve(
        self,
        combo: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        cutoff: float,
        time_limit: float | None,
        floors: np.ndarray | None = None,
        gap: float | None = None,
    ) -> PairOutcome:
        """Solve the pair of variants ``combo`` and intervals ``[lo, hi]`` below ``cutoff``.

        Parameters
        ----------
        combo : numpy.ndarray
            ``(V,)`` variant of every operator.
        lo, hi : numpy.ndarray
            ``(V,)`` tier interval of every operator.
        cutoff : float
            Only plans cheaper than this matter (``inf``: any).
        time_limit : float, optional
            Seconds for HiGHS.
        floors : numpy.ndarray, optional
            ``(V,)`` least compute + source cost of every operator (valid rows).
        gap : float, optional
            Relative gap to stop at (default: the solver's ``mip_gap``); a pair
            stopped at a larger gap than the search's is not settled.
        """
        import highspy

        from idnopt.backends.highs import (
            enforce_deadline,
        )

        started = time.perf_counter()
        pair = pair_program(self.workflow, combo, lo, hi, self.routing, floors)
        if pair is None:
            return PairOutcome(math.inf, None, None, True, True, time.perf_counter() - started)
        highs = self._highs(pair.program)
        highs.setOptionValue("mip_rel_gap", float(self.mip_gap if gap is None else gap))
        if math.isfinite(cutoff):
            highs.setOptionValue("objective_bound", float(cutoff))
        if time_limit is not None:
            highs.setOptionValue("time_limit", float(time_limit))
            enforce_deadline(highs, time.perf_counter() + float(time_limit))
        _run(highs)
        self.solves += 1
        info = highs.getInfo()
        status = highs.getModelStatus()
        codes = highspy.HighsModelStatus
        plan = value = None
        if info.primal_solution_status == 2:
            values = pair.program.split(np.asarray(highs.getSolution().col_value))
            value = float(info.objective_function_value)
            plan = self._decode(pair, combo, values)
        pruned = status in (codes.kInfeasible, codes.kObjectiveBound)
        finished = pruned or status == codes.kOptimal
        if pruned:
            bound = cutoff  # nothing below the cut-off (or nothing at all)
        else:
            dual = float(info.mip_dual_bound)
            bound = dual if math.isfinite(dual) else -math.inf
        elapsed = time.perf_counter() - started
        self.seconds += elapsed
        return PairOutcome(bound, plan, value, finished, pair.exact, elapsed)

    def _highs(self, program: Program):
        """A silent HiGHS object holding ``program``."""
        import highspy

        from idnopt.backends.highs import pass_model, silence_banner, use_highs_threads

        silence_banner()
        use_highs_threads(self.threads)
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        if self.threads is not None:
            highs.setOptionValue("threads", int(self.threads))
        pass_model(highs, program)
        return highs

    def bound(
        self,
        combo: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        floors: np.ndarray | None,
        time_limit: float | None,
    ) -> float:
        """A lower bound on the pair: its LP, raised by a Lagrangian bound on that LP's duals.

        The rows that couple operators (one operator per worker, traffic) are
        dualised; each operator then covers its rate with whole workers at the
        adjusted prices (:func:`~idnopt.formulations.jellybean.covers.cover_cost`).

        Returns
        -------
        float
            ``inf`` when the pair is infeasible, ``-inf`` when the LP stopped.
        """
        import highspy

        pair = pair_program(self.workflow, combo, lo, hi, self.routing, floors)
        if pair is None:
            return math.inf
        program = pair.program.relaxed()
        highs = self._highs(program)
        if time_limit is not None:
            highs.setOptionValue("time_limit", float(time_limit))
        _run(highs)
        self.lp_solves += 1
        status = highs.getModelStatus()
        if status == highspy.HighsModelStatus.kInfeasible:
            return math.inf
        if status != highspy.HighsModelStatus.kOptimal:
            return -math.inf
        value = float(highs.getInfo().objective_function_value)
        solution = highs.getSolution()
        if not solution.dual_valid:
            return value
        return max(value, self._lagrangian(pair, program, np.asarray(solution.row_dual)))

    def _lagrangian(self, pair: PairProgram, program: Program, duals: np.ndarray) -> float:
        """Lagrangian bound of a pair program with every coupling row priced by ``duals``."""
        kept = {"capacity", "rate", "reach", "cover"}
        coupled = np.concatenate(
            [
                np.arange(block.start, block.start + block.size)
                for name, block in program.constraints.items()
                if name not in kept
            ]
        )
        y = duals[coupled]
        matrix = program.matrix("csr")[coupled]
        adjusted = program.objective - matrix.T @ y
        lower, upper = program.row_bounds()
        rhs = np.where(np.isfinite(upper[coupled]), upper[coupled], lower[coupled])
        n, t = program.variables["n"], program.variables["t"]
        others = np.ones(program.num_variables, dtype=bool)
        others[n.start : n.start + n.size] = False
        others[t.start : t.start + t.size] = False
        if (adjusted[others] < -1e-9).any():  # pragma: no cover - not at an LP optimum
            return -math.inf
        total = float(y @ rhs)
        worker = adjusted[n.start : n.start + n.size]
        share = adjusted[t.start : t.start + t.size]
        cap = self.workflow.capacity[
            self.workflow.variant_offset[pair.operator] + pair.combo[pair.operator],
            self.workflow.pool_first_worker[pair.pool],
        ]
        for v in np.unique(pair.operator):
            mine = pair.operator == v
            total += cover_cost(
                cap[mine],
                program.variables["n"].upper[mine],
                worker[mine],
                share[mine],
                float(self.workflow.rate[v]),
            )
        return total

    def _decode(self, pair: PairProgram, combo: np.ndarray, values: dict) -> Plan:
        """The pair program's solution as a plan (workers of a pool split its share evenly)."""
        workflow = self.workflow
        x = np.zeros(workflow.num_variants)
        x[workflow.variant_offset[:-1] + np.asarray(combo)] = 1.0
        n = np.zeros((workflow.num_operators, workflow.num_pools))
        t = np.zeros((workflow.num_variants, workflow.num_pools))
        flats = workflow.variant_offset[pair.operator] + np.asarray(combo)[pair.operator]
        n[pair.operator, pair.pool] = values["n"]
        t[flats, pair.pool] = values["t"]
        result = Result(status=Status.FEASIBLE, values={"x": x, "n": n, "t": t})
        return decode_plan(workflow, result, self.routing)
