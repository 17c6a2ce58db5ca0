"""The Pyomo backend: the same blocks as a Pyomo model, for any solver Pyomo knows.

Each variable block becomes one Pyomo ``Var`` named after the block (indexed
by its flat position) and each constraint block one indexed ``Constraint``, so
exported ``.lp``/``.mps`` files and Pyomo's own tools show the program's names.
HiGHS is used through Pyomo's native interface (``pyomo.contrib.solver``);
any other name goes through ``pyo.SolverFactory``.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np

from idnopt.backends.base import Backend, Capability, Outcome, SolveOptions, Termination
from idnopt.errors import InputError, SolverError, UnsupportedError
from idnopt.program import Program


def _index_names(block, size: int) -> list[str]:
    """Each entry's label inside its block (``edge-3,resnet50``), made unique and LP-safe."""
    import re

    names, seen = [], set()
    prefix = len(block.name) + 1
    for i in range(size):
        label = block.label(i)
        inner = label[prefix:-1] if label.startswith(block.name + "[") else str(i)
        name = re.sub(r"[^A-Za-z0-9_.,-]", "_", inner) or str(i)
        while name in seen:
            name += "_"
        seen.add(name)
        names.append(name)
    return names


def build_pyomo_model(program: Program, *, named: bool = False):
    """Build a ``pyomo.environ.ConcreteModel`` of a linear program.

    Parameters
    ----------
    program : Program
        A linear (mixed-integer) program.
    named : bool
        Index each block by its entries' labels (``x[edge-3,resnet50]``) instead
        of positions, so exported ``.lp``/``.mps`` files speak the instance's
        names; solving uses positions (faster to build).

    Returns
    -------
    pyomo.environ.ConcreteModel
        With one ``Var`` per variable block, one ``Constraint`` per constraint
        block and an ``objective``.
    """
    import pyomo.environ as pyo

    model = pyo.ConcreteModel(name=program.name)
    columns = []
    for block in program.variables.values():
        lower = [None if not np.isfinite(v) else float(v) for v in block.lower]
        upper = [None if not np.isfinite(v) else float(v) for v in block.upper]
        index = _index_names(block, block.size) if named else list(range(block.size))
        position = {key: i for i, key in enumerate(index)}
        var = pyo.Var(
            index,
            domain=pyo.Integers if block.integer else pyo.Reals,
            bounds=lambda _model, key, lo=lower, up=upper, at=position: (lo[at[key]], up[at[key]]),
        )
        model.add_component(block.name, var)
        columns.extend(var[key] for key in index)
    matrix = program.matrix("csr")
    matrix.sum_duplicates()
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    row_lower, row_upper = program.row_bounds()

    for block in program.constraints.values():
        rows = _index_names(block, block.size) if named else list(range(block.size))
        row_of = {key: i for i, key in enumerate(rows)}

        def rule(_model, key, start=block.start, at=row_of):
            row = start + at[key]
            terms = range(indptr[row], indptr[row + 1])
            if not terms:
                inside = row_lower[row] <= 0.0 <= row_upper[row]
                return pyo.Constraint.Skip if inside else pyo.Constraint.Infeasible
            body = pyo.quicksum(data[k] * columns[indices[k]] for k in terms)
            lower = row_lower[row] if np.isfinite(row_lower[row]) else None
            upper = row_upper[row] if np.isfinite(row_upper[row]) else None
            if lower is None and upper is None:
                return pyo.Constraint.Skip
            if lower is not None and upper is not None and lower == upper:
                return body == float(lower)
            return (lower, body, upper)

        model.add_component(block.name, pyo.Constraint(rows, rule=rule))
    cost = program.objective
    nonzero = np.flatnonzero(cost)
    expression = (
        pyo.quicksum(float(cost[j]) * columns[j] for j in nonzero) + program.objective_constant
    )
    sense = pyo.minimize if program.sense == "minimize" else pyo.maximize
    model.objective = pyo.Objective(expr=expression, sense=sense)
    model._idnopt_columns = columns
    return model


