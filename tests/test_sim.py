"""The core simulation engine: servers, links, streams, arrivals, metrics, M/M/1 and M/D/1."""

from __future__ import annotations

import numpy as np
import pytest

from idnopt.result import Result, Status
from idnopt.sim import (
    LatencyRecorder,
    Link,
    Network,
    Server,
    SimulationParameters,
    Simulator,
    Streams,
    cdf_points,
    latency_samples,
    latency_values,
    poisson_arrivals,
    service_factor,
    summarize,
)


def _run_jobs(discipline: str):
    simulator = Simulator(0)
    server = Server(simulator, "s", discipline)
    order = []

    def job(name: str, at: float, work: float, rank: int):
        yield simulator.env.timeout(at)
        done = yield server.submit(work, rank, name)
        order.append((done.tag, done.started, done.finished))

    for name, at, work, rank in [("a", 0, 10, 1), ("b", 1, 5, 1), ("c", 2, 5, 0), ("d", 3, 1, 0)]:
        simulator.env.process(job(name, at, work, rank))
    simulator.run(100)
    return order


def test_priority_server_is_non_preemptive_and_serves_rank_zero_first():
    order = _run_jobs("priority")
    assert [tag for tag, _, _ in order] == ["a", "c", "d", "b"]
    assert order[0][1:] == (0.0, 10.0)  # a is never interrupted


def test_fifo_server_keeps_arrival_order():
    assert [tag for tag, _, _ in _run_jobs("fifo")] == ["a", "b", "c", "d"]


def test_a_continuation_keeps_the_server_between_steps():
    simulator = Simulator(0)
    server = Server(simulator, "s", "priority")
    log = []

    def two_steps():
        first = yield server.submit(5, 1, "a1")
        log.append(first.tag)
        second = yield server.submit(5, 1, "a2", first=True)
        log.append((second.tag, second.started))

    def other():
        yield simulator.env.timeout(1)
        done = yield server.submit(5, 1, "b")
        log.append((done.tag, done.started))

    simulator.env.process(two_steps())
    simulator.env.process(other())
    simulator.run(100)
    assert log == ["a1", ("a2", 5.0), ("b", 10.0)]
    assert server.backlog_above(1) == 0.0


def test_backlog_counts_service_residual_queue_and_reservations():
    simulator = Simulator(0)
    server = Server(simulator, "s", "priority")
    server.submit(10, 1)
    server.submit(4, 1)
    server.submit(3, 0)
    token = server.reserve(2, 0)
    simulator.env.run(until=4)
    assert server.backlog(0) == pytest.approx(6 + 3 + 2)
    assert server.backlog(1) == pytest.approx(6 + 4 + 3 + 2)
    assert server.backlog() == server.backlog(1)
    server.release(token)
    assert server.backlog(0) == pytest.approx(9)
    with pytest.raises(ValueError, match="discipline"):
        Server(simulator, "x", "lifo")


def test_links_paths_and_contention():
    simulator = Simulator(0)
    network = Network(simulator, ["a", "b", "c"])
    network.add(0, 1, latency=1.0, bandwidth=80.0)
    network.add(1, 2, latency=1.0, bandwidth=80.0)
    network.add(0, 2, latency=10.0, bandwidth=800.0)
    assert network.path(0.001, 0, 2) == [0, 1, 2]  # small payload: latency dominates
    assert network.path(1.0, 0, 2) == [0, 2]  # 1 MB: bandwidth dominates
    finished = []

    def send(size):
        yield from network.send(size, 0, 2)
        finished.append(simulator.now)

    simulator.env.process(send(1.0))
    simulator.run(1000)
    assert finished == [pytest.approx(10.0 + 8000.0 * 1.0 / 800.0)]
    busy = Simulator(0)
    link = Link(busy, "l", latency=1.0, bandwidth=8.0, contended=True)
    ends = []

    def move():
        yield from link.transfer(1.0)
        ends.append(busy.now)

    for _ in range(2):
        busy.env.process(move())
    busy.run(10_000)
    assert ends == [pytest.approx(1001.0), pytest.approx(2001.0)]
    with pytest.raises(ValueError, match="unreachable"):
        network.path(0.1, 2, 0)


def test_streams_are_reproducible_and_independent_by_name():
    a, b = Streams(3), Streams(3)
    assert a("x").random() == b("x").random()
    assert Streams(3)("x").random() != Streams(3)("y").random()
    rng = np.random.default_rng(0)
    draws = np.array([service_factor(rng, 0.5) for _ in range(20_000)])
    assert draws.mean() == pytest.approx(1.0, rel=0.02)
    assert draws.std() == pytest.approx(0.5, rel=0.05)
    assert service_factor(rng, 0.0) == 1.0


def test_summaries_cdfs_and_the_samples_convention():
    values = np.arange(1, 101, dtype=float)
    stats = summarize(values)
    assert stats["count"] == 100 and stats["mean"] == pytest.approx(50.5)
    assert stats["p95"] == pytest.approx(np.percentile(values, 95))
    assert np.isnan(summarize(np.zeros(0))["mean"])
    x, y = cdf_points(values, points=10)
    assert y[-1] == 1.0 and len(x) <= 10 and np.all(np.diff(x) >= 0)
    result = Result(
        status=Status.FEASIBLE, values={"x": np.zeros(2), **latency_values({"a": values})}
    )
    assert list(latency_samples(result)) == ["a"]
    recorder = LatencyRecorder(warmup=5.0)
    assert not recorder.start(1.0) and recorder.start(6.0)
    recorder.record("k", 1.0, 3.0)
    recorder.record("k", 6.0, 9.0)
    assert recorder.samples()["k"].tolist() == [3.0] and recorder.pending == 0


@pytest.mark.parametrize("cv, name", [(1.0, "M/M/1"), (0.0, "M/D/1")])
def test_a_single_server_matches_the_queueing_formulas(cv, name):
    # Pollaczek-Khinchine: W = rho * E[S] * (1 + cv^2) / (2 (1 - rho)); sojourn = W + E[S]
    rate, mean_service = 0.06, 10.0  # per ms, ms: rho = 0.6
    simulator = Simulator(7)
    server = Server(simulator, "s", "fifo")
    recorder = LatencyRecorder(warmup=10_000.0)
    rng = simulator.streams("service")

    def request(now: float):
        measured = recorder.start(now)
        job = yield server.submit(mean_service * service_factor(rng, cv))
        if measured:
            recorder.record("x", now, job.finished)

    poisson_arrivals(
        simulator,
        simulator.streams("arrivals"),
        rate,
        lambda _, now: simulator.env.process(request(now)),
        stop=1_000_000.0,
    )
    simulator.run(1_000_000.0, steps=4)
    simulator.drain(lambda: recorder.pending == 0, 2_000_000.0)
    stats = summarize(recorder.samples()["x"])
    rho = rate * mean_service
    expected = mean_service + rho * mean_service * (1 + cv**2) / (2 * (1 - rho))
    # stated tolerance: three batch-means half-widths plus 1 %
    assert abs(stats["mean"] - expected) <= 3 * stats["ci95"] + 0.01 * expected, (name, stats)
    assert server.utilisation(simulator.now) == pytest.approx(rho, rel=0.03)


def test_simulation_parameters_have_defaults_for_every_family():
    parameters = SimulationParameters.parse({"duration": 20}, where="test")
    assert parameters.warmup_ms == pytest.approx(2000.0)
    assert parameters.duration_ms == 20_000.0
    assert "progress" not in SimulationParameters.describe()
