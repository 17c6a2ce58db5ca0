"""The IDN MILP written with linopy (labelled xarray coordinates, vectorised expressions).

Reference for ``bench_build.py`` (linopy is a benchmark-only dependency). Same
exact program as :func:`idnopt.formulations.idn.build_program`: integer
``x[node, model]`` in [0, hostable], ``served[candidate] <= rate``, one prefix
row per candidate,

    served[k] - served[k-1] - capacity[k] * x[node(k), model(k)] <= 0

(``served[k-1]`` dropped on the first candidate of each request class), the
knapsacks per node and the objective sum of gap * served. It reads the
candidate arrays of :func:`idnopt.formulations.idn.build_candidates`.

Run alone to check it against idnopt on a small instance::

    python benchmarks/idn_offline/linopy_reference.py
"""

from __future__ import annotations

import time

import linopy
import pandas as pd
import xarray as xr

from idnopt.formulations.idn import Candidates


def build_linopy(c: Candidates) -> linopy.Model:
    """Build the linopy Model."""
    nodes = pd.Index(c.node_names, name="node")
    models = pd.Index(c.model_names, name="model")
    candidate = pd.RangeIndex(c.num_candidates, name="candidate")

    def per_candidate(values):
        return xr.DataArray(values, coords=[candidate])

    m = linopy.Model()
    hostable = xr.DataArray(c.hostable, coords=[nodes, models])
    x = m.add_variables(lower=0, upper=hostable.astype(float), integer=True, name="x")
    served = m.add_variables(lower=0, upper=per_candidate(c.rate[c.request]), name="served")

    size = xr.DataArray(c.sizes, coords=[models])
    budget = xr.DataArray(c.budgets, coords=[nodes])
    m.add_constraints((size * x).where(hostable).sum("model") <= budget, name="budget")

    has_prior = per_candidate(c.previous() >= 0)
    server = x.isel(node=per_candidate(c.node), model=per_candidate(c.model))
    before = served.shift(candidate=1).where(has_prior).fillna(0)
    m.add_constraints(
        served - before - per_candidate(c.capacity) * server <= 0, name="prefix_capacity"
    )
    m.add_objective((per_candidate(c.gap) * served).sum(), sense="max")
    return m


def pass_linopy(model: linopy.Model):
    """Hand the model to HiGHS (linopy's direct highspy interface); the Highs object."""
    highs = model.to_highspy()
    highs.setOptionValue("output_flag", False)
    return highs


def solve_linopy(model: linopy.Model, time_limit: float) -> dict:
    """Hand over and solve with HiGHS; pass and solve seconds, objective, bound, status."""
    started = time.perf_counter()
    highs = pass_linopy(model)
    handed = time.perf_counter()
    highs.setOptionValue("time_limit", float(time_limit))
    highs.run()
    solved = time.perf_counter()
    info = highs.getInfo()
    return {
        "pass_s": handed - started,
        "solve_s": solved - handed,
        "objective": info.objective_function_value,
        "bound": info.mip_dual_bound,
        "status": highs.modelStatusToString(highs.getModelStatus()),
    }


if __name__ == "__main__":
    from idnopt.backends import solve_program
    from idnopt.formulations.idn import build_candidates, build_program, generate_idn

    instance = generate_idn("tree", nodes=40, models=12, request_classes=200, seed=1)
    candidates = build_candidates(instance)
    started = time.perf_counter()
    linopy_model = build_linopy(candidates)
    built = time.perf_counter() - started
    linopy_result = solve_linopy(linopy_model, time_limit=60)
    ours = solve_program(build_program(candidates), "highs", time_limit=60)
    print(f"linopy: built in {built:.3f} s, {linopy_result}")
    print(f"idnopt: objective {ours.objective}")
