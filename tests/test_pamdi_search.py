"""PA-MDI branch-and-bound: incremental pricing and the twin-source symmetry rule."""

from __future__ import annotations

import copy
import itertools
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pamdi import brute_force, small_instance

import idnopt
from idnopt.family import get_family
from idnopt.formulations.pamdi import compile_instance, evaluate_split, routes
from idnopt.formulations.pamdi.baselines import per_hop_split
from idnopt.formulations.pamdi.branch import (
    best_split,
    enumerate_splits,
    increments,
    source_service,
)
from idnopt.formulations.pamdi.delay import segments
from idnopt.formulations.pamdi.routes import route_bands, route_floors, route_splits
from idnopt.formulations.pamdi.schema import instance_to_dict
from idnopt.formulations.pamdi.search import branch_and_bound, conflicting, twins
from idnopt.result import Status

FAMILY = get_family("pamdi")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_incremental_pricing_equals_pricing_from_scratch(seed):
    instance = FAMILY.generator.generate(devices=6, layers=9, sources=4, seed=seed)
    compiled = compile_instance(instance)
    split = per_hop_split(compiled)
    empty = np.zeros((compiled.num_sources, compiled.num_devices))
    service = empty.copy()
    for placed in range(compiled.num_sources - 1):
        before = service.copy()
        service[placed] = source_service(compiled, split)[placed]
        changed = np.unique(split[placed])
        for source in range(placed + 1, compiled.num_sources):
            parent = increments(compiled, before, source)
            fast = increments(compiled, service, source, parent, changed)
            full = increments(compiled, service, source)
            np.testing.assert_allclose(fast.segment, full.segment, rtol=1e-12)
            np.testing.assert_allclose(fast.to_go, full.to_go, rtol=1e-12)
            assert fast.best == pytest.approx(full.best, rel=1e-12)


def with_twin(instance, symmetric: bool = False):
    """The instance with a copy of its first source (same device, rate and priority)."""
    data = instance_to_dict(instance)
    twin = copy.deepcopy(data["sources"][0])
    twin["name"] = "twin"
    data["sources"].append(twin)
    if symmetric:  # every device alike, every link alike: devices are interchangeable too
        for device in data["devices"]:
            device["speed"] = 1.0
        for link in data["links"]:
            link["latency"], link["bandwidth"] = 0.5, 400.0
    return idnopt.from_dict(data)


SMALL = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SMALL
@given(
    seed=st.integers(0, 10_000),
    devices=st.integers(2, 3),
    layers=st.integers(1, 3),
    priorities=st.sampled_from([(1.0,), (1.0, 3.0), (4.0, 1.0)]),
    symmetric=st.booleans(),
)
def test_the_search_with_twin_sources_equals_brute_force(
    seed, devices, layers, priorities, symmetric
):
    instance = with_twin(small_instance(seed, devices, layers, priorities), symmetric)
    compiled = compile_instance(instance)
    assert [0, compiled.num_sources - 1] in twins(compiled)
    best = brute_force(compiled)
    exact = idnopt.solve(instance, time_limit=60)
    if best is None:
        assert exact.status == Status.INFEASIBLE
        return
    assert exact.status == Status.OPTIMAL
    assert exact.objective == pytest.approx(best.objective, rel=1e-9)
    assert exact.bound <= best.objective * (1 + 1e-9)


def test_sources_that_differ_are_not_twins():
    instance = small_instance(3, devices=3, layers=2, priorities=(1.0, 1.0))
    data = instance_to_dict(instance)
    data["sources"][1]["device"] = data["sources"][0]["device"]
    data["sources"][1]["rate"] = data["sources"][0]["rate"]
    same = compile_instance(idnopt.from_dict(data))
    assert twins(same) == [[0, 1]]
    data["sources"][1]["priority"] = 2.0
    assert twins(compile_instance(idnopt.from_dict(data))) == []


