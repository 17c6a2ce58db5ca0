"""PA-MDI: the delay model, the exact method against brute force, bounds, baselines, priorities."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import idnopt
from idnopt.errors import InputError
from idnopt.family import get_family
from idnopt.formulations.pamdi import compile_instance, evaluate_split, waiting_times
from idnopt.formulations.pamdi.baselines import (
    ar_mdi_split,
    local_split,
    mdi_llm_split,
    per_hop_split,
)
from idnopt.formulations.pamdi.branch import best_split, increments, source_service
from idnopt.formulations.pamdi.descent import descend
from idnopt.result import Status

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = sorted((ROOT / "instances" / "pamdi").glob("*.yaml"))
FAMILY = get_family("pamdi")
BASELINES = ("pa-mdi", "ms-mdi", "ar-mdi", "local", "mdi-llm")


def small_instance(
    seed: int,
    devices: int = 3,
    layers: int = 3,
    priorities: tuple[float, ...] = (1.0, 2.0),
    queueing: str = "priority",
    memory: float | None = None,
    rate_scale: float = 1.0,
):
    """A random small instance (full mesh, random speeds, rates, links)."""
    rng = np.random.default_rng(seed)
    data = {
        "kind": "pamdi",
        "queueing": queueing,
        "compute_cv": float(rng.uniform(0, 1)),
        "devices": [
            {
                "name": f"d{i}",
                "speed": float(rng.choice([0.5, 1.0, 2.0])),
                **({"memory": memory} if memory is not None else {}),
            }
            for i in range(devices)
        ],
        "links": [
            {
                "source": f"d{i}",
                "target": f"d{j}",
                "latency": float(rng.uniform(0, 2)),
                "bandwidth": float(rng.uniform(100, 1000)),
            }
            for i in range(devices)
            for j in range(i + 1, devices)
        ],
        "models": [
            {
                "name": "m",
                "layers": [
                    {
                        "name": f"l{k}",
                        "time": float(rng.uniform(1, 10)),
                        "output": float(rng.uniform(0.01, 0.1)),
                        "memory": float(rng.uniform(1, 5)),
                    }
                    for k in range(layers)
                ],
                "input": 0.05,
            }
        ],
        "sources": [
            {
                "name": f"s{i}",
                "device": f"d{int(rng.integers(devices))}",
                "model": "m",
                "rate": rate_scale * float(rng.uniform(20, 60)),
                "priority": priority,
            }
            for i, priority in enumerate(priorities)
        ],
    }
    return idnopt.from_dict(data)


def all_splits(compiled, source):
    """Every split of one source: ordered distinct devices and cut points."""
    length, count = compiled.chains[source].length, compiled.num_devices
    for used in range(1, min(length, count) + 1):
        for order in itertools.permutations(range(count), used):
            for cuts in itertools.combinations(range(1, length), used - 1):
                bounds = [0, *cuts, length]
                devices = np.empty(length, dtype=np.int64)
                for position, device in enumerate(order):
                    devices[bounds[position] : bounds[position + 1]] = device
                yield devices


def brute_force(compiled):
    """The best feasible split by enumeration (None when none is feasible)."""
    best = None
    per_source = [list(all_splits(compiled, s)) for s in range(compiled.num_sources)]
    for combination in itertools.product(*per_source):
        evaluation = evaluate_split(compiled, combination)
        if evaluation.feasible and (best is None or evaluation.objective < best.objective):
            best = evaluation
    return best


# -- the delay model ------------------------------------------------------------------------


def test_cobham_and_pollaczek_khinchine_by_hand():
    service = np.array([[10.0], [20.0]])
    visits = service > 0
    rate = np.array([0.02, 0.01])
    residual = 0.5 * 2.0 * (0.02 * 100 + 0.01 * 400)
    high, low = 0.2, 0.2
    cobham = waiting_times(service, visits, rate, np.array([0, 1]), 2.0, "priority")
    assert cobham[0, 0] == pytest.approx(residual / (1 - high))
    assert cobham[1, 0] == pytest.approx(residual / ((1 - high) * (1 - high - low)))
    fifo = waiting_times(service, visits, rate, np.array([0, 1]), 2.0, "fifo")
    assert fifo[:, 0] == pytest.approx([residual / (1 - 0.4)] * 2)


def test_evaluation_adds_compute_transfer_and_wait():
    instance = small_instance(3, devices=2, layers=2, priorities=(1.0,))
    compiled = compile_instance(instance)
    split = (np.array([0, 1]),)
    evaluation = evaluate_split(compiled, split)
    chain = compiled.chains[0]
    origin = compiled.origin[0]
    transfer = chain.transfer[0, origin, 0] + chain.transfer[1, 0, 1] + chain.transfer[2, 1, origin]
    assert evaluation.transfer[0] == pytest.approx(transfer)
    assert evaluation.latency[0] == pytest.approx(
        evaluation.compute[0] + evaluation.waiting[0] + transfer
    )
    assert evaluation.objective == pytest.approx(evaluation.latency[0])


def test_a_split_that_returns_to_a_device_is_refused():
    compiled = compile_instance(small_instance(0, layers=3, priorities=(1.0,)))
    with pytest.raises(ValueError, match="two separate layer ranges"):
        evaluate_split(compiled, (np.array([0, 1, 0]),))


def test_overload_and_memory_make_a_split_infeasible():
    compiled = compile_instance(small_instance(1, priorities=(1.0,), memory=2.0))
    evaluation = evaluate_split(compiled, local_split(compiled))
    assert not evaluation.feasible and "memory" in evaluation.problem
    compiled = compile_instance(small_instance(1, priorities=(1.0,), rate_scale=1e3))
    assert "max_load" in evaluate_split(compiled, local_split(compiled)).problem


# -- exact method and bounds ------------------------------------------------------------------

SMALL = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SMALL
@given(
    seed=st.integers(0, 10_000),
    devices=st.integers(2, 3),
    layers=st.integers(1, 4),
    priorities=st.sampled_from([(1.0,), (1.0, 1.0), (1.0, 3.0), (4.0, 1.0)]),
    queueing=st.sampled_from(["priority", "fifo"]),
)
def test_exact_equals_brute_force_and_the_relaxation_bounds_it(
    seed, devices, layers, priorities, queueing
):
    instance = small_instance(seed, devices, layers, priorities, queueing)
    compiled = compile_instance(instance)
    best = brute_force(compiled)
    exact = idnopt.solve(instance, time_limit=60)
    if best is None:
        assert exact.status == Status.INFEASIBLE
        return
    assert exact.status == Status.OPTIMAL
    assert exact.objective == pytest.approx(best.objective, rel=1e-9)
    assert exact.bound <= best.objective * (1 + 1e-9)
    relaxed = idnopt.solve(instance, method="relaxation")
    if relaxed.status == Status.OPTIMAL:  # an inaccurate solve claims no bound
        assert relaxed.bound <= best.objective * (1 + 1e-6)


@pytest.mark.parametrize("seed", [2, 5, 8])
def test_the_milp_outer_approximation_reaches_the_same_optimum(seed):
    instance = small_instance(seed, devices=2, layers=3, priorities=(1.0, 4.0), rate_scale=0.5)
    branch = idnopt.solve(instance, time_limit=60)
    milp = idnopt.solve(instance, algorithm="milp", time_limit=60)
    assert branch.status == milp.status == Status.OPTIMAL
    assert milp.objective == pytest.approx(branch.objective, rel=2e-4)
    assert milp.bound <= branch.objective * (1 + 1e-9)


def test_every_program_backend_solves_the_milp_to_the_same_optimum():
    instance = small_instance(5, devices=2, layers=2, priorities=(1.0, 4.0), rate_scale=0.5)
    values = {
        backend: idnopt.solve(instance, algorithm="milp", backend=backend, time_limit=60)
        for backend in ("highs", "cvxpy", "pyomo")
    }
    assert {result.status for result in values.values()} == {Status.OPTIMAL}
    reference = values["highs"].objective
    assert all(r.objective == pytest.approx(reference, rel=1e-6) for r in values.values())


def test_memory_limits_are_respected_by_the_exact_split():
    instance = small_instance(4, devices=3, layers=3, priorities=(1.0, 2.0), memory=9.0)
    compiled = compile_instance(instance)
    best = brute_force(compiled)
    exact = idnopt.solve(instance, time_limit=60)
    assert exact.objective == pytest.approx(best.objective, rel=1e-9)
    assert (evaluate_split(compiled, best.split).memory <= 9.0 + 1e-9).all()


@pytest.fixture(scope="module")
def bundled_results():
    results = {}
    for path in BUNDLED:
        instance = idnopt.load(path)
        results[path.stem] = (
            instance,
            {
                method.name: idnopt.solve(instance, method=method.name, time_limit=60)
                for method in FAMILY.methods
            },
        )
    return results


@pytest.mark.parametrize("name", [path.stem for path in BUNDLED])
def test_relaxation_below_exact_below_every_baseline(bundled_results, name):
    instance, results = bundled_results[name]
    exact, relaxed = results["exact"], results["relaxation"]
    assert exact.status == Status.OPTIMAL
    # the relaxation is solved to Clarabel's tolerance (relative 1e-8)
    assert relaxed.bound <= exact.objective * (1 + 1e-6)
    assert exact.bound <= exact.objective
    for method in BASELINES:
        baseline = results[method]
        if baseline.status == Status.FEASIBLE:
            assert exact.objective <= baseline.objective * (1 + 1e-9), method
    # the split answered is the one the tables describe
    split = FAMILY.evaluate(instance, exact)
    assert split == pytest.approx(exact.metrics["weighted_latency_ms"])


def test_the_relaxation_can_seed_the_exact_bound(bundled_results):
    instance, results = bundled_results["xeon-10gbe-resnet50"]
    seeded = idnopt.solve(instance, relaxation_bound=True, time_limit=60)
    assert seeded.objective == pytest.approx(results["exact"].objective, rel=1e-4)
    assert seeded.bound >= results["relaxation"].bound * (1 - 1e-9)
    assert "bound" in seeded.timings


def test_solve_tables_give_the_split_and_the_latency_per_class(bundled_results):
    instance, results = bundled_results["xavier-mesh-gpt2"]
    exact = results["exact"]
    assert {"split", "latency", "classes", "devices"} <= set(exact.tables)
    layers = {row["source"]: 0 for row in exact.tables["split"]}
    for row in exact.tables["split"]:
        layers[row["source"]] += row["count"]
    assert set(layers.values()) == {13}
    classes = {row["class"] for row in exact.tables["classes"]}
    assert classes == {"time-sensitive (priority 4)", "best-effort (priority 1)"}


def test_baselines_follow_their_rules():
    instance = idnopt.load(ROOT / "instances" / "pamdi" / "xavier-mesh-gpt2.yaml")
    compiled = compile_instance(instance)
    for source, devices in enumerate(mdi_llm_split(compiled, 2)):
        assert np.bincount(devices, minlength=5)[compiled.origin[source]] == 6
        assert sorted(np.bincount(devices)[np.bincount(devices) > 0]) == [6, 7]
    three = mdi_llm_split(compiled, 3)
    assert sorted(np.bincount(three[0])[np.bincount(three[0]) > 0]) == [3, 5, 5]
    for devices in ar_mdi_split(compiled):
        assert len(set(devices.tolist())) == 5
    assert all((d == compiled.origin[s]).all() for s, d in enumerate(local_split(compiled)))


def test_descent_and_best_response():
    instance = small_instance(11, devices=3, layers=4, priorities=(1.0, 2.0))
    compiled = compile_instance(instance)
    start = evaluate_split(compiled, local_split(compiled))
    final = descend(compiled, start.split)
    assert final.objective <= start.objective
    # the best response of one source equals enumeration with the other fixed
    others = final.split
    service = source_service(compiled, others)
    service[0] = 0.0
    found = best_split(compiled, 0, increments(compiled, service, 0), np.inf)
    candidates = [
        evaluate_split(compiled, (devices, others[1])) for devices in all_splits(compiled, 0)
    ]
    best = min(c.objective for c in candidates if c.feasible)
    chosen = evaluate_split(compiled, (found[1], others[1]))
    assert chosen.objective == pytest.approx(best, rel=1e-9)


# -- priorities ----------------------------------------------------------------------------------


@SMALL
@given(seed=st.integers(0, 10_000), raise_to=st.floats(1.05, 1.95))
def test_raising_a_priority_within_the_class_order_never_raises_that_latency(seed, raise_to):
    before = compile_instance(small_instance(seed, priorities=(1.0, 2.0)))
    after = compile_instance(small_instance(seed, priorities=(raise_to, 2.0)))
    old, new = brute_force(before), brute_force(after)
    if old is None or new is None:
        return
    assert new.latency[0] <= old.latency[0] * (1 + 1e-9)


@SMALL
@given(seed=st.integers(0, 10_000))
def test_for_a_fixed_split_moving_up_a_class_never_raises_that_latency(seed):
    low = compile_instance(small_instance(seed, priorities=(1.0, 2.0, 3.0)))
    high = compile_instance(small_instance(seed, priorities=(5.0, 2.0, 3.0)))
    rng = np.random.default_rng(seed)
    split = tuple(rng.choice(list(all_splits(low, s))) for s in range(low.num_sources))
    before, after = evaluate_split(low, split), evaluate_split(high, split)
    if before.feasible:
        assert after.latency[0] <= before.latency[0] * (1 + 1e-12)
        assert (after.latency[1:] >= before.latency[1:] * (1 - 1e-12)).all()


COUNTEREXAMPLE = {
    "kind": "pamdi",
    "compute_cv": 0.232,
    "devices": [
        {"name": "d0", "speed": 0.5},
        {"name": "d1", "speed": 2.0},
        {"name": "d2", "speed": 1.0},
    ],
    "links": [
        {"source": "d0", "target": "d1", "latency": 0.441, "bandwidth": 265.935},
        {"source": "d0", "target": "d2", "latency": 0.352, "bandwidth": 830.885},
        {"source": "d1", "target": "d2", "latency": 1.847, "bandwidth": 348.917},
    ],
    "models": [
        {
            "name": "m",
            "input": 0.05,
            "layers": [
                {"name": "l0", "time": 8.378, "output": 0.09},
                {"name": "l1", "time": 5.617, "output": 0.032},
                {"name": "l2", "time": 8.418, "output": 0.029},
            ],
        }
    ],
    "sources": [
        {"name": "s0", "device": "d0", "model": "m", "rate": 49.659, "priority": 1.0},
        {"name": "s1", "device": "d0", "model": "m", "rate": 57.096, "priority": 2.0},
    ],
}
"""THEORY.md, "Priority monotonicity": raising s0 from 1 to 3 (past s1) raises its latency."""


def test_raising_a_priority_past_another_source_can_raise_its_optimal_latency():
    import copy

    raised = copy.deepcopy(COUNTEREXAMPLE)
    raised["sources"][0]["priority"] = 3.0
    before = compile_instance(idnopt.from_dict(COUNTEREXAMPLE))
    after = compile_instance(idnopt.from_dict(raised))
    old, new = brute_force(before), brute_force(after)
    assert old.latency[0] == pytest.approx(39.21, abs=0.01)
    assert new.latency[0] == pytest.approx(44.57, abs=0.01)
    # for the old split alone, the raise helps s0 (Cobham), but the optimum moves
    assert evaluate_split(after, old.split).latency[0] <= old.latency[0]
    exact = idnopt.solve(idnopt.from_dict(raised))
    assert exact.objective == pytest.approx(new.objective, rel=1e-9)


# -- instances ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit, location, words",
    [
        (lambda d: d["sources"][0].update(device="nowhere"), "sources[0].device", "unknown device"),
        (lambda d: d["sources"][0].update(model="vgg"), "sources[0].model", "unknown model"),
        (lambda d: d["links"][0].update(target=d["links"][0]["source"]), "links[0]", "itself"),
        (
            lambda d: d["models"][0]["layers"].update(profile="tpu"),
            "models[0].layers.profile",
            "unknown profile",
        ),
        (lambda d: d["devices"][0].update(speed=0), "devices[0].speed", "greater than 0"),
        (lambda d: d["links"][0].update(bandwidth="20 Mbit/h"), "links[0].bandwidth", "unit"),
        (lambda d: d["devices"].append(dict(d["devices"][0])), "devices[5].name", "duplicate"),
        (
            lambda d: d["profiles"]["h100-eager"].update(file="missing.json"),
            "profiles.h100-eager.file",
            "not found",
        ),
        (
            lambda d: d["models"][0]["layers"].update(model="bert"),
            "models[0].layers",
            "no model 'bert'",
        ),
    ],
)
def test_each_mistake_gives_one_located_error(tmp_path, edit, location, words):
    import shutil

    import yaml

    source = ROOT / "instances" / "pamdi" / "xavier-mesh-gpt2.yaml"
    data = yaml.safe_load(source.read_text())
    edit(data)
    (tmp_path / "pamdi").mkdir()
    shutil.copytree(ROOT / "instances" / "profiles", tmp_path / "profiles")
    path = tmp_path / "pamdi" / "broken.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(InputError) as caught:
        idnopt.load(path)
    message = str(caught.value)
    assert location in message and words in message, message
    assert "\n" not in message


def test_generated_instances_are_reproducible_and_solvable():
    generator = FAMILY.generator
    first = generator.generate(devices=4, layers=6, sources=3, seed=7)
    again = generator.generate(devices=4, layers=6, sources=3, seed=7)
    assert first == again
    result = idnopt.solve(first, time_limit=30)
    assert result.has_solution and result.bound <= result.objective
    round_trip = idnopt.from_dict(FAMILY.to_document(first))
    assert round_trip == first


def test_per_hop_partitions_cover_the_chain():
    compiled = compile_instance(idnopt.load(ROOT / "instances" / "pamdi" / "multihop-gpt2.yaml"))
    for partition in (1, 4, 13):
        for source, devices in enumerate(per_hop_split(compiled, partition)):
            assert devices.size == compiled.chains[source].length
