"""Small program-to-program reductions applied before a backend compiles a program.

Each reduction has one job and three verbs, in the manner of cvxpy's reduction
chain: ``accepts(program)`` says whether it applies, ``apply(program)`` returns
the transformed program, and ``invert(result)`` maps a result of the
transformed program back to the original one (objective sign, duals, flags).
Backends therefore only ever see minimisation programs in the form they accept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from idnopt.program import Program
from idnopt.result import Result


class Reduction:
    """A transformation of a program with its inverse on results."""

    def accepts(self, program: Program) -> bool:
        """Whether this reduction applies to ``program``."""
        raise NotImplementedError

    def apply(self, program: Program) -> Program:
        """Return the transformed program (the input is never modified)."""
        raise NotImplementedError

    def invert(self, result: Result) -> Result:
        """Map a result of the transformed program back to the original program."""
        raise NotImplementedError


class Relax(Reduction):
    """Drop integrality: the continuous relaxation of a mixed-integer program."""

    def accepts(self, program: Program) -> bool:  # noqa: D102
        return program.is_mip

    def apply(self, program: Program) -> Program:  # noqa: D102
        return program.relaxed()

    def invert(self, result: Result) -> Result:  # noqa: D102
        return replace(result, relaxed=True)


class ToMinimization(Reduction):
    """Turn a maximisation into a minimisation of the negated objective."""

    def accepts(self, program: Program) -> bool:  # noqa: D102
        return program.sense == "maximize"

    def apply(self, program: Program) -> Program:  # noqa: D102
        flipped = program.copy()
        flipped.sense = "minimize"
        flipped._objective_terms = [(cols, -values) for cols, values in program._objective_terms]
        flipped.objective_constant = -program.objective_constant
        if program.convex_objective is not None:
            concave = program.convex_objective
            flipped.convex_objective = lambda variables: -concave(variables)
        return flipped

    def invert(self, result: Result) -> Result:  # noqa: D102
        def negate(value: float | None) -> float | None:
            return None if value is None else -value

        return replace(
            result,
            objective=negate(result.objective),
            bound=negate(result.bound),
            duals={name: -np.asarray(d) for name, d in result.duals.items()},
        )


class Chain:
    """Apply reductions in order; invert them in reverse order.

    Parameters
    ----------
    reductions : sequence of Reduction
        Candidate reductions; those that do not accept the program are skipped.
    """

    def __init__(self, reductions: Sequence[Reduction]) -> None:
        self.reductions = list(reductions)
        self.applied: list[Reduction] = []

    def apply(self, program: Program) -> Program:
        """Run every accepting reduction and return the final program."""
        self.applied = []
        for reduction in self.reductions:
            if reduction.accepts(program):
                program = reduction.apply(program)
                self.applied.append(reduction)
        return program

    def invert(self, result: Result) -> Result:
        """Map a result back through the applied reductions."""
        for reduction in reversed(self.applied):
            result = reduction.invert(result)
        return result
