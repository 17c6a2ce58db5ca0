"""IDN model allocation: gain, exact MILP, relaxation, heuristics, generator, topologies."""

from __future__ import annotations

import importlib.util
import itertools
import json
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import idnopt
from backend_suite import assert_backends_agree
from idnopt.backends import solve_program
from idnopt.cli.main import app
from idnopt.errors import InputError
from idnopt.formulations.idn import (
    HARDWARE_SPEED,
    IdnInstance,
    build_candidates,
    build_program,
    catalog_models,
    depround,
    gain,
    generate_idn,
    instance_to_dict,
    instance_to_text,
    load_catalog,
    refer_to_profile,
    relaxed_gain,
    supergradient,
    write_instance,
)
from idnopt.formulations.idn import fix_allocation as _fixed
from idnopt.topology import (
    FIBRE_KM_PER_MS,
    backbone,
    build_topology,
    great_circle_km,
    synthetic_backbone,
    tiered_deployment,
    tree,
)

ROOT = Path(__file__).resolve().parent.parent
needs_topohub = pytest.mark.skipif(
    importlib.util.find_spec("topohub") is None, reason="real backbones need the topohub package"
)
BUNDLED = ["tree", "grid", "abilene", "geant"]
EXACT = {"mip_gap": 1e-9}
SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---------------------------------------------------------------------------------------
# small random instances and independent reference computations


@st.composite
def small_instances(draw, capacity: str = "per_request") -> IdnInstance:
    """2-3 nodes (repository included), 2-4 models, 1-4 request classes."""
    others = draw(st.integers(1, 2))
    names = ["cloud"] + [f"n{i}" for i in range(1, others + 1)]
    chain = draw(st.booleans())
    links = []
    for i in range(1, others + 1):
        parent = names[i - 1] if chain else "cloud"
        links.append({"source": names[i], "target": parent, "latency": draw(st.integers(2, 20))})
    nodes = [{"name": "cloud", "tier": "cloud", "hardware": "big"}]
    for name in names[1:]:
        nodes.append(
            {"name": name, "tier": "edge", "hardware": "small", "memory": draw(st.integers(3, 10))}
        )
    model_count = draw(st.integers(2, 4))
    task_count = draw(st.integers(1, 2))
    models = []
    for m in range(model_count):
        models.append(
            {
                "name": f"m{m}",
                "task": f"t{m % task_count}",
                "memory": draw(st.integers(1, 5)),
                "accuracy": draw(st.integers(50, 95)) / 100,
                "latency": {"big": draw(st.integers(1, 10)), "small": draw(st.integers(1, 15))},
                "throughput": {"big": 1000, "small": draw(st.integers(1, 60))},
            }
        )
    requests = [
        {
            "task": f"t{draw(st.integers(0, task_count - 1))}",
            "ingress": draw(st.sampled_from(names[1:])),
            "rate": draw(st.integers(1, 50)),
        }
        for _ in range(draw(st.integers(1, 4)))
    ]
    data = {
        "kind": "idn",
        "repository": "cloud",
        "alpha": draw(st.sampled_from([0.0, 50.0, 200.0])),
        "capacity": capacity,
        "nodes": nodes,
        "links": links,
        "models": models,
        "requests": requests,
    }
    return idnopt.from_dict(data)


def feasible_allocations(candidates):
    """Every knapsack-feasible binary allocation over the hostable pairs."""
    nodes, models = candidates.shape
    per_node = []
    for v in range(nodes):
        options = []
        hostable = np.flatnonzero(candidates.hostable[v])
        for k in range(len(hostable) + 1):
            for subset in itertools.combinations(hostable, k):
                if candidates.sizes[list(subset)].sum() <= candidates.budgets[v] + 1e-9:
                    row = np.zeros(models)
                    row[list(subset)] = 1.0
                    options.append(row)
        per_node.append(options)
    for rows in itertools.product(*per_node):
        yield np.array(rows)


def knapsack_feasible(candidates, allocation) -> bool:
    binary = np.all((allocation == 0) | (allocation == 1))
    within = np.all(allocation @ candidates.sizes <= candidates.budgets + 1e-9)
    hostable = np.all(allocation[~candidates.hostable] == 0)
    return bool(binary and within and hostable)


