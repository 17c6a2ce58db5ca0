"""The serving simulator: queueing theory, the simpy reference, arrivals, metrics, the env, ASET.

Stated tolerances: mean sojourn times within 3 % of M/M/1, M/D/1 and M/M/2
theory at loads up to 0.6 and within 5 % at 0.85 (half a million queries, fixed
seeds); the fast engine, its vectorised path and the simpy reference agree on
every query's times to 1e-9 ms.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

import idnopt
from idnopt.errors import InputError
from idnopt.family import get_family
from idnopt.formulations.serving import compile_scenario, draw
from idnopt.sim.engine import Streams
from idnopt.sim.fast import Engine, simulate_decided
from idnopt.sim.queues import lindley
from idnopt.sim.scheduling import STATIC_SCHEDULERS, Closest, LeastLoaded, simulate
from idnopt.sim.system import UNLIMITED_QUEUE, Classes, Deployments, ServingSystem, targets_at
from idnopt.sim.workload import (
    Diurnal,
    Mmpp,
    Poisson,
    Scheduled,
    arrival_times,
    draw_queries,
    read_arrival_trace,
)

ROOT = Path(__file__).resolve().parents[1]
SHIFTING = ROOT / "instances" / "serving" / "shifting.yaml"
ABILENE = ROOT / "instances" / "serving" / "abilene.yaml"
STATIC = ("closest", "least-loaded", "random", "round-robin", "cloud", "placement")


def single_queue(*, cv: float, replicas: int = 1, limit: int = UNLIMITED_QUEUE) -> ServingSystem:
    """One deployment (service time 1 ms) at the ingress itself: an M/G/c queue."""
    deployments = Deployments(
        names=("n0/m",),
        node=np.zeros(1, dtype=np.int64),
        model=("m",),
        task=("t",),
        replicas=np.array([replicas]),
        batch=np.ones(1, dtype=np.int64),
        queue_limit=np.array([limit]),
        latency=np.ones(1),
        batch_cost=np.zeros(1),
        max_wait=np.zeros(1),
        accuracy=np.ones(1),
    )
    classes = Classes(
        names=("a@n0",),
        application=np.zeros(1, dtype=np.int64),
        ingress=np.zeros(1, dtype=np.int64),
        task=("t",),
        deadline=np.array([5.0]),
        min_accuracy=np.zeros(1),
        service_cv=np.array([cv]),
    )
    names, table, cloud = targets_at("node", ("n0",), deployments, classes)
    zero = np.zeros((1, 1))
    return ServingSystem(
        ("n0",), ("a",), deployments, classes, zero, zero, zero, "node", names, table, cloud
    )


def sojourn(system: ServingSystem, rate_per_ms: float, count: int, seed: int) -> np.ndarray:
    duration = count / rate_per_ms
    queries = draw_queries(
        [Poisson()], [1000.0 * rate_per_ms], system.classes.service_cv, Streams(seed), duration
    )
    outcome = simulate_decided(system, queries, np.zeros(len(queries), dtype=np.int64))
    return outcome.finish - queries.time


# -- queueing theory -------------------------------------------------------------------
@pytest.mark.parametrize("rho, tolerance", [(0.3, 0.03), (0.6, 0.03), (0.85, 0.05)])
def test_mm1_mean_sojourn_time(rho, tolerance):
    times = sojourn(single_queue(cv=1.0), rho, 500_000, seed=11)
    theory = 1.0 / (1.0 - rho)
    assert abs(times.mean() - theory) <= tolerance * theory, (times.mean(), theory)


@pytest.mark.parametrize("rho, tolerance", [(0.3, 0.03), (0.6, 0.03), (0.85, 0.05)])
def test_md1_mean_sojourn_time(rho, tolerance):
    times = sojourn(single_queue(cv=0.0), rho, 500_000, seed=12)
    theory = 1.0 + rho / (2.0 * (1.0 - rho))  # Pollaczek-Khinchine, service time 1
    assert abs(times.mean() - theory) <= tolerance * theory, (times.mean(), theory)


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_mm2_mean_sojourn_time_matches_erlang_c(rho):
    servers, offered = 2, 2 * rho
    times = sojourn(single_queue(cv=1.0, replicas=servers), offered, 400_000, seed=13)
    tail = offered**servers / math.factorial(servers) / (1 - rho)
    head = sum(offered**k / math.factorial(k) for k in range(servers))
    waiting = tail / (head + tail) / (servers - offered)
    assert times.mean() == pytest.approx(1.0 + waiting, rel=0.03)


def test_lindley_recursion_matches_a_loop():
    rng = np.random.default_rng(0)
    arrival = np.sort(rng.uniform(0, 100, 500))
    work = rng.exponential(0.15, 500)
    start, end = lindley(arrival, work)
    free = 0.0
    for i in range(500):
        begin = max(arrival[i], free)
        free = begin + work[i]
        assert start[i] == pytest.approx(begin) and end[i] == pytest.approx(free)


# -- the fast engine against the simpy reference -------------------------------------
def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return np.allclose(np.nan_to_num(a, nan=-1.0), np.nan_to_num(b, nan=-1.0), atol=1e-9)


@pytest.mark.parametrize("level", ["node", "deployment"])
@pytest.mark.parametrize(
    "policy", ["closest", "least-loaded", "random", "round-robin", "cloud", "expected-delay"]
)
def test_fast_engine_matches_the_simpy_reference(policy, level):
    pytest.importorskip("simpy")
    from idnopt.sim.reference import simulate_reference

    scenario = compile_scenario(idnopt.load(SHIFTING), level=level)
    queries = draw(scenario, 3000.0, seed=4)
    scheduler = STATIC_SCHEDULERS[policy]
    fast = simulate(scenario.system, queries, scheduler(), np.random.default_rng(9))
    loop = simulate(
        scenario.system, queries, scheduler(), np.random.default_rng(9), vectorised=False
    )
    reference = simulate_reference(scenario.system, queries, scheduler(), np.random.default_rng(9))
    for other in (loop, reference):
        assert np.array_equal(fast.target, other.target)
        assert np.array_equal(fast.refused, other.refused)
        for field in ("arrival", "start", "end", "finish"):
            assert _close(getattr(fast, field), getattr(other, field)), field
        assert np.array_equal(fast.batch, other.batch)
        assert fast.busy == pytest.approx(other.busy)
    assert (fast.batch > 1).any() or policy not in ("cloud", "random", "round-robin")


def test_least_loaded_with_exact_loads_matches_the_reference():
    pytest.importorskip("simpy")
    from idnopt.sim.reference import simulate_reference

    scenario = compile_scenario(idnopt.load(SHIFTING), report_interval=0.0)
    queries = draw(scenario, 2000.0, seed=5)
    fast = simulate(scenario.system, queries, LeastLoaded(), np.random.default_rng(0))
    reference = simulate_reference(
        scenario.system, queries, LeastLoaded(), np.random.default_rng(0)
    )
    assert np.array_equal(fast.target, reference.target)
    assert _close(fast.finish, reference.finish)


def test_queue_limits_drop_queries_the_same_way_in_every_engine():
    pytest.importorskip("simpy")
    from idnopt.sim.reference import simulate_reference

    system = single_queue(cv=1.0, limit=3)
    queries = draw_queries([Poisson()], [1200.0], system.classes.service_cv, Streams(2), 5000.0)
    zero = np.zeros(len(queries), dtype=np.int64)
    fast = simulate_decided(system, queries, zero)
    loop = Engine(system, queries).run(lambda query: 0)
    reference = simulate_reference(system, queries, Closest(), np.random.default_rng(0))
    assert fast.refused.sum() > 0
    for other in (loop, reference):
        assert np.array_equal(fast.refused, other.refused)
        assert _close(fast.finish, other.finish)


# -- conservation, metrics, determinism ------------------------------------------------
def _limited(tmp_path: Path) -> Path:
    data = yaml.safe_load(SHIFTING.read_text())
    for deployment in data["deployments"]:
        if deployment["node"] != "cloud":
            deployment["queue_limit"] = 4
    path = tmp_path / "limited.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("policy", [*STATIC, "expected-delay"])
def test_every_query_ends_served_or_dropped(policy, tmp_path):
    instance = idnopt.load(_limited(tmp_path))
    scenario = compile_scenario(instance, level="deployment")
    queries = draw(scenario, 4000.0, seed=1)
    from idnopt.formulations.serving import ServingSimulationParameters, scheduler_for

    scheduler, _ = scheduler_for(instance, scenario, policy, ServingSimulationParameters())
    outcome = simulate(scenario.system, queries, scheduler, np.random.default_rng(1))
    outcome.check_conservation()
    assert int(outcome.served.sum() + outcome.dropped.sum()) == len(queries)
    if policy == "closest":
        assert outcome.refused.any()  # the overloaded edge clusters' full queues refuse queries


def test_results_per_application_add_up_and_repeat_with_the_seed():
    family = get_family("serving")
    instance = idnopt.load(ABILENE)
    first = family.simulation.simulate(instance, "closest", duration=4, seed=3)
    again = family.simulation.simulate(instance, "closest", duration=4, seed=3)
    other = family.simulation.simulate(instance, "closest", duration=4, seed=4)
    rows = first.tables["applications"]
    assert [row["application"] for row in rows] == [*instance_names(instance), "all"]
    assert sum(row["queries"] for row in rows[:-1]) == rows[-1]["queries"]
    assert first.objective == rows[-1]["on_time_accurate"]
    for key in ("applications", "utilisation", "on_time"):
        assert first.tables[key] == again.tables[key]
    assert first.objective == again.objective
    assert first.tables["applications"] != other.tables["applications"]
    samples = {k: v for k, v in first.values.items() if k.startswith("latency:")}
    assert set(samples) == {f"latency:{name}" for name in instance_names(instance)}
    assert 0 < rows[-1]["latency_p95"] <= rows[-1]["latency_p99"]


def instance_names(instance) -> list[str]:
    return [application.name for application in instance.applications]


def test_placement_policy_dispatches_the_idn_flows():
    family = get_family("serving")
    instance = idnopt.load(ABILENE)
    result = family.solve(instance, method="placement")
    shares: dict[str, float] = {}
    for row in result.tables["dispatch"]:
        shares[row["class"]] = shares.get(row["class"], 0.0) + row["share"]
    assert len(shares) == sum(len(app.ingresses) for app in instance.applications)
    assert all(total == pytest.approx(1.0) for total in shares.values())
    simulated = family.simulation.simulate(instance, "placement", duration=2)
    assert simulated.metrics["placement_gain"] == pytest.approx(result.objective)


# -- arrivals -----------------------------------------------------------------------------
def test_arrival_processes_have_their_mean_rates():
    rng = np.random.default_rng(0)
    span = 200_000.0
    assert arrival_times(Poisson(), 500.0, rng, 0, span).size == pytest.approx(1e5, rel=0.02)
    mmpp = Mmpp((0.5, 3.0), (400.0, 100.0))
    count = arrival_times(mmpp, 500.0, rng, 0, span).size
    assert count == pytest.approx(1e5 * mmpp.mean_level(), rel=0.05)
    wave = Diurnal(0.8, 10_000.0)
    times = arrival_times(wave, 500.0, rng, 0, span)
    phase = (times % 10_000.0) / 10_000.0
    assert (phase < 0.5).sum() > 3 * (phase >= 0.5).sum()  # peak in the first half-period
    steps = Scheduled((0.0, 100_000.0), (1.5, 0.5))
    times = arrival_times(steps, 500.0, rng, 0, span)
    assert (times < 100_000).sum() == pytest.approx(3 * (times >= 100_000).sum(), rel=0.05)


def test_queries_are_common_across_policies_and_sorted():
    scenario = compile_scenario(idnopt.load(SHIFTING))
    first, second = draw(scenario, 2000.0, 7), draw(scenario, 2000.0, 7)
    assert np.array_equal(first.time, second.time) and np.all(np.diff(first.time) >= 0)
    assert np.array_equal(first.service_factor, second.service_factor)
    assert len(draw(scenario, 2000.0, 7, load=2.0)) > 1.5 * len(first)


def test_a_replayed_trace_drives_the_simulation(tmp_path):
    data = yaml.safe_load(SHIFTING.read_text())
    app = data["applications"][0]
    ingress = app["ingresses"][0]["node"]
    rows = ["time,application,ingress"] + [f"{t},{app['name']},{ingress}" for t in range(0, 900, 3)]
    (tmp_path / "arrivals.csv").write_text("\n".join(rows) + "\n")
    app["arrivals"] = {"process": "trace", "file": "arrivals.csv"}
    for entry in app["ingresses"]:
        entry.pop("arrivals", None)
    path = tmp_path / "trace.yaml"
    path.write_text(yaml.safe_dump(data))
    instance = idnopt.load(path)
    scenario = compile_scenario(instance)
    queries = draw(scenario, 600.0, 0)
    replayed = np.isin(queries.klass, [0])
    assert replayed.sum() == 200  # rows at 0, 3, ..., 597 ms


@pytest.mark.parametrize(
    "line, fragment",
    [
        ("abc,ar,pop-0-access", "arrivals.csv:3: time: time must be a non-negative number"),
        ("5,augmented,pop-0-access", "arrivals.csv:3: application: unknown application"),
        ("5,ar,pop-9-access", "arrivals.csv:3: ingress: unknown ingress of application 'ar'"),
        ("5,ar", "arrivals.csv:3: expected 3 fields, found 2"),
    ],
)
def test_trace_errors_are_located(tmp_path, line, fragment):
    path = tmp_path / "arrivals.csv"
    path.write_text(f"time,application,ingress\n1,ar,pop-0-access\n{line}\n")
    classes = {("ar", "pop-0-access"): 0, ("ar", "pop-1-access"): 1}
    with pytest.raises(InputError) as caught:
        read_arrival_trace(path, classes, {})
    assert fragment in str(caught.value)


def test_a_missing_trace_file_is_located(tmp_path):
    data = yaml.safe_load(SHIFTING.read_text())
    data["applications"][0]["arrivals"] = {"process": "trace", "file": "nowhere.csv"}
    path = tmp_path / "missing.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match=r"applications\[0\]\.arrivals\.file: arrival trace"):
        idnopt.load(path)


def test_scenario_errors_are_located(tmp_path):
    data = yaml.safe_load(SHIFTING.read_text())
    broken = copy.deepcopy(data)
    broken["deployments"][0]["model"] = "resnet-18"
    broken["applications"][1]["ingresses"][0]["node"] = "pop-7-access"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    with pytest.raises(InputError) as caught:
        idnopt.load(path)
    lines = caught.value.lines()
    assert any("deployments[0].model: unknown model 'resnet-18'" in line for line in lines)
    assert any("applications[1].ingresses[0].node: unknown node" in line for line in lines)


# -- the policy contract and the Gymnasium environment --------------------------------
def test_schedulers_follow_the_policy_conventions():
    from idnopt.sim.scheduling import SchedulingView
    from policy_suite import PolicyCase, check_conventions

    scenario = compile_scenario(idnopt.load(SHIFTING))
    view = SchedulingView(scenario.system, draw(scenario, 500.0, 0))
    for name, cls in STATIC_SCHEDULERS.items():
        check_conventions(PolicyCase(name, cls, False), view)
    decision = Closest().reset(view, np.random.default_rng(0)).act(0)
    assert decision.served.shape == (1,) and 0 <= decision.served[0] < view.system.num_targets


@pytest.mark.parametrize("reward", ["predicted", "completed"])
def test_the_environment_passes_the_gymnasium_checker(reward):
    pytest.importorskip("gymnasium")
    from gymnasium.utils.env_checker import check_env

    from idnopt.sim.env import ServingEnv

    scenario = compile_scenario(idnopt.load(SHIFTING))
    env = ServingEnv(
        scenario.system, lambda rng: draw(scenario, 300.0, int(rng.integers(1000))), reward=reward
    )
    check_env(env, skip_render_check=True)
    rewards = []
    for _ in range(2):
        observation, _ = env.reset(seed=5)
        total, done, steps = 0.0, False, 0
        actions = np.random.default_rng(1)
        while not done:
            observation, value, done, _, _ = env.step(int(actions.integers(env.action_space.n)))
            assert env.observation_space.contains(observation)
            total, steps = total + value, steps + 1
        rewards.append(total)
        env.outcome.check_conservation()
    assert rewards[0] == rewards[1] and steps == len(env.queries)


# -- ASET ------------------------------------------------------------------------------------
TRAIN_STEPS = 8000


@pytest.fixture(scope="module")
def aset_policy(tmp_path_factory):
    pytest.importorskip("stable_baselines3")
    path = tmp_path_factory.mktemp("aset") / "aset.npz"
    family = get_family("serving")
    result = family.simulation.simulate(
        idnopt.load(SHIFTING),
        "aset",
        duration=20,
        seed=1,
        train_steps=TRAIN_STEPS,
        episode=5,
        save_policy=path,
    )
    return result, path


def test_aset_beats_every_static_policy_on_the_shifting_load(aset_policy):
    aset, _ = aset_policy
    family = get_family("serving")
    instance = idnopt.load(SHIFTING)
    low = aset.objective - aset.metrics["ci95"]
    for policy in STATIC:
        static = family.simulation.simulate(instance, policy, duration=20, seed=1)
        high = static.objective + static.metrics["ci95"]
        assert low > high, (policy, aset.objective, static.objective)


def test_a_saved_policy_loads_back_and_decides_the_same(aset_policy, tmp_path):
    aset, path = aset_policy
    family = get_family("serving")
    instance = idnopt.load(SHIFTING)
    again = family.simulation.simulate(
        instance, "aset", duration=20, seed=1, load_policy=path, train_steps=0
    )
    assert again.objective == aset.objective
    assert again.tables["applications"] == aset.tables["applications"]
    other = yaml.safe_load(ABILENE.read_text())
    with pytest.raises(InputError, match="was trained for targets"):
        family.simulation.simulate(
            idnopt.from_dict(other, source=str(ABILENE)), "aset", duration=1, load_policy=path
        )


def test_ppo_trains_on_the_same_environment():
    pytest.importorskip("stable_baselines3")
    from idnopt.formulations.serving import ServingSimulationParameters, make_env
    from idnopt.sim.learning import train_scheduler

    scenario = compile_scenario(idnopt.load(SHIFTING))
    parameters = ServingSimulationParameters(episode=1.0)
    scheduler = train_scheduler(
        lambda: make_env(scenario, parameters), scenario.system, algorithm="ppo", steps=512
    )
    assert scheduler.activation == "tanh" and scheduler.metadata["algorithm"] == "ppo"
    queries = draw(scenario, 500.0, 0)
    simulate(scenario.system, queries, scheduler, np.random.default_rng(0)).check_conservation()


# -- command line and sweeps ---------------------------------------------------------------
def test_simulate_command_trains_saves_and_loads_a_policy(tmp_path):
    pytest.importorskip("stable_baselines3")
    from idnopt.cli.main import app

    runner = CliRunner()
    policy = tmp_path / "agent.npz"
    common = [str(SHIFTING), "--policy", "aset", "-d", "2", "--json"]
    trained = runner.invoke(
        app, ["simulate", *common, "--train-steps", "600", "--save-policy", str(policy)]
    )
    assert trained.exit_code == 0, trained.output
    assert policy.is_file()
    loaded = runner.invoke(app, ["simulate", *common, "--load-policy", str(policy)])
    assert loaded.exit_code == 0, loaded.output
    assert json.loads(loaded.output)["objective"] == json.loads(trained.output)["objective"]
    missing = runner.invoke(app, ["simulate", *common, "--load-policy", str(tmp_path / "no.npz")])
    assert missing.exit_code == 1 and "policy file not found" in missing.output
    figure = tmp_path / "cdf.png"
    plotted = runner.invoke(
        app, ["simulate", str(SHIFTING), "-d", "2", "--plot", str(figure), "--json"]
    )
    assert plotted.exit_code == 0, plotted.output
    assert figure.is_file() and (tmp_path / "cdf-on-time.png").is_file()


def test_learning_flags_are_refused_where_no_policy_learns():
    from idnopt.cli.main import app

    pamdi = sorted((ROOT / "instances" / "pamdi").glob("*.yaml"))
    if not pamdi:
        pytest.skip("no bundled pamdi instance")
    refused = CliRunner().invoke(app, ["simulate", str(pamdi[0]), "--train-steps", "10"])
    assert refused.exit_code == 2 and "has no learned policy to train" in refused.output


def test_simulate_sweep_task_compares_policies_over_loads(tmp_path):
    from idnopt.sweep import run_sweep, spec_from_dict

    spec = spec_from_dict(
        {
            "name": "serving-loads",
            "kind": "simulate",
            "instances": [{"file": str(SHIFTING)}],
            "solvers": [
                {
                    "name": name,
                    "method": name,
                    "options": {"duration": 2},
                    "grid": {"load": [0.5, 1.0]},
                }
                for name in ("closest", "round-robin")
            ],
            "seeds": 1,
        }
    )
    run_sweep(spec, tmp_path / "out", jobs=1)
    from idnopt.sweep import read_table

    table = read_table(tmp_path / "out")
    assert len(table) == 4 and set(table["status"]) == {"feasible"}
    assert {"objective", "on_time_accurate", "option.load"} <= set(table.columns)
    closest = table[table["method"] == "closest"].sort_values("option.load")
    assert closest["objective"].iloc[0] > closest["objective"].iloc[1]  # more load, fewer on time


def test_figures_draw_on_time_and_latency_cdfs(tmp_path):
    pytest.importorskip("matplotlib")
    from idnopt.sim.figures import latency_cdf_by_policy, on_time_plot

    family = get_family("serving")
    instance = idnopt.load(SHIFTING)
    results = {
        p: family.simulation.simulate(instance, p, duration=3) for p in ("closest", "random")
    }
    on_time_plot(results, tmp_path / "on_time.png")
    latency_cdf_by_policy(results, tmp_path / "cdf.png")
    assert (tmp_path / "on_time.png").stat().st_size > 0
    assert (tmp_path / "cdf.png").stat().st_size > 0
