"""Lower bounds on (accuracy-table row, tier pattern) pairs, many at a time.

The exact search (:mod:`~idnopt.formulations.jellybean.bnb`) splits the problem
into pairs: a table row fixes every operator's variant, a maximal tier pattern
(:mod:`~idnopt.formulations.jellybean.patterns`) every operator's tier interval.
Three kinds of bound, all valid under either routing rule (proportional traffic
is one feasible flow, so the flow model's cost never exceeds it):

* **Lagrangian**, from the LP relaxation of the flow MILP
  (:func:`~idnopt.formulations.jellybean.program.build_program`, solved by
  :class:`Relaxation`): the duals ``y`` of the rows that couple operators (one
  operator per worker, flow supply and demand) price each worker and each
  request/s served on a pool; with those prices the pair separates per operator,
  and each operator's part is an exact integer cover
  (:func:`~idnopt.formulations.jellybean.covers.cover_cost`). The bound is
  ``sum_p y_p |p| + sum_v A_v[variant, interval]``, a sum of table look-ups for
  every pair at once. It is valid for any duals of the right signs as long as
  every flow's reduced cost is non-negative (checked; a negative one is charged
  at its largest possible flow).
* **Multiplier-free**: each operator's cheapest cover at list prices plus its
  source traffic, and each edge whose two intervals share no tier at its least
  message size and cheapest crossing.
* **Capacity**: operators confined to a span of tiers need at least as many
  workers as those tiers hold; a pair that needs more is infeasible.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from idnopt.errors import SolverError
from idnopt.formulations.jellybean.compiled import MB_PER_S_TO_GB_PER_H, CompiledWorkflow
from idnopt.formulations.jellybean.covers import cover_cost, fewest_workers
from idnopt.formulations.jellybean.patterns import Patterns
from idnopt.formulations.jellybean.program import build_program

COUPLING_BLOCKS = ("workers", "supply", "demand")
"""Row blocks of the flow MILP that couple operators (dualised in the Lagrangian bound)."""


@dataclass(frozen=True)
class Prices:
    """Prices of the Lagrangian subproblems: what a worker and a request/s cost.

    Attributes
    ----------
    worker : numpy.ndarray
        ``(P,)`` price of one worker of each pool plus its multiplier ($/h).
    share : numpy.ndarray
        ``(F, P)`` cost of one request/s of each variant on each pool.
    constant : float
        The dual constant (``sum_p y_p |p|`` plus any flow penalty).
    """

    worker: np.ndarray
    share: np.ndarray
    constant: float


class Relaxation:
    """The LP relaxation of the flow MILP in one HiGHS object, re-solved under new bounds.

    Pairs and patterns are imposed through column bounds only: rows ``z`` outside
    the allowed table rows are fixed to 0, workers, shares and tier indicators
    outside an operator's interval likewise; the model is never rebuilt, and
    HiGHS starts each solve from the previous basis.

    Parameters
    ----------
    workflow : CompiledWorkflow
        The compiled instance.
    target : float
        Accuracy target (the program declares the eligible rows only).
    threads : int, optional
        HiGHS threads.
    """

    def __init__(self, workflow: CompiledWorkflow, target: float, threads: int | None = None):
        import highspy

        from idnopt.backends.highs import pass_model, silence_banner, use_highs_threads

        self.workflow = workflow
        self.program = build_program(workflow, "flows", target).relaxed()
        silence_banner()
        use_highs_threads(threads)
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        if threads is not None:
            self.highs.setOptionValue("threads", int(threads))
        pass_model(self.highs, self.program)
        self.lower, self.upper = self.program.column_bounds()
        blocks = self.program.variables
        self.z, self.n, self.t, self.h = (blocks[k] for k in ("z", "n", "t", "h"))
        pools = workflow.pool_first_worker
        self.pool_tier = workflow.worker_tier[pools]
        self.columns = np.arange(self.program.num_variables, dtype=np.int32)
        matrix = self.program.matrix("csr")
        rows = np.concatenate(
            [
                np.arange(block.start, block.start + block.size)
                for name, block in self.program.constraints.items()
                if name in COUPLING_BLOCKS
            ]
            or [np.zeros(0, dtype=np.int64)]
        )
        self.coupling_rows = rows
        self.coupling = matrix[rows].T.tocsr()  # columns x coupling rows
        row_lower, row_upper = self.program.row_bounds()
        self.coupling_rhs = np.where(np.isfinite(row_upper[rows]), row_upper[rows], row_lower[rows])
        self.flow_columns = (
            self.program.variables["flow"].columns
            if "flow" in self.program.variables
            else np.zeros(0, dtype=np.int64)
        )
        self.solves = 0
        self.seconds = 0.0

    def bounds_for(
        self, rows: np.ndarray | None, lo: np.ndarray | None, hi: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Column bounds restricting the table rows (eligible-row positions) and the tiers.

        Parameters
        ----------
        rows : numpy.ndarray, optional
            Positions (in the program's ``z`` block) of the allowed rows; one
            position fixes that row. None: every row.
        lo, hi : numpy.ndarray, optional
            ``(V,)`` tier interval of every operator. None: every tier.
        """
        lower, upper = self.lower.copy(), self.upper.copy()
        z = self.z
        if rows is not None:
            allowed = np.zeros(z.size, dtype=bool)
            allowed[rows] = True
            upper[z.start : z.start + z.size][~allowed] = 0.0
            if len(rows) == 1:
                lower[z.start + int(rows[0])] = 1.0
        if lo is not None:
            workflow = self.workflow
            outside = (self.pool_tier[None, :] < lo[:, None]) | (
                self.pool_tier[None, :] > hi[:, None]
            )
            n_upper = upper[self.n.start : self.n.start + self.n.size].reshape(self.n.shape)
            n_upper[outside] = 0.0
            t_upper = upper[self.t.start : self.t.start + self.t.size].reshape(self.t.shape)
            t_upper[outside[workflow.variant_operator]] = 0.0
            tiers = np.arange(workflow.num_tiers)
            h_out = (tiers[None, :] < lo[:, None]) | (tiers[None, :] > hi[:, None])
            h_upper = upper[self.h.start : self.h.start + self.h.size].reshape(self.h.shape)
            h_upper[h_out] = 0.0
        return lower, upper

    def solve(
        self, lower: np.ndarray, upper: np.ndarray, time_limit: float | None
    ) -> tuple[float | None, np.ndarray | None]:
        """Solve under the given column bounds.

        Returns
        -------
        tuple
            ``(objective, row duals)``; ``(inf, None)`` when infeasible,
            ``(None, None)`` when stopped or failed.
        """
        import highspy

        started = time.perf_counter()
        highs = self.highs
        highs.changeColsBounds(len(self.columns), self.columns, lower, upper)
        highs.setOptionValue("time_limit", float(time_limit) if time_limit else math.inf)
        if highs.run() == highspy.HighsStatus.kError:
            status = highs.modelStatusToString(highs.getModelStatus())
            raise SolverError(f"HiGHS failed on the LP relaxation ({status})")
        self.solves += 1
        self.seconds += time.perf_counter() - started
        status = highs.getModelStatus()
        if status == highspy.HighsModelStatus.kInfeasible:
            return math.inf, None
        if status != highspy.HighsModelStatus.kOptimal:
            return None, None
        solution = highs.getSolution()
        value = float(highs.getInfo().objective_function_value)
        duals = np.asarray(solution.row_dual) if solution.dual_valid else None
        return value, duals

    def prices(self, duals: np.ndarray) -> Prices:
        """Lagrangian prices from LP duals (only the coupling rows are dualised).

        A column's adjusted cost is its cost less ``A_coupling^T y``; flows then
        have non-negative adjusted costs at an LP optimum, and any round-off below
        zero is charged at the flow's largest value (the operator's rate).
        """
        workflow = self.workflow
        y = duals[self.coupling_rows]
        adjusted = self.program.objective - self.coupling @ y
        constant = float(y @ self.coupling_rhs)
        if self.flow_columns.size:
            reduced = adjusted[self.flow_columns]
            if (reduced < 0).any():
                constant += float(reduced[reduced < 0].sum()) * float(workflow.rate.max())
        worker = adjusted[self.n.start : self.n.start + self.n.size].reshape(self.n.shape)[0]
        share = adjusted[self.t.start : self.t.start + self.t.size].reshape(self.t.shape)
        return Prices(np.maximum(worker, 0.0), share.copy(), constant)


