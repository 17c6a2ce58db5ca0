"""Summaries and figures of a sweep's results table.

* :func:`summarize` — median and interquartile range of each metric per group
  (by default per instance point and solver), with task and failure counts.
* :func:`scaling_exponents` — fitted exponent ``b`` of ``time ≈ a · size^b`` per
  solver (least squares on log–log medians).
* :func:`ratios` — each task's metric divided by a reference solver's on the
  same instance and seed.
* :func:`plot_quality`, :func:`plot_time_scaling`, :func:`plot_ratio` —
  figures (median line, IQR band) versus an instance parameter, drawn by
  :mod:`idnopt.report` (matplotlib, imported when a figure is drawn).
* :func:`write_report` — all of it into a folder (CSV tables and figures).

Failed tasks are counted but excluded from statistics. Column names may be
given without their ``param.`` / ``option.`` prefix (``items`` for ``param.items``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from idnopt.errors import InputError
from idnopt.report import PowerLaw, Reference, Series, line_plot, save_figure, scaling_plot
from idnopt.sweep.store import DESCRIPTIVE
from idnopt.sweep.tasks import FAILED

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

PLOTS = ("quality", "time", "ratio")
"""Figures :func:`write_report` can draw."""

NOT_METRICS = {*DESCRIPTIVE, "status", "error"}


# -- columns ---------------------------------------------------------------------------
def resolve_column(frame: pd.DataFrame, name: str) -> str:
    """Find a column by its name or its name without the ``param.``/``option.`` prefix.

    Raises
    ------
    InputError
        Listing the available columns.
    """
    if name in frame.columns:
        return name
    for prefix in ("param.", "option."):
        if prefix + name in frame.columns:
            return prefix + name
    listing = ", ".join(map(str, frame.columns))
    raise InputError(f"no column {name!r} in the results (columns: {listing})")


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """Numeric measured columns (not describing the task)."""
    return [
        column
        for column in frame.columns
        if column not in NOT_METRICS
        and not column.startswith(("param.", "option."))
        and pd.api.types.is_numeric_dtype(frame[column])
        and not pd.api.types.is_bool_dtype(frame[column])
    ]


def default_x(frame: pd.DataFrame) -> str | None:
    """The numeric instance parameter with the most distinct values (``None`` if none varies)."""
    candidates = [
        (frame[c].nunique(), c)
        for c in frame.columns
        if c.startswith("param.") and pd.api.types.is_numeric_dtype(frame[c])
    ]
    candidates = [item for item in candidates if item[0] > 1]
    return max(candidates)[1] if candidates else None


def _succeeded(frame: pd.DataFrame) -> pd.DataFrame:
    if "status" not in frame.columns:
        return frame
    return frame[frame["status"] != FAILED]


def _columns(frame: pd.DataFrame, names: str | Sequence[str]) -> list[str]:
    names = [names] if isinstance(names, str) else list(names)
    return [resolve_column(frame, name) for name in names]


def _display(column: str) -> str:
    """Axis text of a column: its name without the ``param.``/``option.`` prefix."""
    return column.removeprefix("param.").removeprefix("option.")


def _group_label(key: Any) -> str:
    return " / ".join(map(str, key)) if isinstance(key, tuple) else str(key)


# -- tables ----------------------------------------------------------------------------
def summarize(
    frame: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Median, quartiles and IQR of each metric per group.

    Parameters
    ----------
    frame : pandas.DataFrame
        A results table (one row per task).
    by : str or sequence of str, optional
        Grouping columns (default: ``instance``, every ``param.*`` column, ``solver``).
    metrics : sequence of str, optional
        Metrics to summarise (default: every numeric measured column).

    Returns
    -------
    pandas.DataFrame
        One row per group: the group columns, ``tasks``, ``failed``, then
        ``<metric>.median``, ``<metric>.q1``, ``<metric>.q3``, ``<metric>.iqr`` per metric.
    """
    if by is None:
        params = [c for c in frame.columns if c.startswith("param.")]
        by = [c for c in ("instance", *params, "solver") if c in frame.columns]
    keys = _columns(frame, by)
    metrics = _columns(frame, metrics) if metrics is not None else metric_columns(frame)
    if not keys:
        raise InputError("nothing to group by: the table has no instance or solver column")
    counts = frame.groupby(keys, dropna=False, sort=False).size().rename("tasks")
    failed_mask = frame["status"] == FAILED if "status" in frame.columns else False
    failed = (
        frame.assign(_failed=failed_mask)
        .groupby(keys, dropna=False, sort=False)["_failed"]
        .sum()
        .astype(int)
        .rename("failed")
    )
    parts = [counts, failed]
    if metrics:
        values = _succeeded(frame)[keys + metrics].copy()
        values[metrics] = values[metrics].apply(pd.to_numeric, errors="coerce")
        grouped = values.groupby(keys, dropna=False, sort=False)[metrics]
        q1, median, q3 = (grouped.quantile(q) for q in (0.25, 0.5, 0.75))
        for metric in metrics:
            parts += [
                median[metric].rename(f"{metric}.median"),
                q1[metric].rename(f"{metric}.q1"),
                q3[metric].rename(f"{metric}.q3"),
                (q3[metric] - q1[metric]).rename(f"{metric}.iqr"),
            ]
    table = pd.concat(parts, axis=1).reset_index()
    return table.sort_values(
        keys, kind="stable", na_position="first", key=natural_order
    ).reset_index(drop=True)


