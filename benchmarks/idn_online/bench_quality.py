"""Quality of the online IDN policies on seeded small instances, and on GÉANT.

Small instances: ``generate_idn("tree", nodes=15, models=10, request_classes=30,
seed=s)`` for s = 0 … 19; traces stationary (Zipf 0.8), shifting (every 100
slots) and adversarial round robin; T = 1,000 slots; every policy of
``runs.POLICIES``. Ratios are time-averaged gains over the best static
allocation in hindsight (LP, fractional) and, for the served (integral)
gain, also over the best static integral allocation (MILP, 30 s limit).

    python benchmarks/idn_online/bench_quality.py --jobs 2          # about 10 minutes
    python benchmarks/idn_online/bench_quality.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from common import machine, save_json, save_markdown
from joblib import Parallel, delayed
from runs import beats_table, play_all, summary_table

TRACES = ["stationary", "shifting", "adversarial"]


def unit(seed: int, kind: str, slots: int) -> list[dict]:
    from idnopt.formulations.idn import generate_idn

    instance = generate_idn("tree", nodes=15, models=10, request_classes=30, seed=seed)
    return play_all(instance, f"tree-15x10x30-s{seed}", kind, seed, slots)


def render(data: dict) -> str:
    """The markdown tables of a run (``data`` as saved in ``results/quality.json``)."""
    rows = data["rows"]
    return "\n\n".join(
        [
            f"Small trees (15 nodes, 10 models, 30 request classes), {data['seeds']} seeds, "
            f"T = {data['slots']}:",
            summary_table(rows, TRACES),
            "INFIDA and OGA against LFU and LRU (medians of served / LP; runs won):",
            beats_table(rows, TRACES),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--slots", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tables", metavar="JSON", help="only write the tables of a saved run")
    args = parser.parse_args()
    if args.tables:
        data = json.loads(Path(args.tables).read_text())
        save_markdown(Path(args.tables).stem, render(data))
        return
    if args.quick:
        args.seeds, args.slots = 3, 300
    started = time.perf_counter()
    machine_info = machine()
    units = [(seed, kind) for seed in range(args.seeds) for kind in TRACES]
    batches = Parallel(n_jobs=args.jobs)(
        delayed(unit)(seed, kind, args.slots) for seed, kind in units
    )
    rows = [row for batch in batches for row in batch]
    data = {
        "machine": machine_info,
        "seeds": args.seeds,
        "slots": args.slots,
        "rows": rows,
        "wall_s": time.perf_counter() - started,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    name = "quality" if not args.quick else "quality_quick"
    save_json(name, data)
    text = render(data)
    save_markdown(name, text)
    print(text)
    print(f"wall time {data['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
