"""The built-in synthetic generator ``knapsack`` (problem families bring their own).

``knapsack`` builds random
(multi-dimensional) 0-1 knapsack programs in the classic families of Pisinger,
*Where are the hard knapsack problems?* (2005): uncorrelated, weakly and
strongly correlated profits. They are small, exact
MILPs whose difficulty is easy to dial, which makes them the reference workload
of the sweep tests and benchmarks.
"""

from __future__ import annotations

import numpy as np

from idnopt.errors import InputError
from idnopt.program import Program
from idnopt.sweep.plugins import register_generator

CORRELATIONS = ("uncorrelated", "weak", "strong")


def knapsack(
    *,
    seed: int = 0,
    items: int = 50,
    constraints: int = 1,
    correlation: str = "uncorrelated",
    capacity: float = 0.5,
    max_weight: int = 1000,
) -> Program:
    """Random 0-1 (multi-dimensional) knapsack program: maximise profit under capacities.

    Parameters
    ----------
    seed : int
        Seed of the random generator (same seed and parameters, same program).
    items : int
        Number of items (binary variables).
    constraints : int
        Number of capacity constraints (1 for the classic knapsack).
    correlation : {"uncorrelated", "weak", "strong"}
        How profits follow weights: independent, weight ± ``max_weight / 10``,
        or weight + ``max_weight / 10`` (hardest).
    capacity : float
        Capacity of each constraint as a fraction of its total weight, in (0, 1].
    max_weight : int
        Weights are drawn uniformly from ``1 … max_weight - 1``.

    Returns
    -------
    Program
        Variables ``x[item]`` (binary), constraints ``capacity[dimension]``.

    Raises
    ------
    InputError
        For parameters out of range.
    """
    if int(items) != items or items < 1:
        raise InputError(f"knapsack: items must be a positive integer, not {items!r}")
    if int(constraints) != constraints or constraints < 1:
        raise InputError(f"knapsack: constraints must be a positive integer, not {constraints!r}")
    if correlation not in CORRELATIONS:
        raise InputError(
            f"knapsack: correlation must be one of {', '.join(CORRELATIONS)}, not {correlation!r}"
        )
    if not 0 < capacity <= 1:
        raise InputError(f"knapsack: capacity must be in (0, 1], not {capacity!r}")
    if int(max_weight) != max_weight or max_weight < 2:
        raise InputError(f"knapsack: max_weight must be an integer >= 2, not {max_weight!r}")
    items, constraints = int(items), int(constraints)
    rng = np.random.default_rng(seed)
    weights = rng.integers(1, max_weight, size=(constraints, items)).astype(float)
    mean_weight = weights.mean(axis=0)
    spread = max_weight / 10
    if correlation == "uncorrelated":
        profits = rng.integers(1, max_weight, size=items).astype(float)
    elif correlation == "weak":
        profits = np.maximum(1.0, mean_weight + rng.uniform(-spread, spread, size=items)).round()
    else:
        profits = mean_weight + spread
    program = Program(f"knapsack-{items}x{constraints}-{correlation}-{seed}", sense="maximize")
    names = [f"item{i}" for i in range(items)]
    x = program.add_variables("x", items, integer=True, upper=1, labels=[names])
    rows, cols = np.indices(weights.shape).reshape(2, -1)
    program.add_constraints(
        "capacity",
        [(x, rows, cols, weights[rows, cols])],
        upper=np.floor(capacity * weights.sum(axis=1)),
        shape=constraints,
        labels=[[f"dimension{d}" for d in range(constraints)]],
    )
    program.set_objective([(x, profits)])
    return program


register_generator("knapsack", knapsack)