def path_cost(compiled, table, source: int, devices: np.ndarray) -> float:
    """The increase of one given split under ``table`` (its path's cost)."""
    chain = compiled.chains[source]
    transfer = compiled.weight[source] * chain.transfer
    total, here = 0.0, int(compiled.origin[source])
    for device, first, last in segments(devices):
        total += transfer[first, here, device] + table.segment[first, last + 1, device]
        here = device
    return float(total + transfer[chain.length, here, compiled.origin[source]])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), devices=st.integers(3, 5), placed=st.integers(0, 2))
def test_a_conflict_free_completion_attains_the_node_bound(seed, devices, placed):
    """The rule that closes a node: best valid splits on disjoint devices are optimal for it."""
    instance = small_instance(seed, devices, 3, (1.0, 2.0, 4.0), rate_scale=0.5)
    compiled = compile_instance(instance)
    split = per_hop_split(compiled)
    service = np.zeros((compiled.num_sources, compiled.num_devices))
    assigned, value = {}, 0.0
    for source in range(placed):  # F(A) as the sum of the increases along the way
        value += path_cost(compiled, increments(compiled, service, source), source, split[source])
        assigned[source] = split[source]
        service[source] = source_service(compiled, split)[source]
    rest = [s for s in range(compiled.num_sources) if s not in assigned]
    found = {s: best_split(compiled, s, increments(compiled, service, s), np.inf) for s in rest}
    if not np.isfinite(value) or any(f is None for f in found.values()):
        return
    paths = {s: found[s][1] for s in rest}
    completion = tuple(assigned.get(s, paths.get(s)) for s in range(compiled.num_sources))
    evaluation = evaluate_split(compiled, completion)
    bound = value + sum(found[s][0] for s in rest)
    if not evaluation.feasible:
        return
    if conflicting(paths):
        assert evaluation.objective >= bound * (1 - 1e-9)  # the bound still holds
    else:
        assert evaluation.objective == pytest.approx(bound, rel=1e-9)


def test_conflicting_splits_share_a_device():
    assert conflicting({0: np.array([0, 0, 1]), 1: np.array([1, 2])})
    assert not conflicting({0: np.array([0, 0, 1]), 1: np.array([2, 3])})


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("slack", [1.5, 4.0])
@pytest.mark.parametrize("band_size", [3, 400])
def test_routes_cover_exactly_the_splits_below_a_threshold(seed, slack, band_size, monkeypatch):
    monkeypatch.setattr(routes, "ROUTE_BAND", band_size)
    instance = FAMILY.generator.generate(devices=5, layers=8, sources=3, seed=seed)
    compiled = compile_instance(instance)
    service = np.zeros((compiled.num_sources, compiled.num_devices))
    service[1, 2] = 5.0
    for source in (0, 2):
        table = increments(compiled, service, source)
        threshold = table.best * slack
        expected = sorted(
            (round(cost, 9), tuple(split))
            for cost, split in enumerate_splits(compiled, source, table, threshold)
        )
        found, previous = [], -np.inf
        for low, high, band in route_bands(compiled, source, table, threshold):
            assert low == previous and high <= threshold
            previous = high
            for route in band:
                assert low < route.cost <= high
                splits = route_splits(compiled, source, table, route, threshold)
                assert splits[0][0] == pytest.approx(route.cost, rel=1e-12)
                assert [cost for cost, _ in splits] == sorted(cost for cost, _ in splits)
                floors = route_floors(compiled, source, table, route, threshold)
                for cost, split in splits:
                    assert tuple(d for d, _, _ in segments(split)) == route.devices
                    used = np.zeros(compiled.num_devices)
                    np.add.at(used, split, compiled.chains[source].work / compiled.speed[split])
                    assert ((used > 0) == (floors > 0)).all()
                    assert (used >= floors * (1 - 1e-12)).all()
                    found.append((round(cost, 9), tuple(split)))
        assert sorted(found) == expected


