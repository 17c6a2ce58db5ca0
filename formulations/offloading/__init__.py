"""Offloading with model selection (Shahhosseini et al., ACM TECS 2022, arXiv 2202.10541).

End devices send inference requests; each request is served on the device,
at an edge server or in the cloud, by one of the model variants deployed
there (MobileNetV1 widths and resolutions), while the access bandwidth, the
number of users and the devices' own load vary. A policy picks tier x variant
per request to keep response times low with accuracy as a soft floor. The
family simulates scenarios on the serving engine (:mod:`idnopt.sim`) under
tabular Q-learning, DQN (Stable-Baselines3), Q-learning without model
selection, greedy, always-local/edge/cloud, the best static policy in
hindsight and a clairvoyant per-request oracle, with a lower bound no policy
can beat.

Modules: :mod:`.schema` (scenario files), :mod:`.compiled` (tier x variant
targets, conditions per request), :mod:`.cost` (request cost, lower bound),
:mod:`.policies`, :mod:`.simulation`, :mod:`.report` (results in the
scenario's words), :mod:`.generator`, :mod:`.methods` (the ``FAMILY`` object).
"""

from idnopt.formulations.offloading.compiled import (
    TIERS,
    OffloadingScenario,
    compile_offloading,
    draw,
)
from idnopt.formulations.offloading.generator import (
    OffloadingGeneratorParameters,
    generate_offloading,
)
from idnopt.formulations.offloading.methods import FAMILY, METHODS
from idnopt.formulations.offloading.policies import Fixed, Greedy, Oracle, TabularQ, Tier
from idnopt.formulations.offloading.schema import OffloadingInstance, instance_to_dict
from idnopt.formulations.offloading.simulation import (
    POLICIES,
    OffloadingSimulationParameters,
    best_static,
    lower_bound,
    make_env,
    request_cost,
    run_policy,
    run_simulation,
    scheduler_for,
    summarize_run,
    train_tabular,
)

__all__ = [
    "FAMILY",
    "METHODS",
    "POLICIES",
    "TIERS",
    "Fixed",
    "Greedy",
    "OffloadingGeneratorParameters",
    "OffloadingInstance",
    "OffloadingScenario",
    "OffloadingSimulationParameters",
    "Oracle",
    "TabularQ",
    "Tier",
    "best_static",
    "compile_offloading",
    "draw",
    "generate_offloading",
    "instance_to_dict",
    "lower_bound",
    "make_env",
    "request_cost",
    "run_policy",
    "run_simulation",
    "scheduler_for",
    "summarize_run",
    "train_tabular",
]
