"""Model build, hand-over and solve time of the IDN MILP as the instance grows.

idnopt (vectorised candidates + Program blocks + HiGHS ``passModel``) side by
side with the same MILP written the usual Pyomo way (``pyomo_reference.py``)
and with linopy (``linopy_reference.py``), on instances of
:func:`idnopt.formulations.idn.generate_idn` up to 1,000 nodes × 100 models × 10,000
request classes.

Measured per instance (seconds):

* idnopt ``candidates`` (:func:`build_candidates`), ``program``
  (:func:`build_program`) and ``pass`` (what ``solve_program(..., "highs")``
  does before ``run``: the minimisation copy and ``pass_model``, one
  ``Highs.passModel`` call on numpy arrays); ``build`` = candidates + program. Median of
  ``--repeats`` runs.
* Pyomo: ``ConcreteModel`` construction from the candidate data (``build``),
  hand-over to HiGHS through Pyomo's highspy interface (``set_instance``,
  ``pass``).
* linopy: ``Model`` construction from the candidate arrays (``build``),
  ``Model.to_highspy()`` (``pass``).
* ``solve``: HiGHS ``run`` of the MILP under ``--time-limit`` for each model,
  where the instance has at most ``--solve-max`` candidates.

The references start from the candidate lists idnopt derives (their time is
not counted for them), so the ratios below favour the references.

Usage::

    python benchmarks/idn_offline/bench_build.py            # full sweep
    python benchmarks/idn_offline/bench_build.py --quick    # two small sizes
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import time

import numpy as np
from common import HERE, RESULTS, machine, markdown_table, median, publish, timed
from linopy_reference import build_linopy, pass_linopy, solve_linopy
from pyomo_reference import build_pyomo, pass_pyomo, solve_pyomo

from idnopt.backends import SolveOptions, solve_program
from idnopt.backends.highs import _new_highs, pass_model, silence_banner
from idnopt.formulations.idn import build_candidates, build_program, generate_idn
from idnopt.reductions import Chain, ToMinimization

SIZES = [(100, 10, 1000), (250, 25, 2500), (500, 50, 5000), (1000, 100, 10000)]
QUICK_SIZES = [(100, 10, 1000), (250, 25, 2500)]
LARGE = 1e5  # non-zeros from which fixed costs no longer dominate (for a second fit)
LABELS = {"tree": "tree", "synthetic": "GÉANT-like", "geant": "GÉANT + tiers"}


def hand_over(program):
    """What the HiGHS backend does before ``run``: the Highs object with the model in it."""
    reduced, _ = Chain([ToMinimization()]).apply(program)
    highs = _new_highs(SolveOptions())
    pass_model(highs, reduced)
    return highs


def measure_idnopt(instance, repeats: int) -> dict:
    parts: dict[str, list[float]] = {"candidates": [], "program": [], "pass": []}
    for _ in range(repeats):
        candidates, seconds = timed(build_candidates, instance)
        parts["candidates"].append(seconds)
        program, seconds = timed(build_program, candidates)
        parts["program"].append(seconds)
        highs, seconds = timed(hand_over, program)
        parts["pass"].append(seconds)
        del highs
    row = {key: median(values) for key, values in parts.items()}
    row["build"] = median([a + b for a, b in zip(parts["candidates"], parts["program"])])
    row["build_pass"] = median([sum(v) for v in zip(*parts.values())])
    row["runs"] = parts
    return row, candidates, program


def measure_reference(name, build, hand, solve, candidates, args, repeats) -> dict:
    row: dict = {}
    model, seconds = timed(build, candidates)
    builds = [seconds]
    while len(builds) < repeats and seconds < 2.0:
        del model
        model, seconds = timed(build, candidates)
        builds.append(seconds)
    row["build"] = median(builds)
    solve_it = candidates.num_candidates <= args.solve_max
    pass_it = name == "linopy" or candidates.num_candidates <= args.pyomo_pass_max
    if solve_it:
        gc.collect()
        row.update(solve(model, args.time_limit))
        row["status"] = STATUS.get(row["status"], row["status"])
    elif pass_it:
        _, row["pass_s"] = timed(hand, model)
    del model
    gc.collect()
    row["pass"] = row.pop("pass_s", None)
    row["solve"] = row.pop("solve_s", None)
    return row


def fit_exponent(x: list[float], y: list[float]) -> float | None:
    """Slope of the least-squares line through (log x, log y)."""
    pairs = [(a, b) for a, b in zip(x, y) if a and b and a > 0 and b > 0]
    if len(pairs) < 2:
        return None
    lx, ly = np.log([p[0] for p in pairs]), np.log([p[1] for p in pairs])
    return float(np.polyfit(lx, ly, 1)[0])


STATUS = {
    "optimal": "optimal",
    "convergenceCriteriaSatisfied": "optimal",
    "Optimal": "optimal",
    "time_limit": "time limit",
    "maxTimeLimit": "time limit",
    "Time limit reached": "time limit",
}


def warm_up() -> None:
    """Import and exercise every code path once (lazy imports, first-call caches)."""
    silence_banner()
    instance = generate_idn("tree", nodes=15, models=4, request_classes=20, seed=0)
    candidates = build_candidates(instance)
    hand_over(build_program(candidates))
    solve_program(build_program(candidates), "highs", time_limit=5)
    solve_pyomo(build_pyomo(candidates), 5)
    solve_linopy(build_linopy(candidates), 5)


def run(args) -> dict:
    warm_up()
    sizes = QUICK_SIZES if args.quick else SIZES
    rows = []
    for topology in args.topologies:
        for nodes, models, classes in sizes:
            started = time.perf_counter()
            instance = generate_idn(
                topology, nodes=nodes, models=models, request_classes=classes, seed=args.seed
            )
            generated = time.perf_counter() - started
            ours, candidates, program = measure_idnopt(instance, args.repeats)
            row = {
                "topology": topology,
                "nodes": nodes,
                "models": models,
                "classes": classes,
                "candidates": candidates.num_candidates,
                "variables": program.num_variables,
                "constraints": program.num_constraints,
                "nonzeros": program.num_nonzeros,
                "generate_s": generated,
                "idnopt": ours,
            }
            if candidates.num_candidates <= args.solve_max:
                result = solve_program(program, "highs", time_limit=args.time_limit)
                ours.update(
                    solve=result.solve_seconds,
                    objective=result.objective,
                    bound=result.bound,
                    status=STATUS.get(result.status.value, result.status.value),
                )
            del program
            for name, functions in (
                ("pyomo", (build_pyomo, pass_pyomo, solve_pyomo)),
                ("linopy", (build_linopy, pass_linopy, solve_linopy)),
            ):
                if name == "pyomo" and candidates.num_candidates > args.pyomo_max:
                    row[name] = None
                    continue
                row[name] = measure_reference(
                    name, *functions, candidates, args, 1 if name == "pyomo" else args.repeats
                )
            rows.append(row)
            print(summary_line(row), flush=True)
    return {"rows": rows}


def summary_line(row: dict) -> str:
    ours, pyomo, linopy = row["idnopt"], row["pyomo"] or {}, row["linopy"] or {}
    text = (
        f"{row['topology']:>9} n={row['nodes']:<5} m={row['models']:<4} r={row['classes']:<6}"
        f" cand={row['candidates']:<8} nnz={row['nonzeros']:<8}"
        f" idnopt {ours['candidates']:.3f}+{ours['program']:.3f}+{ours['pass']:.3f}s"
    )
    if pyomo:
        text += f" | pyomo {pyomo['build']:.2f}s (x{pyomo['build'] / ours['build']:.0f})"
    if linopy:
        text += f" | linopy {linopy['build']:.2f}s (x{linopy['build'] / ours['build']:.1f})"
    return text


def ratio(a, b):
    return a / b if a is not None and b else None


def tables(data: dict) -> str:
    rows = data["rows"]
    build_rows, solve_rows = [], []
    for row in rows:
        ours, pyomo, linopy = row["idnopt"], row["pyomo"] or {}, row["linopy"] or {}
        ours_total = ours["build_pass"]
        pyomo_total = pyomo["build"] + pyomo["pass"] if pyomo.get("pass") is not None else None
        linopy_total = linopy["build"] + linopy["pass"] if linopy.get("pass") is not None else None
        build_rows.append(
            [
                LABELS.get(row["topology"], row["topology"]),
                f"{row['nodes']}×{row['models']}×{row['classes']}",
                row["candidates"],
                row["nonzeros"],
                ours["candidates"],
                ours["program"],
                ours["pass"],
                ours["build_pass"],
                pyomo.get("build"),
                pyomo.get("pass"),
                linopy.get("build"),
                linopy.get("pass"),
                ratio(pyomo.get("build"), ours["build"]),
                ratio(pyomo_total, ours_total),
                ratio(linopy.get("build"), ours["build"]),
                ratio(linopy_total, ours_total),
            ]
        )
        if "solve" in ours:

            def cell(entry):
                if not entry or entry.get("solve") is None:
                    return None
                return f"{entry['solve']:.2f} ({entry['status']})"

            solve_rows.append(
                [
                    LABELS.get(row["topology"], row["topology"]),
                    f"{row['nodes']}×{row['models']}×{row['classes']}",
                    row["candidates"],
                    cell(ours),
                    cell(pyomo),
                    cell(linopy),
                    ours.get("objective"),
                    pyomo.get("objective"),
                    linopy.get("objective"),
                ]
            )
    header = [
        "topology",
        "nodes×models×classes",
        "candidates",
        "non-zeros",
        "idnopt candidates s",
        "idnopt program s",
        "idnopt pass s",
        "idnopt total s",
        "Pyomo build s",
        "Pyomo pass s",
        "linopy build s",
        "linopy pass s",
        "Pyomo/idnopt build",
        "Pyomo/idnopt build+pass",
        "linopy/idnopt build",
        "linopy/idnopt build+pass",
    ]
    text = "### Build and hand-over (seconds; ratios = reference ÷ idnopt)\n\n"
    text += markdown_table(header, build_rows) + "\n\n"
    if solve_rows:
        text += "### MILP solve with HiGHS (seconds, status) and objectives\n\n"
        text += (
            markdown_table(
                [
                    "topology",
                    "nodes×models×classes",
                    "candidates",
                    "idnopt solve",
                    "Pyomo solve",
                    "linopy solve",
                    "idnopt objective",
                    "Pyomo objective",
                    "linopy objective",
                ],
                solve_rows,
            )
            + "\n\n"
        )
    fits = data["fits"]
    text += "### Fitted scaling exponents (log-log least squares of seconds vs non-zeros)\n\n"
    text += markdown_table(
        ["series", *fits.keys()],
        [[series, *(fits[t].get(series) for t in fits)] for series in next(iter(fits.values()))],
    )
    return text + "\n"


def fits(data: dict) -> dict:
    rows = data["rows"]
    groups = {
        t: [r for r in rows if r["topology"] == t]
        for t in dict.fromkeys(r["topology"] for r in rows)
    }
    groups["all"] = rows
    groups[f"all, nnz ≥ {LARGE:.0e}"] = [r for r in rows if r["nonzeros"] >= LARGE]
    out = {}
    for name, group in groups.items():
        nnz = [r["nonzeros"] for r in group]

        def series(tool, key, group=group):
            return [(r[tool] or {}).get(key) for r in group]

        out[LABELS.get(name, name)] = {
            "idnopt candidates": fit_exponent(nnz, series("idnopt", "candidates")),
            "idnopt program": fit_exponent(nnz, series("idnopt", "program")),
            "idnopt pass": fit_exponent(nnz, series("idnopt", "pass")),
            "idnopt build": fit_exponent(nnz, series("idnopt", "build")),
            "idnopt build+pass": fit_exponent(nnz, series("idnopt", "build_pass")),
            "Pyomo build": fit_exponent(nnz, series("pyomo", "build")),
            "linopy build": fit_exponent(nnz, series("linopy", "build")),
        }
    return out


def plot(data: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = data["rows"]
    markers = dict(zip(dict.fromkeys(r["topology"] for r in rows), "os^D"))
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    colours = {"idnopt": "tab:blue", "pyomo": "tab:red", "linopy": "tab:green"}
    names = {"idnopt": "idnopt", "pyomo": "Pyomo", "linopy": "linopy"}
    for topology, marker in markers.items():
        group = [r for r in rows if r["topology"] == topology]
        nnz = [r["nonzeros"] for r in group]
        label_topology = LABELS.get(topology, topology)
        for tool, colour in colours.items():
            build = [(r[tool] or {}).get("build") for r in group]
            points = [(x, y) for x, y in zip(nnz, build) if y is not None]
            if points:
                axes[0].plot(
                    *zip(*points),
                    marker=marker,
                    color=colour,
                    label=f"{names[tool]} build, {label_topology}",
                )
            if tool == "idnopt":
                total = [r["idnopt"]["build_pass"] for r in group]
                axes[0].plot(
                    nnz,
                    total,
                    marker=marker,
                    color=colour,
                    linestyle="--",
                    label=f"idnopt build + pass, {label_topology}",
                )
        for part, colour in (
            ("candidates", "tab:purple"),
            ("program", "tab:orange"),
            ("pass", "tab:gray"),
            ("build_pass", "tab:blue"),
        ):
            axes[1].plot(
                nnz,
                [r["idnopt"][part] for r in group],
                marker=marker,
                color=colour,
                label=f"{part.replace('_', ' + ')}, {label_topology}",
            )
    all_nnz = np.array([r["nonzeros"] for r in rows], dtype=float)
    total = np.array([r["idnopt"]["build_pass"] for r in rows])
    slope, intercept = np.polyfit(np.log(all_nnz), np.log(total), 1)
    grid = np.geomspace(all_nnz.min(), all_nnz.max(), 20)
    axes[1].plot(
        grid,
        np.exp(intercept) * grid**slope,
        color="black",
        linestyle=":",
        label=f"fit build + pass ∝ nnz^{slope:.2f}",
    )
    axes[0].set_title("Model build time (instance → model)")
    axes[1].set_title("idnopt parts")
    for axis in axes:
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("constraint-matrix non-zeros")
        axis.set_ylabel("seconds")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="two small sizes, short limits")
    parser.add_argument("--topologies", nargs="+", default=["tree", "synthetic"])
    parser.add_argument("--repeats", type=int, default=3, help="idnopt/linopy runs (median)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=10.0, help="HiGHS seconds per solve")
    parser.add_argument(
        "--solve-max", type=int, default=30000, help="solve where candidates <= this"
    )
    parser.add_argument(
        "--pyomo-max", type=int, default=math.inf, help="build Pyomo where candidates <= this"
    )
    parser.add_argument(
        "--pyomo-pass-max",
        type=int,
        default=150000,
        help="hand Pyomo models to HiGHS where candidates <= this",
    )
    parser.add_argument(
        "--replot", action="store_true", help="redraw tables and plot from the saved results"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = min(args.repeats, 2)
        args.time_limit = min(args.time_limit, 3.0)
    suffix = "_quick" if args.quick else ""
    if args.replot:
        data = json.loads((RESULTS / f"build{suffix}.json").read_text())
        data["fits"] = fits(data)
        plot(data, HERE / f"build_scaling{suffix}.png")
        print(tables(data))
        return 0
    started = time.perf_counter()
    data = {"machine": machine(), "arguments": vars(args)}
    data.update(run(args))
    data["fits"] = fits(data)
    publish(f"build{suffix}", data, started, tables, plot, f"build_scaling{suffix}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