def simulated_gain(instance: IdnInstance, allocation: np.ndarray) -> float:
    """Serve every request class greedily by explicit loops over the instance data."""
    graph = instance.graph()
    node_names = instance.node_names
    nodes = {n.name: n for n in instance.nodes}
    repository = nodes[instance.repository]
    hosted_at_repository = set(instance.hosted_by_repository())
    total = 0.0
    for request in instance.requests:
        path = nx.shortest_path(graph, request.ingress, instance.repository, weight="latency")
        options = []  # (cost, capacity); None capacity = unlimited
        distance = 0.0
        for position, node in enumerate(path):
            if position > 0:
                distance += graph.edges[path[position - 1], node]["latency"]
            for j, model in enumerate(instance.models):
                if model.task != request.task:
                    continue
                penalty = instance.alpha * (1 - model.accuracy)
                if node == instance.repository:
                    if model.name in hosted_at_repository:
                        latency = model.latency_on(repository.hardware)
                        options.append((2 * distance + latency + penalty, None))
                elif allocation[node_names.index(node), j] > 0.5:
                    hardware = nodes[node].hardware
                    if model.memory > nodes[node].memory:
                        continue
                    latency = model.latency_on(hardware)
                    capacity = model.throughput_on(hardware)
                    options.append((2 * distance + latency + penalty, capacity))
        repository_cost = min(cost for cost, capacity in options if capacity is None)
        remaining, cost_paid = request.rate, 0.0
        for cost, capacity in sorted(options, key=lambda option: option[0]):
            if remaining <= 0:
                break
            taken = remaining if capacity is None else min(remaining, capacity)
            cost_paid += taken * cost
            remaining -= taken
        total += request.rate * repository_cost - cost_paid
    return total


def shared_gain(candidates, allocation) -> float:
    """Shared-capacity gain of a fixed allocation (its flow LP)."""
    if candidates.num_candidates == 0:
        return 0.0
    result = solve_program(
        _fixed(build_program(candidates, capacity="shared"), allocation), "highs"
    )
    return float(result.objective)


def solve(instance, method, **options):
    return idnopt.solve(instance, method=method, **EXACT, **options)


# ---------------------------------------------------------------------------------------
# gain and its formula


@SETTINGS
@given(instance=small_instances(), data=st.data())
def test_gain_equals_greedy_serving_simulation(instance, data):
    candidates = build_candidates(instance)
    allocations = list(feasible_allocations(candidates))
    for index in data.draw(st.lists(st.integers(0, len(allocations) - 1), min_size=1, max_size=4)):
        allocation = allocations[index]
        expected = simulated_gain(instance, allocation)
        assert gain(candidates, allocation) == pytest.approx(expected, rel=1e-9, abs=1e-9)
        assert relaxed_gain(candidates, allocation) == pytest.approx(expected, abs=1e-9)


def test_gain_of_tree_example_matches_simulation():
    instance = idnopt.load(ROOT / "instances/idn/tree.yaml")
    candidates = build_candidates(instance)
    rng = np.random.default_rng(0)
    for _ in range(20):
        allocation = (rng.random(candidates.shape) < 0.4) * candidates.hostable
        assert gain(candidates, allocation) == pytest.approx(simulated_gain(instance, allocation))


# ---------------------------------------------------------------------------------------
# exact MILP, relaxation, heuristics


@SETTINGS
@given(instance=small_instances())
def test_milp_equals_brute_force(instance):
    candidates = build_candidates(instance)
    best = max(gain(candidates, x) for x in feasible_allocations(candidates))
    result = solve(instance, "milp", bound=False)
    assert result.status == idnopt.Status.OPTIMAL
    assert result.objective == pytest.approx(best, rel=1e-7, abs=1e-6)
    assert result.metrics["gain"] == pytest.approx(best, rel=1e-7, abs=1e-6)
    assert knapsack_feasible(candidates, result.value("x"))


