"""Shared helpers of the IDN offline benchmarks: timing, machine description, tables."""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE.parent))

import benchkit  # noqa: E402
from benchkit import median  # noqa: E402, F401 - re-exported

PACKAGES = ("numpy", "scipy", "networkx", "highspy", "pyomo", "linopy", "xarray")


def timed(function: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """Run ``function(*args)`` once after a garbage collection; (its value, seconds)."""
    gc.collect()
    started = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - started


def machine() -> dict[str, Any]:
    """CPU, cores, memory, kernel, load and library versions of this run."""
    info = benchkit.machine(PACKAGES)
    info["load_average_at_start"] = info.pop("load_average")
    return info


def save_json(path: Path, data: Any) -> None:
    """``data`` as JSON at ``path``."""
    benchkit.write_json(path, data)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub markdown table (right-aligned numbers, floats to three significant digits)."""
    return benchkit.markdown_table(header, rows, digits=".3g")


def publish(
    name: str,
    data: dict[str, Any],
    started: float,
    tables: Callable[[dict[str, Any]], str],
    plot: Callable[[dict[str, Any], Path], None],
    plot_name: str,
) -> None:
    """Finish a benchmark run: timing and load into ``data``, JSON and markdown, plot, print.

    ``results/<name>.json`` and ``results/<name>.md`` are written, the figure goes to
    ``<plot_name>.png`` next to the scripts, and the tables are printed.
    """
    data["wall_s"] = time.perf_counter() - started
    data["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    save_json(RESULTS / f"{name}.json", data)
    text = tables(data)
    (RESULTS / f"{name}.md").write_text(text)
    plot(data, HERE / f"{plot_name}.png")
    print()
    print(text)
    print(f"wall time {data['wall_s']:.0f} s", file=sys.stderr)
