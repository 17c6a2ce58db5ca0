"""Online allocation: the generic contract (idnopt.online) and the IDN policies.

Mathematics is checked against independent computations: projections against
cvxpy solutions of the same programs (and their KKT conditions), DepRound's
marginals statistically, per-slot gains and supergradients against the
offline family's functions, the hindsight LP against slot-by-slot sums, and
the regret of every bounded policy against its computed bound over seeds and
traces.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cvxpy as cp
import numpy as np
import pytest
from click.testing import CliRunner

import idnopt
from idnopt.cli.main import app
from idnopt.errors import InputError
from idnopt.formulations.idn import relaxed_gain, supergradient
from idnopt.formulations.idn.online import (
    GENERATORS,
    DepRound,
    Infida,
    LeastFrequentlyUsed,
    LeastRecentlyUsed,
    OnlineGradientAscent,
    PeriodicResolve,
    Projector,
    StaticAllocation,
    adversarial_trace,
    depround_rows,
    make_problem,
    read_trace,
    repair_rows,
    shifting_trace,
    solve_hindsight,
    stationary_trace,
    uniform_start,
    window_allocation,
    write_trace,
)
from idnopt.online import (
    Decision,
    Policy,
    RegretBound,
    Trace,
    check_bound,
    online_family,
    run,
)
from policy_suite import POLICY_CASES, check_policy, register_case

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "instances" / "idn" / "tree.yaml"


@pytest.fixture(scope="module")
def tree():
    return idnopt.load(TREE)


@pytest.fixture(scope="module")
def grid():
    return idnopt.load(ROOT / "instances" / "idn" / "grid.yaml")


def random_sets(rng: np.random.Generator):
    nodes, models = int(rng.integers(1, 5)), int(rng.integers(1, 9))
    sizes = rng.uniform(0.5, 3.0, models)
    budgets = rng.uniform(0.0, 0.8 * sizes.sum(), nodes)
    hostable = rng.random((nodes, models)) < 0.8
    return sizes, budgets, hostable


# ---------------------------------------------------------------------------------------
# projections


def _divergence(y: np.ndarray, point: np.ndarray, sizes: np.ndarray) -> float:
    logs = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / point), 0.0)
    return float(np.sum(sizes * (logs - y + point)) - np.sum(sizes * point))


@pytest.mark.filterwarnings("ignore:Solution may be inaccurate")
@pytest.mark.parametrize("seed", range(6))
def test_entropic_projection_solves_the_bregman_program(seed):
    rng = np.random.default_rng(seed)
    sizes, budgets, hostable = random_sets(rng)
    point = rng.exponential(1.0, hostable.shape) * rng.choice([0.05, 1.0, 20.0])
    projected = Projector(sizes, budgets, hostable).entropic(point)
    # feasibility and KKT: y = min(1, c * point) with c <= 1, budget tight when c < 1
    assert np.all(projected >= 0) and np.all(projected <= 1 + 1e-12)
    assert np.all(projected[~hostable] == 0)
    assert np.all(projected @ sizes <= budgets * (1 + 1e-9) + 1e-9)
    for v in range(len(budgets)):
        inside = hostable[v] & (point[v] > 0)
        if not inside.any():
            continue
        clipped = np.minimum(point[v][inside], 1.0)
        if clipped @ sizes[inside] <= budgets[v]:
            np.testing.assert_allclose(projected[v][inside], clipped, atol=1e-12)
            continue
        free = projected[v][inside] < 1 - 1e-9
        scale = projected[v][inside][free] / point[v][inside][free]
        assert np.ptp(scale) <= 1e-9 * max(scale.max(), 1) and scale.max() <= 1 + 1e-12
        assert projected[v] @ sizes == pytest.approx(budgets[v], rel=1e-9, abs=1e-12)
        # the same projection by cvxpy (exponential cone)
        y = cp.Variable(int(inside.sum()))
        divergence = cp.sum(
            cp.multiply(sizes[inside], -cp.entr(y) - cp.multiply(y, np.log(point[v][inside])) - y)
        )
        cp.Problem(
            cp.Minimize(divergence), [y >= 0, y <= 1, sizes[inside] @ y <= budgets[v]]
        ).solve(solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
        mine = projected[v][inside]
        assert divergence.value >= _divergence(mine, point[v][inside], sizes[inside]) - 1e-7
        np.testing.assert_allclose(mine, y.value, atol=1e-4)
    # idempotence
    np.testing.assert_allclose(
        Projector(sizes, budgets, hostable).entropic(projected), projected, atol=1e-12
    )


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_euclidean_projection_matches_cvxpy(seed, weighted):
    rng = np.random.default_rng(100 + seed)
    sizes, budgets, hostable = random_sets(rng)
    point = rng.normal(0.5, 1.0, hostable.shape)
    weights = rng.uniform(0.2, 3.0, hostable.shape) if weighted else None
    projector = Projector(sizes, budgets, hostable)
    projected = projector.euclidean(point, weights=weights)
    assert np.all(projected >= 0) and np.all(projected <= 1)
    assert np.all(projected @ sizes <= budgets * (1 + 1e-9) + 1e-9)
    for v in range(len(budgets)):
        w = np.ones(len(sizes)) if weights is None else weights[v]
        y = cp.Variable(len(sizes))
        constraints = [y >= 0, y <= 1, sizes @ y <= budgets[v]]
        if (~hostable[v]).any():
            constraints.append(y[~hostable[v]] == 0)
        distance = cp.sum(cp.multiply(w, cp.square(y - point[v])))
        cp.Problem(cp.Minimize(distance), constraints).solve(solver="CLARABEL")
        assert np.sum(w * (projected[v] - point[v]) ** 2) <= distance.value + 1e-7
        np.testing.assert_allclose(projected[v], y.value, atol=1e-4)
        # KKT: y = clip(z - lambda s / w, 0, 1) on hostable entries, one lambda >= 0 per node
        free = hostable[v] & (projected[v] > 1e-9) & (projected[v] < 1 - 1e-9)
        if free.any():
            multiplier = (point[v][free] - projected[v][free]) * w[free] / sizes[free]
            assert np.ptp(multiplier) <= 1e-8 * max(1.0, abs(multiplier).max())
            assert multiplier.min() >= -1e-9
    np.testing.assert_allclose(
        projector.euclidean(projected, weights=weights), projected, atol=1e-12
    )


def test_projection_reuses_buffers_and_projects_only_full_nodes():
    rng = np.random.default_rng(7)
    sizes = rng.uniform(1, 4, 20)
    budgets = rng.uniform(5, 30, 50)
    projector = Projector(sizes, budgets)
    point = rng.random((50, 20)) * 2
    out = np.empty((50, 20))
    first = projector.entropic(point, out=out).copy()
    second = projector.entropic(point, out=out)
    np.testing.assert_array_equal(first, second)
    light = np.zeros((50, 20))
    light[0, 0] = 0.3
    np.testing.assert_array_equal(projector.entropic(light), light)
    np.testing.assert_array_equal(projector.euclidean(light), light)


# ---------------------------------------------------------------------------------------
# DepRound and repair


def test_depround_rows_keeps_marginals_and_counts():
    rng = np.random.default_rng(11)
    fractions = rng.random((4, 9)) * 0.7
    fractions[0, :3] = [0.0, 1.0, 1.0]
    draws = 6000
    total = np.zeros_like(fractions)
    rounder = DepRound(fractions.shape)
    for _ in range(draws):
        sample = rounder(fractions, rng)
        assert set(np.unique(sample)) <= {0.0, 1.0}
        sums = sample.sum(axis=1)
        assert np.all(sums >= np.floor(fractions.sum(axis=1) + 1e-9) - 1e-9)
        assert np.all(sums <= np.ceil(fractions.sum(axis=1) - 1e-9) + 1e-9)
        total += sample
    spread = np.sqrt(fractions * (1 - fractions) / draws)
    assert np.all(np.abs(total / draws - fractions) <= 4.5 * spread + 1e-12)
    assert np.all(total[0, :3] == [0, draws, draws])


def test_depround_negative_correlation_of_pairs():
    rng = np.random.default_rng(5)
    fractions = np.array([[0.5, 0.5, 0.3, 0.7, 0.25]])
    draws = 8000
    samples = np.array([depround_rows(fractions, rng)[0] for _ in range(draws)])
    joint = samples.T @ samples / draws
    product = np.outer(fractions[0], fractions[0])
    off = ~np.eye(5, dtype=bool)
    assert np.all(joint[off] <= product[off] + 0.02)


def test_repair_fits_budgets_keeping_priorities():
    sizes = np.array([3.0, 2.0, 2.0, 1.0])
    budgets = np.array([4.0, 10.0])
    allocation = np.array([[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 1.0, 0.0]])
    priority = np.array([[0.9, 0.8, 0.1, 0.5], [0.0, 0.0, 0.0, 0.0]])
    repaired = repair_rows(allocation, sizes, budgets, priority)
    np.testing.assert_array_equal(repaired[0], [1, 0, 0, 1])  # 3 + 1 fits; 2 is skipped
    np.testing.assert_array_equal(repaired[1], allocation[1])


# ---------------------------------------------------------------------------------------
# the online problem


def test_slot_gain_and_supergradient_match_the_offline_functions(tree):
    trace = stationary_trace(tree, slots=5, seed=2)
    problem = make_problem(tree, trace)
    c = problem.candidates
    rng = np.random.default_rng(0)
    for demand in trace.demand:
        slot_candidates = dataclasses.replace(
            c, rate=demand, capacity=np.minimum(problem.slot_throughput, demand[c.request])
        )
        for point in (
            rng.random(problem.shape) * problem.hostable,
            np.round(rng.random(problem.shape)) * problem.hostable,
        ):
            gain, gradient = problem.evaluate(point, demand, gradient=np.empty(problem.shape))
            assert gain == pytest.approx(relaxed_gain(slot_candidates, point), rel=1e-12)
            np.testing.assert_allclose(gradient, supergradient(slot_candidates, point), rtol=1e-12)
            for _ in range(5):  # the supergradient inequality
                other = rng.random(problem.shape) * problem.hostable
                assert (
                    problem.gain(other, demand) <= gain + np.sum(gradient * (other - point)) + 1e-6
                )
    assert np.all(problem.gradient_bound() >= 0)


def test_messages_count_two_per_hop_of_active_classes(tree):
    trace = stationary_trace(tree, slots=1, seed=0)
    problem = make_problem(tree, trace)
    demand = np.zeros(len(problem.classes))
    assert problem.messages(demand) == 0
    demand[0] = 3
    assert problem.messages(demand) == 2 * problem.class_hops[0]
    assert problem.class_hops[0] == 2  # edge-1 -> region-north -> cloud


def test_hindsight_lp_is_the_best_static_allocation(tree):
    trace = shifting_trace(tree, slots=40, seed=4, every=10)
    problem = make_problem(tree, trace)
    best = solve_hindsight(problem, trace)
    assert best.per_slot.sum() == pytest.approx(best.value, rel=1e-7)
    assert problem.violation(best.decision) <= 1e-7
    for allocation in (uniform_start(problem), window_allocation(problem, trace.demand)):
        assert problem.slot_gains(allocation, trace.demand).sum() <= best.value * (1 + 1e-7)
    integral = solve_hindsight(problem, trace, integral=True)
    assert integral.value <= best.value * (1 + 1e-7)
    assert set(np.unique(integral.decision)) <= {0.0, 1.0}
    greedy = window_allocation(problem, trace.demand)
    assert problem.slot_gains(greedy, trace.demand).sum() <= integral.value * (1 + 1e-7)
    # per-slot caps matter: the LP of the summed demand would overestimate
    assert best.details["scenarios"] > len(problem.classes)


# ---------------------------------------------------------------------------------------
# regret bounds


TRACES = {"stationary": {}, "shifting": {"every": 50}, "adversarial": {}}


@pytest.mark.parametrize("kind", sorted(TRACES))
@pytest.mark.parametrize("policy", ["infida", "oga"])
@pytest.mark.parametrize("eta", ["auto", "adaptive", 2.0])
def test_empirical_regret_stays_under_the_computed_bound(tree, kind, policy, eta):
    cls = Infida if policy == "infida" else OnlineGradientAscent
    if eta == 2.0 and policy == "oga":
        eta = 1e-4
    for seed in (0, 1):
        trace = GENERATORS[kind](tree, slots=150, seed=seed, **TRACES[kind])
        result = run(cls(eta=eta), tree, trace, seed=seed)
        check = result.check_regret_bound()
        assert check.passed, (policy, eta, kind, seed, str(check))
        assert check.kind == ("data-dependent" if eta == "adaptive" else "a-priori")
        if eta == "adaptive":  # the observed bound is never above its worst-case envelope
            envelope = result.regret_statement.at(np.arange(1, trace.slots + 1))
            assert np.all(result.trajectory["bound"] <= envelope * (1 + 1e-9))


def test_auto_step_minimises_the_a_priori_bound(tree):
    trace = stationary_trace(tree, slots=200, seed=0)
    problem = make_problem(tree, trace)
    for cls in (Infida, OnlineGradientAscent):
        best = cls().reset(problem, np.random.default_rng(0)).regret_bound()
        for factor in (0.5, 0.9, 1.1, 2.0):
            other = cls(eta=best.step * factor).reset(problem, np.random.default_rng(0))
            assert other.regret_bound().value >= best.value * (1 - 1e-9)


def test_tiny_step_moves_nothing(tree):
    trace = stationary_trace(tree, slots=40, seed=1)
    problem = make_problem(tree, trace)
    for cls in (Infida, OnlineGradientAscent):
        policy = cls(eta=1e-14).reset(problem, np.random.default_rng(0))
        start = policy.state_.copy()
        for slot, demand in enumerate(trace.demand):
            policy.act(slot)
            policy.observe(slot, demand, 0.0)
        np.testing.assert_allclose(policy.state_, start, atol=1e-9)


def test_time_averaged_gain_approaches_the_hindsight_optimum(tree):
    ratios, per_slot = [], []
    for slots in (50, 800):
        trace = stationary_trace(tree, slots=slots, seed=3)
        result = run(Infida(), tree, trace, seed=3)
        ratios.append(result.metrics["fractional_ratio"])
        per_slot.append(result.metrics["regret"] / slots)
    assert per_slot[1] < 0.5 * per_slot[0]
    assert ratios[1] > ratios[0] and ratios[1] >= 0.97


# ---------------------------------------------------------------------------------------
# every policy through the conformance suite

register_case("infida-auto", Infida, True)
register_case("infida-adaptive", Infida, True, eta="adaptive")
register_case("oga-auto", OnlineGradientAscent, True)
register_case("oga-adaptive", OnlineGradientAscent, True, eta="adaptive")
register_case("static", StaticAllocation, False, window=5)
register_case("resolve-greedy", PeriodicResolve, False, window=7)
register_case("resolve-milp", PeriodicResolve, False, window=10, method="milp")
register_case("lfu", LeastFrequentlyUsed, False)
register_case("lru", LeastRecentlyUsed, False)


@pytest.mark.parametrize("case", POLICY_CASES, ids=str)
def test_policy_conformance(case, tree):
    trace = shifting_trace(tree, slots=40, seed=9, every=10)
    check_policy(case, make_problem(tree, trace), trace)


def test_every_registered_policy_is_in_the_suite():
    names = {type(case.make()).name for case in POLICY_CASES}
    assert names == set(online_family("idn").policies)


def test_policies_beat_caching_on_an_adversarial_round_robin(grid):
    trace = adversarial_trace(grid, slots=200, seed=0)
    problem = make_problem(grid, trace)
    hindsight = solve_hindsight(problem, trace)
    ratio = {}
    for policy in (OnlineGradientAscent(eta="adaptive"), LeastRecentlyUsed()):
        result = run(policy, problem, trace, seed=0, hindsight=hindsight)
        ratio[policy.name] = result.metrics["gain_ratio"]
    assert ratio["oga"] > ratio["lru"]


# ---------------------------------------------------------------------------------------
# the generic contract


def test_policy_parameters_follow_scikit_learn_conventions():
    policy = Infida(eta=0.5)
    assert policy.get_params() == {"eta": 0.5, "fill": True}
    assert repr(policy) == "Infida(eta=0.5)"
    assert repr(Infida()) == "Infida()"
    assert policy.set_params(eta="adaptive").eta == "adaptive"
    with pytest.raises(ValueError, match="no parameter 'step'"):
        policy.set_params(step=1)
    with pytest.raises(InputError, match="eta must be"):
        Infida(eta=-1).reset(
            make_problem(idnopt.load(TREE), stationary_trace(idnopt.load(TREE), slots=2)),
            np.random.default_rng(0),
        )


def test_regret_bound_and_check():
    bound = RegretBound(
        kind="a-priori", formula="", horizon=4, step=1.0, constant=2.0, per_slot=1.0
    )
    np.testing.assert_allclose(bound.at(np.arange(1, 5)), [3, 4, 5, 6])
    assert bound.value == 6.0
    check = check_bound(np.array([1.0, 5.0, 4.0]), np.array([3.0, 4.0, 5.0]), kind="a-priori")
    assert not check.passed and check.worst_slot == 1 and check.margin == -1.0
    assert check_bound(np.array([1.0]), None, kind="none").passed is None


class _Constant(Policy):
    name = "constant"

    def __init__(self, level: float = 0.0) -> None:
        self.level = level

    def reset(self, problem, rng):
        self.shape_ = problem.shape
        return self

    def act(self, slot):
        return Decision(served=np.zeros(self.shape_))

    def observe(self, slot, demand, gain):
        return {"seen": float(np.sum(demand))}


def test_runner_records_a_tidy_trajectory_and_rejects_foreign_traces(tree, tmp_path):
    trace = stationary_trace(tree, slots=20, seed=0)
    result = run(_Constant(), tree, trace, seed=5)
    assert isinstance(result, idnopt.Result)
    frame = result.to_frame("trajectory")
    assert list(frame.columns[:11]) == [
        "slot",
        "demand",
        "gain",
        "fractional_gain",
        "hindsight_gain",
        "regret",
        "integral_regret",
        "bound",
        "messages",
        "violation",
        "seconds",
    ]
    np.testing.assert_allclose(frame["seen"], trace.totals)
    np.testing.assert_allclose(frame["gain"], 0.0)
    np.testing.assert_allclose(frame["regret"], np.cumsum(frame["hindsight_gain"]))
    assert result.seeds == {"policy": 5, "trace": 0}
    assert result.metrics["bound_passed"] is None
    data = json.loads(result.to_json())
    assert data["online"]["trace"]["digest"] == trace.digest
    other = Trace(trace.demand[:, ::-1], trace.classes[::-1])
    with pytest.raises(InputError, match="request classes"):
        run(_Constant(), tree, other)


# ---------------------------------------------------------------------------------------
# traces and files


def test_traces_are_seeded_and_identified_by_content(tree):
    for kind, generate in GENERATORS.items():
        first, second = generate(tree, slots=30, seed=2), generate(tree, slots=30, seed=2)
        assert first.digest == second.digest, kind
        assert generate(tree, slots=30, seed=3).digest != first.digest or kind == "adversarial"
        assert first.demand.shape == (30, len(tree.requests)) and first.demand.min() >= 0
    shifting = shifting_trace(tree, slots=40, seed=0, every=20)
    assert not np.allclose(shifting.demand[:20].mean(0), shifting.demand[20:].mean(0))
    adversarial = adversarial_trace(tree, slots=4, seed=0)
    active = adversarial.demand > 0
    assert np.array_equal(active[0], active[2]) and not np.any(active[0] & active[1])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_trace_files_round_trip(tree, tmp_path, suffix):
    trace = stationary_trace(tree, slots=12, seed=1)
    path = trace.write(tmp_path / f"generic{suffix}")
    back = Trace.read(path, trace.classes, slots=12)
    np.testing.assert_array_equal(back.demand, trace.demand)
    assert back.digest == trace.digest
    replay = write_trace(trace, tree, tmp_path / f"replay{suffix}")
    again = read_trace(tree, replay, slots=12)
    np.testing.assert_allclose(again.demand, trace.demand)
    assert online_family("idn").trace(tree, str(replay)).slots == 12


def test_bad_trace_files_give_located_errors(tree, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("slot,ingress,task,count\n0,edge-1,classification,3\n1,edge-9,detection,2\n")
    with pytest.raises(InputError, match=r"bad\.csv:3: ingress: unknown node 'edge-9'"):
        read_trace(tree, path)
    path.write_text("slot,ingress,task,count\n0,edge-1,classification,-3\n")
    with pytest.raises(InputError, match=r"bad\.csv:2: count: must be a finite number >= 0"):
        read_trace(tree, path)
    path.write_text("slot,ingress,task,count\n0.5,edge-1,classification,3\n")
    with pytest.raises(InputError, match=r"bad\.csv:2: slot: must be an integer"):
        read_trace(tree, path)
    path.write_text("slot,ingress,task,count\n0,cloud,classification,3\n")
    with pytest.raises(InputError, match=r"bad\.csv:2: task: no request class asks"):
        read_trace(tree, path)
    path.write_text("slot,ingress,count\n0,edge-1,3\n")
    with pytest.raises(InputError, match=r"bad\.csv:1: missing column task"):
        read_trace(tree, path)
    with pytest.raises(InputError, match="unknown table type"):
        read_trace(tree, tmp_path / "trace.txt")
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = tmp_path / "bad.parquet"
    pq.write_table(
        pa.table(
            {
                "slot": [0, 1],
                "ingress": ["edge-1", "edge-1"],
                "task": ["classification", "x"],
                "count": [1.0, 2.0],
            }
        ),
        parquet,
    )
    with pytest.raises(InputError, match=r"bad\.parquet: rows\[1\]\.task"):
        read_trace(tree, parquet)


# ---------------------------------------------------------------------------------------
# command line and sweeps


def test_cli_runs_a_policy_and_writes_outputs(tmp_path):
    runner = CliRunner()
    out = tmp_path / "run.parquet"
    plot = tmp_path / "run.png"
    result = runner.invoke(
        app,
        [
            "online",
            str(TREE),
            "--policy",
            "oga",
            "--eta",
            "adaptive",
            "--slots",
            "60",
            "--trace",
            "shifting",
            "-t",
            "every=20",
            "-o",
            str(out),
            "--plot",
            str(plot),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "bound check" in result.output and "pass" in result.output
    import pandas as pd

    frame = pd.read_parquet(out)
    assert len(frame) == 60 and "regret" in frame.columns
    assert plot.stat().st_size > 0
    result = runner.invoke(app, ["online", str(TREE), "--policy", "lfu", "-T", "30", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["online"]["bound_check"]["passed"] is None


def test_cli_errors_are_one_line_with_exit_codes(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["online", str(TREE), "--trace", "sideways"])
    assert result.exit_code == 1
    assert "unknown trace kind 'sideways'" in result.output
    result = runner.invoke(app, ["online", str(TREE), "--policy", "lru", "--eta", "0.1"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["online", str(TREE), "--eta", "fast"])
    assert result.exit_code == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("slot,ingress,task,count\n0,edge-1,classification,nope\n")
    result = runner.invoke(app, ["online", str(TREE), "--trace", str(bad)])
    assert result.exit_code == 1 and "bad.csv:2: count" in result.output


def test_online_sweep_task_kind_compares_policies(tmp_path):
    from idnopt.sweep import expand, spec_from_dict
    from idnopt.sweep.tasks import execute_task

    spec = spec_from_dict(
        {
            "name": "online-small",
            "kind": "online",
            "imports": ["idnopt.formulations.idn.online"],
            "instances": [{"file": str(TREE)}],
            "solvers": [
                {"name": "infida", "method": "infida", "options": {"slots": 30}},
                {"name": "lru", "method": "lru", "options": {"slots": 30, "trace": "adversarial"}},
            ],
            "seeds": 1,
        }
    )
    tasks = expand(spec)
    assert len(tasks) == 2
    rows = [execute_task(task)["row"] for task in tasks]
    assert all(row["status"] == "feasible" for row in rows), rows
    assert rows[0]["bound_passed"] is True and rows[1]["bound_passed"] is None
    assert 0 < rows[0]["gain_ratio"] <= 1.5