@SETTINGS
@given(instance=small_instances())
def test_relaxation_milp_rounding_greedy_order(instance):
    candidates = build_candidates(instance)
    relaxation = solve(instance, "relaxation")
    milp = solve(instance, "milp", bound=False)
    rounding = solve(instance, "rounding", bound=False, samples=4)
    greedy = solve(instance, "greedy", bound=False)
    tolerance = 1e-6 * max(1.0, abs(relaxation.objective))
    assert relaxation.objective >= milp.objective - tolerance
    assert milp.objective >= rounding.objective - tolerance
    assert milp.objective >= greedy.objective - tolerance
    assert rounding.objective >= -tolerance and greedy.objective >= -tolerance
    for heuristic in (rounding, greedy):
        allocation = heuristic.value("x")
        assert knapsack_feasible(candidates, allocation)
        assert heuristic.objective == pytest.approx(gain(candidates, allocation), abs=1e-6)
    y = relaxation.value("x")
    assert relaxed_gain(candidates, y) == pytest.approx(relaxation.objective, rel=1e-6, abs=1e-6)
    # with the bound asked for, a heuristic reports L* as its bound and a gap that holds
    greedy_bounded = solve(instance, "greedy")
    assert greedy_bounded.bound == pytest.approx(relaxation.objective, rel=1e-9, abs=1e-9)
    assert greedy_bounded.bound >= milp.objective - tolerance
    assert greedy_bounded.gap is not None and greedy_bounded.gap >= -1e-9


def test_depround_keeps_the_sum_and_the_marginals():
    rng = np.random.default_rng(1)
    weights = np.array([0.3, 0.5, 0.7, 0.25, 0.25, 1.0, 0.0])
    draws = np.array([depround(weights, rng) for _ in range(4000)])
    assert set(np.unique(draws)) <= {0.0, 1.0}
    assert set(draws.sum(axis=1)) <= {3.0}
    assert np.allclose(draws.mean(axis=0), weights, atol=0.03)


# ---------------------------------------------------------------------------------------
# supergradient


@SETTINGS
@given(instance=small_instances(), seed=st.integers(0, 2**16))
def test_supergradient_matches_finite_differences(instance, seed):
    candidates = build_candidates(instance)
    rng = np.random.default_rng(seed)
    y = rng.uniform(0.05, 0.95, candidates.shape) * candidates.hostable
    g = supergradient(candidates, y)
    step = 1e-6
    for pair in zip(*np.nonzero(candidates.hostable)):
        up, down = y.copy(), y.copy()
        up[pair] += step
        down[pair] -= step
        forward = (relaxed_gain(candidates, up) - relaxed_gain(candidates, y)) / step
        backward = (relaxed_gain(candidates, y) - relaxed_gain(candidates, down)) / step
        scale = max(1.0, abs(forward), abs(backward))
        if abs(forward - backward) < 1e-4 * scale:  # differentiable along this axis
            assert g[pair] == pytest.approx(forward, rel=1e-4, abs=1e-4)
        else:  # a kink: the supergradient lies between the one-sided derivatives
            assert forward - 1e-4 * scale <= g[pair] <= backward + 1e-4 * scale
    # concavity: the supergradient inequality at random points of the box
    value = relaxed_gain(candidates, y)
    for _ in range(10):
        z = rng.uniform(0, 1, candidates.shape) * candidates.hostable
        assert relaxed_gain(candidates, z) <= value + np.sum(g * (z - y)) + 1e-7 * max(1, value)


def test_instance_with_nothing_to_cache_gives_zero_everywhere():
    data = {
        "kind": "idn",
        "repository": "cloud",
        "nodes": [
            {"name": "cloud", "tier": "cloud", "hardware": "big"},
            {"name": "edge", "tier": "edge", "hardware": "small", "memory": 1},
        ],
        "links": [{"source": "edge", "target": "cloud", "latency": 5}],
        "models": [
            {
                "name": "m",
                "task": "t",
                "memory": 2,
                "accuracy": 0.7,
                "latency": {"big": 1, "small": 3},
            }
        ],
        "requests": [
            {"task": "t", "ingress": "cloud", "rate": 5},
            {"task": "t", "ingress": "edge", "rate": 5},
        ],
    }
    instance = idnopt.from_dict(data)
    candidates = build_candidates(instance)
    assert candidates.num_candidates == 0
    assert np.all(supergradient(candidates, np.zeros(candidates.shape)) == 0)
    for method in ("milp", "relaxation", "rounding", "greedy", "repository"):
        assert solve(instance, method).objective == pytest.approx(0.0)


