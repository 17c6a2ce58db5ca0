"""Shared helpers of the online IDN benchmarks: machine description, JSON, markdown tables."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE.parent))

import benchkit  # noqa: E402
from benchkit import median  # noqa: E402, F401 - re-exported

PACKAGES = ("numpy", "scipy", "highspy", "cvxpy")


def machine() -> dict[str, Any]:
    """The machine, with the online benchmarks' libraries."""
    return benchkit.machine(PACKAGES)


save_json, save_markdown = benchkit.results_writers(RESULTS)
"""``results/<name>.json`` and ``results/<name>.md``."""


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub markdown table (floats to three decimals)."""
    return benchkit.markdown_table(header, rows)
