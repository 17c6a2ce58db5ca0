"""The formulation interface: from an instance to programs, methods and results.

A formulation (one per problem family, in :mod:`idnopt.formulations`) builds a
:class:`~idnopt.program.Program` from an instance and decodes a solution back
into the instance's words (metrics and tables on the :class:`Result`). It may
offer several methods — the exact program, a relaxation, heuristics — all
returning the same :class:`Result` type so they can be compared.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from idnopt.backends import solve_program
from idnopt.errors import InputError
from idnopt.instance import Instance
from idnopt.program import Program
from idnopt.result import Result


class Formulation:
    """Base class of problem-family formulations.

    Subclasses set :attr:`kind`, :attr:`methods` (name to one-line description,
    the first being the default) and implement :meth:`build` and :meth:`decode`;
    methods that are not "build a program and solve it" override
    :meth:`run_method`.
    """

    kind: str = ""
    methods: Mapping[str, str] = {"exact": "solve the exact program"}

    @property
    def default_method(self) -> str:
        """The first listed method."""
        return next(iter(self.methods))

    def build(self, instance: Instance, *, relax: bool = False) -> Program:
        """Declare the program of ``instance`` (``relax`` may drop integrality early)."""
        raise NotImplementedError

    def decode(self, instance: Instance, program: Program, result: Result) -> Result:
        """Add metrics and tables in the instance's own words to ``result``."""
        return result

    def run_method(self, instance: Instance, method: str, **options: Any) -> Result:
        """Run a method that is not a plain program solve (heuristics, rounding…)."""
        raise InputError(f"method {method!r} is not implemented for kind {self.kind!r}")

    def solve(
        self,
        instance: Instance,
        *,
        method: str | None = None,
        backend: str = "highs",
        relax: bool = False,
        time_limit: float | None = None,
        **options: Any,
    ) -> Result:
        """Solve ``instance`` with one of :attr:`methods`.

        Parameters
        ----------
        instance : Instance
            A validated instance of this family.
        method : str, optional
            One of :attr:`methods` (default: the first).
        backend : {"highs", "pyomo", "cvxpy"}
            Backend for methods that solve a program.
        relax : bool
            Solve the continuous relaxation of the exact program.
        time_limit : float, optional
            Seconds allowed to the solver.
        **options
            Passed to :func:`idnopt.backends.solve_program` or to the method.

        Returns
        -------
        Result
            With the family's metrics and tables.
        """
        method = method or self.default_method
        if method not in self.methods:
            known = ", ".join(self.methods)
            raise InputError(
                f"unknown method {method!r} for kind {self.kind!r}; choose one of {known}"
            )
        if method != self.default_method:
            return self.run_method(
                instance, method, backend=backend, time_limit=time_limit, relax=relax, **options
            )
        started = time.perf_counter()
        program = self.build(instance, relax=relax)
        built = time.perf_counter() - started
        result = solve_program(program, backend, relax=relax, time_limit=time_limit, **options)
        result.build_seconds += built
        result.method = "relaxation" if relax else method
        return self.decode(instance, program, result)
