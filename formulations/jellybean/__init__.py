"""JellyBean: cost-minimal serving of ML inference workflows (Wu et al., PVLDB 16(3) 2022).

A workflow is a DAG of operators fed by data sources; every operator has model
variants, and the end-to-end accuracy of a combination of variants comes from a
profiled table. Workers sit on ordered tiers (device < edge < cloud), cost an
hourly price and host at most one operator each. Choose the combination, the
workers and their shares (requests/s) that meet an accuracy target and the
request rates at minimum compute + network cost ($/h), with network traffic
routed by cheapest flows (``"flows"``) or all-to-all in proportion to the shares
(``"proportional"``, the published rule).

Methods: ``bnb`` (default; exact branch-and-bound over accuracy-table rows and
tier patterns, on HiGHS), ``milp`` (the direct exact mixed-integer program, any
backend), ``published`` (the published JellyBean optimizer, reimplemented step
by step) and ``heuristic`` (a simplified beam search + greedy fill). Under the
proportional rule beyond two tiers the exact methods report a proven bound with
a gap where products of shares cannot be priced linearly. :func:`evaluate`
prices any plan under either rule, :func:`accuracy_sweep` draws the
cost–accuracy curve, :func:`random_instance` makes seeded instances. The
derivations are in ``THEORY.md`` beside this file.

Modules: ``schema`` and ``checks`` (instance and located cross-checks),
``compiled`` (arrays derived once), ``plan`` and ``evaluation`` (plans and their
pricing), ``heuristic``, ``published``, ``program`` and ``milp`` (the direct
MILP), ``network`` (its traffic blocks), ``patterns``, ``covers``, ``bounds``,
``pairs`` and ``bnb`` (the branch-and-bound), ``explain`` (unreachable
targets), ``curve``, ``generator`` and ``methods`` (the declared methods and the
``FAMILY`` object, registered through the ``idnopt.families`` entry point).
"""

from idnopt.formulations.jellybean.compiled import CompiledWorkflow, compile_workflow
from idnopt.formulations.jellybean.curve import AccuracySweep, accuracy_sweep
from idnopt.formulations.jellybean.evaluation import evaluate
from idnopt.formulations.jellybean.explain import best_reachable_accuracy
from idnopt.formulations.jellybean.generator import random_instance
from idnopt.formulations.jellybean.methods import FAMILY, METHODS, build, plan_cost, solve
from idnopt.formulations.jellybean.plan import ROUTINGS, Assignment, Evaluation, Plan, Routing
from idnopt.formulations.jellybean.program import MIP_GAP
from idnopt.formulations.jellybean.schema import (
    Accuracy,
    Edge,
    JellyBeanInstance,
    Network,
    Operator,
    Price,
    SizeRule,
    Source,
    Variant,
    Worker,
)

__all__ = [
    "FAMILY",
    "METHODS",
    "MIP_GAP",
    "ROUTINGS",
    "Accuracy",
    "AccuracySweep",
    "Assignment",
    "CompiledWorkflow",
    "Edge",
    "Evaluation",
    "JellyBeanInstance",
    "Network",
    "Operator",
    "Plan",
    "Price",
    "Routing",
    "SizeRule",
    "Source",
    "Variant",
    "Worker",
    "accuracy_sweep",
    "best_reachable_accuracy",
    "build",
    "compile_workflow",
    "evaluate",
    "plan_cost",
    "random_instance",
    "solve",
]
