"""Sweeps: specification files, expansion, execution (joblib, Dask), resume, reports, CLI."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from idnopt.errors import InputError
from idnopt.sweep import (
    ResultStore,
    expand,
    grid_points,
    load_spec,
    read_table,
    register_generator,
    register_task_kind,
    run_sweep,
    spec_from_dict,
)
from idnopt.sweep.report import ratios, scaling_exponents, summarize, write_report

# Columns that do not depend on timing or on where a task ran.
DETERMINISTIC = [
    "task_id",
    "instance",
    "solver",
    "seed",
    "repetition",
    "status",
    "objective",
    "bound",
    "error",
]

KNAPSACK = {
    "name": "knapsack",
    "instances": [
        {"generator": "knapsack", "params": {"constraints": 2}, "grid": {"items": [6, 12]}}
    ],
    "solvers": [{"name": "milp"}, {"name": "lp", "method": "relaxation"}],
    "seeds": 3,
}
"""12 small tasks: 2 sizes × 3 seeds × 2 solvers."""


def write_spec(folder: Path, text: str, name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def deterministic(table: pd.DataFrame) -> pd.DataFrame:
    return table[DETERMINISTIC].sort_values("task_id").reset_index(drop=True)


# -- expansion -------------------------------------------------------------------------
def test_grid_points_is_the_cartesian_product_in_key_order():
    points = grid_points({"n": [1, 2, 3], "p": ["a", "b"]})
    assert len(points) == 6
    assert points[0] == {"n": 1, "p": "a"} and points[1] == {"n": 1, "p": "b"}
    assert grid_points({}) == [{}]


def test_expansion_multiplies_instances_seeds_solvers_and_repetitions():
    spec = spec_from_dict(
        {
            "instances": [
                {
                    "generator": "knapsack",
                    "grid": {"items": [5, 10], "correlation": ["weak", "strong"]},
                },
                {"generator": "knapsack", "label": "big", "params": {"items": 40}},
            ],
            "solvers": [
                {"name": "milp", "grid": {"mip_gap": [0.0, 0.01]}},
                {"name": "lp", "method": "relaxation", "time_limit": 5},
            ],
            "seeds": [3, 7],
            "repetitions": 2,
        }
    )
    tasks = expand(spec)
    assert len(tasks) == (4 + 1) * 2 * 3 * 2
    assert len({task.task_id for task in tasks}) == len(tasks)
    # the last axis (repetition) varies fastest, then solvers, then seeds
    first = tasks[:6]
    assert [t.repetition for t in first] == [0, 1, 0, 1, 0, 1]
    assert [t.solver.name for t in first[::2]] == ["milp[mip_gap=0.0]", "milp[mip_gap=0.01]", "lp"]
    assert {t.seed for t in tasks} == {3, 7}
    labels = {t.instance.label for t in tasks}
    assert "knapsack[items=5, correlation=weak]" in labels and "big" in labels
    gap = tasks[2]
    assert gap.solver.options == {"mip_gap": 0.01} and gap.solver.threads == 1
    columns = gap.columns()
    assert columns["param.items"] == 5 and columns["option.mip_gap"] == 0.01
    assert tasks[4].solver.time_limit == 5.0 and tasks[4].solver.method == "relaxation"


def test_task_ids_are_stable_and_follow_every_setting():
    ids = [t.task_id for t in expand(spec_from_dict(KNAPSACK))]
    assert ids == [t.task_id for t in expand(spec_from_dict(KNAPSACK))]
    changed = {**KNAPSACK, "time_limit": 10}
    assert not set(ids) & {t.task_id for t in expand(spec_from_dict(changed))}
    grown = {**KNAPSACK, "seeds": 4}
    assert set(ids) < {t.task_id for t in expand(spec_from_dict(grown))}


def test_instance_files_are_globbed_and_identified_by_content(tmp_path):
    (tmp_path / "inst").mkdir()
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / "inst" / name).write_text(f"kind: idn\nname: {name}\n")
    spec = load_spec(
        write_spec(
            tmp_path,
            """
        instances:
          - file: "inst/*.yaml"
        solvers: [{name: milp}]
        """,
        )
    )
    tasks = expand(spec)
    assert [t.instance.file for t in tasks] == ["inst/a.yaml", "inst/b.yaml"]
    before = tasks[0].task_id
    (tmp_path / "inst" / "a.yaml").write_text("kind: idn\nname: edited\n")
    after = expand(load_spec(tmp_path / "spec.yaml"))
    assert after[0].task_id != before and after[1].task_id == tasks[1].task_id


# -- specification errors --------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "instances:\n  - generator: knapsak\nsolvers: [{name: a}]\n",
            "spec.yaml:2: instances[0].generator: unknown generator 'knapsak'; did you mean",
        ),
        (
            "instances:\n  - generator: knapsack\n    grid: {itemz: [1]}\nsolvers: [{name: a}]\n",
            "spec.yaml:3: instances[0].grid.itemz: generator 'knapsack' has no parameter 'itemz'",
        ),
        (
            "instances:\n  - generator: knapsack\n    grid: {items: 5}\nsolvers: [{name: a}]\n",
            "spec.yaml:3: instances[0].grid.items: grid values are lists",
        ),
        (
            "instances:\n  - generator: knapsack\npolicies:\n  - {name: a, tim_limit: 3}\n",
            "spec.yaml:4: policies[0].tim_limit: unknown field 'tim_limit'; did you mean 'time_lim",
        ),
        (
            "instances:\n  - file: missing/*.yaml\nsolvers: [{name: a}]\n",
            "spec.yaml:2: instances[0].file: no instance file matches 'missing/*.yaml'",
        ),
        (
            "instances:\n  - generator: knapsack\nsolvers:\n  - {name: a}\n  - {name: a}\n",
            "spec.yaml:5: solvers[1]: duplicate solver name 'a'",
        ),
        (
            "instances:\n  - generator: knapsack\nsolvers: [{backend: gurobi}]\n",
            "spec.yaml:3: solvers[0].backend: unknown backend 'gurobi'",
        ),
        (
            "instances:\n  - generator: knapsack\nsolvers: [{name: a}]\nseeds: 0\n",
            "spec.yaml:4: seeds: a count of seeds must be at least 1",
        ),
        (
            "kind: sovle\ninstances:\n  - generator: knapsack\nsolvers: [{name: a}]\n",
            "spec.yaml:1: kind: unknown task kind 'sovle'; did you mean 'solve'?",
        ),
    ],
)
def test_specification_errors_name_file_line_and_location(tmp_path, body, expected):
    path = tmp_path / "spec.yaml"
    path.write_text(body)
    with pytest.raises(InputError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(str(tmp_path / expected.split(":")[0]))
    assert expected in str(caught.value)


# -- execution -------------------------------------------------------------------------
def test_a_failing_task_is_recorded_and_the_sweep_goes_on(tmp_path):
    spec = spec_from_dict(
        {**KNAPSACK, "instances": [{"generator": "knapsack", "grid": {"items": [8, 0]}}]}
    )
    summary = run_sweep(spec, tmp_path / "out", jobs=2)
    assert (summary.total, summary.ran, summary.failed) == (12, 12, 6)
    table = read_table(tmp_path / "out")
    failed = table[table["status"] == "failed"]
    assert set(failed["param.items"]) == {0}
    assert failed["error"].str.contains("items must be a positive integer").all()
    assert (table.loc[table["param.items"] == 8, "status"] == "optimal").all()
    record = json.loads(
        (tmp_path / "out" / "tasks" / f"{failed['task_id'].iloc[0]}.json").read_text()
    )
    assert "InputError" in record["traceback"]
    # failures are kept on resume unless asked to retry them
    again = run_sweep(spec, tmp_path / "out", jobs=1)
    assert (again.ran, again.reused, again.failed) == (0, 12, 6)
    retried = run_sweep(spec, tmp_path / "out", jobs=1, retry_failed=True)
    assert (retried.ran, retried.failed) == (6, 6)


def test_resume_after_an_interruption_gives_the_uninterrupted_result_set(tmp_path):
    spec = spec_from_dict(KNAPSACK)
    complete = run_sweep(spec, tmp_path / "whole", jobs=1)
    assert complete.ran == 12 and complete.failed == 0

    seen = []

    def interrupt_after_five(record):
        seen.append(record["task_id"])
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, tmp_path / "resumed", jobs=1, on_record=interrupt_after_five)
    store = ResultStore(tmp_path / "resumed")
    assert set(store.records()) == set(seen)
    # a half-written temporary file and a damaged record must not count as finished work
    (store.task_folder / ".deadbeef.json.tmp").write_text('{"task_id": ')
    damaged = store.record_path(seen[-1])
    damaged.write_text('{"task_id": "')
    summary = run_sweep(spec, tmp_path / "resumed", jobs=2)
    assert (summary.reused, summary.ran, summary.failed) == (4, 8, 0)
    pd.testing.assert_frame_equal(
        deterministic(read_table(tmp_path / "resumed")),
        deterministic(read_table(tmp_path / "whole")),
    )


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_same_results_with_one_job_two_jobs_and_a_dask_cluster(tmp_path, dask_client):
    spec = spec_from_dict(KNAPSACK)
    tables = {}
    for name, options in {
        "serial": {"jobs": 1},
        "joblib": {"jobs": 2},
        "dask": {"dask": dask_client},
    }.items():
        summary = run_sweep(spec, tmp_path / name, **options)
        assert summary.ran == 12 and summary.failed == 0, name
        tables[name] = deterministic(read_table(tmp_path / name))
    assert summary.executor.startswith("dask")
    assert tables["serial"]["status"].eq("optimal").all()
    milp = tables["serial"][tables["serial"]["solver"] == "milp"]
    assert np.allclose(milp["objective"], milp["bound"])
    pd.testing.assert_frame_equal(tables["serial"], tables["joblib"])
    pd.testing.assert_frame_equal(tables["serial"], tables["dask"])


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


REPRODUCIBLE = {
    "name": "reproducible",
    "instances": [
        {"generator": "knapsack", "params": {"constraints": 2}, "grid": {"items": [6, 12]}},
        {
            "generator": "idn",
            "params": {"topology": "tree", "nodes": 12, "models": 4, "request_classes": 6},
        },
    ],
    "solvers": [
        {"name": "milp"},
        {"name": "rounding", "method": "rounding", "seed_option": "seed"},
    ],
    "seeds": 2,
    "metrics": ["objective", "bound", "gap", "wall_seconds"],
}
"""Exact and randomised methods of two families (rounding a bare knapsack program fails)."""


def test_same_seed_gives_byte_identical_files_on_every_run_and_engine(tmp_path, dask_client):
    spec = spec_from_dict(REPRODUCIBLE)
    engines = {
        "serial": {"jobs": 1},
        "serial-again": {"jobs": 1},
        "joblib": {"jobs": 2},
        "dask": {"dask": dask_client},
    }
    contents = {}
    for name, options in engines.items():
        summary = run_sweep(spec, tmp_path / name, timings=False, **options)
        assert summary.ran == summary.total == 12, name
        contents[name] = folder_bytes(tmp_path / name)
    assert {"results.csv", "results.parquet", "spec.yaml"} <= set(contents["serial"])
    assert sum(name.startswith("tasks") for name in contents["serial"]) == 12
    for name in engines:
        assert contents[name] == contents["serial"], name
    table = read_table(tmp_path / "serial")
    assert not [column for column in table.columns if column.endswith("_seconds")]
    assert table["status"].eq("optimal").sum() == 6 and table["status"].eq("failed").sum() == 4
    assert not (table["objective"].dropna().map(str).str.startswith("-0")).any()
    record = json.loads(next((tmp_path / "serial" / "tasks").glob("*.json")).read_text())
    assert not {"worker", "finished_at"} & set(record)
    # with timings (the default) only the timing columns and the run fields differ
    run_sweep(spec, tmp_path / "timed", jobs=2)
    timed = read_table(tmp_path / "timed")
    assert "wall_seconds" in timed.columns and "task_seconds" in timed.columns
    pd.testing.assert_frame_equal(timed[list(table.columns)], table)


def cube_generator(*, seed: int = 0, side: int = 1) -> tuple[int, int]:
    return side, seed


def cube_task(task) -> dict:
    side, seed = task.make_instance()
    if side < 0:
        raise ValueError("negative side")
    return {"volume": side**3, "seed_seen": seed}


def test_plugged_in_generators_and_task_kinds_run_on_dask(tmp_path, dask_client):
    register_generator("cube-test", cube_generator)
    register_task_kind("cube-test", cube_task)
    spec = spec_from_dict(
        {
            "kind": "cube-test",
            "instances": [{"generator": "cube-test", "grid": {"side": [2, 3, -1]}}],
            "solvers": [{"name": "none"}],
            "seeds": [5],
            "metrics": ["volume", "seed_seen", "absent"],
        }
    )
    summary = run_sweep(spec, tmp_path / "cube", dask=dask_client)
    assert summary.failed == 1 and "negative side" in summary.failures[0][3]
    table = read_table(tmp_path / "cube").sort_values("param.side")
    assert list(table["volume"].iloc[1:]) == [8, 27]
    assert set(table["seed_seen"].dropna()) == {5}
    assert "absent" in table.columns and table["absent"].isna().all()
    assert (tmp_path / "cube" / "results.parquet").is_file()


# -- reports ---------------------------------------------------------------------------
def synthetic_results() -> pd.DataFrame:
    sizes = np.repeat([10, 20, 40, 80], 4)
    rows = []
    for solver, exponent, quality in (("exact", 2.0, 1.0), ("fast", 1.0, 0.9)):
        for index, size in enumerate(sizes):
            seed = index % 4
            rows.append(
                {
                    "task_id": f"{solver}{index}",
                    "instance": f"gen[n={size}]",
                    "param.n": size,
                    "solver": solver,
                    "seed": seed,
                    "repetition": 0,
                    "status": "optimal",
                    "objective": quality * size * (1 + 0.01 * seed),
                    "wall_seconds": 3e-4 * size**exponent * (1 + 0.01 * seed),
                    "error": None,
                }
            )
    rows.append(
        {
            **rows[0],
            "task_id": "broken",
            "seed": 9,
            "status": "failed",
            "objective": None,
            "wall_seconds": None,
            "error": "ValueError: boom",
        }
    )
    return pd.DataFrame(rows)


def test_summary_has_median_and_iqr_per_group_and_counts_failures():
    table = summarize(synthetic_results(), by=["param.n", "solver"], metrics=["objective"])
    row = table[(table["param.n"] == 10) & (table["solver"] == "exact")].iloc[0]
    values = 10 * (1 + 0.01 * np.arange(4))
    assert row["tasks"] == 5 and row["failed"] == 1
    assert row["objective.median"] == pytest.approx(np.median(values))
    q1, q3 = np.quantile(values, [0.25, 0.75])
    assert row["objective.iqr"] == pytest.approx(q3 - q1)
    assert list(table["param.n"].iloc[::2]) == [10, 20, 40, 80]


def test_scaling_exponents_and_ratios_to_a_reference():
    frame = synthetic_results()
    fits = scaling_exponents(frame, "n", "wall_seconds").set_index("solver")
    assert fits.loc["exact", "exponent"] == pytest.approx(2.0, abs=1e-6)
    assert fits.loc["fast", "exponent"] == pytest.approx(1.0, abs=1e-6)
    assert fits.loc["exact", "r2"] == pytest.approx(1.0)
    compared = ratios(frame, "exact", "objective")
    assert np.allclose(compared.loc[compared["solver"] == "fast", "ratio"], 0.9)
    with pytest.raises(InputError, match="reference 'nope'"):
        ratios(frame, "nope")


def test_write_report_draws_every_figure(tmp_path):
    written = write_report(
        synthetic_results(), tmp_path, plots=["quality", "time", "ratio"], reference="exact"
    )
    for name in ("summary", "scaling", "ratios", "quality", "time", "ratio"):
        assert written[name].is_file() and written[name].stat().st_size > 0
    with pytest.raises(InputError, match="reference solver"):
        write_report(synthetic_results(), tmp_path, plots=["ratio"])


# -- command line ----------------------------------------------------------------------
def test_cli_runs_resumes_and_reports(tmp_path):
    from idnopt.cli.sweep import sweep_command

    spec = write_spec(
        tmp_path,
        """
        name: cli
        instances:
          - generator: knapsack
            grid: {items: [5, 10]}
        solvers:
          - {name: milp}
          - {name: lp, method: relaxation}
        seeds: 2
        metrics: [objective, wall_seconds]
        """,
    )
    out = tmp_path / "results"
    runner = CliRunner()
    first = runner.invoke(sweep_command, [str(spec), "-j", "1", "-o", str(out), "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["ran"] == 8
    dry = runner.invoke(sweep_command, ["run", str(spec), "-o", str(out), "--dry-run", "--json"])
    assert all(task["done"] for task in json.loads(dry.output)["tasks"])
    again = runner.invoke(sweep_command, [str(spec), "-o", str(out), "--json"])
    assert json.loads(again.output)["reused"] == 8
    assert set(read_table(out).columns) >= {"objective", "wall_seconds", "param.items"}
    report = runner.invoke(
        sweep_command, ["report", str(out), "--plot", "all", "--reference", "milp", "--json"]
    )
    assert report.exit_code == 0, report.output
    assert len(json.loads(report.output)) == 4
    assert (out / "report" / "time.png").is_file() and (out / "report" / "ratios.csv").is_file()


def test_cli_reports_a_bad_spec_as_one_located_line(tmp_path):
    main = pytest.importorskip("idnopt.cli.main")
    spec = write_spec(tmp_path, "instances:\n  - generator: knapsak\nsolvers: [{name: a}]\n")
    result = CliRunner().invoke(main.app, ["sweep", str(spec)])
    assert result.exit_code == 1
    assert f"{spec}:2: instances[0].generator: unknown generator" in " ".join(result.output.split())


def test_family_generators_run_every_method_through_the_sweep(tmp_path):
    spec = spec_from_dict(
        {
            "name": "families",
            "instances": [
                {
                    "generator": "idn",
                    "params": {"topology": "tree", "nodes": 15, "models": 4},
                    "grid": {"request_classes": [5, 10]},
                }
            ],
            "solvers": [{"name": "milp"}, {"name": "greedy", "method": "greedy"}],
            "seeds": 2,
        }
    )
    summary = run_sweep(spec, tmp_path / "idn", jobs=1)
    assert (summary.total, summary.failed) == (8, 0)
    table = read_table(tmp_path / "idn")
    pivot = table.pivot_table(
        index=["param.request_classes", "seed"], columns="solver", values="objective"
    )
    assert (pivot["milp"] >= pivot["greedy"] - 1e-6).all()  # the exact gain is never lower
    jellybean = spec_from_dict(
        {
            "name": "jellybean",
            "instances": [{"generator": "jellybean", "params": {"operators": 2, "workers": 4}}],
            "solvers": [{"name": "milp"}, {"name": "heuristic", "method": "heuristic"}],
            "seeds": 2,
        }
    )
    summary = run_sweep(jellybean, tmp_path / "jb", jobs=1)
    assert summary.failed == 0
    table = read_table(tmp_path / "jb")
    costs = table.pivot_table(index="seed", columns="solver", values="cost_per_hour")
    assert (costs["milp"] <= costs["heuristic"].fillna(np.inf) + 1e-6).all()


@pytest.mark.parametrize(
    "path",
    sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*/*.yaml")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_benchmark_specifications_load_and_expand(path):
    spec = load_spec(path)
    tasks = expand(spec)
    assert len(tasks) == len({task.task_id for task in tasks}) > 0


def test_grid_groups_sort_by_value_not_as_text():
    import pandas as pd

    from idnopt.sweep.report import summarize

    frame = pd.DataFrame(
        {
            "instance": ["g"] * 4,
            "param.items": ["100", "200", "25", "50"],
            "solver": ["milp"] * 4,
            "status": ["optimal"] * 4,
            "objective": [1.0, 2.0, 3.0, 4.0],
        }
    )
    table = summarize(frame, metrics=["objective"])
    assert table["param.items"].tolist() == ["25", "50", "100", "200"]
