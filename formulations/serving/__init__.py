"""Serving: per-query scheduling of inference at millisecond timescales (ASET, arXiv 2301.13618).

Edge clusters of an ISP and a cloud host model deployments; applications send
queries with end-to-end deadlines and accuracy floors from ingress nodes; a
scheduler at each ingress picks, per query, the cluster (or the deployment)
that serves it. The family simulates scenarios on the engine of
:mod:`idnopt.sim` under static policies (closest, least-loaded on stale
reports, random, round-robin, cloud, placement from an IDN allocation) and
ASET, a deep Q-learning scheduler trained with Stable-Baselines3 on the
simulator's Gymnasium environment.

Modules: :mod:`.schema` (scenario files and their checks), :mod:`.compiled`
(scenario to the simulator's arrays, query draws), :mod:`.placement` (the
IDN allocation behind the ``placement`` policy), :mod:`.simulation` (the
policies and the declared simulation), :mod:`.generator` (random scenarios),
:mod:`.methods` (the ``FAMILY`` object). Importing the package also
registers the ``simulate`` sweep task kind (:mod:`idnopt.sim.sweep`).
"""

import idnopt.sim.sweep  # noqa: F401 - registers the "simulate" sweep task kind
from idnopt.formulations.serving.compiled import Scenario, compile_scenario, draw
from idnopt.formulations.serving.generator import GeneratorParameters, generate_scenario
from idnopt.formulations.serving.methods import FAMILY, METHODS
from idnopt.formulations.serving.placement import dispatch_shares, idn_document, solve_placement
from idnopt.formulations.serving.schema import ServingInstance, instance_to_dict
from idnopt.formulations.serving.simulation import (
    POLICIES,
    ServingSimulationParameters,
    make_env,
    run_simulation,
    scheduler_for,
    simulate_scenario,
)

__all__ = [
    "FAMILY",
    "METHODS",
    "POLICIES",
    "GeneratorParameters",
    "Scenario",
    "ServingInstance",
    "ServingSimulationParameters",
    "compile_scenario",
    "dispatch_shares",
    "draw",
    "generate_scenario",
    "idn_document",
    "instance_to_dict",
    "make_env",
    "run_simulation",
    "scheduler_for",
    "simulate_scenario",
    "solve_placement",
]
