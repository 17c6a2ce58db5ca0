"""IDN: model allocation in inference delivery networks (Si Salem et al., arXiv 2105.02510).

Nodes with model-memory budgets host inference models; requests travel from
their ingress towards a repository that hosts a model for every task, and are
served by the cheapest hosted models on their path. The family maximises the
serving gain over repository-only service (``THEORY.md`` gives the model, the
exact program and the guarantees).

Modules: :mod:`.schema` (the instance and its checks), :mod:`.candidates`
(sorted serving candidates as arrays), :mod:`.gain` (the gain, its relaxation
and a supergradient), :mod:`.programs` (MILP and LP), :mod:`.heuristics`
(greedy, DepRound, repair, rounding), :mod:`.evaluation` (metrics and decoded
tables), :mod:`.methods` (the declared methods and the ``FAMILY`` object),
:mod:`.catalog` and :mod:`.generator` (random instances), :mod:`.writing`
(instance files). The family registers through the ``idnopt.families`` entry point.
"""

from idnopt.formulations.idn.candidates import Candidates, build_candidates
from idnopt.formulations.idn.catalog import (
    CLOUD_HARDWARE,
    HARDWARE_SPEED,
    VARIANTS,
    HardwareSpeed,
    Variant,
    catalog_models,
    load_catalog,
)
from idnopt.formulations.idn.evaluation import decode, evaluate, fix_allocation
from idnopt.formulations.idn.gain import gain, relaxed_gain, serving, supergradient
from idnopt.formulations.idn.generator import (
    BUDGET_FRACTION,
    MEAN_RATE,
    generate_idn,
    zipf_popularity,
)
from idnopt.formulations.idn.heuristics import (
    depround,
    greedy_allocation,
    repair,
    rounded_allocation,
)
from idnopt.formulations.idn.methods import FAMILY, METHODS, allocation_gain
from idnopt.formulations.idn.programs import build_program
from idnopt.formulations.idn.schema import IdnInstance
from idnopt.formulations.idn.writing import (
    instance_to_dict,
    instance_to_text,
    refer_to_profile,
    write_instance,
)

__all__ = [
    "BUDGET_FRACTION",
    "CLOUD_HARDWARE",
    "FAMILY",
    "HARDWARE_SPEED",
    "MEAN_RATE",
    "METHODS",
    "VARIANTS",
    "Candidates",
    "HardwareSpeed",
    "IdnInstance",
    "Variant",
    "build_candidates",
    "allocation_gain",
    "build_program",
    "catalog_models",
    "decode",
    "depround",
    "evaluate",
    "fix_allocation",
    "gain",
    "generate_idn",
    "greedy_allocation",
    "instance_to_dict",
    "instance_to_text",
    "load_catalog",
    "refer_to_profile",
    "relaxed_gain",
    "repair",
    "rounded_allocation",
    "serving",
    "supergradient",
    "write_instance",
    "zipf_popularity",
]