def test_supergradient_at_binary_points_is_a_supergradient():
    instance = generate_idn("tree", models=6, request_classes=12, seed=3)
    candidates = build_candidates(instance)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = (rng.random(candidates.shape) < 0.5) * candidates.hostable
        g = supergradient(candidates, x)
        for _ in range(5):
            z = rng.uniform(0, 1, candidates.shape) * candidates.hostable
            assert relaxed_gain(candidates, z) <= gain(candidates, x) + np.sum(g * (z - x)) + 1e-6


# ---------------------------------------------------------------------------------------
# backends


@pytest.mark.parametrize("relax", [False, True], ids=["milp", "relaxation"])
@pytest.mark.parametrize("capacity", ["per_request", "shared"])
def test_idn_program_same_optimum_on_every_backend(relax, capacity):
    instance = generate_idn("tree", models=5, request_classes=10, seed=4, capacity=capacity)
    program = build_program(build_candidates(instance), capacity=capacity, relax=relax)
    results = assert_backends_agree(program, relax=relax)
    assert results["highs"].status == idnopt.Status.OPTIMAL


def test_tree_example_same_optimum_on_every_backend():
    instance = idnopt.load(ROOT / "instances/idn/tree.yaml")
    program = build_program(build_candidates(instance))
    assert_backends_agree(program)
    assert_backends_agree(program, relax=True)


# ---------------------------------------------------------------------------------------
# shared capacity


@settings(SETTINGS, max_examples=15)
@given(instance=small_instances(capacity="shared"))
def test_shared_capacity_brute_force_and_bound(instance):
    candidates = build_candidates(instance)
    allocations = list(feasible_allocations(candidates))
    shared = [shared_gain(candidates, x) for x in allocations]
    for x, value in zip(allocations, shared):
        assert value <= gain(candidates, x) + 1e-6
    result = solve(instance, "milp", bound=False)
    assert result.status == idnopt.Status.OPTIMAL
    assert result.objective == pytest.approx(max(shared), rel=1e-7, abs=1e-6)
    for method in ("greedy", "rounding"):
        options = {"samples": 2} if method == "rounding" else {}
        heuristic = solve(instance, method, bound=False, **options)
        assert -1e-6 <= heuristic.objective <= result.objective + 1e-6
        assert knapsack_feasible(candidates, heuristic.value("x"))


def test_shared_heuristic_keeps_models_that_only_shared_serving_needs():
    """Two classes share one server of capacity 10 each: the second model carries the rest."""
    data = {
        "kind": "idn",
        "repository": "cloud",
        "capacity": "shared",
        "nodes": [
            {"name": "cloud", "tier": "cloud", "hardware": "big"},
            {"name": "edge", "tier": "edge", "hardware": "small", "memory": 10},
        ],
        "links": [{"source": "edge", "target": "cloud", "latency": 20}],
        "models": [
            {
                "name": "fast",
                "task": "t",
                "memory": 5,
                "accuracy": 0.8,
                "latency": {"big": 1, "small": 2},
                "throughput": {"small": 10},
            },
            {
                "name": "slow",
                "task": "t",
                "memory": 5,
                "accuracy": 0.8,
                "latency": {"big": 1, "small": 4},
                "throughput": {"small": 10},
            },
        ],
        "requests": [
            {"task": "t", "ingress": "edge", "rate": 10},
            {"task": "t", "ingress": "edge", "rate": 10},
        ],
    }
    instance = idnopt.from_dict(data)
    milp = solve(instance, "milp")
    rounding = solve(instance, "rounding")
    assert milp.objective == pytest.approx(2 * 10 * 41 - 10 * 2 - 10 * 4 + 0)  # both served
    assert rounding.objective == pytest.approx(milp.objective)
    assert {row["model"] for row in rounding.tables["placement"]} == {"fast", "slow"}


# ---------------------------------------------------------------------------------------
# bundled instances


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_instances_load_and_solve(name):
    path = ROOT / "instances" / "idn" / f"{name}.yaml"
    instance = idnopt.load(path)
    started = time.perf_counter()
    result = idnopt.solve(instance)
    elapsed = time.perf_counter() - started
    assert result.status == idnopt.Status.OPTIMAL
    assert result.objective > 0
    assert result.metrics["lp_bound"] >= result.objective - 1e-6 * result.objective
    assert elapsed < 30
    greedy = idnopt.solve(instance, method="greedy", bound=False)
    assert 0 <= greedy.objective <= result.objective * (1 + 1e-4)


