"""Figures comparing serving policies: on-time ratio over time, latency CDFs per policy.

Both read simulation results as the serving simulation returns them: the
``on_time`` table (ratio per window of arrival time, one column per
application and ``all``) and the ``latency:<application>`` samples in
``Result.values``. matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from idnopt.sim.metrics import latency_samples


def on_time_plot(
    results: Mapping[str, object],
    path: str | Path | None = None,
    *,
    application: str = "all",
    title: str = "on-time and accurate queries",
):
    """One line per policy: the on-time-and-accurate ratio per window of arrival time.

    Parameters
    ----------
    results : mapping of str to Result
        Simulation results by policy name.
    path : str or Path, optional
        Save the figure there, atomically.
    application : str
        Column of the ``on_time`` table (an application, or ``all``).
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from idnopt.report import Series, line_plot

    series = []
    for name, result in results.items():
        rows = result.tables.get("on_time", [])
        x = [row["time_s"] for row in rows]
        y = [row.get(application, float("nan")) for row in rows]
        series.append(Series(name, x, y, marker=""))
    return line_plot(
        series, "time (s)", "on-time and accurate ratio", title, path, legend_loc="lower left"
    )


def latency_cdf_by_policy(
    results: Mapping[str, object],
    path: str | Path | None = None,
    *,
    application: str | None = None,
    title: str = "latency CDF per policy",
    logx: bool = True,
):
    """One latency CDF per policy (of one application, or of all of them pooled).

    Parameters
    ----------
    results : mapping of str to Result
        Simulation results by policy name.
    path : str or Path, optional
        Save the figure there, atomically.
    application : str, optional
        The application whose samples are drawn (default: every application pooled).
    title : str
        Figure title.
    logx : bool
        Logarithmic latency axis.
    """
    from idnopt.sim.plots import latency_cdf_plot

    samples = {}
    for name, result in results.items():
        held = latency_samples(result)
        if application is not None:
            samples[name] = held.get(application, np.zeros(0))
        else:
            samples[name] = np.concatenate(list(held.values())) if held else np.zeros(0)
    return latency_cdf_plot(samples, path, title=title, logx=logx)


def training_plot(
    result: object,
    path: str | Path | None = None,
    *,
    title: str = "learning curve",
):
    """A learned policy's ``training`` table against the decisions taken.

    Parameters
    ----------
    result : Result
        A simulation result whose ``training`` table has a ``decisions``
        column, times in columns ending ``_ms`` and other measures (accuracy…).
    path : str or Path, optional
        Save the figure there, atomically.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Times on the left panel, the other measures on the right one.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from idnopt.report import Series, line_plot
    from idnopt.report.style import save_figure

    rows = result.tables.get("training", [])
    if not rows:
        raise ValueError("the result has no training table")
    x = [row["decisions"] for row in rows]
    names = [name for name in rows[0] if name != "decisions"]
    times = [name for name in names if name.endswith("_ms")]
    others = [name for name in names if not name.endswith("_ms")]
    figure = Figure(figsize=(11, 4), layout="constrained")
    FigureCanvasAgg(figure)
    panels = figure.subplots(1, 2 if others else 1, squeeze=False)[0]
    line_plot(
        [Series(name, x, [row[name] for row in rows], marker="") for name in times],
        "decisions of training",
        "ms",
        title,
        ax=panels[0],
    )
    if others:
        line_plot(
            [Series(name, x, [row[name] for row in rows], marker="") for name in others],
            "decisions of training",
            "value",
            "",
            ax=panels[1],
        )
    if path is not None:
        save_figure(figure, path)
    return figure
