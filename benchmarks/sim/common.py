"""Helpers of the serving-simulator benchmarks: benchkit with this folder's results."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE.parent))

import benchkit  # noqa: E402
from benchkit import markdown_table, one_core  # noqa: E402, F401 - re-exported

PACKAGES = ("numpy", "simpy", "gymnasium", "stable-baselines3", "torch")


def machine() -> dict[str, Any]:
    """The machine, with the simulator's libraries."""
    return benchkit.machine(PACKAGES)


save_json, save_markdown = benchkit.results_writers(RESULTS)
"""``results/<name>.json`` and ``results/<name>.md``."""
