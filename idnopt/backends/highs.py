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


def pass_model(highs, program: Program) -> None:
    """Hand a linear program to a ``highspy.Highs`` object in one call.

    The CSC matrix, bounds, costs and integrality go through highspy's
    array overload of ``passModel``, which copies numpy arrays directly;
    filling a ``HighsLp`` field by field converts them element by element and
    is 4-5 times slower on models with millions of non-zeros.

    Parameters
    ----------
    highs : highspy.Highs
        The solver object.
    program : Program
        A minimisation (the reductions have run).
    """
    import highspy

    inf = highspy.kHighsInf
    col_lower, col_upper = program.column_bounds()
    row_lower, row_upper = program.row_bounds()
    matrix = program.matrix("csc")
    matrix.sum_duplicates()
    # all-continuous integrality keeps an LP an LP (duals and basis are reported)
    integrality = program.integrality().astype(np.int32)
    status = highs.passModel(
        int(program.num_variables),
        int(program.num_constraints),
        int(matrix.nnz),
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize),
        float(program.objective_constant),
        np.ascontiguousarray(program.objective, dtype=float),
        np.clip(col_lower, -inf, inf).astype(float),
        np.clip(col_upper, -inf, inf).astype(float),
        np.clip(row_lower, -inf, inf).astype(float),
        np.clip(row_upper, -inf, inf).astype(float),
        matrix.indptr.astype(np.int32),
        matrix.indices.astype(np.int32),
        matrix.data.astype(float),
        integrality,
    )
    if status == highspy.HighsStatus.kError:
        raise UnsupportedError(f"HiGHS rejected program {program.name!r} (invalid model data)")


def set_start(highs, program: Program, values: np.ndarray) -> None:
    """Offer HiGHS a starting point for a MILP.

    Parameters
    ----------
    highs : highspy.Highs
        The solver object, with the program already passed.
    program : Program
        The program (its column count checks ``values``).
    values : numpy.ndarray
        One value per column; ``nan`` entries are left out, and HiGHS completes
        a partial start by solving the LP with the given integer columns fixed.
        An infeasible start is discarded by HiGHS.

    Raises
    ------
    UnsupportedError
        If ``values`` does not have one entry per column.
    """
    values = np.asarray(values, dtype=float).ravel()
    if values.size != program.num_variables:
        raise UnsupportedError(
            f"initial values have {values.size} entries; program {program.name!r} has "
            f"{program.num_variables} columns"
        )
    given = np.flatnonzero(~np.isnan(values)).astype(np.int32)
    if given.size:
        highs.setSolution(int(given.size), given, values[given])


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
    library = "highspy"
    takes_start = True

    def accepts(self, program: Program) -> str | None:  # noqa: D102
        if not program.is_linear:
            return "HiGHS solves linear programs only; use backend='cvxpy' for convex programs"
        return None

    def solve(self, program: Program, options: SolveOptions) -> Result:  # noqa: D102
        import highspy

        reason = self.accepts(program)
        if reason:
            raise UnsupportedError(reason)
        start = time.perf_counter()
        highs = _new_highs(options)
        pass_model(highs, program)
        if options.initial_values is not None and program.is_mip:
            set_start(highs, program, options.initial_values)
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
        pass_model(highs, program.feasibility_version())
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
    pass_model(highs, relaxed)
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
        pass_model(highs, probe)
        highs.run()
        return highs.getModelStatus() == highspy.HighsModelStatus.kInfeasible

    kept = list(program.constraints)
    for name in list(kept):
        trial = [other for other in kept if other != name]
        if infeasible(trial):
            kept = trial
    return [f"{name} (with integrality)" for name in kept]
