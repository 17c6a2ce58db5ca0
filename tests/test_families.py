"""Every registered family and method through the conformance suite, and the contract itself."""

from __future__ import annotations

import time

import numpy as np
import pytest

import idnopt
from family_suite import (
    case_id,
    check_budget,
    check_malformed,
    check_method,
    check_round_trip,
    family_cases,
    method_cases,
)
from idnopt.errors import InputError
from idnopt.family import Family, families, get_family, register, unregister
from idnopt.instance import Instance
from idnopt.method import Call, Method, Parameters
from idnopt.result import Result, Status


def test_both_built_in_families_are_in_the_suite():
    kinds = {kind for kind, _ in family_cases()}
    assert {"idn", "jellybean"} <= kinds


@pytest.mark.parametrize("kind, path", family_cases(), ids=case_id)
def test_schema_round_trip(kind, path):
    check_round_trip(get_family(kind), path)


@pytest.mark.parametrize("kind, method, path", method_cases(), ids=case_id)
def test_method_conformance(kind, method, path):
    check_method(get_family(kind), method, path)


@pytest.mark.parametrize("kind, path", family_cases(), ids=case_id)
def test_malformed_copies_give_located_errors(kind, path, tmp_path):
    check_malformed(get_family(kind), path, tmp_path)


@pytest.mark.parametrize("kind", sorted(families()))
def test_every_method_respects_a_short_budget(kind):
    family = get_family(kind)
    path = sorted((__import__("family_suite").INSTANCES / kind).glob("*.yaml"))[0]
    for method in family.methods:
        check_budget(family, method.name, path)


def test_one_second_budget_returns_the_incumbent_of_a_milp_that_cannot_finish():
    import os

    from idnopt.formulations.idn import generate_idn

    if os.getloadavg()[0] > 1.5 * (os.cpu_count() or 1):
        pytest.skip("machine oversubscribed: a wall-clock bound says nothing about the budget")

    instance = generate_idn("geant", models=20, request_classes=5000, seed=1)
    started = time.perf_counter()
    result = idnopt.solve(instance, time_limit=1.0)
    wall = time.perf_counter() - started
    assert wall <= 1.5, wall
    assert result.status == Status.TIME_LIMIT
    assert result.has_solution and result.bound is not None
    assert result.absolute_gap is not None and result.absolute_gap > 0
    # objective and metrics describe the same incumbent
    assert result.objective == pytest.approx(result.metrics["gain"], rel=1e-9)
    assert set(result.timings) >= {"build", "bound", "solve", "decode", "total"}
    # building is timed on its own: the LP bound and the MILP are not in it
    assert result.build_seconds < result.timings["bound"] + result.timings["solve"]


# -- the contract, with a toy family ------------------------------------------------------


class ToyInstance(Instance):
    """Pick at most ``limit`` of the values; maximise their sum."""

    values: list[float]
    limit: int = 1


class ToyParameters(Parameters):
    scale: float = 1.0


def _run_best(instance: ToyInstance, parameters: ToyParameters, call: Call) -> Result:
    from idnopt.program import Program

    program = Program("toy", sense="maximize")
    n = len(instance.values)
    x = program.add_variables("x", n, upper=1, integer=True)
    program.add_constraints(
        "limit", [(x, np.zeros(n, int), np.arange(n), 1.0)], upper=instance.limit
    )
    program.set_objective([(x, parameters.scale * np.asarray(instance.values))])
    return call.solve(program)


def _run_first(instance: ToyInstance, parameters: ToyParameters, call: Call) -> Result:
    value = parameters.scale * instance.values[0]
    return Result(
        status=Status.FEASIBLE, objective=value, values={"x": np.eye(len(instance.values))[0]}
    )


TOY = Family(
    kind="toy",
    summary="toy family for the contract tests",
    instance_type=ToyInstance,
    methods=(
        Method("best", "exact", _run_best, ToyParameters, solves_program=True, exact=True),
        Method("first", "take the first value", _run_first, ToyParameters),
    ),
    evaluate=lambda instance, result: float(np.dot(instance.values, result.value("x"))),
)