@needs_topohub
@pytest.mark.parametrize("name", ["grid", "abilene", "geant"])
def test_bundled_instances_are_what_the_generator_writes(name, tmp_path, monkeypatch):
    path = ROOT / "instances" / "idn" / f"{name}.yaml"
    command = next(line for line in path.read_text().splitlines() if "idnopt generate" in line)
    arguments = command.split("idnopt ", 1)[1].split()
    arguments[arguments.index("-o") + 1] = str(tmp_path / path.name)
    monkeypatch.chdir(ROOT)  # the command's paths are relative to the repository root
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    bundled, regenerated = idnopt.load(path), idnopt.load(tmp_path / path.name)
    assert bundled.model_copy(update={"profiles": {}}) == regenerated.model_copy(
        update={"profiles": {}}
    )
    if bundled.profiles:  # the cloud latencies of the measured models come from the profile
        catalog = {m["name"]: m for m in load_catalog()}
        for model in bundled.models:
            if model.name in catalog:
                measured = catalog[model.name]["latency_ms"]["fp32"]
                assert model.latency_on("h100") == pytest.approx(measured, rel=1e-3)


# ---------------------------------------------------------------------------------------
# generator


@pytest.mark.parametrize("topology", ["tree", "grid", "abilene", "geant", "synthetic"])
def test_generator_is_deterministic(topology):
    if topology in ("abilene", "geant") and importlib.util.find_spec("topohub") is None:
        pytest.skip("real backbones need the topohub package")
    nodes = 60 if topology in ("synthetic", "grid", "tree") else None
    first = generate_idn(topology, nodes=nodes, models=8, request_classes=20, seed=7)
    again = generate_idn(topology, nodes=nodes, models=8, request_classes=20, seed=7)
    other = generate_idn(topology, nodes=nodes, models=8, request_classes=20, seed=8)
    assert first == again
    assert instance_to_text(first) == instance_to_text(again)
    assert first != other
    assert len(first.requests) == 20 and len(first.models) == 8
    if nodes is not None:
        assert len(first.nodes) == nodes


@needs_topohub
def test_generator_shapes_and_numbers():
    instance = generate_idn("abilene", models=10, request_classes=30, seed=2)
    tiers = {n.tier for n in instance.nodes}
    assert tiers == {"cloud", "regional", "edge", "access"}
    assert instance.repository == "cloud"
    assert {r.ingress for r in instance.requests} <= {
        n.name for n in instance.nodes if n.tier == "access"
    }
    catalog = {m["name"]: m for m in load_catalog()}
    for model in instance.models:
        entry = catalog[model.name]
        assert model.latency["h100"] == pytest.approx(entry["latency_ms"]["fp32"])
        assert model.accuracy == pytest.approx(entry["accuracy"])
        # slower hardware is slower, and the derivation is the documented one
        assert model.latency["h100"] < model.latency["t4"] < model.latency["orin"]
        assert model.latency["orin"] < model.latency["orin-nano"]
        expected = HARDWARE_SPEED["orin"].latency(entry["latency_ms"]["fp32"], entry["gflops"])
        assert model.latency["orin"] == pytest.approx(expected, rel=1e-3)
    # Zipf: the most popular task carries the most requests
    per_task = {}
    for request in instance.requests:
        per_task[request.task] = per_task.get(request.task, 0.0) + request.rate
    assert max(per_task, key=per_task.get) == "task-1"


@pytest.mark.parametrize("count", [1, 18, 40, 130])
def test_catalog_sizes_beyond_the_measured_models(count):
    models = catalog_models(count, seed=1)
    assert len(models) == count
    assert len({m["name"] for m in models}) == count
    for model in models:
        assert 0 < model["accuracy"] <= 1 and model["memory"] > 0
        assert all(value > 0 for value in model["latency"].values())


def test_generator_scales_to_a_thousand_nodes():
    started = time.perf_counter()
    instance = generate_idn("synthetic", nodes=1000, models=20, request_classes=100, seed=0)
    assert len(instance.nodes) == 1000
    assert time.perf_counter() - started < 20


@needs_topohub
def test_generator_rejects_bad_arguments():
    with pytest.raises(InputError, match="unknown topology"):
        generate_idn("nowhere")
    with pytest.raises(InputError, match="capacity"):
        generate_idn(capacity="pooled")
    with pytest.raises(InputError, match="at least"):
        generate_idn("abilene", nodes=5)
    with pytest.raises(InputError):
        generate_idn(models=0)
    with pytest.raises(InputError, match="seed"):
        generate_idn(seed=-1)


