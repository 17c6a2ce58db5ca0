"""The cvxpy backend: linear blocks plus the program's convex (DCP) part.

Linear programs and MILPs go to HiGHS through cvxpy; convex programs to
Clarabel by default; any installed cvxpy solver can be named. Each variable
block becomes one cvxpy ``Variable`` (with native bounds), so a program's
convex objective receives expressions shaped like its blocks.
"""

from __future__ import annotations

import numpy as np

from idnopt.backends.base import Backend, Capability, Outcome, SolveOptions, Termination
from idnopt.errors import SolverError, UnsupportedError
from idnopt.program import Program


def build_cvxpy_problem(program: Program):
    """Build a ``cvxpy.Problem`` (minimisation) from a program.

    Returns
    -------
    problem : cvxpy.Problem
    variables : dict of str to cvxpy.Variable
        One flat variable per block.
    row_constraints : list of tuple
        ``(kind, rows, constraint)`` with ``kind`` in ``{"ge", "le", "eq"}`` so
        duals can be mapped back to program rows.
    """
    import cvxpy as cp

    if program.sense != "minimize":
        raise UnsupportedError("cvxpy backend expects a minimisation (use the reduction chain)")
    variables = {}
    for block in program.variables.values():
        if block.size == 0:
            continue
        lower = np.where(np.isfinite(block.lower), block.lower, -np.inf)
        upper = np.where(np.isfinite(block.upper), block.upper, np.inf)
        variables[block.name] = cp.Variable(
            block.size, name=block.name, integer=block.integer, bounds=[lower, upper]
        )
    parts = [variables[b.name] for b in program.variables.values() if b.size]
    x = cp.hstack(parts) if len(parts) > 1 else parts[0]
    matrix = program.matrix("csr")
    row_lower, row_upper = program.row_bounds()
    equal = np.isfinite(row_lower) & (row_lower == row_upper)
    has_lower = np.isfinite(row_lower) & ~equal
    has_upper = np.isfinite(row_upper) & ~equal
    constraints, row_constraints = [], []
    for kind, mask in (("eq", equal), ("ge", has_lower), ("le", has_upper)):
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            continue
        expression = matrix[rows] @ x
        if kind == "eq":
            constraint = expression == row_lower[rows]
        elif kind == "ge":
            constraint = expression >= row_lower[rows]
        else:
            constraint = expression <= row_upper[rows]
        constraints.append(constraint)
        row_constraints.append((kind, rows, constraint))
    objective = program.objective @ x + program.objective_constant
    shaped = {
        name: (
            variables[name]
            if block.shape == (block.size,)
            else cp.reshape(variables[name], block.shape, order="C")
        )
        for name, block in program.variables.items()
        if block.size
    }
    if program.convex_objective is not None:
        objective = objective + program.convex_objective(shaped)
    if program.convex_constraints is not None:
        for named in program.convex_constraints(shaped).values():
            constraints.extend(named)
    return cp.Problem(cp.Minimize(objective), constraints), variables, row_constraints


class CvxpyBackend(Backend):
    """Solve linear, mixed-integer linear and convex programs through cvxpy."""

    name = "cvxpy"
    library = "cvxpy"
    capabilities = frozenset({Capability.LINEAR, Capability.MIXED_INTEGER, Capability.CONVEX})

    def build(self, program: Program, options: SolveOptions):  # noqa: D102
        import cvxpy as cp

        problem, variables, row_constraints = build_cvxpy_problem(program)
        if not program.is_linear and not problem.is_dcp():
            raise UnsupportedError(f"program {program.name!r}: convex part is not DCP")
        solver = (options.solver or ("HIGHS" if program.is_linear else "CLARABEL")).upper()
        if solver not in cp.installed_solvers():
            raise SolverError(
                f"cvxpy solver {solver!r} is not installed; installed: {cp.installed_solvers()}"
            )
        if program.is_mip and not program.is_linear and solver in ("CLARABEL", "SCS", "OSQP"):
            raise UnsupportedError(
                f"{solver} cannot solve mixed-integer convex programs; name a MI-convex solver"
            )
        return problem, variables, row_constraints, solver

    def run(self, program: Program, model, options: SolveOptions) -> Outcome:  # noqa: D102
        import cvxpy as cp

        problem, variables, row_constraints, solver = model
        kwargs = {}
        if solver == "HIGHS":
            from idnopt.backends.highs import silence_banner, use_highs_threads

            if options.time_limit is not None:
                kwargs["time_limit"] = float(options.time_limit)
            if options.mip_gap is not None:
                kwargs["mip_rel_gap"] = float(options.mip_gap)
            if options.threads is not None:
                kwargs["threads"] = int(options.threads)
            silence_banner()
            use_highs_threads(options.threads)
        try:
            problem.solve(solver=solver, verbose=options.verbose, **kwargs)
        except cp.error.SolverError as exc:
            raise SolverError(f"cvxpy/{solver} failed: {exc}") from None
        termination = {
            cp.OPTIMAL: Termination.OPTIMAL,
            cp.OPTIMAL_INACCURATE: Termination.OTHER,
            cp.INFEASIBLE: Termination.INFEASIBLE,
            cp.INFEASIBLE_INACCURATE: Termination.INFEASIBLE,
            cp.UNBOUNDED: Termination.UNBOUNDED,
            cp.UNBOUNDED_INACCURATE: Termination.UNBOUNDED,
            cp.USER_LIMIT: Termination.TIME_LIMIT,
        }.get(problem.status, Termination.OTHER)
        outcome = Outcome(
            termination=termination, solver=f"cvxpy/{solver}", message=str(problem.status)
        )
        if problem.value is not None and np.isfinite(problem.value):
            outcome.objective = float(problem.value)
            values = np.zeros(program.num_variables)
            for name, variable in variables.items():
                block = program.variables[name]
                if variable.value is not None:
                    values[block.start : block.start + block.size] = variable.value
            outcome.column_values = values
        if outcome.objective is not None and not program.is_mip and program.is_linear:
            duals = np.zeros(program.num_constraints)
            for kind, rows, constraint in row_constraints:
                if constraint.dual_value is None:
                    duals = None
                    break
                sign = 1.0 if kind == "ge" else -1.0
                duals[rows] += sign * np.asarray(constraint.dual_value).ravel()
            outcome.row_duals = duals
        if program.is_mip and solver == "HIGHS" and outcome.objective is not None:
            stats = problem.solver_stats.extra_stats
            dual_bound = (
                getattr(getattr(stats, "info", None), "mip_dual_bound", None) if stats else None
            )
            if dual_bound is not None and np.isfinite(dual_bound):
                outcome.bound = float(dual_bound) + program.objective_constant
        return outcome
