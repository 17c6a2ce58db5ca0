"""The default backend: HiGHS through highspy, given the whole sparse model at once."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from idnopt.backends.base import Backend, SolveOptions, assemble_result
from idnopt.errors import UnsupportedError
from idnopt.program import Program
from idnopt.result import Result, Status


def _highs_lp(program: Program):
    """Translate a linear program into a ``highspy.HighsLp`` (vectorised)."""
    import highspy

    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = program.num_variables
    lp.num_row_ = program.num_constraints
    lp.col_cost_ = program.objective
    lp.offset_ = program.objective_constant
    col_lower, col_upper = program.column_bounds()
    row_lower, row_upper = program.row_bounds()
    lp.col_lower_ = np.clip(col_lower, -inf, inf)
    lp.col_upper_ = np.clip(col_upper, -inf, inf)
    lp.row_lower_ = np.clip(row_lower, -inf, inf)
    lp.row_upper_ = np.clip(row_upper, -inf, inf)
    matrix = program.matrix("csc")
    matrix.sum_duplicates()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(float)
    lp.a_matrix_.num_col_ = program.num_variables
    lp.a_matrix_.num_row_ = program.num_constraints
    if program.is_mip:
        integer = program.integrality()
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
            for flag in integer
        ]
    return lp


_BANNER_SILENCED = False


def silence_banner() -> None:
    """Create the process's first ``Highs`` object with stdout muted.

    HiGHS prints a copyright banner to the C-level stdout the first time a
    solver object is created, whatever ``output_flag`` says; that line would
    corrupt ``--json`` output, so the first creation happens here, muted.
    """
    global _BANNER_SILENCED
    if _BANNER_SILENCED:
        return
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _BANNER_SILENCED = True


_SCHEDULER_THREADS: int | None = None
"""Thread count HiGHS's process-wide task scheduler was last started with."""


def use_highs_threads(threads: int | None) -> None:
    """Make the next HiGHS run in this process use ``threads`` worker threads.

    HiGHS starts one task scheduler per process the first time a MIP runs and
    refuses later runs asking for another thread count ("scheduler has already
    been initialized"). When the count changes between solves, the scheduler is
    shut down here so the next run starts a fresh one with the requested size.

    Parameters
    ----------
    threads : int, optional
        Threads for the next run; ``None`` means HiGHS's default (half the cores).
    """
    global _SCHEDULER_THREADS
    import highspy

    wanted = int(threads) if threads is not None else 0
    if _SCHEDULER_THREADS is not None and _SCHEDULER_THREADS != wanted:
        highspy.Highs.resetGlobalScheduler(True)
    _SCHEDULER_THREADS = wanted


def _new_highs(options: SolveOptions):
    import highspy

    silence_banner()
    use_highs_threads(options.threads)
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", bool(options.verbose))
    if options.time_limit is not None:
        highs.setOptionValue("time_limit", float(options.time_limit))
    if options.mip_gap is not None:
        highs.setOptionValue("mip_rel_gap", float(options.mip_gap))
    if options.threads is not None:
        highs.setOptionValue("threads", int(options.threads))
    return highs


def _version() -> str:
    from importlib.metadata import version

    return version("highspy")