def natural_order(column: pd.Series) -> pd.Series:
    """Sort key of a group column: numbers by value (25 < 100), even when stored as text.

    Parameters
    ----------
    column : pandas.Series
        A group column (grid values may come back from CSV or JSON as text).

    Returns
    -------
    pandas.Series
        The column as numbers when every value reads as one, else as text.
    """
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().sum() == column.notna().sum():
        return numbers
    return column.astype(str)


def scaling_exponents(
    frame: pd.DataFrame,
    x: str,
    y: str = "wall_seconds",
    by: str | Sequence[str] = "solver",
) -> pd.DataFrame:
    """Fit ``y ≈ a · x^b`` per group on the medians at each ``x`` (log–log least squares).

    Parameters
    ----------
    frame : pandas.DataFrame
        A results table.
    x : str
        Size column (positive numbers), e.g. ``param.items``.
    y : str
        Time (or any positive) column.
    by : str or sequence of str
        Groups, one fit each.

    Returns
    -------
    pandas.DataFrame
        Per group: ``exponent`` (b), ``coefficient`` (a), ``r2`` of the fit and
        ``points`` (distinct sizes used; a fit needs two).
    """
    x, y = resolve_column(frame, x), resolve_column(frame, y)
    keys = _columns(frame, by)
    medians = _positive_medians(frame, x, y, keys)
    rows = []
    for key, group in medians.groupby(keys, dropna=False, sort=True):
        log_x, log_y = np.log(group[x].to_numpy(float)), np.log(group[y].to_numpy(float))
        exponent = coefficient = r2 = np.nan
        if len(group) >= 2 and np.ptp(log_x) > 0:
            exponent, intercept = np.polyfit(log_x, log_y, 1)
            coefficient = float(np.exp(intercept))
            residual = log_y - (intercept + exponent * log_x)
            spread = float(np.sum((log_y - log_y.mean()) ** 2))
            r2 = 1.0 - float(np.sum(residual**2)) / spread if spread > 0 else 1.0
        key = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                **dict(zip(keys, key)),
                "exponent": exponent,
                "coefficient": coefficient,
                "r2": r2,
                "points": len(group),
            }
        )
    return pd.DataFrame(rows, columns=[*keys, "exponent", "coefficient", "r2", "points"])


def _positive_medians(frame: pd.DataFrame, x: str, y: str, keys: list[str]) -> pd.DataFrame:
    values = _succeeded(frame)[keys + [x, y]].copy()
    values[x] = pd.to_numeric(values[x], errors="coerce")
    values[y] = pd.to_numeric(values[y], errors="coerce")
    values = values[(values[x] > 0) & (values[y] > 0)]
    return values.groupby(keys + [x], dropna=False, sort=True)[y].median().reset_index()


