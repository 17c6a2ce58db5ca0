"""The report layer: lazy matplotlib, one colour per name, atomic saving, the figure kinds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from idnopt.errors import InputError
from idnopt.report import (
    COLOURS,
    Palette,
    PowerLaw,
    Reference,
    Series,
    colour_of,
    line_plot,
    save_figure,
    scaling_plot,
)

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_report_layer_does_not_import_matplotlib():
    code = (
        "import sys, idnopt.report, idnopt.sweep, idnopt.sweep.report\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib')\n"
        "assert not loaded, loaded\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert completed.returncode == 0, completed.stderr


def test_the_report_layer_never_names_a_family():
    for path in (ROOT / "idnopt" / "report").rglob("*.py"):
        assert "idnopt.formulations" not in path.read_text(encoding="utf-8"), path


def test_series_and_references_check_their_shape():
    with pytest.raises(ValueError, match="2 x values but 3 y values"):
        Series("a", [1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="both low and high"):
        Series("a", [1, 2], [1, 2], low=[0, 1])
    with pytest.raises(ValueError, match="kind"):
        Series("a", [1], [1], kind="bars")
    with pytest.raises(ValueError, match="same length"):
        Reference.curve([1, 2], [1])
    assert Series("a", [1], [2]).label == "a"
    assert Series("a", [1], [2], label="b").label == "b"


def test_palette_keeps_one_colour_per_name_and_keeps_figures_distinct():
    palette = Palette()
    first = palette.colours(["milp", "greedy"])
    second = palette.colours(["greedy", "oga", "milp"])
    assert second["milp"] == first["milp"] and second["greedy"] == first["greedy"]
    assert len(set(second.values())) == 3
    small = Palette(["red", "blue"])
    assert small.colours(["a", "b"]) == {"a": "red", "b": "blue"}
    # "c" wraps onto red; within a figure with "a" it takes the free colour instead
    assert small.colours(["a", "c"]) == {"a": "red", "c": "blue"}
    small.assign("a", "black")
    assert small.colour("a") == "black"


def test_line_plot_draws_series_bands_and_a_bound_and_saves_atomically(tmp_path):
    pytest.importorskip("matplotlib")
    slots = np.arange(1, 51)
    series = [
        Series("INFIDA", slots, np.sqrt(slots), low=np.sqrt(slots) - 1, high=np.sqrt(slots) + 1),
        Series("OGA", slots, 1.5 * np.sqrt(slots)),
    ]
    bound = Reference.curve(slots, 3 * np.sqrt(slots), label="regret bound", note="bound")
    path = tmp_path / "regret.png"
    figure = line_plot(
        series, "slot", "cumulative regret", "regret over time", path, references=[bound]
    )
    assert figure.canvas.__class__.__name__ == "FigureCanvasAgg"
    assert path.read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["regret.png"]
    ax = figure.axes[0]
    assert ax.get_legend_handles_labels()[1] == ["INFIDA", "OGA", "regret bound"]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines["INFIDA"].get_color() == colour_of("INFIDA")
    assert lines["regret bound"].get_linestyle() == "--"
    assert lines["INFIDA"].get_color() != lines["OGA"].get_color()
    # the same name has the same colour in a later figure
    again = line_plot([Series("OGA", [1, 2], [3, 4])], "x", "y", "again")
    assert again.axes[0].get_lines()[0].get_color() == lines["OGA"].get_color()


def test_line_plot_places_labels_on_a_categorical_axis():
    pytest.importorskip("matplotlib")
    figure = line_plot(
        [Series("a", ["large", "small"], [2, 1]), Series("b", ["small"], [3])],
        "size",
        "cost",
        "cost per size",
        references=[Reference.horizontal(1.0, note="level"), Reference.vertical(0.5)],
        categories=["small", "large"],
    )
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["small", "large"]
    assert list(ax.get_lines()[0].get_xdata()) == [1.0, 0.0]


def test_step_and_points_series(tmp_path):
    pytest.importorskip("matplotlib")
    figure = line_plot(
        [
            Series("exact", [0.5, 0.7], [1.0, 2.0], kind="step"),
            Series("heuristic", [0.5, 0.7], [1.2, 2.5], kind="points", marker="x"),
        ],
        "target",
        "cost",
        "curve",
        tmp_path / "curve.svg",
        references=[Reference.vertical(0.8, note="infeasible above 0.8")],
        legend_loc="upper left",
    )
    heuristic = figure.axes[0].get_lines()[1]
    assert heuristic.get_marker() == "x" and heuristic.get_linestyle() == "None"
    assert (tmp_path / "curve.svg").read_text().lstrip().startswith("<?xml")


def test_scaling_plot_labels_each_fitted_exponent():
    pytest.importorskip("matplotlib")
    sizes = np.array([10.0, 100.0, 1000.0])
    figure = scaling_plot(
        [Series("milp", sizes, 1e-3 * sizes**2), Series("greedy", sizes, 1e-4 * sizes)],
        {"milp": PowerLaw(1e-3, 2.0), "greedy": PowerLaw(float("nan"), float("nan"))},
        "items",
        "seconds (log)",
        "time versus items",
    )
    ax = figure.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["milp: ∝ items^2.00", "greedy"]
    fitted = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(fitted) == 1 and len(fitted[0].get_xdata()) == 20


def test_save_figure_refuses_a_missing_folder(tmp_path):
    pytest.importorskip("matplotlib")
    figure = line_plot([Series("a", [1], [1])], "x", "y", "t")
    with pytest.raises(InputError, match="does not exist"):
        save_figure(figure, tmp_path / "missing" / "a.png")
    assert save_figure(figure, tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")


def test_default_palette_skips_the_reference_grey():
    assert "#7f7f7f" not in COLOURS
