"""The exact branch-and-bound (``bnb``): patterns, covers, bounds, agreement with the MILP."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_jellybean import brute_force, independent_violations, load, tiny

import idnopt
from idnopt.budget import Budget
from idnopt.errors import InputError
from idnopt.formulations import jellybean as jb
from idnopt.formulations.jellybean.bnb import solve_bnb
from idnopt.formulations.jellybean.covers import cover_cost, fewest_workers
from idnopt.formulations.jellybean.pairs import pair_program
from idnopt.formulations.jellybean.patterns import maximal_patterns, source_floor
from idnopt.result import Status

# -- tier patterns -------------------------------------------------------------------------


def fixed_points(workflow) -> set:
    """Every maximal pattern by enumerating all ``lo`` vectors (small workflows only)."""
    count, top = workflow.num_operators, workflow.num_tiers - 1
    floor = source_floor(workflow)
    preds = [[u for u, w, _, _ in workflow.operator_edges if w == v] for v in range(count)]
    succs = [[w for u, w, _, _ in workflow.operator_edges if u == v] for v in range(count)]
    found = set()
    for lo in itertools.product(range(top + 1), repeat=count):
        hi = [min([lo[w] for w in succs[v]], default=top) for v in range(count)]
        if any(hi[v] < lo[v] for v in range(count)):
            continue
        if all(lo[v] == max([floor[v]] + [hi[u] for u in preds[v]]) for v in range(count)):
            found.add((lo, tuple(hi)))
    return found


@pytest.mark.parametrize("seed", range(12))
def test_maximal_patterns_are_the_fixed_points(seed):
    instance = jb.random_instance(
        seed, operators=3 + seed % 4, variants=2, workers=6, tiers=2 + seed % 2, sources=2
    )
    workflow = jb.compile_workflow(instance)
    patterns = maximal_patterns(workflow)
    listed = {(tuple(a), tuple(b)) for a, b in zip(patterns.lo.tolist(), patterns.hi.tolist())}
    assert len(listed) == patterns.count
    assert listed == fixed_points(workflow)
    assert (patterns.lo <= patterns.hi).all()
    for u, v, _, _ in workflow.operator_edges:
        assert (patterns.hi[:, u] <= patterns.lo[:, v]).all()


# -- the per-operator cover oracle ---------------------------------------------------------


def brute_cover(capacity, count, worker_cost, share_cost, need) -> float:
    best = math.inf
    for workers in itertools.product(*[range(int(k) + 1) for k in count]):
        workers = np.array(workers)
        room = capacity * workers
        if room.sum() < need * (1 - 1e-9):
            continue
        cost, left = float(worker_cost @ workers), need
        for p in np.argsort(share_cost, kind="stable"):
            take = min(left, room[p])
            cost += share_cost[p] * take
            left -= take
        best = min(best, cost)
    return best


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.one_of(st.just(0.0), st.floats(0.01, 20)),  # requests/s: 1000 / latency
            st.integers(0, 3),
            st.floats(0, 3),
            st.floats(-0.5, 0.5),
        ),
        min_size=1,
        max_size=4,
    ),
    need=st.one_of(st.just(0.0), st.floats(0.001, 60)),
)
def test_cover_oracle_is_exact(data, need):
    capacity, count, worker_cost, share_cost = (np.array(column, float) for column in zip(*data))
    found = cover_cost(capacity, count, worker_cost, share_cost, need)
    expected = brute_cover(capacity, count, worker_cost, share_cost, need)
    if math.isinf(expected):
        assert math.isinf(found)
    else:
        assert found == pytest.approx(expected, rel=1e-9, abs=1e-9)
    fewest = fewest_workers(capacity, count, need)
    assert math.isinf(fewest) == math.isinf(expected)


def test_a_crowded_cover_settles_for_a_lower_bound():
    rng = np.random.default_rng(0)
    capacity = rng.uniform(10, 40, 60)
    cost = 0.011 * capacity  # every worker the same cost per request/s: a huge Pareto front
    few = cover_cost(capacity[:6], np.ones(6), cost[:6], np.zeros(6), 60.0)
    assert few == pytest.approx(brute_cover(capacity[:6], np.ones(6), cost[:6], np.zeros(6), 60.0))
    started = time.perf_counter()
    bound = cover_cost(capacity, np.ones(60), cost, np.zeros(60), 600.0)
    assert time.perf_counter() - started < 2.0
    # at least the fractional cover, at most a cover with one worker too many
    assert 0.011 * 600.0 - 1e-9 <= bound <= 0.011 * (600.0 + 40.0)


# -- agreement with the MILP and with brute force ------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 100_000),
    operators=st.integers(2, 3),
    tiers=st.sampled_from([2, 3]),
    routing=st.sampled_from(jb.ROUTINGS),
)
def test_bnb_equals_brute_force(seed, operators, tiers, routing):
    if tiers == 3 and routing == "proportional":
        routing = "flows"  # brute force prices proportional routing for two tiers only
    instance = jb.random_instance(
        seed, operators=operators, variants=2, workers=4, tiers=tiers, rate=(20, 150)
    )
    exact = jb.solve(instance, method="bnb", routing=routing)
    expected = brute_force(instance, routing)
    if math.isinf(expected):
        assert exact.status == Status.INFEASIBLE
        assert "accuracy" in exact.message
        return
    assert exact.status == Status.OPTIMAL, exact.message
    assert exact.objective == pytest.approx(expected, rel=1e-6, abs=1e-7)
    assert independent_violations(instance, exact) == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 100_000),
    operators=st.integers(2, 5),
    variants=st.integers(1, 3),
    workers=st.integers(3, 10),
    tiers=st.sampled_from([1, 2, 3]),
    types=st.sampled_from([None, 2, 4]),
    worker_prices=st.booleans(),
    routing=st.sampled_from(jb.ROUTINGS),
)
def test_bnb_agrees_with_the_milp(
    seed, operators, variants, workers, tiers, types, worker_prices, routing
):
    instance = jb.random_instance(
        seed,
        operators=operators,
        variants=variants,
        workers=workers,
        tiers=tiers,
        worker_types=types,
        worker_prices=worker_prices,
        sources=1 + seed % 2,
    )
    exact = jb.solve(instance, method="bnb", routing=routing)
    milp = jb.solve(instance, method="milp", routing=routing)
    assert (exact.status == Status.INFEASIBLE) == (milp.status == Status.INFEASIBLE)
    if milp.status == Status.INFEASIBLE:
        return
    priced = jb.evaluate(instance, exact, routing)
    assert priced.feasible, priced.violations
    assert priced.cost_per_hour == pytest.approx(exact.objective, rel=1e-9)
    assert exact.bound <= exact.objective + 1e-9
    slack = 1e-6 * max(1.0, milp.objective)
    if routing == "flows" or exact.metrics["exact"]:
        assert exact.status == Status.OPTIMAL, exact.message
        assert milp.status == Status.OPTIMAL
        assert exact.objective == pytest.approx(milp.objective, rel=1e-6, abs=1e-7)
    else:  # proportional on three tiers: both only bound products of shares
        assert exact.bound <= milp.objective + slack
        assert milp.bound <= exact.objective + slack
        if exact.status == Status.OPTIMAL:
            assert exact.objective <= milp.objective + slack
    for method in ("heuristic", "published"):
        other = jb.solve(instance, method=method, routing=routing)
        if other.has_solution:
            assert exact.objective <= other.objective + 1e-7, method


def test_typed_fleet_at_full_size_is_exact_and_fast():
    instance = jb.random_instance(
        0, operators=10, variants=10, workers=50, tiers=3, rows=1000, worker_types=6
    )
    started = time.perf_counter()
    result = jb.solve(instance, threads=1)
    wall = time.perf_counter() - started
    assert result.status == Status.OPTIMAL
    assert result.objective == pytest.approx(8.98266650135854, rel=1e-6)
    assert wall < 20.0  # about 0.3 s on one core; generous for a shared machine
    assert result.metrics["pair_milps"] <= 10


# -- budget, bounds and reports ------------------------------------------------------------


def test_time_limit_reports_incumbent_bound_and_gap():
    instance = jb.random_instance(
        0, operators=10, variants=10, workers=50, tiers=3, rows=1000, worker_types=None
    )
    started = time.perf_counter()
    result = jb.solve(instance, time_limit=2.0)
    wall = time.perf_counter() - started
    assert wall <= 2.0 + 0.5, wall
    assert result.status in (Status.TIME_LIMIT, Status.OPTIMAL)
    if result.status == Status.TIME_LIMIT and result.has_solution:
        assert result.bound is not None and result.bound <= result.objective
        assert result.gap is not None and result.gap > 0
        assert "time limit" in result.message
        assert jb.evaluate(instance, result, "flows").feasible
    assert result.timings["total"] <= wall + 1e-6


def test_three_tier_proportional_states_a_bound():
    for seed in range(4):
        instance = jb.random_instance(seed, operators=3, workers=7, tiers=3, rate=(20, 120))
        result = jb.solve(instance, routing="proportional")
        if not result.has_solution:
            continue
        assert result.metrics["exact"] is False
        assert result.bound <= result.objective + 1e-9
        assert result.status in (Status.OPTIMAL, Status.FEASIBLE)
        if result.status == Status.FEASIBLE:
            assert "under-estimate" in result.message and "gap" in result.message
        milp = jb.solve(instance, routing="proportional", method="milp")
        assert result.objective <= milp.objective + 1e-9 or result.status == Status.FEASIBLE


def test_a_split_edge_under_proportional_routing_is_bounded_then_priced():
    instance = jb.random_instance(
        5, operators=4, variants=2, workers=9, tiers=3, rate=(40, 160), worker_types=3
    )
    workflow = jb.compile_workflow(instance)
    combo = workflow.table_combinations[0]
    lo = np.zeros(4, dtype=int)
    hi = np.full(4, 2)
    edges = workflow.operator_edges
    u, v = edges[0][0], edges[0][1]
    lo[:], hi[:] = 0, 2
    hi[u], lo[v] = 1, 1  # u on tiers 0..1, v on 1..2: a product of shares of two split ends
    for w in range(4):
        if w not in (u, v):
            lo[w], hi[w] = 0, 2
    pair = pair_program(workflow, combo, lo, hi, "proportional")
    if pair is not None and not workflow.potential_prices:
        assert pair.exact is False
        assert "edge_cost" in pair.program.variables
    flows = pair_program(workflow, combo, lo, hi, "flows")
    assert flows is None or flows.exact


def test_bnb_refuses_other_backends_and_starts():
    instance = load(tiny())
    with pytest.raises(InputError, match="use method 'milp'"):
        jb.solve(instance, backend="pyomo")
    with pytest.raises(InputError, match="initial_values"):
        jb.solve(instance, initial_values=np.zeros(3))
    relaxed = jb.solve(instance, relax=True)  # the relaxation is the MILP's
    assert relaxed.method == "milp" and relaxed.metrics["lower_bound"] is not None


def test_rules_without_a_table_are_solved_by_the_milp():
    result = jb.solve(load(tiny(accuracy={"rule": "product"}, target=0.6)))
    assert result.status == Status.OPTIMAL
    assert "solved by the direct MILP" in result.message


def test_unreachable_target_names_the_best_accuracy():
    result = jb.solve(load(tiny(target=0.9)))
    assert result.status == Status.INFEASIBLE
    assert "best reachable accuracy is 0.8" in result.message


def test_direct_call_and_counters():
    instance = jb.random_instance(2, operators=4, variants=3, workers=12, tiers=3)
    workflow = jb.compile_workflow(instance)
    budget = Budget()
    result = solve_bnb(workflow, "flows", instance.target, budget)
    assert result.status == Status.OPTIMAL
    metrics = result.metrics
    assert metrics["pairs"] == metrics["rows"] * metrics["patterns"]
    assert metrics["pair_milps"] >= 1
    assert set(budget.spent) >= {"bound", "solve"}
    assert idnopt.solve(instance).objective == pytest.approx(result.objective)
