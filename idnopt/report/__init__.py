"""Figures of idnopt: one style, one colour per series name, atomic saving.

Every figure of the library (sweep reports, cost–accuracy curves, online
runs) is drawn here, from plain data, so that they look alike: the same size
and grid, the Agg canvas (no display needed), the same colour for a solver or
policy in every figure, references (bounds, levels, limits) in grey dashes,
and files written through a temporary file and a rename::

    from idnopt.report import Reference, Series, line_plot

    line_plot(
        [Series("INFIDA", slots, regret), Series("OGA", slots, regret_oga)],
        "slot", "cumulative regret", "regret over time", "regret.png",
        references=[Reference.curve(slots, bound, label="theoretical bound")],
    )

matplotlib (the ``plot`` extra) is imported only when a figure is drawn, never
when this package is imported.

Modules: :mod:`~idnopt.report.style` (sizes, palette, new figures, saving),
:mod:`~idnopt.report.series` (series, references and fits as plain data),
:mod:`~idnopt.report.lines` (line and scaling figures).
"""

from __future__ import annotations

from idnopt.report.lines import line_plot, scaling_plot
from idnopt.report.series import PowerLaw, Reference, Series, SeriesKind
from idnopt.report.style import (
    COLOURS,
    PALETTE,
    Palette,
    colour_of,
    finish_axes,
    new_figure,
    save_figure,
)

__all__ = [
    "COLOURS",
    "PALETTE",
    "Palette",
    "PowerLaw",
    "Reference",
    "Series",
    "SeriesKind",
    "colour_of",
    "finish_axes",
    "line_plot",
    "new_figure",
    "save_figure",
    "scaling_plot",
]
