"""The online IDN policies at scale (a 50-node grid) and on the bundled GÉANT instance.

* grid: ``generate_idn("grid", nodes=50, models=20, request_classes=200, seed=s)``,
  s = 0, 1, 2; traces stationary, shifting (every 100), adversarial; T = 1,000;
* GÉANT: ``instances/idn/geant.yaml`` (the 37-site GÉANT backbone with edge and
  access tiers, 149 nodes, 10 models, 50 request classes), the same traces, seed 0.

Every policy of ``runs.POLICIES``; the best static integral allocation (MILP)
with a 60 s limit (its status is recorded).

    python benchmarks/idn_online/bench_scale.py --jobs 2      # about 10 minutes
    python benchmarks/idn_online/bench_scale.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from common import machine, markdown_table, save_json, save_markdown
from joblib import Parallel, delayed
from runs import beats_table, play_all, summary_table

import idnopt

ROOT = Path(__file__).resolve().parents[2]
TRACES = ["stationary", "shifting", "adversarial"]


def grid_unit(seed: int, kind: str, slots: int, milp: float) -> list[dict]:
    from idnopt.formulations.idn import generate_idn

    instance = generate_idn("grid", nodes=50, models=20, request_classes=200, seed=seed)
    return play_all(instance, f"grid-50x20x200-s{seed}", kind, seed, slots, milp_time_limit=milp)


def geant_unit(kind: str, slots: int, milp: float) -> list[dict]:
    instance = idnopt.load(ROOT / "instances" / "idn" / "geant.yaml")
    return play_all(instance, "geant-149x10x50", kind, 0, slots, milp_time_limit=milp)


def milp_table(rows: list[dict]) -> str:
    seen = {}
    for r in rows:
        seen.setdefault((r["instance"], r["trace"]), r)
    return markdown_table(
        [
            "instance",
            "trace",
            "MILP / LP",
            "MILP status",
            "MILP gap",
            "LP s",
            "MILP s",
            "scenarios",
        ],
        [
            [
                k[0],
                k[1],
                r["milp_over_lp"],
                r["milp_status"],
                r["milp_gap"],
                r["lp_seconds"],
                r["milp_seconds"],
                r["hindsight_scenarios"],
            ]
            for k, r in sorted(seen.items())
        ],
    )


def render(data: dict) -> str:
    """The markdown tables of a run (``data`` as saved in ``results/scale.json``)."""
    rows, slots = data["rows"], data["slots"]
    grid = [r for r in rows if r["instance"].startswith("grid")]
    geant = [r for r in rows if r["instance"].startswith("geant")]
    return "\n\n".join(
        [
            f"50-node grid (20 models, 200 request classes), {data['seeds']} seeds, T = {slots}:",
            summary_table(grid, TRACES),
            beats_table(grid, TRACES),
            f"GÉANT with tiers (bundled instances/idn/geant.yaml), seed 0, T = {slots}:",
            summary_table(geant, TRACES),
            beats_table(geant, TRACES),
            "Hindsight programs:",
            milp_table(rows),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--slots", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--milp-time-limit", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tables", metavar="JSON", help="only write the tables of a saved run")
    args = parser.parse_args()
    if args.tables:
        data = json.loads(Path(args.tables).read_text())
        save_markdown(Path(args.tables).stem, render(data))
        return
    if args.quick:
        args.seeds, args.slots, args.milp_time_limit = 1, 200, 10.0
    started = time.perf_counter()
    machine_info = machine()
    jobs = [
        delayed(grid_unit)(s, k, args.slots, args.milp_time_limit)
        for s in range(args.seeds)
        for k in TRACES
    ]
    jobs += [delayed(geant_unit)(k, args.slots, args.milp_time_limit) for k in TRACES]
    batches = Parallel(n_jobs=args.jobs)(jobs)
    rows = [row for batch in batches for row in batch]
    data = {
        "machine": machine_info,
        "seeds": args.seeds,
        "slots": args.slots,
        "milp_time_limit": args.milp_time_limit,
        "rows": rows,
        "wall_s": time.perf_counter() - started,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    name = "scale" if not args.quick else "scale_quick"
    save_json(name, data)
    text = render(data)
    save_markdown(name, text)
    print(text)
    print(f"wall time {data['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