def list_prices(workflow: CompiledWorkflow) -> Prices:
    """Prices without multipliers: worker prices and source traffic per request/s."""
    first = workflow.pool_first_worker
    share = np.zeros((workflow.num_variants, workflow.num_pools))
    for s, v, _, sizes in workflow.source_edges:
        block = slice(workflow.variant_offset[v], workflow.variant_offset[v + 1])
        share[block] += (
            MB_PER_S_TO_GB_PER_H * sizes[:, None] * workflow.source_network_price[s, first][None, :]
        )
    return Prices(workflow.worker_price[first].astype(float), share, 0.0)


class OperatorTables:
    """Exact integer covers ``A_v[variant, interval]`` of every operator, computed on demand.

    Parameters
    ----------
    workflow : CompiledWorkflow
        The compiled instance.
    patterns : Patterns
        The tier intervals in use.
    """

    def __init__(self, workflow: CompiledWorkflow, patterns: Patterns) -> None:
        self.workflow = workflow
        self.patterns = patterns
        first = workflow.pool_first_worker
        self.capacity = workflow.capacity[:, first]
        self.count = workflow.pool_size
        pool_tier = workflow.worker_tier[first]
        self.in_interval = np.array(
            [(pool_tier >= a) & (pool_tier <= b) for a, b in patterns.intervals]
        )
        self.allowed = workflow.tier_allowed[:, first]
        self.calls = 0

    def pool_mask(self, v: int, interval: int) -> np.ndarray:
        """Pools operator ``v`` may use inside an interval."""
        return self.in_interval[interval] & self.allowed[v]

    def table(
        self, prices: Prices, v: int, intervals: np.ndarray, variants: np.ndarray
    ) -> np.ndarray:
        """``A_v`` for the given intervals and variants (``inf`` elsewhere and where no cover).

        Returns
        -------
        numpy.ndarray
            ``(variants of v, number of intervals)``.
        """
        workflow = self.workflow
        out = np.full((len(workflow.variants[v]), len(self.patterns.intervals)), np.inf)
        for k in intervals:
            mask = self.pool_mask(v, int(k))
            for i in variants:
                flat = workflow.flat_variant(v, int(i))
                self.calls += 1
                out[i, k] = cover_cost(
                    self.capacity[flat] * mask,
                    self.count * mask,
                    prices.worker,
                    prices.share[flat],
                    float(workflow.rate[v]),
                )
        return out

    def fewest(self, v: int, intervals: np.ndarray, variants: np.ndarray) -> np.ndarray:
        """Fewest workers covering ``v``'s rate, per (variant, interval)."""
        workflow = self.workflow
        out = np.full((len(workflow.variants[v]), len(self.patterns.intervals)), np.inf)
        for k in intervals:
            mask = self.pool_mask(v, int(k))
            for i in variants:
                flat = workflow.flat_variant(v, int(i))
                out[i, k] = fewest_workers(
                    self.capacity[flat] * mask, self.count * mask, float(workflow.rate[v])
                )
        return out


