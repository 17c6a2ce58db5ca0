"""The PA-MDI family's discrete-event simulation, on the core engine of :mod:`idnopt.sim`.

The simulated system has the delay model's semantics
(:mod:`~idnopt.formulations.pamdi.delay`): Poisson arrivals per source, one
non-preemptive server per device (priority classes by priority weight, or
FIFO), segment compute times ``X * work / speed`` with ``X`` of mean 1 and the
instance's ``compute_cv``, uncongested links crossed hop by hop along the
cheapest path, the result sent back to the source. What the analysis
approximates, the simulation does not: arrivals at later segments are the
departures of earlier ones, not Poisson.

Policies:

* ``pa-mdi`` - the online per-hop rule with RTC/CTC handshakes and priority
  queues (:mod:`~idnopt.formulations.pamdi.online`);
* ``ms-mdi`` - the same rule without priorities (FIFO queues);
* ``exact``, ``ar-mdi``, ``local``, ``mdi-llm`` - the split of that method, fixed
  for every request (one job per segment). For these the result also gives the
  delay model's latency of each source and its relative error.

``discipline`` (``auto``) gives priority queues to ``pa-mdi`` and ``exact``
(those of the instance's ``queueing``), FIFO to the priority-agnostic ones.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
from pydantic import Field

from idnopt.formulations.pamdi.compiled import Compiled, compile_instance
from idnopt.formulations.pamdi.delay import Evaluation, evaluate_split
from idnopt.formulations.pamdi.online import PerHopRule, RuleOptions
from idnopt.formulations.pamdi.schema import PamdiInstance
from idnopt.result import Result, Status
from idnopt.sim import (
    LatencyRecorder,
    Network,
    Server,
    SimulationParameters,
    Simulator,
    latency_values,
    poisson_arrivals,
    service_factor,
    summarize,
)

POLICIES = ("pa-mdi", "exact", "ms-mdi", "ar-mdi", "local", "mdi-llm")
"""Policies of ``idnopt simulate`` on a pamdi instance; the first is the default."""

ONLINE = ("pa-mdi", "ms-mdi")
PRIORITY_AWARE = ("pa-mdi", "exact")


class PamdiSimulationParameters(SimulationParameters):
    """Options of the PA-MDI simulation."""

    discipline: Literal["auto", "priority", "fifo"] = Field(
        "auto", description="queues at the devices (auto: priority for pa-mdi and exact)"
    )
    partition: int = Field(1, ge=1, description="layers per partition of the online rule")
    handshake: bool = Field(True, description="RTC/CTC handshake before offloading (online)")
    window: float = Field(1.0, ge=0, description="handshake collection window in ms")
    exact_time_limit: float = Field(
        30.0, gt=0, description="seconds for the exact split of policy 'exact'"
    )
    nodes: Literal[2, 3] = Field(2, description="devices per source of policy 'mdi-llm'")
    workers: int | None = Field(None, ge=1, description="devices per source of policy 'ar-mdi'")


def static_split(compiled: Compiled, policy: str, parameters: PamdiSimulationParameters):
    """The split a static policy uses (the method of the same name)."""
    from idnopt.formulations.pamdi.baselines import ar_mdi_split, local_split, mdi_llm_split

    if policy == "local":
        return local_split(compiled)
    if policy == "ar-mdi":
        return ar_mdi_split(compiled, parameters.workers)
    if policy == "mdi-llm":
        return mdi_llm_split(compiled, parameters.nodes)
    from idnopt.budget import Budget
    from idnopt.formulations.pamdi.exact import solve_exact
    from idnopt.method import Call

    outcome = solve_exact(compiled, Call(budget=Budget(parameters.exact_time_limit)))
    if outcome.incumbent is None:
        from idnopt.errors import InputError

        raise InputError(f"no feasible split to simulate: {outcome.message}")
    return outcome.incumbent.split


def _discipline(compiled: Compiled, policy: str, choice: str) -> str:
    if choice != "auto":
        return choice
    return compiled.queueing if policy in PRIORITY_AWARE else "fifo"


def simulate(instance: PamdiInstance, policy: str, parameters: PamdiSimulationParameters) -> Result:
    """Simulate ``instance`` under ``policy`` (see the module docstring).

    Parameters
    ----------
    instance : PamdiInstance
        A loaded instance.
    policy : str
        One of :data:`POLICIES`.
    parameters : PamdiSimulationParameters
        Duration, warm-up, seed, queue discipline and policy options.

    Returns
    -------
    Result
        ``objective``: the simulated priority-weighted mean latency (ms); tables
        ``sources``, ``classes``, ``devices``; raw latencies in
        ``values["latency:<source>"]``.
    """
    compiled = compile_instance(instance)
    discipline = _discipline(compiled, policy, parameters.discipline)
    started = time.perf_counter()
    model: Evaluation | None = None
    split = None
    if policy not in ONLINE:
        split = static_split(compiled, policy, parameters)
        model = evaluate_split(compiled, split, queueing=discipline)
    simulator = Simulator(parameters.seed)
    servers = [Server(simulator, name, discipline) for name in compiled.device_names]
    network = Network(simulator, compiled.device_names)
    bandwidth = 8000.0 / compiled.arc_ms_per_mb
    for tail, head, latency, rate in zip(
        compiled.arc_tail, compiled.arc_head, compiled.arc_latency, bandwidth
    ):
        network.add(int(tail), int(head), float(latency), float(rate))
    recorder = LatencyRecorder(parameters.warmup_ms)
    stop = parameters.duration_ms
    totals = {"wait": np.zeros(compiled.num_sources), "transfer": np.zeros(compiled.num_sources)}
    rule = None
    if policy in ONLINE:
        options = RuleOptions(
            partition=parameters.partition,
            priorities=policy == "pa-mdi" and discipline == "priority",
            handshake=parameters.handshake,
            window=parameters.window,
        )
        rule = PerHopRule(compiled, simulator, servers, network, options)

    def launch(source: int, rng: np.random.Generator):
        def handler(_: int, now: float) -> None:
            measured = recorder.start(now)
            if rule is not None:
                process = rule.request(source, now, rng)
            else:
                process = _static_request(compiled, simulator, servers, network, split, source, rng)
            simulator.env.process(
                _finish(simulator, recorder, totals, source, now, measured, process)
            )

        return handler

    for source, name in enumerate(compiled.source_names):
        rng = simulator.streams(f"arrivals:{name}")
        poisson_arrivals(
            simulator,
            rng,
            float(compiled.rate[source]),
            launch(source, simulator.streams(f"service:{name}")),
            stop=stop,
        )
    progress = parameters.progress
    simulator.run(stop, (lambda fraction: progress(0.99 * fraction)) if progress else None)
    drained = simulator.drain(lambda: recorder.pending == 0, limit=10 * stop)
    if progress:
        progress(1.0)
    return _result(
        compiled,
        policy,
        discipline,
        parameters,
        recorder,
        servers,
        totals,
        model,
        rule,
        drained,
        simulator.now,
        time.perf_counter() - started,
    )


def _static_request(compiled, simulator, servers, network, split, source, rng):
    """Process of one request following a fixed split."""
    from idnopt.formulations.pamdi.delay import segments

    env = simulator.env
    chain = compiled.chains[source]
    rank = int(compiled.klass[source])
    here = int(compiled.origin[source])
    waits = transfers = 0.0
    for device, first, last in segments(split[source]):
        if device != here:
            started = env.now
            yield from network.send(chain.sizes[first], here, device)
            transfers += env.now - started
        work = chain.work[first : last + 1].sum() / compiled.speed[device]
        job = yield servers[device].submit(
            work * service_factor(rng, compiled.instance.compute_cv), rank, source
        )
        waits += job.wait
        here = device
    origin = int(compiled.origin[source])
    if here != origin:
        started = env.now
        yield from network.send(chain.sizes[chain.length], here, origin)
        transfers += env.now - started
    return {"wait": waits, "transfer": transfers}


def _finish(simulator, recorder, totals, source, arrival, measured, process):
    outcome = yield simulator.env.process(process)
    if measured:
        recorder.record(str(source), arrival, simulator.now)
        totals["wait"][source] += outcome["wait"]
        totals["transfer"][source] += outcome["transfer"]


def _result(
    compiled,
    policy,
    discipline,
    parameters,
    recorder,
    servers,
    totals,
    model,
    rule,
    drained,
    now,
    seconds,
) -> Result:
    samples = recorder.samples()
    by_source = {
        name: samples.get(str(s), np.zeros(0)) for s, name in enumerate(compiled.source_names)
    }
    means = np.asarray([summarize(v)["mean"] if v.size else np.nan for v in by_source.values()])
    weighted = float(np.nansum(compiled.weight * means)) if np.isfinite(means).all() else None
    result = Result(
        status=Status.FEASIBLE if weighted is not None and drained else Status.TIME_LIMIT,
        objective=weighted,
        solver="simulation",
        method=policy,
        message="" if drained else "requests still in flight at the end (overloaded?)",
    )
    result.solve_seconds = seconds
    rows = []
    for source, (name, values) in enumerate(by_source.items()):
        stats = summarize(values)
        count = max(stats["count"], 1)
        row = {
            "source": name,
            "class": compiled.class_label(int(compiled.klass[source])),
            "requests": stats["count"],
            "mean_ms": stats["mean"],
            "ci95_ms": stats["ci95"],
            "p95_ms": stats["p95"],
            "p99_ms": stats["p99"],
            "wait_ms": float(totals["wait"][source] / count),
            "transfer_ms": float(totals["transfer"][source] / count),
        }
        if model is not None:
            row["model_ms"] = float(model.latency[source])
            row["error"] = float(stats["mean"] / model.latency[source] - 1.0)
        rows.append(row)
    result.tables["sources"] = rows
    result.tables["classes"] = _class_rows(compiled, by_source, model)
    elapsed = max(now, 1e-9)
    result.tables["devices"] = [
        {
            "device": server.name,
            "utilisation": server.utilisation(elapsed),
            **({"model_load": float(model.load[d])} if model is not None else {}),
            "mean_queue": server.mean_queue_length(elapsed),
            "jobs": server.served,
        }
        for d, server in enumerate(servers)
    ]
    result.values.update(latency_values(by_source))
    result.metrics.update(
        {
            "policy": policy,
            "discipline": discipline,
            "duration_s": parameters.duration,
            "warmup_s": parameters.warmup_ms / 1000.0,
            "seed": parameters.seed,
            "requests": int(sum(v.size for v in by_source.values())),
            "weighted_mean_ms": weighted,
        }
    )
    for row in result.tables["classes"]:
        result.metrics[f"{row['class']}: mean_ms"] = row["mean_ms"]
        result.metrics[f"{row['class']}: p95_ms"] = row["p95_ms"]
    if model is not None:
        result.metrics["model_weighted_ms"] = model.objective
    if rule is not None:
        result.metrics["offloads"] = rule.offloads
        result.metrics["handshakes_refused"] = sum(h.refused for h in rule.handshakes)
    return result


def _class_rows(compiled, by_source, model) -> list[dict]:
    rows = []
    for klass in range(compiled.num_classes):
        members = [s for s in range(compiled.num_sources) if compiled.klass[s] == klass]
        values = np.concatenate([list(by_source.values())[s] for s in members])
        stats = summarize(values)
        row = {
            "class": compiled.class_label(klass),
            "requests": stats["count"],
            "mean_ms": stats["mean"],
            "p95_ms": stats["p95"],
            "p99_ms": stats["p99"],
        }
        if model is not None:
            rates = compiled.rate[members]
            row["model_ms"] = float(rates @ model.latency[members] / rates.sum())
        rows.append(row)
    return rows
