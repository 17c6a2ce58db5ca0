"""Discrete-event simulation of inference serving at millisecond timescales (simpy).

Family-agnostic pieces that a family's simulation assembles:

* :mod:`~idnopt.sim.engine` - :class:`Simulator` (a ``simpy.Environment``, time in
  ms, stepwise running with progress, draining), :class:`Streams` (named seeded
  random generators: common random numbers across policies),
  :func:`service_factor` (mean-1 service-time factors with a given coefficient
  of variation) and :class:`SimulationParameters` (duration, warm-up, seed,
  progress: what ``idnopt simulate`` passes to every family);
* :mod:`~idnopt.sim.servers` - :class:`Server`, a non-preemptive single server with
  a priority or FIFO queue, observable backlog, reservations and utilisation;
* :mod:`~idnopt.sim.links` - :class:`Link` (latency plus size over bandwidth,
  uncongested or serialised, optional jitter) and :class:`Network` (cheapest
  multi-hop paths, hop-by-hop sending);
* :mod:`~idnopt.sim.arrivals` - :func:`poisson_arrivals`;
* :mod:`~idnopt.sim.metrics` - :class:`LatencyRecorder`, :func:`summarize`
  (percentiles, batch-means confidence interval), CDF points, and the
  ``latency:<key>`` convention for raw samples in ``Result.values``;
* :mod:`~idnopt.sim.plots` - :func:`latency_cdf_plot`.

The serving simulator (per-query scheduling at millisecond timescales) adds:

* :mod:`~idnopt.sim.system` - ``ServingSystem``: deployments, request classes,
  network delays and the targets a scheduler chooses among, as arrays;
* :mod:`~idnopt.sim.workload` - arrivals drawn ahead of time (Poisson, MMPP,
  diurnal, scheduled steps, replayed CSV traces) into a ``Queries`` table;
* :mod:`~idnopt.sim.queues` - FIFO multi-server and batching queues;
* :mod:`~idnopt.sim.fast` - the fast engine: an event loop of its own and a
  vectorised path for decisions fixed in advance;
* :mod:`~idnopt.sim.reference` - the simpy reference it is checked against;
* :mod:`~idnopt.sim.scheduling` - per-query schedulers on the online policy
  contract, and ``simulate``;
* :mod:`~idnopt.sim.outcome` - per-query outcomes and per-application metrics;
* :mod:`~idnopt.sim.env` - the Gymnasium environment (``gymnasium``);
* :mod:`~idnopt.sim.learning` - DQN/PPO training (Stable-Baselines3), numpy
  inference, policy files;
* :mod:`~idnopt.sim.figures` - on-time ratio over time, latency CDFs per policy;
* :mod:`~idnopt.sim.sweep` - the ``simulate`` sweep task kind.

simpy is imported when a :class:`Simulator` is made, not when this package is
imported. A family declares its simulation as an :class:`idnopt.family.Simulation`.
"""

from __future__ import annotations

from idnopt.sim.arrivals import poisson_arrivals
from idnopt.sim.engine import (
    Progress,
    SimulationParameters,
    Simulator,
    Streams,
    service_factor,
)
from idnopt.sim.links import Link, Network
from idnopt.sim.metrics import (
    LATENCY_PREFIX,
    LatencyRecorder,
    cdf_points,
    latency_samples,
    latency_values,
    summarize,
)
from idnopt.sim.plots import latency_cdf_plot
from idnopt.sim.servers import DISCIPLINES, Job, Server

__all__ = [
    "DISCIPLINES",
    "LATENCY_PREFIX",
    "Job",
    "LatencyRecorder",
    "Link",
    "Network",
    "Progress",
    "Server",
    "SimulationParameters",
    "Simulator",
    "Streams",
    "cdf_points",
    "latency_cdf_plot",
    "latency_samples",
    "latency_values",
    "poisson_arrivals",
    "service_factor",
    "summarize",
]