def test_instance_to_dict_round_trips_through_yaml_and_json(tmp_path):
    instance = generate_idn("grid", models=25, request_classes=15, seed=5, capacity="shared")
    for name in ("copy.yaml", "copy.json"):
        path = write_instance(instance, tmp_path / name, header="a header")
        assert idnopt.load(path) == instance
    tree_example = idnopt.load(ROOT / "instances/idn/tree.yaml")
    assert idnopt.from_dict(instance_to_dict(tree_example)) == tree_example


@needs_topohub
def test_generate_cli_writes_a_file_that_loads_back_identically(tmp_path):
    output = tmp_path / "geant.yaml"
    arguments = ["generate", "idn", "--topology", "geant", "--models", "6", "--requests", "12"]
    result = CliRunner().invoke(app, [*arguments, "--seed", "3", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert output.read_text().startswith("# Generated IDN instance")
    expected = generate_idn("geant", models=6, request_classes=12, seed=3)
    assert idnopt.load(output) == expected
    # the regeneration command in the header reproduces it
    command = next(line for line in output.read_text().splitlines() if "idnopt generate" in line)
    again = tmp_path / "again.yaml"
    replay = command.split("idnopt ", 1)[1].replace(str(output), str(again)).split()
    assert CliRunner().invoke(app, replay).exit_code == 0
    assert idnopt.load(again) == expected
    # standard output, JSON, and errors
    printed = CliRunner().invoke(app, ["generate", "idn", "--models", "3", "--requests", "4"])
    assert printed.exit_code == 0 and "kind: idn" in printed.output
    as_json = tmp_path / "tree.json"
    assert CliRunner().invoke(app, ["generate", "idn", "-o", str(as_json)]).exit_code == 0
    assert json.loads(as_json.read_text())["kind"] == "idn"
    assert idnopt.load(as_json) == generate_idn()
    failed = CliRunner().invoke(app, ["generate", "idn", "--topology", "mars", "-o", str(output)])
    assert failed.exit_code == 1 and "unknown topology" in failed.output


# ---------------------------------------------------------------------------------------
# profiles


def _write_profile(path: Path, latencies: dict[str, float]) -> None:
    from idnopt.profiling.format import Profile, save_profile

    models = {
        name: {
            "accuracy": 0.5,
            "measurements": [
                {"batch": 1, "precision": "fp32", "median_ms": ms, "p95_ms": ms, "min_ms": ms}
            ],
        }
        for name, ms in latencies.items()
    }
    profile = Profile.model_validate(
        {
            "format": "idnopt-profile",
            "version": 1,
            "hardware": {
                "h100": {"device": "test", "kind": "gpu", "method": "cuda-graph", "models": models}
            },
        }
    )
    save_profile(profile, path)


def test_profile_reference_resolves_the_cloud_latencies(tmp_path):
    pytest.importorskip("idnopt.profiling.format")
    instance = generate_idn("tree", models=4, request_classes=6, seed=1)
    names = instance.model_names
    profiled = {names[0]: 0.123, names[1]: 4.56}
    (tmp_path / "profiles").mkdir()
    _write_profile(tmp_path / "profiles" / "h100.json", profiled)
    (tmp_path / "idn").mkdir()
    data = refer_to_profile(
        instance_to_dict(instance), "../profiles/h100.json", base=tmp_path / "idn"
    )
    assert data["profiles"] == {"h100": {"file": "../profiles/h100.json"}}
    assert "h100" not in data["models"][0]["latency"]
    assert data["models"][2]["latency"]["h100"] == instance.models[2].latency["h100"]
    path = write_instance(data, tmp_path / "idn" / "tree.yaml")
    loaded = idnopt.load(path)
    by_name = {m.name: m for m in loaded.models}
    for name, ms in profiled.items():
        assert by_name[name].latency_on("h100") == pytest.approx(ms)
        assert by_name[name].accuracy == instance.models[names.index(name)].accuracy  # inline wins
    assert by_name[names[2]].latency_on("h100") == instance.models[2].latency["h100"]
    assert idnopt.solve(loaded).status == idnopt.Status.OPTIMAL
    # the CLI does the same with --profile
    output = tmp_path / "idn" / "cli.yaml"
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "idn",
            "--models",
            "4",
            "--requests",
            "6",
            "--seed",
            "1",
            "--profile",
            str(tmp_path / "profiles" / "h100.json"),
            "-o",
            str(output),
        ],
    )
    assert result.exit_code == 0, result.output
    assert idnopt.load(output) == loaded