class HighsBackend(Backend):
    """Solve LPs and MILPs with HiGHS, passing the CSC matrix in one call."""

    name = "highs"

    def accepts(self, program: Program) -> str | None:  # noqa: D102
        if not program.is_linear:
            return "HiGHS solves linear programs only; use backend='cvxpy' for convex programs"
        return None

    def available(self) -> bool:  # noqa: D102
        try:
            import highspy  # noqa: F401
        except ImportError:  # pragma: no cover - core dependency
            return False
        return True

    def solve(self, program: Program, options: SolveOptions) -> Result:  # noqa: D102
        import highspy

        reason = self.accepts(program)
        if reason:
            raise UnsupportedError(reason)
        start = time.perf_counter()
        highs = _new_highs(options)
        highs.passModel(_highs_lp(program))
        handed_over = time.perf_counter()
        highs.run()
        solved = time.perf_counter()
        model_status = highs.getModelStatus()
        info = highs.getInfo()
        codes = highspy.HighsModelStatus
        has_incumbent = info.primal_solution_status == 2  # kSolutionStatusFeasible
        if model_status == codes.kOptimal:
            status = Status.OPTIMAL
        elif model_status == codes.kInfeasible:
            status = Status.INFEASIBLE
        elif model_status in (codes.kUnbounded, codes.kUnboundedOrInfeasible):
            status = (
                Status.UNBOUNDED if model_status == codes.kUnbounded else self._classify(program)
            )
        elif model_status == codes.kTimeLimit:
            status = Status.TIME_LIMIT
        elif has_incumbent:
            status = Status.FEASIBLE
        else:
            status = Status.ERROR
        solution = highs.getSolution()
        objective = info.objective_function_value if has_incumbent else None
        bound = None
        if program.is_mip and np.isfinite(info.mip_dual_bound):
            bound = float(info.mip_dual_bound)
        return assemble_result(
            program,
            status=status,
            backend=self.name,
            solver=f"HiGHS {_version()}",
            build_seconds=handed_over - start,
            solve_seconds=solved - handed_over,
            column_values=np.asarray(solution.col_value) if has_incumbent else None,
            objective=objective,
            bound=bound,
            row_duals=np.asarray(solution.row_dual) if solution.dual_valid else None,
            message=highs.modelStatusToString(model_status),
        )

    @staticmethod
    def _classify(program: Program) -> Status:
        """Tell infeasible from unbounded when presolve could not: test feasibility alone."""
        highs = _new_highs(SolveOptions())
        highs.passModel(_highs_lp(program.feasibility_version()))
        highs.run()
        import highspy

        feasible = highs.getModelStatus() == highspy.HighsModelStatus.kOptimal
        return Status.UNBOUNDED if feasible else Status.INFEASIBLE


# HiGHS IIS bound codes: 1 free (not part of the conflict), 2 lower, 3 upper, 4 boxed
_IIS_BOUND_SIDES = {2: "lower bound", 3: "upper bound", 4: "bounds"}


def irreducible_conflict(program: Program, time_limit: float = 30.0) -> list[str]:
    """Labels of an irreducible infeasible subsystem of a program's linear relaxation.

    Uses HiGHS's IIS computation. When the relaxation is feasible (the conflict
    needs integrality), the constraint blocks are filtered one by one instead:
    a block stays in the answer when removing it makes the program feasible.

    Parameters
    ----------
    program : Program
        An infeasible linear program (minimisation or not).
    time_limit : float
        Seconds allowed for each auxiliary solve.

    Returns
    -------
    list of str
        Row labels such as ``budget[edge-3]`` and bound labels such as
        ``x[edge-3, resnet50] (bounds)``; empty when no explanation was found.
    """
    import highspy

    relaxed = program.relaxed()
    highs = _new_highs(SolveOptions(time_limit=time_limit))
    highs.setOptionValue("iis_strategy", 2)
    highs.passModel(_highs_lp(relaxed))
    highs.run()
    if highs.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
        status, iis = highs.getIis()
        if status == highspy.HighsStatus.kOk and iis.valid_:
            labels = [program.row_label(int(row)) for row in iis.row_index_]
            for col, bound in zip(iis.col_index_, iis.col_bound_):
                side = _IIS_BOUND_SIDES.get(int(bound))
                if side:
                    labels.append(f"{program.column_label(int(col))} ({side})")
            return labels
        return []
    return _block_deletion_filter(program, time_limit)


def _block_deletion_filter(program: Program, time_limit: float) -> list[str]:
    """Smallest set of constraint blocks that stays infeasible, by deletion filtering."""
    import highspy

    def infeasible(names: list[str]) -> bool:
        probe = program.with_constraints(names).feasibility_version()
        highs = _new_highs(SolveOptions(time_limit=time_limit))
        highs.passModel(_highs_lp(probe))
        highs.run()
        return highs.getModelStatus() == highspy.HighsModelStatus.kInfeasible

    kept = list(program.constraints)
    for name in list(kept):
        trial = [other for other in kept if other != name]
        if infeasible(trial):
            kept = trial
    return [f"{name} (with integrality)" for name in kept]
