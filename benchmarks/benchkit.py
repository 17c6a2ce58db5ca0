"""Helpers every benchmark folder shares: the machine a run was on, results files, tables.

Benchmark scripts run as ``python benchmarks/<folder>/<script>.py``; each
folder's ``common.py`` puts this folder on ``sys.path`` and re-exports what it
uses from here, with its own ``results/`` folder.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from idnopt.profiling.environment import cpu_name


def machine(packages: Sequence[str] = ("numpy", "scipy")) -> dict[str, Any]:
    """CPU, cores, memory, kernel, load average, Python and the versions of ``packages``."""
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    found = {}
    for name in packages:
        try:
            found[name] = version(name)
        except Exception:  # noqa: BLE001 - optional package
            found[name] = None
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "kernel": platform.release(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "packages": found,
    }


def one_core(position: int = 0) -> int:
    """Pin this process to one core (``position`` among the allowed ones); returns it."""
    core = sorted(os.sched_getaffinity(0))[position]
    os.sched_setaffinity(0, {core})
    return core


def median(values: Sequence[float]) -> float:
    """The median, as a float."""
    return float(statistics.median(values))


def write_json(path: Path, data: Any) -> Path:
    """``data`` as indented JSON at ``path`` (folders made as needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=float) + "\n")
    return path


def write_text(path: Path, text: str) -> Path:
    """``text`` and a final newline at ``path`` (folders made as needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    return path


def results_writers(folder: Path):
    """``(save_json(name, data), save_markdown(name, text))`` writing ``<folder>/<name>.*``."""

    def save_json(name: str, data: Any) -> Path:
        return write_json(folder / f"{name}.json", data)

    def save_markdown(name: str, text: str) -> Path:
        return write_text(folder / f"{name}.md", text)

    return save_json, save_markdown


def markdown_table(header: list[str], rows: list[list[Any]], *, digits: str = ".3f") -> str:
    """A GitHub markdown table, numbers right-aligned; floats below 1,000 in ``digits`` format."""

    def cell(value: Any) -> str:
        if value is None:
            return "–"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float):
            return format(value, digits) if abs(value) < 1000 else f"{value:,.0f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
