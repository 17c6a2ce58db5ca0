"""The default backend: HiGHS through highspy, given the whole sparse model at once."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from idnopt.backends.base import Backend, Capability, Outcome, SolveOptions, Termination
from idnopt.errors import UnsupportedError
from idnopt.program import Program


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


def enforce_deadline(highs, deadline: float | None) -> None:
    """Interrupt a HiGHS run at a wall-clock ``deadline`` or when the user asks to stop.

    HiGHS's own ``time_limit`` is checked between phases and can be overrun by
    a presolve, a long LP at the root or the completion of a partial start;
    its interrupt callbacks (simplex, interior point, MIP) are polled far more
    often, so a deadline set here holds the whole call's budget. The same
    callbacks stop the run on Ctrl-C (see :func:`idnopt.budget.interruptible`).
    An interrupted run keeps its incumbent and bound.

    Parameters
    ----------
    highs : highspy.Highs
        The solver object, before ``run``.
    deadline : float, optional
        ``time.perf_counter()`` value after which the run stops.
    """
    from idnopt.budget import interrupt_requested

    def interrupt_when_late(event) -> None:
        if interrupt_requested() or (deadline is not None and time.perf_counter() >= deadline):
            event.interrupt()

    for event in (highs.cbSimplexInterrupt, highs.cbIpmInterrupt, highs.cbMipInterrupt):
        event.subscribe(interrupt_when_late)


def _version() -> str:
    from importlib.metadata import version

    return version("highspy")


class HighsBackend(Backend):
    """Solve LPs and MILPs with HiGHS, passing the CSC matrix in one call."""

    name = "highs"
    library = "highspy"
    capabilities = frozenset(
        {
            Capability.LINEAR,
            Capability.MIXED_INTEGER,
            Capability.START,
            Capability.CONFLICT,
            Capability.RESOLVE,
        }
    )

    def build(self, program: Program, options: SolveOptions):  # noqa: D102
        highs = _new_highs(options)
        pass_model(highs, program)
        if options.initial_values is not None and program.is_mip:
            set_start(highs, program, options.initial_values)
        return highs

    def run(self, program: Program, model, options: SolveOptions) -> Outcome:  # noqa: D102
        highs = model
        deadline = None
        if options.time_limit is not None:
            deadline = time.perf_counter() + float(options.time_limit)
        enforce_deadline(highs, deadline)
        highs.run()
        return _outcome(highs, program)

    def resolve(self, highs, program: Program, column_lower, column_upper) -> Outcome:
        """Solve again after changing column bounds, reusing the model and its basis.

        Parameters
        ----------
        highs : highspy.Highs
            A model made by :meth:`build` and already run.
        program : Program
            The program it was built from (for sizes).
        column_lower, column_upper : numpy.ndarray
            New bounds, one per column.
        """
        columns = np.arange(program.num_variables, dtype=np.int32)
        highs.changeColsBounds(
            int(columns.size),
            columns,
            np.asarray(column_lower, dtype=float),
            np.asarray(column_upper, dtype=float),
        )
        highs.run()
        return _outcome(highs, program)

    def irreducible_subsystem(self, program: Program, time_limit: float | None) -> list[str] | None:
        """HiGHS's IIS of a linear program, as row and bound labels."""
        import highspy

        highs = _new_highs(SolveOptions(time_limit=time_limit))
        highs.setOptionValue("iis_strategy", 2)
        pass_model(highs, program)
        highs.run()
        if highs.getModelStatus() != highspy.HighsModelStatus.kInfeasible:
            return None
        status, iis = highs.getIis()
        if status != highspy.HighsStatus.kOk or not iis.valid_:
            return []
        labels = [program.row_label(int(row)) for row in iis.row_index_]
        for col, bound in zip(iis.col_index_, iis.col_bound_):
            side = _IIS_BOUND_SIDES.get(int(bound))
            if side:
                labels.append(f"{program.column_label(int(col))} ({side})")
        return labels


def _outcome(highs, program: Program) -> Outcome:
    """Read a finished run into an :class:`Outcome`."""
    import highspy

    from idnopt.budget import interrupt_requested

    model_status = highs.getModelStatus()
    info = highs.getInfo()
    codes = highspy.HighsModelStatus
    has_incumbent = info.primal_solution_status == 2  # kSolutionStatusFeasible
    termination = {
        codes.kOptimal: Termination.OPTIMAL,
        codes.kInfeasible: Termination.INFEASIBLE,
        codes.kUnbounded: Termination.UNBOUNDED,
        codes.kUnboundedOrInfeasible: Termination.INFEASIBLE_OR_UNBOUNDED,
        codes.kTimeLimit: Termination.TIME_LIMIT,
        codes.kInterrupt: Termination.TIME_LIMIT,
    }.get(model_status, Termination.OTHER)
    if model_status == codes.kInterrupt and interrupt_requested():
        termination = Termination.INTERRUPTED
    solution = highs.getSolution()
    bound = None
    if program.is_mip and np.isfinite(info.mip_dual_bound):
        bound = float(info.mip_dual_bound)
    return Outcome(
        termination=termination,
        solver=f"HiGHS {_version()}",
        column_values=np.asarray(solution.col_value) if has_incumbent else None,
        objective=info.objective_function_value if has_incumbent else None,
        bound=bound,
        row_duals=np.asarray(solution.row_dual) if solution.dual_valid else None,
        message=(
            ("Interrupted by the user" if interrupt_requested() else "Time limit reached")
            if model_status == codes.kInterrupt
            else highs.modelStatusToString(model_status)
        ),
    )


# HiGHS IIS bound codes: 1 free (not part of the conflict), 2 lower, 3 upper, 4 boxed
_IIS_BOUND_SIDES = {2: "lower bound", 3: "upper bound", 4: "bounds"}