@pytest.fixture
def toy():
    register(TOY)
    yield TOY
    unregister("toy")


def test_a_registered_family_loads_solves_and_lists(toy):
    instance = idnopt.from_dict({"kind": "toy", "values": [1.0, 5.0, 3.0], "limit": 2})
    best = idnopt.solve(instance)
    assert best.method == "best" and best.objective == pytest.approx(8.0)
    assert idnopt.solve(instance, method="first").objective == pytest.approx(1.0)
    assert "toy" in families()
    assert toy.options("best")["scale"] == "default 1.0"
    assert "mip_gap" in toy.options("best") and "mip_gap" not in toy.options("first")


def test_options_are_validated_against_the_declaration(toy):
    instance = idnopt.from_dict({"kind": "toy", "values": [1.0, 2.0]})
    assert idnopt.solve(instance, scale="2").objective == pytest.approx(4.0)
    with pytest.raises(InputError, match="method 'best' of kind 'toy': option 'scale'"):
        idnopt.solve(instance, scale="abc")
    with pytest.raises(InputError, match="unknown option 'colour' \\(options: scale\\)"):
        idnopt.solve(instance, colour="red")
    with pytest.raises(InputError, match="option 'threads'"):
        idnopt.solve(instance, threads="many")
    with pytest.raises(InputError, match="backend options \\(threads\\) do not apply"):
        idnopt.solve(instance, method="first", threads=2)
    with pytest.raises(InputError, match="backend 'pyomo' does not apply"):
        idnopt.solve(instance, method="first", backend="pyomo")
    with pytest.raises(InputError, match="solves no program: it has no relaxation"):
        idnopt.solve(instance, method="first", relax=True)
    with pytest.raises(InputError, match="unknown method 'last' for kind 'toy'; choose one of"):
        idnopt.solve(instance, method="last")
    with pytest.raises(InputError, match="unknown backend"):
        idnopt.solve(instance, backend="gurobi")


def test_the_toy_family_passes_the_suite_checks(toy, tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text("kind: toy\nvalues: [2.0, 7.0, 1.0]\nlimit: 2\n")
    result = check_method(toy, "best", path)
    assert result.objective == pytest.approx(9.0)
    check_method(toy, "first", path)


def test_a_broken_family_is_named_without_hiding_the_others(monkeypatch):
    from idnopt import family as registry

    class BrokenPoint:
        name, value = "broken", "nowhere.module:FAMILY"

        def load(self):
            raise ImportError("No module named 'nowhere'")

    real = registry._entry_points()
    monkeypatch.setattr(registry, "_entry_points", lambda: {**real, "broken": BrokenPoint()})
    assert {"idn", "jellybean"} <= set(families())
    with pytest.raises(InputError, match="kind 'broken' could not be loaded from nowhere.module"):
        get_family("broken")


def test_ctrl_c_stops_the_solver_and_keeps_the_incumbent():
    import os
    import signal
    import threading

    from idnopt.budget import interruptible
    from idnopt.formulations.idn import generate_idn

    instance = generate_idn("geant", models=20, request_classes=5000, seed=1)
    timer = threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    started = time.perf_counter()
    with interruptible():
        timer.start()
        result = idnopt.solve(instance)
    wall = time.perf_counter() - started
    timer.cancel()
    assert result.status == Status.INTERRUPTED, result.status
    assert wall < 6.0, wall
    assert result.has_solution and result.bound is not None
    assert result.objective == pytest.approx(result.metrics["gain"], rel=1e-9)
    # outside the block Ctrl-C is an ordinary KeyboardInterrupt again, and budgets run again
    from idnopt.budget import Budget, interrupt_requested

    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert not interrupt_requested() and Budget(10.0).remaining() > 5.0
