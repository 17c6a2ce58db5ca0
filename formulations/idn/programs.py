"""The exact MILP of an IDN instance and its LP relaxation, as a declarative Program.

Two capacity models (``THEORY.md``): ``per_request`` (prefix-sum rows, one row
and three non-zeros per candidate) and ``shared`` (flows per candidate that
share each server's throughput).
"""

from __future__ import annotations

import numpy as np

from idnopt.errors import InputError
from idnopt.formulations.idn.candidates import Candidates
from idnopt.program import LabelAxis, Program


def build_program(
    candidates: Candidates, *, capacity: str = "per_request", relax: bool = False
) -> Program:
    """Declare the exact MILP (or its LP relaxation) of an IDN instance.

    Parameters
    ----------
    candidates : Candidates
        From :func:`build_candidates`.
    capacity : {"per_request", "shared"}
        Capacity semantics (see the module docstring and ``THEORY.md``).
    relax : bool
        Continuous allocation variables (the concave relaxation as an LP).

    Returns
    -------
    Program
        Maximise the gain over repository-only service.
    """
    nodes, models = candidates.shape
    program = Program("idn", sense="maximize")
    x = program.add_variables(
        "x",
        (nodes, models),
        upper=candidates.hostable.astype(float),
        integer=not relax,
        labels=[candidates.node_names, candidates.model_names],
    )
    budget_rows, budget_models = np.nonzero(candidates.hostable)
    program.add_constraints(
        "budget",
        [(x, budget_rows, budget_rows * models + budget_models, candidates.sizes[budget_models])],
        upper=candidates.budgets,
        shape=nodes,
        labels=[candidates.node_names],
    )
    count = candidates.num_candidates
    # "request:node/model", made only for the candidates a result or report shows
    request_names, node_names, model_names = (
        candidates.request_names,
        candidates.node_names,
        candidates.model_names,
    )
    request_of, pair_of = candidates.request, candidates.pair

    def candidate_label(k: int) -> str:
        node, model = divmod(int(pair_of[k]), models)
        return f"{request_names[request_of[k]]}:{node_names[node]}/{model_names[model]}"

    labels = LabelAxis(count, candidate_label)
    rows = np.arange(count)
    if capacity == "per_request":
        t = program.add_variables(
            "served", count, upper=candidates.rate[candidates.request], labels=[labels]
        )
        prior = candidates.previous()
        has_prior = prior >= 0
        program.add_constraints(
            "prefix_capacity",
            [
                (t, rows, rows, 1.0),
                (t, rows[has_prior], prior[has_prior], -1.0),
                (x, rows, candidates.pair, -candidates.capacity),
            ],
            upper=0.0,
            shape=count,
            labels=[labels],
        )
        program.set_objective([(t, candidates.gap)])
        return program
    if capacity != "shared":
        raise InputError(f"unknown capacity model {capacity!r}; use 'per_request' or 'shared'")
    # shared capacity: flows per candidate, the rest goes to the repository
    z = program.add_variables(
        "flow", count, upper=candidates.rate[candidates.request], labels=[labels]
    )
    classes = len(candidates.rate)
    program.add_constraints(
        "demand",
        [(z, candidates.request, rows, 1.0)],
        upper=candidates.rate,
        shape=classes,
        labels=[candidates.request_names],
    )
    throughput = np.zeros(nodes * models)
    throughput[candidates.pair] = candidates.throughput
    used_pairs, pair_row = np.unique(candidates.pair, return_inverse=True)
    pair_labels = [
        f"{candidates.node_names[p // models]}/{candidates.model_names[p % models]}"
        for p in used_pairs
    ]
    program.add_constraints(
        "server_capacity",
        [
            (z, pair_row, rows, 1.0),
            (x, np.arange(used_pairs.size), used_pairs, -throughput[used_pairs]),
        ],
        upper=0.0,
        shape=used_pairs.size,
        labels=[pair_labels],
    )
    saving = candidates.repository_cost[candidates.request] - candidates.cost
    program.set_objective([(z, saving)])
    return program