def pair_sums(tables: list[np.ndarray], combos: np.ndarray, interval: np.ndarray) -> np.ndarray:
    """``sum_v tables[v][combos[:, v], interval[:, v]]`` for every (row, pattern) pair.

    Parameters
    ----------
    tables : list of numpy.ndarray
        One ``(variants, intervals)`` table per operator.
    combos : numpy.ndarray
        ``(R, V)`` variant of every operator in each row.
    interval : numpy.ndarray
        ``(Q, V)`` interval of every operator in each pattern.

    Returns
    -------
    numpy.ndarray
        ``(R, Q)``.
    """
    total = np.zeros((combos.shape[0], interval.shape[0]))
    for v, table in enumerate(tables):
        total += table[combos[:, v]][:, interval[:, v]]
    return total


def crossing_bound(
    workflow: CompiledWorkflow, patterns: Patterns, combos: np.ndarray
) -> np.ndarray:
    """``(R, Q)`` least network cost of the edges whose two intervals share no tier.

    Every message of such an edge crosses from a tier of the sender's interval
    to a higher one of the receiver's: at least ``rate * size * cheapest price``.
    """
    total = np.zeros((combos.shape[0], patterns.count))
    group_tier = workflow.group_tier
    for u, v, _, sizes in workflow.operator_edges:
        disjoint = patterns.hi[:, u] < patterns.lo[:, v]
        if not disjoint.any():
            continue
        cheapest = np.zeros(patterns.count)
        for q in np.flatnonzero(disjoint):
            send = (group_tier >= patterns.lo[q, u]) & (group_tier <= patterns.hi[q, u])
            receive = (group_tier >= patterns.lo[q, v]) & (group_tier <= patterns.hi[q, v])
            prices = workflow.group_network_price[np.ix_(send, receive)]
            cheapest[q] = float(prices.min()) if prices.size else 0.0
        size = sizes[combos[:, u], combos[:, v]]
        total += MB_PER_S_TO_GB_PER_H * workflow.rate[v] * size[:, None] * cheapest[None, :]
    return total


def capacity_infeasible(
    workflow: CompiledWorkflow,
    patterns: Patterns,
    combos: np.ndarray,
    fewest: list[np.ndarray],
) -> np.ndarray:
    """``(R, Q)`` pairs whose operators confined to a span of tiers need more workers than it has.

    Parameters
    ----------
    workflow : CompiledWorkflow
        The compiled instance.
    patterns : Patterns
        The maximal patterns.
    combos : numpy.ndarray
        ``(R, V)`` variant of every operator in each row.
    fewest : list of numpy.ndarray
        Per operator, fewest workers per (variant, interval).
    """
    worker_tier = workflow.worker_tier
    bad = np.zeros((combos.shape[0], patterns.count), dtype=bool)
    for a, b in patterns.intervals:
        held = int(((worker_tier >= a) & (worker_tier <= b)).sum())
        inside = (patterns.lo >= a) & (patterns.hi <= b)  # (Q, V)
        need = np.zeros((combos.shape[0], patterns.count))
        for v, table in enumerate(fewest):
            if not inside[:, v].any():
                continue
            part = table[combos[:, v]][:, patterns.interval[:, v]]
            need += np.where(inside[None, :, v], part, 0.0)
        bad |= need > held + 1e-9
    return bad
