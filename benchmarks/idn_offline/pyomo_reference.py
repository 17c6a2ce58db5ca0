"""The IDN MILP written the usual Pyomo way: indexed sets, params, and rule functions.

Reference for ``bench_build.py``. It states the same exact program as
:func:`idnopt.formulations.idn.build_program` (per-request capacity, prefix-sum
rows): binary ``x[v, m]`` on hostable pairs, ``served[q, k] <= rate[q]``,

    served[q, k] <= served[q, k-1] + capacity[q, k] * x[server(q, k)]

for the k-th cheapest candidate of request class q, knapsacks per node, and the
objective sum of gap[q, k] * served[q, k]. It reads the candidate data that
:func:`idnopt.formulations.idn.build_candidates` derives (the same sorted
candidate lists), turned into plain dicts, as one feeds a Pyomo model.

Run alone to check it against idnopt on a small instance::

    python benchmarks/idn_offline/pyomo_reference.py
"""

from __future__ import annotations

import time

import pyomo.environ as pyo
from pyomo.common.timing import HierarchicalTimer
from pyomo.contrib.solver.solvers.highs import Highs

from idnopt.formulations.idn import Candidates


def build_pyomo(c: Candidates) -> pyo.ConcreteModel:
    """Build the ConcreteModel (data as dicts, sets, params, variables, rule constraints)."""
    nodes, models = c.node_names, c.model_names
    starts = c.start.tolist()
    request, node, model = c.request.tolist(), c.node.tolist(), c.model.tolist()
    index = [(q, i - starts[q]) for i, q in enumerate(request)]
    hostable = [(nodes[v], models[m]) for v, m in zip(*c.hostable.nonzero())]

    m = pyo.ConcreteModel("idn")
    m.NODES = pyo.Set(initialize=nodes)
    m.MODELS = pyo.Set(initialize=models)
    m.HOSTABLE = pyo.Set(within=m.NODES * m.MODELS, initialize=hostable)
    m.REQUESTS = pyo.Set(initialize=range(len(c.request_names)))
    m.CANDIDATES = pyo.Set(within=m.REQUESTS * pyo.NonNegativeIntegers, initialize=index)

    m.size = pyo.Param(m.MODELS, initialize=dict(zip(models, c.sizes.tolist())))
    m.budget = pyo.Param(m.NODES, initialize=dict(zip(nodes, c.budgets.tolist())))
    m.rate = pyo.Param(m.REQUESTS, initialize=dict(enumerate(c.rate.tolist())))
    m.capacity = pyo.Param(m.CANDIDATES, initialize=dict(zip(index, c.capacity.tolist())))
    m.gap = pyo.Param(m.CANDIDATES, initialize=dict(zip(index, c.gap.tolist())))
    m.server = pyo.Param(
        m.CANDIDATES,
        within=pyo.Any,
        initialize={k: (nodes[v], models[j]) for k, v, j in zip(index, node, model)},
    )

    m.x = pyo.Var(m.HOSTABLE, domain=pyo.Binary)
    m.served = pyo.Var(m.CANDIDATES, bounds=lambda m, q, k: (0, m.rate[q]))

    def budget_rule(m, v):
        used = [m.size[j] * m.x[v, j] for j in m.MODELS if (v, j) in m.HOSTABLE]
        if not used:
            return pyo.Constraint.Skip
        return pyo.quicksum(used) <= m.budget[v]

    def prefix_rule(m, q, k):
        before = m.served[q, k - 1] if k > 0 else 0
        return m.served[q, k] <= before + m.capacity[q, k] * m.x[m.server[q, k]]

    m.budget_constraint = pyo.Constraint(m.NODES, rule=budget_rule)
    m.prefix_capacity = pyo.Constraint(m.CANDIDATES, rule=prefix_rule)
    m.gain = pyo.Objective(
        expr=pyo.quicksum(m.gap[i] * m.served[i] for i in m.CANDIDATES), sense=pyo.maximize
    )
    return m


def pass_pyomo(model: pyo.ConcreteModel) -> float:
    """Hand the model to HiGHS (Pyomo's highspy interface) without solving; seconds."""
    started = time.perf_counter()
    Highs().set_instance(model)
    return time.perf_counter() - started


def solve_pyomo(model: pyo.ConcreteModel, time_limit: float) -> dict:
    """Hand over and solve with HiGHS; pass and solve seconds, objective, bound, status."""
    timer = HierarchicalTimer()
    started = time.perf_counter()
    results = Highs().solve(
        model,
        time_limit=time_limit,
        load_solutions=False,
        raise_exception_on_nonoptimal_result=False,
        timer=timer,
    )
    total = time.perf_counter() - started
    handed = timer.timers["set_instance"].total_time
    return {
        "pass_s": handed,
        "solve_s": total - handed,
        "objective": results.incumbent_objective,
        "bound": results.objective_bound,
        "status": str(results.termination_condition.name),
    }


if __name__ == "__main__":
    from idnopt.backends import solve_program
    from idnopt.formulations.idn import build_candidates, build_program, generate_idn

    instance = generate_idn("tree", nodes=40, models=12, request_classes=200, seed=1)
    candidates = build_candidates(instance)
    started = time.perf_counter()
    pyomo_model = build_pyomo(candidates)
    built = time.perf_counter() - started
    pyomo_result = solve_pyomo(pyomo_model, time_limit=60)
    ours = solve_program(build_program(candidates), "highs", time_limit=60)
    print(f"Pyomo: built in {built:.3f} s, {pyomo_result}")
    print(f"idnopt: objective {ours.objective}")