def write_model(program: Program, path: str | Path) -> Path:
    """Export a linear program as ``.lp`` or ``.mps`` through Pyomo.

    Parameters
    ----------
    program : Program
        The program to export.
    path : str or Path
        Destination; the format follows the suffix (``.lp`` or ``.mps``).

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    if path.suffix.lower() not in (".lp", ".mps"):
        raise InputError("model export needs a .lp or .mps file name", path=path)
    if not program.is_linear:
        raise UnsupportedError("only linear programs can be exported as .lp/.mps")
    import tempfile

    from idnopt.documents import write_atomic

    if not path.parent.is_dir():
        raise InputError("output folder does not exist", path=path.parent)
    model = build_pyomo_model(program, named=True)
    with tempfile.TemporaryDirectory() as scratch:
        temporary = Path(scratch) / f"model{path.suffix.lower()}"
        model.write(str(temporary), io_options={"symbolic_solver_labels": True})
        write_atomic(path, temporary.read_bytes())
    return path


class PyomoBackend(Backend):
    """Build a Pyomo model from the program's blocks and solve it."""

    name = "pyomo"
    library = "pyomo.environ"
    capabilities = frozenset({Capability.LINEAR, Capability.MIXED_INTEGER})

    def build(self, program: Program, options: SolveOptions):  # noqa: D102
        return build_pyomo_model(program)

    def run(self, program: Program, model, options: SolveOptions) -> Outcome:  # noqa: D102
        solver_name = (options.solver or "highs").lower()
        if solver_name in ("highs", "appsi_highs"):
            outcome = self._solve_native_highs(program, model, options)
        else:
            outcome = self._solve_legacy(program, model, options, solver_name)
        outcome.solver = f"Pyomo/{solver_name}"
        if outcome.objective is not None:
            outcome.column_values = np.array(
                [v.value if v.value is not None else 0.0 for v in model._idnopt_columns]
            )
        return outcome

    @staticmethod
    def _solve_native_highs(program: Program, model, options: SolveOptions) -> Outcome:
        from pyomo.contrib.solver.common.factory import SolverFactory
        from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

        solver = SolverFactory("highs")
        config = {
            "load_solutions": False,
            "raise_exception_on_nonoptimal_result": False,
            "tee": options.verbose,
        }
        if options.time_limit is not None:
            config["time_limit"] = float(options.time_limit)
        if options.mip_gap is not None:
            config["rel_gap"] = float(options.mip_gap)
        if options.threads is not None:
            config["threads"] = int(options.threads)
        from idnopt.backends.highs import use_highs_threads

        use_highs_threads(options.threads)
        results = solver.solve(model, **config)
        condition = results.termination_condition
        has_solution = results.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
        termination = {
            TerminationCondition.convergenceCriteriaSatisfied: Termination.OPTIMAL,
            TerminationCondition.provenInfeasible: Termination.INFEASIBLE,
            TerminationCondition.unbounded: Termination.UNBOUNDED,
            TerminationCondition.infeasibleOrUnbounded: Termination.INFEASIBLE_OR_UNBOUNDED,
            TerminationCondition.maxTimeLimit: Termination.TIME_LIMIT,
        }.get(condition, Termination.OTHER)
        outcome = Outcome(termination=termination, solver="", message=str(condition.name))
        if has_solution:
            results.solution_loader.load_vars()
            outcome.objective = float(results.incumbent_objective)
            if results.objective_bound is not None and np.isfinite(results.objective_bound):
                outcome.bound = float(results.objective_bound)
            if not program.is_mip and termination is Termination.OPTIMAL:
                outcome.row_duals = _row_duals(program, model, results.solution_loader.get_duals())
        return outcome

    @staticmethod
    def _solve_legacy(program: Program, model, options: SolveOptions, solver_name: str) -> Outcome:
        import pyomo.environ as pyo
        from pyomo.opt import SolverStatus, TerminationCondition

        with _quiet_pyomo():
            solver = pyo.SolverFactory(solver_name)
            found = solver is not None and solver.available(exception_flag=False)
        if not found:
            raise SolverError(f"Pyomo cannot find the solver {solver_name!r} on this machine")
        if not program.is_mip:
            model.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
        results = solver.solve(model, tee=options.verbose, load_solutions=False)
        condition = results.solver.termination_condition
        termination = {
            TerminationCondition.optimal: Termination.OPTIMAL,
            TerminationCondition.infeasible: Termination.INFEASIBLE,
            TerminationCondition.unbounded: Termination.UNBOUNDED,
            TerminationCondition.infeasibleOrUnbounded: Termination.INFEASIBLE_OR_UNBOUNDED,
            TerminationCondition.maxTimeLimit: Termination.TIME_LIMIT,
        }.get(condition, Termination.OTHER)
        outcome = Outcome(termination=termination, solver="", message=str(condition))
        usable = termination in (Termination.OPTIMAL, Termination.TIME_LIMIT) or (
            termination is Termination.OTHER and results.solver.status == SolverStatus.ok
        )
        if len(results.solution) and usable:
            model.solutions.load_from(results)
            outcome.objective = float(pyo.value(model.objective))
            if not program.is_mip and hasattr(model, "dual"):
                outcome.row_duals = _row_duals(program, model, dict(model.dual.items()))
        return outcome


@contextlib.contextmanager
def _quiet_pyomo():
    """Silence Pyomo's logger while probing for solvers (a miss is reported by us)."""
    logger = logging.getLogger("pyomo")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def _row_duals(program: Program, model, duals_by_constraint) -> np.ndarray:
    """Order Pyomo's duals (keyed by constraint data) as program rows."""
    row_duals = np.zeros(program.num_constraints)
    for block in program.constraints.values():
        component = model.component(block.name)
        for i in range(block.size):
            if i in component:
                row_duals[block.start + i] = float(duals_by_constraint.get(component[i], 0.0))
    return row_duals
