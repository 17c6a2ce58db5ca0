"""The cost–accuracy curve of a JellyBean instance.

:func:`accuracy_sweep` solves the instance for a range of accuracy targets
(by default every distinct accuracy in the table, where the cost changes),
optionally alongside the heuristic, and names the point where the target
becomes unreachable. :meth:`AccuracySweep.plot` draws it with
:func:`idnopt.report.line_plot` (matplotlib, imported only when called).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from idnopt.formulations.jellybean.compiled import compile_workflow
from idnopt.formulations.jellybean.explain import best_reachable_combination
from idnopt.formulations.jellybean.heuristic import solve_heuristic
from idnopt.formulations.jellybean.milp import solve_milp
from idnopt.formulations.jellybean.plan import Routing, check_routing, check_target
from idnopt.formulations.jellybean.schema import JellyBeanInstance

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure


@dataclass
class AccuracySweep:
    """The cost–accuracy curve of an instance.

    Attributes
    ----------
    routing : str
        Routing rule of every solve.
    rows : list of dict
        One row per target: ``target``, ``status``, ``cost_per_hour``,
        ``compute_cost``, ``network_cost``, ``accuracy``, ``combination`` and,
        when compared, ``heuristic_cost`` and ``saving`` (fraction of the
        heuristic's cost saved by the exact plan).
    best_reachable_accuracy : float or None
        Targets above it are infeasible (None: the rates cannot be served at all).
    explanation : str
        Where and why the target becomes infeasible.
    """

    routing: str
    rows: list[dict[str, Any]]
    best_reachable_accuracy: float | None
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form."""
        return {
            "routing": self.routing,
            "best_reachable_accuracy": self.best_reachable_accuracy,
            "explanation": self.explanation,
            "rows": self.rows,
        }

    def to_frame(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def plot(self, path: str | Path | None = None, title: str | None = None) -> Figure:
        """Plot cost against the accuracy target (matplotlib, Agg canvas).

        Parameters
        ----------
        path : str or Path, optional
            Save the figure there, atomically (PNG, SVG or PDF by extension).
        title : str, optional
            Figure title.

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        from idnopt.report import Reference, Series, line_plot

        solved = [r for r in self.rows if r["cost_per_hour"] is not None]
        series = [
            Series(
                f"exact MILP ({self.routing})",
                [r["target"] for r in solved],
                [r["cost_per_hour"] for r in solved],
                kind="step",
            )
        ]
        compared = [r for r in self.rows if r.get("heuristic_cost") is not None]
        if compared:
            series.append(
                Series(
                    "beam search + greedy",
                    [r["target"] for r in compared],
                    [r["heuristic_cost"] for r in compared],
                    kind="points",
                    marker="x",
                )
            )
        references = []
        if self.best_reachable_accuracy is not None:
            best = self.best_reachable_accuracy
            references.append(Reference.vertical(best, note=f"infeasible above {best:.4g} "))
        return line_plot(
            series,
            "end-to-end accuracy target",
            "cost ($/h)",
            title or "cost-accuracy curve",
            path,
            references=references,
            legend_loc="upper left",
        )


def accuracy_sweep(
    instance: JellyBeanInstance,
    targets: Sequence[float] | None = None,
    *,
    routing: Routing = "flows",
    compare: bool = True,
    backend: str = "highs",
    time_limit: float | None = None,
    beam_width: int = 3,
) -> AccuracySweep:
    """Solve the instance for a range of accuracy targets.

    Parameters
    ----------
    instance : JellyBeanInstance
        A validated instance.
    targets : sequence of float, optional
        Targets to solve. Default: every distinct accuracy in the table (the
        cost only changes there) plus one point above the best reachable
        accuracy; with a rule, 12 evenly spaced targets.
    routing : {"flows", "proportional"}
        Routing rule.
    compare : bool
        Also run the heuristic at every target.
    backend : {"highs", "pyomo", "cvxpy"}
        MILP backend.
    time_limit : float, optional
        Seconds per solve.
    beam_width : int
        Beam width of the heuristic.

    Returns
    -------
    AccuracySweep
        Rows per target, the best reachable accuracy and an explanation.
    """
    workflow = compile_workflow(instance)
    routing = check_routing(routing)
    best, combo = best_reachable_combination(workflow, backend, time_limit)
    if targets is None:
        if workflow.accuracy_rule == "table":
            values = np.unique(workflow.table_accuracy)
        else:
            values = np.linspace(0.0, workflow.best_table_accuracy(), 12)
        if best is not None:
            values = values[values <= best + 1e-12]
            if best < 1.0:
                values = np.append(values, min(1.0, best + max(1e-3, 0.01 * (1 - best))))
        targets = values.tolist()
    rows = []
    for target in targets:
        target = check_target(float(target), instance)
        result = solve_milp(workflow, routing, target, backend, False, time_limit, beam_width)
        row = {
            "target": target,
            "status": result.status.value,
            "cost_per_hour": result.metrics.get("cost_per_hour"),
            "compute_cost": result.metrics.get("compute_cost"),
            "network_cost": result.metrics.get("network_cost"),
            "accuracy": result.metrics.get("accuracy"),
            "combination": result.metrics.get("combination"),
        }
        if compare:
            heuristic = solve_heuristic(workflow, routing, target, beam_width)
            cost = heuristic.metrics.get("cost_per_hour")
            row["heuristic_cost"] = cost
            exact = row["cost_per_hour"]
            row["saving"] = (1.0 - exact / cost) if cost and exact is not None else None
        rows.append(row)
    if best is None:
        explanation = "no target is feasible: the workers cannot sustain the rates"
    else:
        explanation = (
            f"targets above {best:.6g} are infeasible: the best reachable accuracy is "
            f"{best:.6g} ({workflow.combination_text(combo)})"
        )
        if workflow.best_table_accuracy() > best + 1e-12:
            explanation += (
                f"; the best known combination ({workflow.best_table_accuracy():.6g}) "
                "needs more capacity than the workers offer"
            )
    return AccuracySweep(routing, rows, best, explanation)
