r"""PA-MDI: priority-aware model-distributed inference (Li & Seferoglu, arXiv 2412.12371).

Several data sources, each with a priority weight :math:`\gamma_s` and a Poisson
arrival rate :math:`\lambda_s`, run a model (a chain of layers) over shared
devices: a request computes a contiguous range of layers on each device it
visits and the cuts cross the network between them. The family chooses, per
source, which device computes which layers so as to minimise the
priority-weighted mean inference time.

Delay model (:mod:`.delay`, derivations in ``THEORY.md``). A request's latency
is the compute time of its segments, plus the network time of its input, cuts
and result (``latency + size / bandwidth`` per link, cheapest path, links not
congested), plus its wait at every device it visits. Each device is a
non-preemptive single server fed by Poisson streams (one per source segment,
Kleinrock's independence approximation for later segments): an M/G/1 queue
with priority classes by priority weight and Cobham's waits
:math:`W_k = R / ((1-\sigma_{k-1})(1-\sigma_k))` (``queueing: priority``) or
Pollaczek-Khinchine's :math:`W = R / (1-\rho)` (``queueing: fifo``), with
:math:`R = \sum \lambda E[S^2]/2` and every device kept below ``max_load``.
Objective: :math:`J = \sum_s \gamma_s\lambda_s T_s / \sum_s \gamma_s\lambda_s` (ms).

Methods (:mod:`.methods`): ``exact`` - branch-and-bound over splits with a
supermodular bound (:mod:`.search`, priced by :mod:`.branch`, routes by
:mod:`.routes`; under a time limit also the bound of groups of sources solved
apart, :mod:`.groups`), or the MILP
outer approximation through the Program backends (:mod:`.milp`), both with a
proven gap; ``relaxation`` - a convex program (fractional layers,
second-order cones; cvxpy), a lower bound; ``pa-mdi`` - the per-hop rule on
the modelled queues; ``ms-mdi``, ``ar-mdi``, ``local``, ``mdi-llm`` -
baselines. The online per-hop rule with its request/clear-to-compute
handshake runs in the simulation (:mod:`.online`, :mod:`.simulation`;
``idnopt simulate``), where priority acts through queue order, class-aware
backlogs and handshake arbitration.

Modules: :mod:`.schema` (instance and checks), :mod:`.compiled` (arrays),
:mod:`.delay` (the model), :mod:`.baselines`, :mod:`.descent`, :mod:`.branch`,
:mod:`.routes`, :mod:`.search`, :mod:`.groups`, :mod:`.exact`, :mod:`.structure`, :mod:`.milp`,
:mod:`.relaxation`, :mod:`.tables`, :mod:`.online`, :mod:`.simulation`,
:mod:`.generator`, :mod:`.cifar` (ResNet-56 for CIFAR-10, to profile),
:mod:`.methods` (the ``FAMILY`` object, entry point ``idnopt.families: pamdi``).
"""

from idnopt.formulations.pamdi.compiled import Chain, Compiled, compile_instance
from idnopt.formulations.pamdi.delay import (
    Evaluation,
    Split,
    class_latency,
    evaluate_split,
    segments,
    waiting_times,
)
from idnopt.formulations.pamdi.methods import FAMILY, METHODS, objective_of, split_of
from idnopt.formulations.pamdi.schema import PamdiInstance, instance_to_dict

__all__ = [
    "FAMILY",
    "METHODS",
    "Chain",
    "Compiled",
    "Evaluation",
    "PamdiInstance",
    "Split",
    "class_latency",
    "compile_instance",
    "evaluate_split",
    "instance_to_dict",
    "objective_of",
    "segments",
    "split_of",
    "waiting_times",
]
