"""Small program-to-program reductions applied before a backend compiles a program.

Each reduction has one job and three verbs, in the manner of cvxpy's reduction
chain: ``accepts(program)`` says whether it applies, ``apply(program)`` returns
the transformed program *and the inverse data* needed to undo it, and
``invert(result, inverse_data)`` maps a result of the transformed program back
to the original one (objective sign, duals, flags). Reductions and chains keep
no state between calls, so one chain can serve many programs at once.
Backends therefore only ever see minimisation programs in the form they accept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from idnopt.program import Program
from idnopt.result import Result


class Reduction:
    """A transformation of a program with its inverse on results."""

    def accepts(self, program: Program) -> bool:
        """Whether this reduction applies to ``program``."""
        raise NotImplementedError

    def apply(self, program: Program) -> tuple[Program, Any]:
        """Return the transformed program (the input is never modified) and inverse data."""
        raise NotImplementedError

    def invert(self, result: Result, inverse_data: Any) -> Result:
        """Map a result of the transformed program back, using ``apply``'s inverse data."""
        raise NotImplementedError


class Relax(Reduction):
    """Drop integrality: the continuous relaxation of a mixed-integer program."""

    def accepts(self, program: Program) -> bool:  # noqa: D102
        return program.is_mip

    def apply(self, program: Program) -> tuple[Program, None]:  # noqa: D102
        return program.relaxed(), None

    def invert(self, result: Result, inverse_data: None) -> Result:  # noqa: D102
        return replace(result, relaxed=True)


class ToMinimization(Reduction):
    """Turn a maximisation into a minimisation of the negated objective."""

    def accepts(self, program: Program) -> bool:  # noqa: D102
        return program.sense == "maximize"

    def apply(self, program: Program) -> tuple[Program, None]:  # noqa: D102
        flipped = program.copy()
        flipped.sense = "minimize"
        flipped._objective_terms = [(cols, -values) for cols, values in program._objective_terms]
        flipped.objective_constant = -program.objective_constant
        if program.convex_objective is not None:
            concave = program.convex_objective
            flipped.convex_objective = lambda variables: -concave(variables)
        return flipped, None

    def invert(self, result: Result, inverse_data: None) -> Result:  # noqa: D102
        def negate(value: float | None) -> float | None:
            return None if value is None else -value

        return replace(
            result,
            objective=negate(result.objective),
            bound=negate(result.bound),
            duals={name: -np.asarray(d) for name, d in result.duals.items()},
        )


class Chain(Reduction):
    """Apply reductions in order; invert them in reverse order.

    A chain is itself a reduction: its inverse data lists the reductions that
    applied with their own inverse data, so the chain keeps no state.

    Parameters
    ----------
    reductions : sequence of Reduction
        Candidate reductions; those that do not accept the program are skipped.
    """

    def __init__(self, reductions: Sequence[Reduction]) -> None:
        self.reductions = tuple(reductions)

    def accepts(self, program: Program) -> bool:  # noqa: D102
        return True

    def apply(self, program: Program) -> tuple[Program, list[tuple[Reduction, Any]]]:
        """Run every accepting reduction; return the final program and the inverse data."""
        applied: list[tuple[Reduction, Any]] = []
        for reduction in self.reductions:
            if reduction.accepts(program):
                program, inverse_data = reduction.apply(program)
                applied.append((reduction, inverse_data))
        return program, applied

    def invert(self, result: Result, inverse_data: list[tuple[Reduction, Any]]) -> Result:
        """Map a result back through the applied reductions, last first."""
        for reduction, data in reversed(inverse_data):
            result = reduction.invert(result, data)
        return result
