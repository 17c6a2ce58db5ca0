"""Shared cross-backend checks: every catalogued program through every backend.

Each :class:`Case` is a small program with an optimum known independently
(brute force or by hand). :func:`check_case` solves it on one backend and
asserts the status, objective and (for LPs) shadow prices. Formulation tests
call :func:`assert_backends_agree` with their own programs so every family is
checked on every backend the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from idnopt.backends import BACKENDS, solve_program
from idnopt.program import Program
from idnopt.result import Status

LINEAR_BACKENDS = ["highs", "pyomo", "cvxpy"]
assert set(LINEAR_BACKENDS) == set(BACKENDS), "a new backend must join the shared suite"


@dataclass
class Case:
    name: str
    build: Callable[[], Program]
    status: Status
    objective: float | None = None
    duals: dict[str, np.ndarray] = field(default_factory=dict)
    conflict: set[str] = field(default_factory=set)
    relaxed_objective: float | None = None


def knapsack() -> tuple[Program, float]:
    values, weights, capacity = [3.0, 4.0, 5.0, 6.0], [2.0, 3.0, 4.0, 5.0], 5.0
    p = Program("knapsack", sense="maximize")
    x = p.add_variables("x", 4, upper=1, integer=True, labels=[list("abcd")])
    p.add_constraints("capacity", [(x, np.zeros(4, int), np.arange(4), weights)], upper=capacity)
    p.set_objective([(x, values)])
    best = max(
        sum(v for v, take in zip(values, pick) if take)
        for pick in itertools.product([0, 1], repeat=4)
        if sum(w for w, take in zip(weights, pick) if take) <= capacity
    )
    return p, best


def assignment() -> tuple[Program, float]:
    cost = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
    n = cost.shape[0]
    p = Program("assignment")
    x = p.add_variables(
        "x", (n, n), upper=1, integer=True, labels=[["w0", "w1", "w2"], ["j0", "j1", "j2"]]
    )
    rows, cols = np.divmod(np.arange(n * n), n)
    p.add_constraints(
        "one_job_per_worker", [(x, rows, np.arange(n * n), 1.0)], lower=1, upper=1, shape=n
    )
    p.add_constraints(
        "one_worker_per_job", [(x, cols, np.arange(n * n), 1.0)], lower=1, upper=1, shape=n
    )
    p.set_objective([(x, cost.ravel())])
    best = min(cost[range(n), list(perm)].sum() for perm in itertools.permutations(range(n)))
    return p, best


def facility_location() -> tuple[Program, float]:
    opening = np.array([6.0, 4.0, 5.0])
    serve = np.array([[1.0, 4.0, 3.0], [2.0, 1.0, 6.0], [5.0, 2.0, 1.0], [4.0, 5.0, 2.0]])
    clients, sites = serve.shape
    p = Program("facility_location")
    y = p.add_variables("open", sites, upper=1, integer=True)
    x = p.add_variables("assign", (clients, sites), upper=1)
    flat = np.arange(clients * sites)
    client_of, site_of = np.divmod(flat, sites)
    p.add_constraints("served", [(x, client_of, flat, 1.0)], lower=1, upper=1, shape=clients)
    p.add_constraints("open_to_serve", [(x, flat, flat, 1.0), (y, flat, site_of, -1.0)], upper=0)
    p.set_objective([(y, opening), (x, serve.ravel())])
    best = min(
        opening[list(s)].sum() + serve[:, list(s)].min(axis=1).sum()
        for k in range(1, sites + 1)
        for s in itertools.combinations(range(sites), k)
    )
    return p, best


def lp_with_duals() -> Program:
    # min x + 2y  s.t.  x + y >= 2 (cover), x <= 1.5 (limit); optimum x=1.5, y=0.5
    p = Program("lp_duals")
    v = p.add_variables("v", 2, labels=[["x", "y"]])
    p.add_constraints("cover", [(v, [0, 0], [0, 1], [1.0, 1.0])], lower=2.0, shape=1)
    p.add_constraints("limit", [(v, [0], [0], [1.0])], upper=1.5, shape=1)
    p.set_objective([(v, [1.0, 2.0])])
    return p


def lp_maximize_duals() -> Program:
    # max 3a + 2b  s.t.  a + b == 4 (total), a <= 3 (cap); optimum a=3, b=1, value 11
    p = Program("lp_max_duals", sense="maximize")
    v = p.add_variables("v", 2)
    p.add_constraints("total", [(v, [0, 0], [0, 1], 1.0)], lower=4.0, upper=4.0, shape=1)
    p.add_constraints("cap", [(v, [0], [0], 1.0)], upper=3.0, shape=1)
    p.set_objective([(v, [3.0, 2.0])], constant=1.0)
    return p


def infeasible() -> Program:
    p = Program("infeasible")
    y = p.add_variables("y", 2, labels=[["u", "v"]])
    p.add_constraints("demand", [(y, [0, 0], [0, 1], 1.0)], lower=3, shape=1, labels=[["total"]])
    p.add_constraints("cap", [(y, [0, 1], [0, 1], 1.0)], upper=1, shape=2, labels=[["u", "v"]])
    p.add_constraints("unrelated", [(y, [0], [0], 1.0)], upper=10, shape=1)
    return p


def unbounded() -> Program:
    p = Program("unbounded", sense="maximize")
    v = p.add_variables("v", 2)
    p.add_constraints("diff", [(v, [0, 0], [0, 1], [1.0, -1.0])], upper=1.0, shape=1)
    p.set_objective([(v, [1.0, 0.0])])
    return p


def catalogue() -> list[Case]:
    cases = []
    for builder in (knapsack, assignment, facility_location):
        program, best = builder()
        cases.append(Case(builder.__name__, lambda b=builder: b()[0], Status.OPTIMAL, best))
    cases.append(
        Case(
            "lp_with_duals",
            lp_with_duals,
            Status.OPTIMAL,
            2.5,
            duals={"cover": np.array([2.0]), "limit": np.array([-1.0])},
        )
    )
    cases.append(
        Case(
            "lp_maximize_duals",
            lp_maximize_duals,
            Status.OPTIMAL,
            12.0,
            duals={"total": np.array([2.0]), "cap": np.array([1.0])},
        )
    )
    cases.append(
        Case(
            "infeasible",
            infeasible,
            Status.INFEASIBLE,
            conflict={"demand[total]", "cap[u]", "cap[v]"},
        )
    )
    cases.append(Case("unbounded", unbounded, Status.UNBOUNDED))
    return cases


def check_case(case: Case, backend: str) -> None:
    """Solve one catalogued case on one backend and assert what is known about it."""
    result = solve_program(case.build(), backend)
    assert result.status == case.status, (case.name, backend, result.message)
    if case.objective is not None:
        assert result.objective == pytest.approx(case.objective, abs=1e-6)
        assert result.bound == pytest.approx(case.objective, abs=1e-6)
        assert result.gap == pytest.approx(0.0, abs=1e-6)
    for block, expected in case.duals.items():
        np.testing.assert_allclose(
            result.duals[block],
            expected,
            atol=1e-6,
            err_msg=f"{case.name}/{backend}: duals of {block}",
        )
    if case.conflict:
        assert case.conflict <= set(result.conflict), result.conflict
        assert not any(label.startswith("unrelated") for label in result.conflict)


def assert_backends_agree(
    program: Program, *, relax: bool = False, rel: float = 1e-6, backends: list[str] | None = None
) -> dict[str, object]:
    """Solve ``program`` on every backend and assert they report the same optimum."""
    results = {b: solve_program(program, b, relax=relax) for b in backends or LINEAR_BACKENDS}
    reference = results["highs"]
    for backend, result in results.items():
        assert result.status == reference.status, (backend, result.status, reference.status)
        if reference.objective is not None:
            assert result.objective == pytest.approx(reference.objective, rel=rel, abs=1e-6), (
                backend
            )
    return results
