"""Shared helpers of the IDN offline benchmarks: timing, machine description, tables."""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def timed(function: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """Run ``function(*args)`` once after a garbage collection; (its value, seconds)."""
    gc.collect()
    started = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - started


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def machine() -> dict[str, Any]:
    """CPU, cores, memory, load and library versions of this run."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    packages = {}
    for name in ("numpy", "scipy", "networkx", "highspy", "pyomo", "linopy", "xarray"):
        try:
            packages[name] = version(name)
        except Exception:  # noqa: BLE001 - optional package
            packages[name] = None
    try:
        kernel = subprocess.run(["uname", "-r"], capture_output=True, text=True).stdout.strip()
    except OSError:
        kernel = platform.release()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "kernel": kernel,
        "packages": packages,
    }


def save_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=float) + "\n")


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub markdown table (right-aligned numbers)."""

    def cell(value: Any) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


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
