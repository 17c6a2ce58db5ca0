"""Latency CDF figures of simulation results, drawn with :mod:`idnopt.report`.

matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from idnopt.sim.metrics import cdf_points


def latency_cdf_plot(
    samples: Mapping[str, np.ndarray],
    path: str | Path | None = None,
    *,
    title: str = "latency CDF",
    percentiles: tuple[float, ...] = (95.0,),
    logx: bool = False,
):
    """Draw one empirical CDF per key (a step series each), with percentile guides.

    Parameters
    ----------
    samples : mapping of str to numpy.ndarray
        Latencies in ms by series name (a source, a class, a policy).
    path : str or Path, optional
        Save the figure there, atomically (format from the extension).
    title : str
        Figure title.
    percentiles : tuple of float
        Horizontal reference lines at these percentiles.
    logx : bool
        Logarithmic latency axis.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from idnopt.report import Reference, Series, line_plot

    series = []
    for name, values in samples.items():
        x, y = cdf_points(values)
        if x.size:
            series.append(Series(name, x, y, kind="step", marker=""))
    references = [Reference.horizontal(p / 100.0, label=f"p{p:g}") for p in percentiles]
    return line_plot(
        series,
        "latency (ms)",
        "fraction of requests",
        title,
        path,
        references=references,
        logx=logx,
        legend_loc="lower right",
    )
