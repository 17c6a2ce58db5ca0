"""Where the build time of the largest IDN instances goes, and what the hand-over costs.

For one instance per topology (default 1,000 nodes × 100 models × 10,000
request classes) this splits idnopt's build into:

* ``build_candidates``;
* ``build_program`` (its per-candidate labels are a
  :class:`idnopt.program.LabelAxis`, made on demand), and, for comparison, what
  making every ``"request:node/model"`` label up front would cost (the strings,
  then their validation by :class:`idnopt.program.Program` for the ``served``
  and ``prefix_capacity`` blocks);
* the HiGHS hand-over of the backend (``pass_model``: ``Program.matrix("csc")``
  and one ``Highs.passModel`` call on numpy arrays);

and times, for comparison, the hand-over the backend used before: a
``highspy.HighsLp`` filled field by field from the same arrays (highspy
converts them element by element), checking that HiGHS receives the same model.

Usage::

    python benchmarks/idn_offline/bench_breakdown.py [--quick]
"""

from __future__ import annotations

import argparse

import highspy
import numpy as np
from common import RESULTS, machine, markdown_table, median, save_json, timed

from idnopt.backends import SolveOptions
from idnopt.backends.highs import _new_highs, pass_model, silence_banner
from idnopt.formulations.idn import build_candidates, build_program, generate_idn
from idnopt.program import _axis_labels
from idnopt.reductions import Chain, ToMinimization


def labels_of(c):
    """The per-candidate labels, made as build_program makes them."""
    suffix = np.array([f":{v}/{m}" for v in c.node_names for m in c.model_names], dtype=object)
    names = np.array(c.request_names, dtype=object)
    return (names[c.request] + suffix[c.pair]).tolist()


def current_pass(program):
    """The backend's hand-over: one passModel call on numpy arrays."""
    highs = _new_highs(SolveOptions())
    pass_model(highs, program)
    return highs


def field_by_field_lp(program):
    """The former hand-over: a ``HighsLp`` whose fields are set from numpy arrays."""
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = program.num_variables
    lp.num_row_ = program.num_constraints
    lp.col_cost_ = program.objective
    lp.offset_ = program.objective_constant
    col_lower, col_upper = program.column_bounds()
    row_lower, row_upper = program.row_bounds()
    lp.col_lower_ = np.clip(col_lower, -inf, inf)
    lp.col_upper_ = np.clip(col_upper, -inf, inf)
    lp.row_lower_ = np.clip(row_lower, -inf, inf)
    lp.row_upper_ = np.clip(row_upper, -inf, inf)
    matrix = program.matrix("csc")
    matrix.sum_duplicates()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(float)
    lp.a_matrix_.num_col_ = program.num_variables
    lp.a_matrix_.num_row_ = program.num_constraints
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
        for flag in program.integrality()
    ]
    return lp


def field_by_field_pass(program):
    highs = _new_highs(SolveOptions())
    highs.passModel(field_by_field_lp(program))
    return highs


def same_model(a, b) -> bool:
    la, lb = a.getLp(), b.getLp()
    fields = ("col_cost_", "col_lower_", "col_upper_", "row_lower_", "row_upper_")
    equal = all(np.array_equal(getattr(la, f), getattr(lb, f)) for f in fields)
    for f in ("start_", "index_", "value_"):
        equal &= np.array_equal(getattr(la.a_matrix_, f), getattr(lb.a_matrix_, f))
    return bool(equal and list(la.integrality_) == list(lb.integrality_))


def measure(topology, nodes, models, classes, repeats):
    instance = generate_idn(topology, nodes=nodes, models=models, request_classes=classes)
    runs: dict[str, list[float]] = {}

    def record(key, seconds):
        runs.setdefault(key, []).append(seconds)

    for _ in range(repeats):
        candidates, seconds = timed(build_candidates, instance)
        record("build_candidates", seconds)
        program, seconds = timed(build_program, candidates)
        record("build_program", seconds)
        labels, seconds = timed(labels_of, candidates)
        record("eager labels (former build_program), make the strings", seconds)
        _, seconds = timed(_axis_labels, (len(labels),), [labels], "labels")
        record("eager labels (former build_program), Program validation (×2 blocks)", 2 * seconds)
        reduced, _ = Chain([ToMinimization()]).apply(program)
        _, seconds = timed(reduced.matrix, "csc")
        record("of which pass: Program.matrix('csc')", seconds)
        current, seconds = timed(current_pass, reduced)
        record("pass (backend: passModel on arrays)", seconds)
        former, seconds = timed(field_by_field_pass, reduced)
        record("pass via HighsLp fields (former backend, comparison)", seconds)
        agree = same_model(current, former)
        del current, former
    row = {key: median(values) for key, values in runs.items()}
    return {
        "topology": topology,
        "size": f"{nodes}×{models}×{classes}",
        "candidates": candidates.num_candidates,
        "nonzeros": program.num_nonzeros,
        "same_model": agree,
        "seconds": row,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="250 nodes × 25 models × 2,500")
    parser.add_argument("--topologies", nargs="+", default=["tree", "synthetic"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    size = (250, 25, 2500) if args.quick else (1000, 100, 10000)
    silence_banner()
    results = [measure(t, *size, args.repeats) for t in args.topologies]
    keys = list(results[0]["seconds"])
    header = ["seconds (median)", *[f"{r['topology']} {r['size']}" for r in results]]
    rows = [[key, *[f"{r['seconds'][key]:.3f}" for r in results]] for key in keys]
    rows.append(["candidates", *[r["candidates"] for r in results]])
    rows.append(["non-zeros", *[r["nonzeros"] for r in results]])
    rows.append(["same model in HiGHS", *[str(r["same_model"]) for r in results]])
    text = markdown_table(header, rows) + "\n"
    suffix = "_quick" if args.quick else ""
    save_json(RESULTS / f"breakdown{suffix}.json", {"machine": machine(), "results": results})
    (RESULTS / f"breakdown{suffix}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
