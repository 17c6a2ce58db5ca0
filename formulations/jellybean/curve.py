"""The cost–accuracy curve of a JellyBean instance.

:func:`accuracy_sweep` solves the instance for a range of accuracy targets
(by default every distinct accuracy in the table, where the cost changes),
optionally alongside the heuristic, and names the point where the target
becomes unreachable. :meth:`AccuracySweep.plot` needs matplotlib, imported only
when called.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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

    def plot(self, path: str | None = None, title: str | None = None) -> Figure:
        """Plot cost against the accuracy target (matplotlib, Agg canvas).

        Parameters
        ----------
        path : str, optional
            Save the figure there (PNG, SVG or PDF by extension).
        title : str, optional
            Figure title.

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6.4, 4.0))
        FigureCanvasAgg(figure)
        ax = figure.add_subplot()
        solved = [r for r in self.rows if r["cost_per_hour"] is not None]
        ax.step(
            [r["target"] for r in solved],
            [r["cost_per_hour"] for r in solved],
            where="pre",
            marker="o",
            label=f"exact MILP ({self.routing})",
        )
        compared = [r for r in self.rows if r.get("heuristic_cost") is not None]
        if compared:
            ax.plot(
                [r["target"] for r in compared],
                [r["heuristic_cost"] for r in compared],
                "x",
                color="C3",
                label="beam search + greedy",
            )
        if self.best_reachable_accuracy is not None:
            ax.axvline(self.best_reachable_accuracy, color="grey", linestyle="--")
            ax.annotate(
                f"infeasible above {self.best_reachable_accuracy:.4g} ",
                (self.best_reachable_accuracy, 0.03),
                xycoords=("data", "axes fraction"),
                ha="right",
                va="bottom",
                fontsize=8,
                color="grey",
            )
        ax.set_xlabel("end-to-end accuracy target")
        ax.set_ylabel("cost ($/h)")
        ax.set_title(title or "cost-accuracy curve")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
        figure.tight_layout()
        if path is not None:
            from io import BytesIO

            from idnopt.documents import write_atomic

            buffer = BytesIO()
            suffix = str(path).rsplit(".", 1)[-1].lower() if "." in str(path) else "png"
            figure.savefig(buffer, format=suffix, dpi=120)
            write_atomic(path, buffer.getvalue())
        return figure


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
