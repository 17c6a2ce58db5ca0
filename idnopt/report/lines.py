"""Line figures: several named series against one variable, with references.

:func:`line_plot` covers curves over a parameter or over time (quality versus
size, cost versus accuracy target, regret or gain per slot with its bound);
:func:`scaling_plot` draws time versus size on log–log axes with each series'
fitted power law. Both return the matplotlib figure and, given a path, save it
atomically. matplotlib is imported only when they are called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from idnopt.report.series import PowerLaw, Reference, Series
from idnopt.report.style import (
    BAND_ALPHA,
    NOTE_FONTSIZE,
    PALETTE,
    REFERENCE_COLOUR,
    finish_axes,
    new_figure,
    save_figure,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def line_plot(
    series: Sequence[Series],
    xlabel: str,
    ylabel: str,
    title: str,
    path: str | Path | None = None,
    *,
    references: Sequence[Reference] = (),
    logx: bool = False,
    logy: bool = False,
    categories: Sequence[str] | None = None,
    legend_loc: str = "best",
    ax: Axes | None = None,
) -> Figure:
    """Draw named series (with optional bands) and reference lines on one set of axes.

    Parameters
    ----------
    series : sequence of Series
        What to draw; each name keeps its colour across figures.
    xlabel, ylabel, title : str
        Axis labels and title.
    path : str or Path, optional
        Save the figure there, atomically (format from the extension).
    references : sequence of Reference
        Levels, limits or bound curves, drawn grey and dashed.
    logx, logy : bool
        Logarithmic axes.
    categories : sequence of str, optional
        Order of the labels of a categorical x axis (default: order of first
        appearance); used when the series' x values are labels.
    legend_loc : str
        Legend position, as matplotlib's ``loc``.
    ax : matplotlib.axes.Axes, optional
        Draw on these axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (Agg canvas).

    Examples
    --------
    Regret of two policies per slot, with a theoretical bound::

        figure = line_plot(
            [Series("INFIDA", slots, regret_a), Series("OGA", slots, regret_b)],
            "slot", "cumulative regret", "regret over time",
            "regret.png",
            references=[Reference.curve(slots, bound, label="bound")],
        )
    """
    figure, ax = new_figure(ax)
    positions = _category_positions(series, categories)
    if positions is not None:
        ax.set_xticks(range(len(positions)), list(positions))
    colours = PALETTE.colours(s.name for s in series)
    for item in series:
        _draw_series(ax, item, colours[item.name], positions)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    for reference in references:
        _draw_reference(ax, reference)
    finish_axes(ax, xlabel, ylabel, title, legend_loc=legend_loc)
    if path is not None:
        save_figure(figure, path)
    return figure


def scaling_plot(
    series: Sequence[Series],
    fits: Mapping[str, PowerLaw],
    xlabel: str,
    ylabel: str,
    title: str,
    path: str | Path | None = None,
    *,
    variable: str | None = None,
    points: int = 20,
    ax: Axes | None = None,
) -> Figure:
    """Draw series on log–log axes with each one's fitted power law, dashed, in its colour.

    The legend entry of a series with a finite fit reads
    ``<label>: ∝ <variable>^<exponent>``.

    Parameters
    ----------
    series : sequence of Series
        Measured values (e.g. median time and IQR band per size), positive.
    fits : mapping of str to PowerLaw
        Fit per series name; series without one (or with a non-finite one) are
        drawn without a fitted line.
    xlabel, ylabel, title : str
        Axis labels and title.
    path : str or Path, optional
        Save the figure there, atomically.
    variable : str, optional
        Name of the size in the legend (default: ``xlabel``).
    points : int
        Points of each fitted curve (geometrically spaced over its span).
    ax : matplotlib.axes.Axes, optional
        Draw on these axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (Agg canvas).
    """
    variable = variable or xlabel
    drawn: list[Series] = []
    for item in series:
        fit = fits.get(item.name)
        if fit is None or not fit.finite:
            drawn.append(item)
            continue
        low, high = fit.span or item.span()
        if not (np.isfinite(low) and np.isfinite(high) and low > 0):
            drawn.append(item)
            continue
        sizes = np.geomspace(low, high, points)
        label = f"{item.label}: ∝ {variable}^{fit.exponent:.2f}"
        drawn.append(replace(item, label=label))
        drawn.append(Series(item.name, sizes, fit(sizes), kind="dashed", legend=False))
    return line_plot(drawn, xlabel, ylabel, title, path, logx=True, logy=True, ax=ax)


def _category_positions(
    series: Sequence[Series], categories: Sequence[str] | None
) -> dict[str, int] | None:
    """Position of every label of a categorical x axis, or None for a numeric axis."""
    if categories is None and not any(item.categorical for item in series):
        return None
    labels = list(categories) if categories is not None else []
    for item in series:
        labels += [str(value) for value in item.x]
    return {label: index for index, label in enumerate(dict.fromkeys(labels))}


def _draw_series(ax: Axes, item: Series, colour: str, positions: dict[str, int] | None) -> None:
    x = (
        np.asarray([positions[str(value)] for value in item.x], dtype=float)
        if positions is not None
        else np.asarray(item.x, dtype=float)
    )
    y = np.asarray(item.y, dtype=float)
    label = item.label if item.legend else "_nolegend_"
    marker = item.marker if item.marker is not None else (None if item.kind == "dashed" else "o")
    if item.kind == "step":
        ax.step(x, y, where="pre", marker=marker, color=colour, label=label)
    elif item.kind == "points":
        ax.plot(x, y, linestyle="none", marker=marker, color=colour, label=label)
    elif item.kind == "dashed":
        ax.plot(x, y, linestyle="--", linewidth=1, marker=marker, color=colour, label=label)
    else:
        ax.plot(x, y, marker=marker, color=colour, label=label)
    if item.low is not None and item.high is not None:
        ax.fill_between(
            x,
            np.asarray(item.low, dtype=float),
            np.asarray(item.high, dtype=float),
            alpha=BAND_ALPHA,
            color=colour,
            step="pre" if item.kind == "step" else None,
        )


def _draw_reference(ax: Axes, reference: Reference) -> None:
    style = {"color": REFERENCE_COLOUR, "linestyle": "--", "linewidth": 1}
    label = reference.label if reference.label is not None else "_nolegend_"
    note = {"fontsize": NOTE_FONTSIZE, "color": REFERENCE_COLOUR}
    if reference.kind == "vertical":
        ax.axvline(reference.x, label=label, **style)
        if reference.note:
            ax.annotate(
                reference.note,
                (reference.x, 0.03),
                xycoords=("data", "axes fraction"),
                ha="right",
                va="bottom",
                **note,
            )
    elif reference.kind == "horizontal":
        ax.axhline(reference.y, label=label, **style)
        if reference.note:
            ax.annotate(
                reference.note,
                (0.01, reference.y),
                xycoords=("axes fraction", "data"),
                ha="left",
                va="bottom",
                **note,
            )
    else:
        x = np.asarray(reference.x, dtype=float)
        y = np.asarray(reference.y, dtype=float)
        ax.plot(x, y, label=label, **style)
        if reference.note and len(x):
            ax.annotate(reference.note, (x[-1], y[-1]), ha="right", va="bottom", **note)
