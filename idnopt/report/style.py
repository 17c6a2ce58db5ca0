"""The look of every idnopt figure: sizes, one colour per series name, saving.

Colours are given by name, not by drawing order: the first time a name (a
solver, a policy, a series) is drawn it takes the next colour of
:data:`COLOURS`, and it keeps that colour in every later figure of the process,
so ``milp`` is the same colour in the quality, time and ratio figures of one
report. Grey is kept for references (bounds, levels, limits). Figures use the
Agg canvas (no display needed) and are saved through a temporary file and a
rename, so an interrupted run never leaves half a picture.

matplotlib is imported inside the functions that draw, never when this module
is imported.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FIGSIZE = (6.4, 4.2)
"""Width and height of a figure in inches."""

DPI = 150
"""Resolution of saved raster images (dots per inch)."""

GRID_ALPHA = 0.3
"""Opacity of the grid lines."""

BAND_ALPHA = 0.2
"""Opacity of the band between a series' low and high values."""

LEGEND_FONTSIZE = "small"
"""Font size of legends."""

NOTE_FONTSIZE = 8
"""Font size of notes written beside reference lines."""

REFERENCE_COLOUR = "0.35"
"""Colour of reference lines and their notes (a grey)."""

COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
)
"""Series colours in the order they are handed out (matplotlib's tab10 without its grey)."""


class Palette:
    """Hands out one colour per series name and remembers it.

    Parameters
    ----------
    colours : iterable of str, optional
        Colours in the order they are handed out (default :data:`COLOURS`).

    Examples
    --------
    >>> palette = Palette()
    >>> palette.colour("milp") == palette.colour("milp")
    True
    >>> palette.colour("milp") != palette.colour("greedy")
    True
    """

    def __init__(self, colours: Iterable[str] = COLOURS) -> None:
        self._colours = tuple(colours)
        if not self._colours:
            raise ValueError("a palette needs at least one colour")
        self._assigned: dict[str, str] = {}
        self._lock = threading.Lock()

    def colour(self, name: str) -> str:
        """Return the colour of ``name``, giving it the next free one on first use.

        Parameters
        ----------
        name : str
            Series name.

        Returns
        -------
        str
            A matplotlib colour.
        """
        with self._lock:
            if name not in self._assigned:
                index = len(self._assigned) % len(self._colours)
                self._assigned[name] = self._colours[index]
            return self._assigned[name]

    def assign(self, name: str, colour: str) -> None:
        """Fix the colour of ``name`` (for instance to match another publication).

        Parameters
        ----------
        name : str
            Series name.
        colour : str
            Any matplotlib colour.
        """
        with self._lock:
            self._assigned[name] = colour

    def colours(self, names: Iterable[str]) -> dict[str, str]:
        """Colours of the series of one figure, each name distinct from the others.

        Every name takes its remembered colour; only when two different names
        of the same figure share one (after more names than colours were
        handed out) does the later name take a colour unused in this figure,
        for this figure only.

        Parameters
        ----------
        names : iterable of str
            Series names of one figure (repeats share a colour).

        Returns
        -------
        dict of str to str
            Colour per distinct name, in order of first appearance.
        """
        chosen: dict[str, str] = {}
        for name in dict.fromkeys(names):
            colour = self.colour(name)
            if colour in chosen.values():
                free = [c for c in self._colours if c not in chosen.values()]
                colour = free[0] if free else colour
            chosen[name] = colour
        return chosen

    def reset(self) -> None:
        """Forget every assignment."""
        with self._lock:
            self._assigned.clear()


PALETTE = Palette()
"""The palette shared by every figure of the process."""


def colour_of(name: str) -> str:
    """Return the colour of a series name in :data:`PALETTE`.

    Parameters
    ----------
    name : str
        Series name.

    Returns
    -------
    str
        A matplotlib colour, the same for this name in every figure.
    """
    return PALETTE.colour(name)


def new_figure(ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Return a new figure and its axes on the Agg canvas, or the figure of ``ax``.

    Parameters
    ----------
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure of size :data:`FIGSIZE` is made when omitted.

    Returns
    -------
    tuple of (matplotlib.figure.Figure, matplotlib.axes.Axes)
        The figure and the axes to draw on.
    """
    if ax is not None:
        return ax.figure, ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGSIZE, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def finish_axes(
    ax: Axes,
    xlabel: str,
    ylabel: str,
    title: str,
    *,
    legend: bool = True,
    legend_loc: str = "best",
) -> None:
    """Label the axes, draw the grid and, when something is labelled, the legend.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes drawn on.
    xlabel, ylabel, title : str
        Axis labels and title.
    legend : bool
        Draw the legend (only when at least one artist has a label).
    legend_loc : str
        Legend position, as matplotlib's ``loc``.
    """
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    logarithmic = "log" in (ax.get_xscale(), ax.get_yscale())
    ax.grid(True, which="both" if logarithmic else "major", alpha=GRID_ALPHA)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc=legend_loc, fontsize=LEGEND_FONTSIZE)


def save_figure(
    figure: Figure, path: str | Path, *, dpi: int = DPI, image_format: str | None = None
) -> Path:
    """Write a figure atomically (temporary file in the same folder, then rename).

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        The figure.
    path : str or Path
        Destination; its folder must exist.
    dpi : int
        Resolution of raster formats.
    image_format : str, optional
        Any format matplotlib writes (png, pdf, svg); default: the path's
        extension, or png without one.

    Returns
    -------
    Path
        The destination path.
    """
    from idnopt.documents import write_atomic

    path = Path(path)
    image_format = image_format or path.suffix.removeprefix(".").lower() or "png"
    buffer = BytesIO()
    figure.savefig(buffer, format=image_format, dpi=dpi)
    return write_atomic(path, buffer.getvalue())