def test_profile_missing_the_repository_models_is_a_located_error(tmp_path):
    instance = generate_idn("tree", models=2, request_classes=3, seed=1)
    _write_profile(tmp_path / "h100.json", {"not_in_the_instance": 1.0})
    data = refer_to_profile(instance_to_dict(instance), "h100.json", base=tmp_path)
    for model in data["models"]:
        model["latency"].pop("h100")
    path = write_instance(data, tmp_path / "broken.yaml")
    with pytest.raises(InputError, match="runs at the repository") as error:
        idnopt.load(path)
    assert error.value.location.startswith("requests[")


def test_bundled_profile_if_present():
    profile = ROOT / "instances" / "profiles" / "h100.json"
    if not profile.exists():
        pytest.skip("instances/profiles/h100.json is not bundled yet")
    from idnopt.profiling.format import load_profile

    loaded = load_profile(profile)
    catalog = {m["name"] for m in load_catalog()}
    assert catalog <= set(loaded.model_names("h100"))


# ---------------------------------------------------------------------------------------
# topologies


@needs_topohub
def test_great_circle_and_fibre_latency():
    new_york, chicago = (-74.01, 40.71), (-87.65, 41.85)
    assert great_circle_km(new_york, chicago) == pytest.approx(1145, rel=0.01)
    graph = backbone("abilene")
    assert graph.number_of_nodes() == 11 and nx.is_connected(graph)
    for u, v, attributes in graph.edges(data=True):
        distance = great_circle_km(graph.nodes[u]["pos"], graph.nodes[v]["pos"])
        assert attributes["latency"] == pytest.approx(distance / FIBRE_KM_PER_MS)
    assert backbone("geant").number_of_nodes() == 37


@needs_topohub
def test_tiered_deployment_structure():
    base = backbone("abilene")
    graph = tiered_deployment(base, nodes=60, seed=1, budgets={"edge": 100})
    assert graph.number_of_nodes() == 60 and nx.is_connected(graph)
    tiers = nx.get_node_attributes(graph, "tier")
    gateways = list(graph.neighbors("cloud"))
    best_degree = max(dict(base.degree()).values())
    assert len(gateways) == 2 and all(base.degree(g) == best_degree for g in gateways)
    for node, tier in tiers.items():
        if tier == "access":
            assert [tiers[n] for n in graph.neighbors(node)] == ["edge"]
        if tier == "edge":
            assert "regional" in {tiers[n] for n in graph.neighbors(node)}
            assert 75 <= graph.nodes[node]["memory"] <= 125
    assert all(graph.nodes[n]["hardware"] for n in graph)
    with pytest.raises(InputError, match="at least 12"):
        tiered_deployment(base, nodes=5)


def test_scalable_topologies():
    for size in (3, 15, 1000):
        graph = tree(size, seed=0)
        assert graph.number_of_nodes() == size and nx.is_tree(graph)
    backbone_graph = synthetic_backbone(250, seed=0)
    degrees = [d for _, d in backbone_graph.degree()]
    assert nx.is_connected(backbone_graph) and 2.6 <= np.mean(degrees) <= 3.6
    graph = build_topology("synthetic", 1000, seed=0)
    assert graph.number_of_nodes() == 1000 and nx.is_connected(graph)
    assert build_topology("grid", 37).number_of_nodes() == 37


@pytest.mark.parametrize("seed", range(4))
def test_gain_upper_bound_bounds_the_lp_and_the_milp(seed):
    from idnopt.formulations.idn.gain import gain_upper_bound

    instance = generate_idn("tree", models=6, request_classes=15, seed=seed)
    candidates = build_candidates(instance)
    relaxation = idnopt.solve(instance, method="relaxation")
    exact = idnopt.solve(instance, **EXACT)
    bound = gain_upper_bound(candidates)
    assert bound >= relaxation.objective - 1e-6 >= exact.objective - 2e-6
