"""Branch-and-bound on the headline size, this tree against an older one, in one run.

Usage::

    git archive <commit> formulations | tar -x -C /tmp/old
    python benchmarks/pamdi/bench_search.py --reference /tmp/old/formulations \
        [--tree formulations] [--sizes 10x50x5,20x100x10] [--time-limit 60] [--seeds 0,1,2] \
        [--name bench_search]

For each size (devices x layers x sources) and seed, the generated instance (as
in ``bench_exact.py``) is solved by ``exact`` (branch-and-bound) with the
family of ``--tree`` (default: this repository's ``formulations``) and, when
``--reference`` names another ``formulations`` folder, with that one,
alternately, each in a fresh interpreter so neither warms the other.
The load average is read before every solve. Writes
``results/<name>.json`` and ``results/<name>.md`` (``--name``, default
``bench_search``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"

CHILD = r"""
import importlib.abc, importlib.util, json, sys, time
formulations = sys.argv[1]

class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "idnopt.formulations":
            return None
        return importlib.util.spec_from_file_location(
            name, formulations + "/__init__.py", submodule_search_locations=[formulations]
        )

sys.meta_path.insert(0, Finder())
import idnopt
from idnopt.family import get_family
size, seed, limit = json.loads(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
instance = get_family("pamdi").generator.generate(**size, seed=seed)
started = time.perf_counter()
result = idnopt.solve(instance, time_limit=limit)
print(json.dumps({
    "status": result.status.value, "seconds": time.perf_counter() - started,
    "objective": result.objective, "bound": result.bound, "gap": result.gap,
    "nodes": result.metrics.get("nodes"),
}))
"""


def solve(formulations: Path, size: dict, seed: int, time_limit: float) -> dict:
    """One solve in a fresh interpreter with ``formulations`` as ``idnopt.formulations``."""
    command = [sys.executable, "-c", CHILD, str(formulations), json.dumps(size), str(seed)]
    output = subprocess.run(
        [*command, str(time_limit)], capture_output=True, text=True, check=True, cwd=REPOSITORY
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def markdown(rows: list[dict], time_limit: float) -> str:
    """The rows as a table."""
    trees = sorted({row["tree"] for row in rows})
    title = "two trees, one run" if len(trees) > 1 else "one tree"
    lines = [
        f"# PA-MDI branch-and-bound: {title}",
        "",
        f"Time limit {time_limit:g} s per solve; `load` is the 1-minute load average read "
        "before the solve (2-vCPU machine).",
        "",
        "| size | seed | tree | status | seconds | gap | nodes | objective | bound | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        gap = "-" if row["gap"] is None else f"{100 * row['gap']:.3g} %"
        lines.append(
            f"| {row['size']} | {row['seed']} | {row['tree']} | {row['status']} "
            f"| {row['seconds']:.2f} | {gap} "
            f"| {row['nodes']} | {row['objective']:.2f} | {row['bound']:.2f} | {row['load']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--sizes", default="20x100x10", help="DEVICESxLAYERSxSOURCES,...")
    parser.add_argument("--reference", type=Path, help="an older formulations folder")
    parser.add_argument("--tree", type=Path, default=REPOSITORY / "formulations")
    parser.add_argument("--name", default="bench_search", help="stem of the results files")
    arguments = parser.parse_args(argv)
    trees = [("new", arguments.tree.resolve())]
    if arguments.reference is not None:
        trees.insert(0, ("reference", arguments.reference.resolve()))
    rows = []
    for label in arguments.sizes.split(","):
        devices, layers, sources = (int(part) for part in label.split("x"))
        size = {"devices": devices, "layers": layers, "sources": sources}
        for seed in (int(s) for s in arguments.seeds.split(",")):
            for name, folder in trees:
                row = {"size": label, "seed": seed, "tree": name, "load": os.getloadavg()[0]}
                row.update(solve(folder, size, seed, arguments.time_limit))
                rows.append(row)
                print(json.dumps(row), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{arguments.name}.json").write_text(json.dumps(rows, indent=1) + "\n")
    (RESULTS / f"{arguments.name}.md").write_text(markdown(rows, arguments.time_limit))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
