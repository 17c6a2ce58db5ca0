import numpy as np
import pytest

from backend_suite import LINEAR_BACKENDS, catalogue, check_case, facility_location, knapsack
from idnopt.backends import solve_program, write_model
from idnopt.errors import InputError, ModelingError, UnsupportedError
from idnopt.program import Program
from idnopt.result import Status

CASES = catalogue()


@pytest.mark.parametrize("backend", LINEAR_BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_catalogue_on_every_backend(case, backend):
    check_case(case, backend)


@pytest.mark.parametrize("backend", LINEAR_BACKENDS)
def test_relaxation_bounds_integer_optimum(backend):
    program, best = knapsack()
    relaxed = solve_program(program, backend, relax=True)
    assert relaxed.relaxed and relaxed.status == Status.OPTIMAL
    assert relaxed.objective >= best - 1e-9
    # fractional knapsack optimum by the ratio rule, computed independently
    values, weights, capacity = np.array([3, 4, 5, 6.0]), np.array([2, 3, 4, 5.0]), 5.0
    order = np.argsort(-values / weights)
    left, total = capacity, 0.0
    for i in order:
        take = min(1.0, left / weights[i])
        total += take * values[i]
        left -= take * weights[i]
    assert relaxed.objective == pytest.approx(total)
    assert program.variables["x"].integer  # the original program is untouched


def test_decoded_values_have_labels_and_shapes():
    program, _ = knapsack()
    result = solve_program(program)
    assert result.value("x").shape == (4,)
    chosen = {label[0] for label, value in result.nonzeros("x")}
    assert chosen == {"a", "b"}
    data = result.to_dict(values=True)
    assert data["status"] == "optimal" and data["values"]["x"] == [1.0, 1.0, 0.0, 0.0]


def test_time_limit_returns_incumbent_and_gap():
    rng = np.random.default_rng(3)
    n, m = 60, 12
    program = Program("hard_multi_knapsack", sense="maximize")
    x = program.add_variables("x", (m, n), upper=1, integer=True)
    weights = rng.integers(20, 60, size=n).astype(float)
    values = weights + rng.integers(-5, 6, size=n)
    flat = np.arange(m * n)
    bins, items = np.divmod(flat, n)
    program.add_constraints(
        "bin", [(x, bins, flat, weights[items])], upper=weights.sum() / m / 1.7, shape=m
    )
    program.add_constraints("once", [(x, items, flat, 1.0)], upper=1.0, shape=n)
    program.set_objective([(x, values[items])])
    result = solve_program(program, time_limit=0.2)
    assert result.status in (Status.TIME_LIMIT, Status.OPTIMAL)
    if result.status == Status.TIME_LIMIT:
        assert result.objective is not None and result.bound >= result.objective - 1e-6
        assert result.gap is not None and result.gap >= 0


def test_convex_programs_only_on_cvxpy():
    cp = pytest.importorskip("cvxpy")
    program = Program("least_squares")
    v = program.add_variables("v", 3, lower=-10)
    program.add_constraints("sum", [(v, [0, 0, 0], [0, 1, 2], 1.0)], lower=3, upper=3, shape=1)
    program.convex_objective = lambda blocks: cp.sum_squares(blocks["v"] - np.array([3.0, 0, 0]))
    with pytest.raises(UnsupportedError):
        solve_program(program, "highs")
    with pytest.raises(UnsupportedError):
        solve_program(program, "pyomo")
    result = solve_program(program, "cvxpy")
    # projection of (3,0,0) onto the plane sum = 3: already on it
    np.testing.assert_allclose(result.value("v"), [3.0, 0.0, 0.0], atol=1e-5)
    concave = Program("max_log", sense="maximize")
    w = concave.add_variables("w", 2, lower=0.01)
    concave.add_constraints("budget", [(w, [0, 0], [0, 1], 1.0)], upper=1.0, shape=1)
    concave.convex_objective = lambda blocks: cp.sum(cp.log(blocks["w"]))
    result = solve_program(concave, "cvxpy")
    np.testing.assert_allclose(result.value("w"), [0.5, 0.5], atol=1e-4)
    assert result.objective == pytest.approx(2 * np.log(0.5), abs=1e-5)


def test_model_export_round_trip(tmp_path):
    program, best = knapsack()
    lp = write_model(program, tmp_path / "knapsack.lp")
    text = lp.read_text()
    assert "capacity" in text and "x" in text
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(str(lp))
    h.run()
    assert h.getInfo().objective_function_value == pytest.approx(best)
    mps = write_model(program, tmp_path / "knapsack.mps")
    assert mps.exists()
    with pytest.raises(InputError):
        write_model(program, tmp_path / "knapsack.txt")


def test_unknown_backend_and_bad_declarations():
    program, _ = knapsack()
    with pytest.raises(InputError, match="unknown backend 'gurobi'"):
        solve_program(program, "gurobi")
    p = Program("bad")
    p.add_variables("x", 2)
    with pytest.raises(ModelingError, match="already used"):
        p.add_variables("x", 1)
    with pytest.raises(ModelingError, match="out of range"):
        p.add_constraints("c", [("x", [0], [5], [1.0])], upper=1)
    with pytest.raises(ModelingError, match="lower bound > upper"):
        p.add_variables("y", 2, lower=[0, 3], upper=[1, 2])


def test_matrix_assembly_sums_duplicates_and_labels_rows():
    p = Program("dup")
    x = p.add_variables("x", (2, 2), labels=[["a", "b"], ["p", "q"]])
    block = p.add_constraints(
        "row", [(x, [0, 0], [1, 1], [2.0, 3.0])], upper=1, shape=1, labels=[["only"]]
    )
    assert p.matrix().toarray().tolist() == [[0.0, 5.0, 0.0, 0.0]]
    assert block.label(0) == "row[only]"
    assert x.label(2) == "x[b, p]"
    assert p.row_label(0) == "row[only]" and p.column_label(3) == "x[b, q]"


def integrality_only_conflict() -> Program:
    p = Program("parity")
    x = p.add_variables("x", 2, integer=True, upper=5)
    p.add_constraints("odd", [(x, [0, 0], [0, 1], [2.0, 2.0])], lower=3, upper=3, shape=1)
    p.add_constraints("loose", [(x, [0], [0], [1.0])], upper=4, shape=1)
    return p


@pytest.mark.parametrize("backend", LINEAR_BACKENDS)
def test_conflict_that_needs_integrality(backend):
    result = solve_program(integrality_only_conflict(), backend)
    assert result.status == Status.INFEASIBLE
    assert result.conflict == ["odd (with integrality)"]
    assert solve_program(integrality_only_conflict(), backend, relax=True).status == Status.OPTIMAL


def test_pyomo_reports_missing_solver(capsys):
    from idnopt.errors import SolverError

    program, _ = knapsack()
    with pytest.raises(SolverError, match="cannot find the solver 'no-such-solver'"):
        solve_program(program, "pyomo", solver="no-such-solver")
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out


@pytest.mark.parametrize("backend", LINEAR_BACKENDS)
def test_thread_count_can_change_between_mip_solves(backend):
    # HiGHS keeps one task scheduler per process; a solve asking for another
    # thread count than the previous MIP must still succeed (sweeps run
    # single-threaded solves in processes that already solved with defaults).
    for threads in (None, 1, 2, 1):
        program, best = facility_location()
        result = solve_program(program, backend, threads=threads)
        assert result.status == Status.OPTIMAL, threads
        assert result.objective == pytest.approx(best)


def test_lazy_labels_are_made_on_demand_and_match_eager_ones():
    from idnopt.program import LabelAxis

    made = []

    def name(i: int) -> str:
        made.append(i)
        return f"item{i}"

    eager = Program("eager", sense="maximize")
    lazy = Program("lazy", sense="maximize")
    for program, labels in ((eager, [f"item{i}" for i in range(4)]), (lazy, LabelAxis(4, name))):
        x = program.add_variables("x", 4, upper=1, integer=True, labels=[labels])
        program.add_constraints(
            "capacity", [(x, np.zeros(4, int), np.arange(4), [2.0, 3.0, 4.0, 5.0])], upper=5
        )
        program.set_objective([(x, [3.0, 4.0, 5.0, 6.0])])
    assert made == []  # declaring the program made no label
    assert lazy.column_label(2) == eager.column_label(2) == "x[item2]"
    assert solve_program(lazy).nonzeros("x") == solve_program(eager).nonzeros("x")
    assert set(made) <= {0, 1, 2}  # only the labels shown were made
    with pytest.raises(ModelingError, match="axis 0 has 4 entries but 3 labels"):
        Program("short").add_variables("x", 4, labels=[LabelAxis(3, name)])


def test_backends_declare_their_capabilities():
    from idnopt.backends import BACKENDS, Capability

    assert BACKENDS["highs"].can(Capability.CONFLICT) and BACKENDS["highs"].takes_start
    assert BACKENDS["cvxpy"].can(Capability.CONVEX) and not BACKENDS["cvxpy"].takes_start
    assert not BACKENDS["pyomo"].can(Capability.CONFLICT)
    for backend in BACKENDS.values():
        assert backend.can(Capability.LINEAR) and backend.availability() is None


@pytest.mark.parametrize("backend", ["pyomo", "cvxpy"])
def test_conflicts_are_searched_through_the_backend_that_ran(backend, monkeypatch):
    from idnopt.backends.highs import HighsBackend

    def refuse(*args, **kwargs):
        raise AssertionError("HiGHS must not be asked")

    monkeypatch.setattr(HighsBackend, "irreducible_subsystem", refuse)
    monkeypatch.setattr(HighsBackend, "solve", refuse)
    result = solve_program(integrality_only_conflict(), backend)
    assert result.conflict == ["odd (with integrality)"]


def test_a_backend_that_cannot_search_conflicts_says_so(monkeypatch):
    from idnopt.backends import BACKENDS, Capability

    pyomo = BACKENDS["pyomo"]
    monkeypatch.setattr(type(pyomo), "capabilities", frozenset({Capability.LINEAR}))
    monkeypatch.setattr(type(pyomo), "accepts", lambda self, program: None)
    result = solve_program(integrality_only_conflict(), "pyomo")
    assert result.status == Status.INFEASIBLE
    assert "cannot search the conflicting constraints" in result.message


def test_reduction_chains_keep_no_state():
    from idnopt.reductions import Chain, Relax, ToMinimization

    chain = Chain([Relax(), ToMinimization()])
    first, _ = knapsack()
    second = integrality_only_conflict()
    reduced_first, inverse_first = chain.apply(first)
    reduced_second, inverse_second = chain.apply(second)
    assert len(inverse_first) == 2 and len(inverse_second) == 1  # the second is a minimisation
    result = solve_program(reduced_first, "highs")
    back = chain.invert(result, inverse_first)
    assert back.relaxed and back.objective == pytest.approx(-result.objective)


def test_time_limit_bounds_the_conflict_search_too():
    import time

    started = time.perf_counter()
    solve_program(integrality_only_conflict(), "pyomo", time_limit=5.0)
    assert time.perf_counter() - started < 5.5
