"""What happened to every query, and the figures computed from it.

An :class:`Outcome` holds one entry per query (chosen target and deployment,
arrival at the deployment, start and end of service, return to the ingress,
batch size, refusal) plus the busy time of each deployment. From it:

* :func:`query_success` - served, within its class's deadline and by a model
  at least as accurate as the class asks (the on-time-and-accurate outcome);
* :func:`application_metrics` - per application: queries, on-time-and-accurate
  ratio with a batch-means 95 % half-width, latency mean/p95/p99 of served
  queries, drops;
* :func:`on_time_series` - the ratio in consecutive windows of arrival time;
* :func:`utilisation` - busy share of each node's servers;
* :func:`penalised_response` - response time plus a penalty per accuracy
  point below the request's floor (the cost of the offloading objective).

Only queries that arrived after the warm-up are measured; every query, warm-up
included, ends served or dropped (:meth:`Outcome.check_conservation`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from idnopt.sim.metrics import summarize
from idnopt.sim.system import ServingSystem
from idnopt.sim.workload import Queries


@dataclass(eq=False)
class Outcome:
    """Per-query results of one simulation.

    Attributes
    ----------
    target, deployment : numpy.ndarray
        Chosen target and the deployment it maps to (``-1``: the target cannot
        serve the query's class, which is then dropped).
    arrival, start, end, finish : numpy.ndarray
        Arrival at the deployment, start and end of service, return to the
        ingress (ms; NaN where not reached).
    batch : numpy.ndarray
        Size of the batch the query was served in (0 when dropped).
    refused : numpy.ndarray
        Dropped at a full queue.
    busy : numpy.ndarray
        Service time spent by each deployment (ms, summed over servers).
    """

    target: np.ndarray
    deployment: np.ndarray
    arrival: np.ndarray
    start: np.ndarray
    end: np.ndarray
    finish: np.ndarray
    batch: np.ndarray
    refused: np.ndarray
    busy: np.ndarray

    @classmethod
    def empty(cls, queries: int, deployments: int) -> Outcome:
        """An outcome with nothing decided yet."""
        nan = np.full(queries, np.nan)
        return cls(
            target=np.full(queries, -1, dtype=np.int64),
            deployment=np.full(queries, -1, dtype=np.int64),
            arrival=nan.copy(),
            start=nan.copy(),
            end=nan.copy(),
            finish=nan.copy(),
            batch=np.zeros(queries, dtype=np.int64),
            refused=np.zeros(queries, dtype=bool),
            busy=np.zeros(deployments),
        )

    @property
    def dropped(self) -> np.ndarray:
        """Queries not served: no deployment for the chosen target, or a full queue."""
        return (self.deployment < 0) | self.refused

    @property
    def served(self) -> np.ndarray:
        """Queries whose answer came back."""
        return ~np.isnan(self.finish)

    def check_conservation(self) -> None:
        """Assert that every query ended exactly one way: served or dropped.

        Raises
        ------
        AssertionError
            Naming the first query that is both or neither.
        """
        served, dropped = self.served, self.dropped
        wrong = np.flatnonzero(served == dropped)
        if wrong.size:
            query = int(wrong[0])
            state = "both served and dropped" if served[query] else "neither served nor dropped"
            raise AssertionError(f"query {query} is {state} ({wrong.size} such queries)")


def query_success(system: ServingSystem, queries: Queries, outcome: Outcome) -> np.ndarray:
    """Whether each query was served on time by an accurate enough model."""
    classes = system.classes
    klass = queries.klass
    latency = outcome.finish - queries.time
    deployment = np.maximum(outcome.deployment, 0)
    accurate = system.deployments.accuracy[deployment] >= classes.min_accuracy[klass] - 1e-12
    on_time = latency <= classes.deadline[klass] + 1e-9
    return outcome.served & accurate & on_time


def penalised_response(
    response: np.ndarray | float,
    accuracy: np.ndarray | float,
    min_accuracy: np.ndarray | float,
    penalty: float,
) -> np.ndarray:
    """Response time plus ``penalty`` ms per accuracy point (0.01) below the required accuracy.

    The cost a request pays when accuracy is a soft floor: ``response +
    penalty * 100 * max(0, min_accuracy - accuracy)`` (ms).
    """
    shortfall = np.maximum(np.asarray(min_accuracy) - np.asarray(accuracy), 0.0)
    return np.asarray(response, dtype=float) + penalty * 100.0 * shortfall


def measured_mask(queries: Queries, warmup: float) -> np.ndarray:
    """Queries that arrived at or after ``warmup`` ms."""
    return queries.time >= warmup


def application_metrics(
    system: ServingSystem, queries: Queries, outcome: Outcome, warmup: float
) -> list[dict[str, float | str | int]]:
    """One row per application (then ``all``) of the measured queries.

    Returns
    -------
    list of dict
        ``application``, ``queries``, ``on_time_accurate`` (ratio), ``ci95``
        (batch-means half-width of the ratio), ``latency_mean``,
        ``latency_p95``, ``latency_p99`` (served queries, ms), ``dropped``
        (count) and ``inaccurate`` (served by a model below the class's minimum).
    """
    measured = measured_mask(queries, warmup)
    success = query_success(system, queries, outcome)
    latency = outcome.finish - queries.time
    application = system.classes.application[queries.klass]
    deployment = np.maximum(outcome.deployment, 0)
    inaccurate = outcome.served & (
        system.deployments.accuracy[deployment] < system.classes.min_accuracy[queries.klass] - 1e-12
    )
    rows = []
    groups = [(name, application == index) for index, name in enumerate(system.applications)]
    groups.append(("all", np.ones(len(queries), dtype=bool)))
    for name, member in groups:
        chosen = member & measured
        ratio = summarize(success[chosen].astype(float))
        served = chosen & outcome.served
        times = summarize(latency[served])
        rows.append(
            {
                "application": name,
                "queries": int(chosen.sum()),
                "on_time_accurate": ratio["mean"],
                "ci95": ratio["ci95"],
                "latency_mean": times["mean"],
                "latency_p95": times["p95"],
                "latency_p99": times["p99"],
                "dropped": int((chosen & outcome.dropped).sum()),
                "inaccurate": int((chosen & inaccurate).sum()),
            }
        )
    return rows


def on_time_series(
    system: ServingSystem,
    queries: Queries,
    outcome: Outcome,
    window: float,
    duration: float,
) -> dict[str, np.ndarray]:
    """On-time-and-accurate ratio per window of arrival time, per application and overall.

    Parameters
    ----------
    system : ServingSystem
        The simulated system.
    queries : Queries
        The queries.
    outcome : Outcome
        What happened to them.
    window : float
        Window length in ms.
    duration : float
        Simulated arrival time in ms.

    Returns
    -------
    dict of str to numpy.ndarray
        ``time`` (window ends, s), then one ratio array per application and
        ``all`` (NaN in windows without queries).
    """
    edges = np.arange(0.0, duration + window, window)
    if edges[-1] < duration:
        edges = np.append(edges, duration)
    success = query_success(system, queries, outcome).astype(float)
    slot = np.clip(np.searchsorted(edges, queries.time, side="right") - 1, 0, len(edges) - 2)
    series = {"time": edges[1:] / 1000.0}
    application = system.classes.application[queries.klass]
    groups = [(name, application == index) for index, name in enumerate(system.applications)]
    groups.append(("all", np.ones(len(queries), dtype=bool)))
    for name, member in groups:
        counts = np.bincount(slot[member], minlength=len(edges) - 1).astype(float)
        hits = np.bincount(slot[member], weights=success[member], minlength=len(edges) - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            series[name] = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
    return series


def utilisation(system: ServingSystem, outcome: Outcome, span: float) -> dict[str, float]:
    """Busy share of each hosting node's servers over ``span`` ms."""
    deployments = system.deployments
    shares = {}
    for node in sorted(set(int(n) for n in deployments.node)):
        here = deployments.node == node
        servers = float(deployments.replicas[here].sum())
        shares[system.nodes[node]] = float(outcome.busy[here].sum() / (servers * span))
    return shares