def ratios(
    frame: pd.DataFrame,
    reference: str,
    metric: str = "objective",
    by: str = "solver",
    match: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Each task's metric divided by the reference solver's on the same instance and seed.

    Parameters
    ----------
    frame : pandas.DataFrame
        A results table.
    reference : str
        Value of ``by`` taken as reference (e.g. the exact solver ``milp``).
    metric : str
        Column to compare.
    by : str
        Column naming the solvers.
    match : sequence of str, optional
        Columns identifying "the same instance" (default: ``instance``, ``seed`` and
        every ``param.*`` column). The reference's median over repetitions is used.

    Returns
    -------
    pandas.DataFrame
        The successful rows with a ``ratio`` column (``NaN`` where the reference
        is missing or zero).

    Raises
    ------
    InputError
        If ``reference`` is not one of the solvers.
    """
    metric, by = resolve_column(frame, metric), resolve_column(frame, by)
    known = sorted(map(str, frame[by].dropna().unique()))
    if reference not in known:
        raise InputError(
            f"reference {reference!r} is not a {by} of these results (known: {', '.join(known)})"
        )
    if match is None:
        params = [c for c in frame.columns if c.startswith("param.")]
        match = [c for c in ("instance", "seed", *params) if c in frame.columns]
    match = _columns(frame, match)
    rows = _succeeded(frame).copy()
    rows[metric] = pd.to_numeric(rows[metric], errors="coerce")
    base = (
        rows[rows[by] == reference]
        .groupby(match, dropna=False)[metric]
        .median()
        .rename("_reference")
        .reset_index()
    )
    merged = rows.merge(base, on=match, how="left")
    denominator = merged["_reference"].where(merged["_reference"] != 0)
    merged["ratio"] = merged[metric] / denominator
    return merged.drop(columns="_reference")


# -- figures ---------------------------------------------------------------------------
def _band_series(
    frame: pd.DataFrame, x: str, y: str, keys: list[str], logy: bool = False
) -> tuple[list[tuple[Any, Series]], list[str] | None]:
    """Median and IQR of ``y`` versus ``x`` per group, as series for :mod:`idnopt.report`.

    Returns the (group key, series) pairs and, for a non-numeric ``x``, its
    values in order of first appearance (``None`` for a numeric ``x``).
    """
    numeric_x = pd.api.types.is_numeric_dtype(frame[x])
    data = frame[keys + [x, y]].copy()
    data[y] = pd.to_numeric(data[y], errors="coerce")
    data = data.dropna(subset=[y])
    if logy:
        data = data[data[y] > 0]
    categories = None
    if not numeric_x:
        categories = list(dict.fromkeys(data[x].astype(str)))
        data[x] = data[x].astype(str).map({c: i for i, c in enumerate(categories)})
    drawn = []
    for key, group in data.groupby(keys, dropna=False, sort=True):
        stats = group.groupby(x)[y].quantile([0.25, 0.5, 0.75]).unstack()
        if stats.empty:
            continue
        positions = stats.index.to_numpy()
        xs = [categories[int(p)] for p in positions] if categories is not None else positions
        label = _group_label(key)
        series = Series(label, xs, stats[0.5], low=stats[0.25], high=stats[0.75])
        drawn.append((key, series))
    return drawn, categories


def plot_quality(
    frame: pd.DataFrame,
    x: str,
    y: str = "objective",
    by: str | Sequence[str] = "solver",
    ax: Any = None,
) -> Figure:
    """Median (line) and interquartile range (band) of a metric versus an instance parameter.

    Parameters
    ----------
    frame : pandas.DataFrame
        A results table.
    x : str
        Instance parameter (e.g. ``items``); non-numeric values are placed in order.
    y : str
        Metric (cost, gain, objective…).
    by : str or sequence of str
        One line per group.
    ax : matplotlib.axes.Axes, optional
        Draw here (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    x, y = resolve_column(frame, x), resolve_column(frame, y)
    drawn, categories = _band_series(_succeeded(frame), x, y, _columns(frame, by))
    return line_plot(
        [series for _, series in drawn],
        _display(x),
        y,
        f"{y} versus {_display(x)} (median, IQR)",
        categories=categories,
        ax=ax,
    )


def plot_time_scaling(
    frame: pd.DataFrame,
    x: str,
    y: str = "wall_seconds",
    by: str | Sequence[str] = "solver",
    ax: Any = None,
) -> Figure:
    """Time versus size on log–log axes, with each group's fitted exponent in the legend.

    Parameters
    ----------
    frame : pandas.DataFrame
        A results table.
    x : str
        Size parameter (positive numbers).
    y : str
        Time column.
    by : str or sequence of str
        One line and one fit per group.
    ax : matplotlib.axes.Axes, optional
        Draw here (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    x, y = resolve_column(frame, x), resolve_column(frame, y)
    keys = _columns(frame, by)
    if not pd.api.types.is_numeric_dtype(frame[x]):
        raise InputError(f"time scaling needs a numeric size column; {x!r} is not numeric")
    data = _succeeded(frame)
    data = data[pd.to_numeric(data[x], errors="coerce") > 0]
    drawn, _ = _band_series(data, x, y, keys, logy=True)
    table = scaling_exponents(data, x, y, keys).set_index(keys)
    fits = {}
    for key, series in drawn:
        fit = table.loc[key if len(keys) > 1 else key[0]]
        fits[series.name] = PowerLaw(
            float(fit["coefficient"]), float(fit["exponent"]), _span(data, x, keys, key)
        )
    return scaling_plot(
        [series for _, series in drawn],
        fits,
        _display(x),
        f"{y} (log)",
        f"{y} versus {_display(x)}, fitted power laws",
        variable=x.removeprefix("param."),
        ax=ax,
    )


def _span(frame: pd.DataFrame, x: str, keys: list[str], key: Any) -> tuple[float, float]:
    key = key if isinstance(key, tuple) else (key,)
    mask = np.logical_and.reduce([frame[k] == v for k, v in zip(keys, key)])
    sizes = pd.to_numeric(frame.loc[mask, x])
    return float(sizes.min()), float(sizes.max())


def plot_ratio(
    frame: pd.DataFrame,
    x: str,
    reference: str,
    metric: str = "objective",
    by: str = "solver",
    ax: Any = None,
) -> Figure:
    """Ratio of each solver's metric to the reference solver's, versus an instance parameter.

    Parameters
    ----------
    frame : pandas.DataFrame
        A results table.
    x : str
        Instance parameter.
    reference : str
        Reference solver (its line is 1).
    metric : str
        Compared metric.
    by : str
        Column naming the solvers.
    ax : matplotlib.axes.Axes, optional
        Draw here (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    x = resolve_column(frame, x)
    compared = ratios(frame, reference, metric, by)
    compared = compared[compared[by] != reference]
    drawn, categories = _band_series(compared, x, "ratio", [by])
    return line_plot(
        [series for _, series in drawn],
        _display(x),
        f"{metric} / {metric} of {reference}",
        f"{metric} relative to {reference} (median, IQR)",
        references=[Reference.horizontal(1.0)],
        categories=categories,
        ax=ax,
    )


def write_report(
    frame: pd.DataFrame,
    folder: str | Path,
    *,
    plots: Sequence[str] = (),
    x: str | None = None,
    y: str = "objective",
    time: str = "wall_seconds",
    reference: str | None = None,
    by: str | Sequence[str] = "solver",
    metrics: Sequence[str] | None = None,
    image_format: str = "png",
) -> dict[str, Path]:
    """Write the summary table and the asked-for figures into a folder.

    Parameters
    ----------
    frame : pandas.DataFrame
        A results table.
    folder : str or Path
        Output folder (created when missing).
    plots : sequence of {"quality", "time", "ratio"}
        Figures to draw.
    x : str, optional
        Instance parameter for the horizontal axis (default: :func:`default_x`).
    y : str
        Metric of the quality and ratio figures.
    time : str
        Time metric of the scaling figure.
    reference : str, optional
        Reference solver of the ratio figure (required for it).
    by : str or sequence of str
        Groups (one line each).
    metrics : sequence of str, optional
        Metrics of the summary table (default: every numeric measured column).
    image_format : str
        Any format matplotlib writes (png, pdf, svg).

    Returns
    -------
    dict of str to Path
        ``summary`` (CSV), ``scaling`` (CSV, with the time figure), ``ratios``
        (CSV, with the ratio figure) and one entry per figure.
    """
    from idnopt.documents import write_atomic

    unknown = sorted(set(plots) - set(PLOTS))
    if unknown:
        raise InputError(f"unknown plot {unknown[0]!r}; choose among {', '.join(PLOTS)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {
        "summary": write_atomic(
            folder / "summary.csv", summarize(frame, metrics=metrics).to_csv(index=False)
        )
    }
    if plots:
        x = resolve_column(frame, x) if x is not None else default_x(frame)
        if x is None:
            raise InputError(
                "no numeric instance parameter varies in these results; pass --x COLUMN"
            )
    for plot in plots:
        if plot == "quality":
            figure = plot_quality(frame, x, y, by)
        elif plot == "time":
            figure = plot_time_scaling(frame, x, time, by)
            fits = scaling_exponents(frame, x, time, by)
            written["scaling"] = write_atomic(folder / "scaling.csv", fits.to_csv(index=False))
        else:
            if reference is None:
                raise InputError("the ratio plot needs a reference solver (--reference NAME)")
            by_column = by if isinstance(by, str) else by[0]
            figure = plot_ratio(frame, x, reference, y, by_column)
            table = ratio_summary(frame, x, reference, y, by_column)
            written["ratios"] = write_atomic(folder / "ratios.csv", table.to_csv(index=False))
        written[plot] = save_figure(figure, folder / f"{plot}.{image_format}")
    return written


def ratio_summary(
    frame: pd.DataFrame, x: str, reference: str, metric: str = "objective", by: str = "solver"
) -> pd.DataFrame:
    """Median and quartiles of :func:`ratios` per solver and value of ``x``."""
    x = resolve_column(frame, x)
    compared = ratios(frame, reference, metric, by)
    grouped = compared.groupby([by, x], dropna=False, sort=True)["ratio"]
    table = grouped.quantile([0.25, 0.5, 0.75]).unstack()
    table.columns = ["ratio.q1", "ratio.median", "ratio.q3"]
    table["tasks"] = grouped.size()
    return table.reset_index()[[by, x, "tasks", "ratio.median", "ratio.q1", "ratio.q3"]]