def test_a_stopped_search_reports_a_valid_bound():
    instance = FAMILY.generator.generate(devices=6, layers=14, sources=4, seed=3)
    compiled = compile_instance(instance)
    start = evaluate_split(compiled, per_hop_split(compiled))
    full = branch_and_bound(compiled, start)
    assert full.finished
    optimum = full.incumbent.objective
    for seconds in (0.02, 0.1, 0.3):
        stopped = branch_and_bound(compiled, start, deadline=time.perf_counter() + seconds)
        assert stopped.lower <= optimum * (1 + 1e-9)
        assert stopped.incumbent.objective >= optimum * (1 - 1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_the_sequential_start_is_valid_and_never_worse_than_its_fallback(seed):
    from idnopt.formulations.pamdi.compiled import compile_instance
    from idnopt.formulations.pamdi.delay import evaluate_split
    from idnopt.formulations.pamdi.descent import sequential_split
    from idnopt.formulations.pamdi.exact import SEEDS, best_seed

    compiled = compile_instance(
        FAMILY.generator.generate(devices=6, layers=12, sources=4, seed=seed)
    )
    seeds = [evaluate_split(compiled, make(compiled)) for make in SEEDS.values()]
    feasible = [e for e in seeds if e.feasible]
    if not feasible:
        pytest.skip("no feasible seed split")
    fallback = min(feasible, key=lambda e: e.objective)
    split = sequential_split(compiled, fallback.split)
    assert len(split) == compiled.num_sources
    for source, devices in enumerate(split):
        assert len(devices) == compiled.chains[source].length
    chosen, _ = best_seed(compiled)
    assert chosen.objective <= fallback.objective + 1e-9


@SMALL
@given(
    seed=st.integers(0, 10_000),
    devices=st.integers(2, 3),
    layers=st.integers(1, 3),
    queueing=st.sampled_from(["priority", "fifo"]),
    twin=st.sampled_from([None, False, True]),
)
def test_the_search_with_fixed_sources_equals_brute_force_over_the_others(
    seed, devices, layers, queueing, twin
):
    from test_pamdi import all_splits

    instance = small_instance(
        seed, devices=devices, layers=layers, priorities=(1.0, 2.0, 4.0), queueing=queueing
    )
    if twin is not None:  # a copy of source 0, with interchangeable devices or not
        if layers * devices > 6:  # three free sources: keep the enumeration small
            return
        instance = with_twin(instance, symmetric=twin)
    compiled = compile_instance(instance)
    rng = np.random.default_rng(seed)
    choices = list(all_splits(compiled, 1))
    held = choices[int(rng.integers(len(choices)))]
    free = [s for s in range(compiled.num_sources) if s != 1]
    best = None
    for combination in itertools.product(*(list(all_splits(compiled, s)) for s in free)):
        chosen = {1: held, **dict(zip(free, combination))}
        split = tuple(chosen[s] for s in range(compiled.num_sources))
        evaluation = evaluate_split(compiled, split)
        if evaluation.feasible and (best is None or evaluation.objective < best.objective):
            best = evaluation
    found = branch_and_bound(compiled, None, fixed={1: held})
    assert found.finished
    if best is None:
        assert found.incumbent is None
        return
    assert found.incumbent is not None
    np.testing.assert_array_equal(found.incumbent.split[1], held)
    assert found.incumbent.objective == pytest.approx(best.objective, rel=1e-9)
    assert found.lower <= best.objective * (1 + 1e-9)
    # the root counts the fixed source's own value: at least that, at most the optimum
    alone = compiled.subset([1])
    fixed_value = compiled.weight[1] * evaluate_split(alone, (held,)).objective
    root = found.history[0]["root_bound"]
    assert fixed_value * (1 - 1e-9) <= root <= best.objective * (1 + 1e-9)


@pytest.mark.parametrize("seed", [0, 10])
def test_pair_descent_ends_where_no_pair_of_sources_can_improve(seed):
    from idnopt.formulations.pamdi.descent import best_response, descend, pair_descent

    compiled = compile_instance(
        FAMILY.generator.generate(devices=6, layers=8, sources=4, seed=seed)
    )
    start = descend(compiled, per_hop_split(compiled))
    if not start.feasible:
        pytest.skip("no feasible start")
    final = pair_descent(compiled, start, per_pair=60.0)
    assert final.feasible
    if seed == 10:  # descent stops where no single source improves, and a pair still can
        assert all(best_response(compiled, start.split, s) is None for s in range(4))
        assert final.objective < start.objective * (1 - 1e-6)
    assert final.objective <= start.objective * (1 + 1e-12)
    assert final.objective == pytest.approx(evaluate_split(compiled, final.split).objective)
    count = compiled.num_sources
    for a in range(count):
        for b in range(a + 1, count):
            fixed = {s: final.split[s] for s in range(count) if s not in (a, b)}
            pair = branch_and_bound(compiled, None, fixed=fixed)
            assert pair.finished
            assert pair.incumbent.objective >= final.objective * (1 - 1e-9)


@SMALL
@given(
    seed=st.integers(0, 10_000),
    layers=st.integers(1, 3),
    cut=st.integers(1, 2),
    queueing=st.sampled_from(["priority", "fifo"]),
    memory=st.sampled_from([None, 8.0]),
)
def test_the_group_bound_lies_between_the_root_bound_and_the_optimum(
    seed, layers, cut, queueing, memory
):
    from idnopt.formulations.pamdi.groups import partition_bound

    instance = small_instance(
        seed,
        devices=3,
        layers=layers,
        priorities=(1.0, 2.0, 4.0),
        queueing=queueing,
        memory=memory,
    )
    compiled = compile_instance(instance)
    optimum = brute_force(compiled)
    if optimum is None:
        return
    split = optimum.split
    everyone = partition_bound(compiled, [[0, 1, 2]], split)
    alone = partition_bound(compiled, [[0], [1], [2]], split)
    empty = np.zeros((compiled.num_sources, compiled.num_devices))
    root = sum(increments(compiled, empty, s).best for s in range(compiled.num_sources))
    grouped = partition_bound(compiled, [list(range(cut)), list(range(cut, 3))], split)
    # one group is the whole problem: its bound is the optimum, within the search's tolerance
    assert optimum.objective * (1 - 1.001e-4) <= everyone <= optimum.objective * (1 + 1e-9)
    # singletons: each source alone, solved; the root prices the same paths but checks
    # memory only at leaves, so the two agree without memory limits
    assert root * (1 - 1e-12) <= alone
    if memory is None:
        assert alone == pytest.approx(root, rel=1e-12)
    assert alone <= grouped * (1 + 1e-9)
    assert grouped <= optimum.objective * (1 + 1e-9)


def test_bisection_cuts_the_least_shared_load():
    from idnopt.formulations.pamdi.groups import bisect

    compiled = compile_instance(FAMILY.generator.generate(devices=8, layers=10, sources=6, seed=4))
    split = per_hop_split(compiled)
    load = compiled.rate[:, None] * source_service(compiled, split)
    shared = load @ load.T
    np.fill_diagonal(shared, 0.0)
    first, second = bisect(compiled, split)
    assert sorted(first + second) == list(range(6)) and len(first) == len(second) == 3
    cut = shared[np.ix_(first, second)].sum()
    for group in itertools.combinations(range(6), 3):
        rest = [s for s in range(6) if s not in group]
        assert cut <= shared[np.ix_(list(group), rest)].sum() + 1e-15


def test_a_staged_solve_under_a_time_limit_reports_a_valid_bound(monkeypatch):
    from idnopt.formulations.pamdi import exact

    instance = FAMILY.generator.generate(devices=8, layers=30, sources=6, seed=1)
    compiled = compile_instance(instance)
    start = evaluate_split(compiled, per_hop_split(compiled))
    full = branch_and_bound(compiled, start, tolerance=1e-9)
    assert full.finished
    optimum = full.incumbent.objective
    monkeypatch.setattr(exact, "PROBE_SHARE", 1e-6)  # the first search stops at once
    result = idnopt.solve(instance, time_limit=2.0)
    stages = [row["stage"] for row in result.tables["bounds"]]
    assert stages[:2] == ["search", "group bound"]
    assert result.bound <= optimum * (1 + 1e-9)
    assert result.objective >= optimum * (1 - 1e-9)
