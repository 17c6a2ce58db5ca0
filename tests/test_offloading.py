"""Offloading with model selection: engine semantics, bounds, learners, files and errors."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import INSTANCES
from idnopt.errors import InputError
from idnopt.family import get_family
from idnopt.formulations.offloading import (
    Fixed,
    Greedy,
    compile_offloading,
    draw,
    generate_offloading,
    lower_bound,
    request_cost,
)
from idnopt.formulations.offloading.generator import OffloadingGeneratorParameters
from idnopt.formulations.offloading.schema import read_bandwidth_trace
from idnopt.formulations.offloading.simulation import run_policy
from idnopt.sim.fast import simulate_decided
from idnopt.sim.reference import simulate_reference
from idnopt.sim.scheduling import Scheduler, simulate

FAMILY = get_family("offloading")


class Replay(Scheduler):
    """Decisions given in advance, taken one by one by the event loop."""

    name = "replay"

    def __init__(self, targets=()):
        self.targets = targets

    def choose(self, query):
        return int(self.targets[query])


def scenario_of(**knobs):
    return generate_offloading(OffloadingGeneratorParameters(**knobs))


@pytest.fixture(scope="module")
def instance():
    return scenario_of(devices=4, users=2.0)


@pytest.fixture(scope="module")
def compiled(instance):
    return compile_offloading(instance)


def test_targets_are_tier_by_variant_and_local_means_the_own_device(instance, compiled):
    system = compiled.system
    assert len(system.targets) == 3 * len(instance.models)
    for klass in range(len(system.classes)):
        for target in compiled.tier_targets("local"):
            deployment = system.target_deployment[klass, target]
            assert system.deployments.node[deployment] == system.classes.ingress[klass]
    # the variants of one node share its processors; only device deployments are loaded
    nodes = system.deployments.node
    assert np.array_equal(system.deployments.pool, nodes)
    devices = [system.nodes.index(name) for name in instance.devices]
    assert np.array_equal(system.deployments.loaded, np.isin(nodes, devices))


def test_fast_engine_and_vectorised_path_match_the_simpy_reference(compiled):
    system = compiled.system
    queries = draw(compiled, 60_000, seed=3)
    rng = np.random.default_rng(0)
    targets = rng.integers(system.num_targets, size=len(queries))
    vectorised = simulate_decided(system, queries, targets)
    reference = simulate_reference(
        system, queries, Fixed([0] * len(system.classes)), rng, targets=targets
    )
    assert np.allclose(vectorised.finish, reference.finish, equal_nan=True)
    assert np.allclose(vectorised.busy, reference.busy)
    looped = simulate(system, queries, Replay(targets), rng, vectorised=False)
    assert np.allclose(looped.finish, reference.finish, equal_nan=True)
    assert np.allclose(looped.busy, reference.busy)
    greedy_fast = simulate(system, queries, Greedy(compiled), np.random.default_rng(1))
    greedy_reference = simulate_reference(
        system, queries, Greedy(compiled), np.random.default_rng(1)
    )
    assert np.array_equal(greedy_fast.target, greedy_reference.target)
    assert np.allclose(greedy_fast.finish, greedy_reference.finish, equal_nan=True)


def test_variants_on_one_device_never_run_at_once(compiled):
    system = compiled.system
    queries = draw(compiled, 120_000, seed=5)
    local = compiled.tier_targets("local")
    rng = np.random.default_rng(2)
    targets = local[rng.integers(local.size, size=len(queries))]
    outcome = simulate_decided(system, queries, targets)
    for node in np.unique(system.deployments.node[outcome.deployment]):
        members = np.flatnonzero(system.deployments.node[outcome.deployment] == node)
        order = members[np.argsort(outcome.start[members])]
        starts, ends = outcome.start[order], outcome.end[order]
        assert (starts[1:] >= ends[:-1] - 1e-9).all()


def test_conditions_scale_transfers_and_local_service(compiled):
    system = compiled.system
    queries = draw(compiled, 120_000, seed=7)
    assert (queries.network_factor > 1).any() and (queries.compute_factor > 1).any()
    edge = compiled.tier_targets("edge")[0]
    outcome = simulate_decided(system, queries, np.full(len(queries), edge))
    klass = queries.klass
    deployment = outcome.deployment
    expected = (
        queries.time
        + system.uplink[klass, deployment]
        + queries.network_factor * system.transfer_up[klass, deployment]
        + queries.jitter_up * system.jitter[klass, deployment]
    )
    assert np.allclose(outcome.arrival, expected)
    local = compiled.tier_targets("local")[0]
    outcome = simulate_decided(system, queries, np.full(len(queries), local))
    work = outcome.end - outcome.start
    nominal = system.deployments.latency[outcome.deployment] * queries.service_factor
    assert np.allclose(work, nominal * queries.compute_factor)


@pytest.mark.parametrize(
    "policy", ["always-local", "always-edge", "always-cloud", "greedy", "oracle", "best-static"]
)
def test_no_request_beats_its_lower_bound(compiled, policy):
    from idnopt.formulations.offloading.simulation import (
        OffloadingSimulationParameters,
        scheduler_for,
    )

    queries = draw(compiled, 120_000, seed=11)
    scheduler, _, _ = scheduler_for(compiled, policy, OffloadingSimulationParameters(), queries)
    outcome = run_policy(compiled, scheduler, queries, 11)
    cost = request_cost(compiled, queries, outcome)
    assert (cost >= lower_bound(compiled, queries) - 1e-9).all()


def test_oracle_and_greedy_beat_every_single_tier(instance):
    results = {
        policy: FAMILY.simulation.simulate(instance, policy, duration=300, seed=1)
        for policy in ("always-local", "always-edge", "always-cloud", "greedy", "oracle")
    }
    tiers = min(results[p].objective for p in ("always-local", "always-edge", "always-cloud"))
    assert results["oracle"].objective < tiers
    assert results["greedy"].objective < tiers
    for result in results.values():
        assert result.bound <= result.objective


def test_best_static_is_no_worse_than_any_single_target(instance, compiled):
    best = FAMILY.simulation.simulate(instance, "best-static", duration=200, seed=2, warmup=0)
    queries = draw(compiled, 200_000, seed=2)
    for target in range(compiled.system.num_targets):
        outcome = run_policy(compiled, Fixed([target] * len(compiled.system.classes)), queries, 2)
        assert best.objective <= request_cost(compiled, queries, outcome).mean() + 1e-9


@pytest.fixture(scope="module")
def learned(instance):
    runs = {}
    for seed in (0, 1):
        for policy in ("q-learning", "offload-only"):
            runs[policy, seed] = FAMILY.simulation.simulate(
                instance, policy, duration=300, seed=seed, train_steps=15_000
            )
        runs["always-edge", seed] = FAMILY.simulation.simulate(
            instance, "always-edge", duration=300, seed=seed
        )
    return runs


def test_q_learning_beats_offloading_without_model_selection_and_a_fixed_tier(learned):
    for seed in (0, 1):
        chosen = learned["q-learning", seed].objective
        assert chosen < learned["offload-only", seed].objective
        assert chosen < learned["always-edge", seed].objective


def test_learners_respect_the_accuracy_floor_on_average(learned, instance):
    floors = {app.name: app.min_accuracy for app in instance.applications}
    for result in (learned["q-learning", 0], learned["q-learning", 1]):
        rows = result.tables["applications"]
        requests = sum(row["requests"] for row in rows)
        accuracy = sum(row["accuracy"] * row["requests"] for row in rows) / requests
        floor = sum(floors[row["application"]] * row["requests"] for row in rows) / requests
        assert accuracy >= floor


def test_q_learning_is_deterministic_under_a_seed(instance):
    first = FAMILY.simulation.simulate(
        instance, "q-learning", duration=60, seed=4, train_steps=3000
    )
    second = FAMILY.simulation.simulate(
        instance, "q-learning", duration=60, seed=4, train_steps=3000
    )
    assert first.metrics["cost_ms"] == second.metrics["cost_ms"]
    assert first.tables["decisions"] == second.tables["decisions"]


def test_q_table_round_trips_through_its_file(instance, tmp_path):
    path = tmp_path / "table.npz"
    trained = FAMILY.simulation.simulate(
        instance, "q-learning", duration=60, seed=4, train_steps=3000, save_policy=path
    )
    loaded = FAMILY.simulation.simulate(
        instance, "q-learning", duration=60, seed=4, train_steps=0, load_policy=path
    )
    assert loaded.metrics["cost_ms"] == trained.metrics["cost_ms"]
    other = scenario_of(devices=2)
    with pytest.raises(InputError, match="trained for"):
        FAMILY.simulation.simulate(
            other, "q-learning", duration=10, train_steps=0, load_policy=path
        )


def test_dqn_trains_on_the_gymnasium_environment_and_respects_the_floor(instance):
    from gymnasium.utils.env_checker import check_env

    from idnopt.formulations.offloading import make_env
    from idnopt.formulations.offloading.simulation import OffloadingSimulationParameters

    env = make_env(compile_offloading(instance), OffloadingSimulationParameters(episode=5))
    check_env(env, skip_render_check=True)
    result = FAMILY.simulation.simulate(instance, "dqn", duration=120, seed=0, train_steps=2000)
    assert result.objective >= result.bound
    rows = result.tables["applications"]
    floors = {app.name: app.min_accuracy for app in instance.applications}
    requests = sum(row["requests"] for row in rows)
    floor = sum(floors[row["application"]] * row["requests"] for row in rows) / requests
    assert result.metrics["accuracy"] >= floor


def test_static_method_result_is_reproduced_by_the_evaluator(instance):
    result = FAMILY.solve(instance, method="static", duration=60)
    assert result.bound <= result.objective
    assert FAMILY.evaluate(instance, result) == pytest.approx(result.objective)


def test_bandwidth_trace_sets_the_network_factor(tmp_path):
    from idnopt.formulations.offloading.schema import OffloadingInstance
    from idnopt.formulations.offloading.schema import instance_to_dict as to_dict

    base = scenario_of(devices=2, network="stable")
    trace = tmp_path / "bandwidth.csv"
    trace.write_text("time,factor,device\n0,1.0,\n30000,0.25,device-1\n")
    document = to_dict(base)
    document["bandwidth"] = {"trace": str(trace)}
    instance = OffloadingInstance.model_validate(document)
    compiled = compile_offloading(instance)
    queries = draw(compiled, 60_000, seed=0)
    device = np.array(compiled.devices)[compiled.class_device[queries.klass]]
    late = queries.time >= 30_000
    assert np.allclose(queries.network_factor[late & (device == "device-1")], 4.0)
    assert np.allclose(queries.network_factor[~late | (device == "device-2")], 1.0)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("time,factor\n0,abc\n", 2, "factor must be positive"),
        ("time,factor\n5,1\n2,1\n", 3, "is before the previous row"),
        ("time,factor,device\n0,1,phone\n", 2, "unknown device 'phone'"),
        ("time\n0\n", 1, "missing column 'factor'"),
    ],
)
def test_bad_bandwidth_traces_are_located(tmp_path, text, line, message):
    path = tmp_path / "trace.csv"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        read_bandwidth_trace(path, ["device-1"])
    assert caught.value.line == line
    assert message in str(caught.value)


def test_unknown_policy_is_refused(instance):
    with pytest.raises(InputError, match="unknown policy"):
        FAMILY.simulation.simulate(instance, "always-moon")


def test_adding_a_device_leaves_the_other_devices_conditions_unchanged():
    small = compile_offloading(scenario_of(devices=2))
    large = compile_offloading(scenario_of(devices=3))
    first = draw(small, 60_000, seed=9)
    second = draw(large, 60_000, seed=9)
    assert (first.network_factor > 1).any() and (second.network_factor > 1).any()
    one = np.array(small.devices)[small.class_device[first.klass]] == "device-1"
    other = np.array(large.devices)[large.class_device[second.klass]] == "device-1"
    times = np.intersect1d(first.time[one], second.time[other])
    assert times.size > 50
    at_first = dict(zip(first.time[one], first.network_factor[one]))
    at_second = dict(zip(second.time[other], second.network_factor[other]))
    assert all(at_first[t] == at_second[t] for t in times)


def test_cli_simulates_trains_and_plots_the_learning_curve(tmp_path):
    from click.testing import CliRunner

    from idnopt.cli.main import app

    plot = tmp_path / "run.png"
    table = tmp_path / "table.npz"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            str(INSTANCES / "offloading" / "end-edge-cloud.yaml"),
            "--policy",
            "q-learning",
            "--duration",
            "60",
            "--train-steps",
            "2000",
            "--save-policy",
            str(table),
            "--plot",
            str(plot),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "cost_over_bound" in result.output
    assert plot.is_file() and (tmp_path / "run-training.png").is_file()
    assert table.is_file()


def test_the_bundled_policy_sweep_runs_through_the_sweep_engine(tmp_path):
    import yaml

    from idnopt.sweep import read_table, run_sweep, spec_from_dict

    path = INSTANCES.parent / "benchmarks" / "offloading" / "policies.yaml"
    document = yaml.safe_load(path.read_text())
    document["instances"] = [{"file": str(INSTANCES / "offloading" / "end-edge-cloud.yaml")}]
    for solver in document["solvers"]:
        solver["options"] = {**solver["options"], "duration": 30}
        solver["options"].pop("train_steps", None)
        solver["grid"] = {"load": [1.0, 3.0]}
    document["solvers"] = [s for s in document["solvers"] if s["method"] != "q-learning"]
    document["seeds"] = 1
    run_sweep(spec_from_dict(document), tmp_path / "out", jobs=1)
    table = read_table(tmp_path / "out")
    assert set(table["status"]) == {"feasible"}
    assert (table["objective"] >= table["lower_bound_ms"] - 1e-9).all()
    greedy = table[table["method"] == "greedy"].sort_values("option.load")
    assert greedy["objective"].iloc[0] < greedy["objective"].iloc[1]  # more users, slower


def test_a_missing_bandwidth_trace_is_located_in_the_instance(tmp_path):
    import yaml

    import idnopt

    document = yaml.safe_load((INSTANCES / "offloading" / "stable-small.yaml").read_text())
    document["bandwidth"] = {"trace": "nowhere.csv"}
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(InputError) as caught:
        idnopt.load(path)
    assert caught.value.location == "bandwidth.trace"
    assert "bandwidth trace 'nowhere.csv' not found" in str(caught.value)


def uneven_instance(penalty: float = 0.0):
    """Device 1 lacks the smallest variant and device 2 the largest."""
    from idnopt.formulations.offloading.schema import OffloadingInstance
    from idnopt.formulations.offloading.schema import instance_to_dict as to_dict

    document = to_dict(scenario_of(devices=3, network="stable", penalty=penalty))
    document["deployments"] = [
        d
        for d in document["deployments"]
        if (d["node"], d["model"]) != ("device-1", "mobilenet_v1_0.25_224")
        and (d["node"], d["model"]) != ("device-2", "mobilenet_v1_1.0_224")
    ]
    return OffloadingInstance.model_validate(document)


def test_best_static_tries_targets_some_classes_cannot_use():
    from idnopt.formulations.offloading import best_static

    compiled = compile_offloading(uneven_instance())
    system = compiled.system
    queries = draw(compiled, 120_000, seed=3)
    targets, _ = best_static(compiled, queries, 3, 0.0)
    found = request_cost(compiled, queries, run_policy(compiled, Fixed(targets), queries, 3)).mean()
    smallest = system.targets.index("local/mobilenet_v1_0.25_224")
    # every class on the smallest local variant where it has it, its own best target elsewhere
    for other in range(system.num_targets):
        choice = np.where(system.target_deployment[:, smallest] >= 0, smallest, other)
        if (system.target_deployment[np.arange(len(choice)), choice] < 0).any():
            continue
        outcome = run_policy(compiled, Fixed(choice), queries, 3)
        assert found <= request_cost(compiled, queries, outcome).mean() + 1e-9


def test_q_learning_sees_its_own_device_backlog_even_without_the_first_variant():
    from idnopt.formulations.offloading import TabularQ

    compiled = compile_offloading(uneven_instance())
    queries = draw(compiled, 30_000, seed=1)
    learner = TabularQ(compiled)
    outcome = simulate(compiled.system, queries, learner, np.random.default_rng(0))
    assert outcome.check_conservation() is None
    for klass in range(len(compiled.system.classes)):
        local = learner.local_[klass]
        assert local >= 0 and compiled.system.target_deployment[klass, local] >= 0


def test_a_q_table_for_other_actions_is_refused(instance, tmp_path):
    path = tmp_path / "offload-only.npz"
    FAMILY.simulation.simulate(
        instance, "offload-only", duration=30, seed=1, train_steps=1000, save_policy=path
    )
    with pytest.raises(InputError, match="variants 'most-accurate'"):
        FAMILY.simulation.simulate(
            instance, "q-learning", duration=30, train_steps=0, load_policy=path
        )


def test_a_saved_dqn_trains_further_from_its_weights(tmp_path):
    from idnopt.sim.learning import load_scheduler

    instance = scenario_of(devices=2)
    first, second = tmp_path / "first.npz", tmp_path / "second.npz"
    FAMILY.simulation.simulate(instance, "dqn", duration=30, train_steps=800, save_policy=first)
    FAMILY.simulation.simulate(
        instance, "dqn", duration=30, train_steps=300, load_policy=first, save_policy=second
    )
    fresh = tmp_path / "fresh.npz"
    FAMILY.simulation.simulate(instance, "dqn", duration=30, train_steps=300, save_policy=fresh)
    continued, scratch = load_scheduler(second), load_scheduler(fresh)
    assert continued.metadata["steps"] == 1100
    assert not np.allclose(continued.weights[0][0], scratch.weights[0][0])


def test_engines_agree_with_jitter_replicas_and_load_reports():
    from idnopt.formulations.offloading.schema import OffloadingInstance
    from idnopt.formulations.offloading.schema import instance_to_dict as to_dict

    document = to_dict(scenario_of(devices=3, users=2.0))
    document["report_interval"] = 40.0
    for link in document["links"]:
        link["jitter"] = 1.5
    for deployment in document["deployments"]:
        if deployment["node"] == "edge":
            deployment["replicas"] = 2
    compiled = compile_offloading(OffloadingInstance.model_validate(document))
    queries = draw(compiled, 40_000, seed=4)
    fast = simulate(compiled.system, queries, Greedy(compiled), np.random.default_rng(1))
    reference = simulate_reference(
        compiled.system, queries, Greedy(compiled), np.random.default_rng(1)
    )
    assert np.array_equal(fast.target, reference.target)
    assert np.allclose(fast.finish, reference.finish, equal_nan=True)
    assert np.allclose(fast.busy, reference.busy)
