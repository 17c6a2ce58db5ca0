"""Shared helpers of the sweep benchmarks: machine description and result tables."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path


def machine() -> str:
    """CPU model, core count and OS of this machine, for benchmark tables."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def load_average() -> str:
    """The 1-minute load average and the core count (other processes skew timings)."""
    return f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


def markdown_table(rows: list[dict], columns: dict[str, str]) -> str:
    """Rows as a markdown table; ``columns`` maps a row key to ``header|format``."""
    headers = [spec.split("|")[0] for spec in columns.values()]
    lines = ["| " + " | ".join(headers) + " |", "|---" + "|---:" * (len(headers) - 1) + "|"]
    for row in rows:
        cells = []
        for key, spec in columns.items():
            fmt = spec.split("|")[1] if "|" in spec else "{}"
            cells.append(fmt.format(row[key]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save(path: Path | None, payload: dict) -> None:
    """Write measurements as JSON (folders created)."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2))
