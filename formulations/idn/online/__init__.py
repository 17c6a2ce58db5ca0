"""Online IDN allocation: INFIDA, online gradient ascent, baselines, traces, regret bounds.

The online half of the IDN family (Si Salem et al., arXiv 2105.02510, ``THEORY.md``
beside this file): demand arrives slot by slot and a policy updates the
allocation from what each node observes. Built on the generic contract of
:mod:`idnopt.online` (policies, traces, runner, bound checks).

Modules: :mod:`.problem` (per-slot gain, supergradient, messages),
:mod:`.hindsight` (best static allocation: one LP, or a MILP), :mod:`.projection`
(entropic and Euclidean projections, vectorised across nodes), :mod:`.rounding`
(DepRound, repair, fill), :mod:`.bounds` (a-priori and data-dependent regret bounds),
:mod:`.policies` (INFIDA, OGA), :mod:`.baselines` (static, re-solve, LFU,
LRU), :mod:`.traces` (generated and replayed demand).

The ``idn`` family declares this package as its online version
(:attr:`idnopt.family.Family.online`), so :mod:`idnopt.online`, ``idnopt online``
and the ``online`` sweep task kind find it without an import::

    import idnopt
    from idnopt.online import run
    from idnopt.formulations.idn.online import Infida, make_problem, stationary_trace

    instance = idnopt.load("instances/idn/tree.yaml")
    trace = stationary_trace(instance, slots=500, seed=1)
    result = run(Infida(eta="auto"), make_problem(instance, trace), trace, seed=1)
    print(result.metrics["gain_ratio"], result.check_regret_bound())
"""

from idnopt.formulations.idn.online.baselines import (
    LeastFrequentlyUsed,
    LeastRecentlyUsed,
    PeriodicResolve,
    StaticAllocation,
    window_allocation,
)
from idnopt.formulations.idn.online.bounds import (
    entropic_radii,
    euclidean_radius_squared,
    infida_bound,
    oga_bound,
    uniform_start,
)
from idnopt.formulations.idn.online.hindsight import (
    demand_scenarios,
    hindsight_program,
    solve_hindsight,
)
from idnopt.formulations.idn.online.policies import Infida, OnlineGradientAscent
from idnopt.formulations.idn.online.problem import IdnOnlineProblem, make_problem, path_hops
from idnopt.formulations.idn.online.projection import (
    Projector,
    entropic_projection,
    euclidean_projection,
    row_loads,
)
from idnopt.formulations.idn.online.rounding import (
    DepRound,
    depround_rows,
    fill_rows,
    repair_rows,
)
from idnopt.formulations.idn.online.traces import (
    GENERATORS,
    TRACE_KINDS,
    adversarial_trace,
    diurnal_trace,
    read_trace,
    shifting_trace,
    stationary_trace,
    write_trace,
)
from idnopt.online import OnlineFamily

POLICIES = {
    policy.name: policy
    for policy in (
        Infida,
        OnlineGradientAscent,
        StaticAllocation,
        PeriodicResolve,
        LeastFrequentlyUsed,
        LeastRecentlyUsed,
    )
}
"""Policies by name; the first is the default."""

ONLINE = OnlineFamily(
    kind="idn",
    make_problem=make_problem,
    policies=POLICIES,
    traces=GENERATORS,
    read_trace=read_trace,
    summary="online model allocation (INFIDA, OGA, baselines) with regret bounds",
)
"""The online version of kind ``idn`` (declared by the family: ``FAMILY.online``)."""

__all__ = [
    "GENERATORS",
    "ONLINE",
    "POLICIES",
    "TRACE_KINDS",
    "DepRound",
    "IdnOnlineProblem",
    "Infida",
    "LeastFrequentlyUsed",
    "LeastRecentlyUsed",
    "OnlineGradientAscent",
    "PeriodicResolve",
    "Projector",
    "StaticAllocation",
    "adversarial_trace",
    "demand_scenarios",
    "depround_rows",
    "diurnal_trace",
    "entropic_projection",
    "entropic_radii",
    "euclidean_projection",
    "euclidean_radius_squared",
    "fill_rows",
    "hindsight_program",
    "infida_bound",
    "make_problem",
    "oga_bound",
    "path_hops",
    "read_trace",
    "repair_rows",
    "row_loads",
    "shifting_trace",
    "solve_hindsight",
    "stationary_trace",
    "uniform_start",
    "window_allocation",
    "write_trace",
]
