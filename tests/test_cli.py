"""The command line: exit codes, JSON output, one-line errors, atomic outputs."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import INSTANCES
from idnopt.cli.main import app

TREE = str(INSTANCES / "idn" / "tree.yaml")


def run(*args):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_solve_prints_tables_and_exits_zero():
    result = run("solve", TREE)
    assert result.exit_code == 0, result.output
    assert "optimal" in result.output and "placement" in result.output


def test_solve_json_matches_api(tmp_path):
    import idnopt

    out = tmp_path / "result.json"
    result = run("solve", TREE, "--json", "-o", str(out))
    assert result.exit_code == 0
    printed = json.loads(result.output)
    written = json.loads(out.read_text())
    api = idnopt.solve(TREE)
    assert printed["objective"] == pytest.approx(api.objective)
    assert written["objective"] == pytest.approx(api.objective)
    assert {"node", "model"} <= set(printed["tables"]["placement"][0])


@pytest.mark.parametrize("backend", ["highs", "pyomo", "cvxpy"])
def test_solve_backends_and_relax(backend):
    exact = json.loads(run("solve", TREE, "--json", "--backend", backend).output)
    relaxed = json.loads(run("solve", TREE, "--json", "--backend", backend, "--relax").output)
    assert relaxed["objective"] >= exact["objective"] - 1e-6
    assert relaxed["relaxed"] is True


def test_bad_file_is_one_line_exit_one(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: idn\nnodes: []\n")
    result = CliRunner().invoke(app, ["solve", str(bad)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines and all(line.startswith(f"error: {bad}") for line in lines), result.output
    assert "Traceback" not in result.output


def test_missing_file_and_usage_errors():
    assert run("solve", "no/such/file.yaml").exit_code == 1
    assert CliRunner().invoke(app, ["solve", TREE, "--backend", "gurobi"]).exit_code == 2
    assert CliRunner().invoke(app, ["solve"]).exit_code == 2
    result = CliRunner().invoke(app, ["solve", TREE, "--method", "magic"])
    assert result.exit_code == 1 and "unknown method 'magic'" in result.output


def test_exit_codes_follow_status():
    from idnopt.cli.main import EXIT_INFEASIBLE, _exit_code
    from idnopt.result import Result, Status

    assert _exit_code(Result(status=Status.INFEASIBLE)) == EXIT_INFEASIBLE
    assert _exit_code(Result(status=Status.UNBOUNDED)) == EXIT_INFEASIBLE
    assert _exit_code(Result(status=Status.TIME_LIMIT)) == 1  # no incumbent
    assert _exit_code(Result(status=Status.TIME_LIMIT, objective=1.0)) == 0


def test_validate_and_schema(tmp_path):
    assert run("validate", TREE).exit_code == 0
    out = tmp_path / "schema.json"
    assert run("schema", "idn", "-o", str(out)).exit_code == 0
    assert json.loads(out.read_text())["title"] == "idnopt idn instance"
    assert CliRunner().invoke(app, ["schema", "nope"]).exit_code == 1


def test_output_not_written_on_error(tmp_path):
    out = tmp_path / "result.json"
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: idn\n")
    CliRunner().invoke(app, ["solve", str(bad), "-o", str(out)])
    assert not out.exists()


def test_console_script_version():
    done = subprocess.run(
        [sys.executable, "-m", "idnopt.cli.main", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.startswith("idnopt, version")


VQA = str(INSTANCES / "jellybean" / "vqa.yaml")


def test_family_options_reach_the_formulation():
    import idnopt

    printed = json.loads(
        run("solve", VQA, "--json", "-O", "routing=proportional", "-O", "target=0.7").output
    )
    api = idnopt.solve(VQA, routing="proportional", target=0.7)
    assert printed["metrics"]["routing"] == "proportional"
    assert printed["metrics"]["target"] == 0.7
    assert printed["objective"] == pytest.approx(api.objective)
    assert printed["metrics"]["accuracy"] >= 0.7


@pytest.mark.parametrize(
    "option, fragment",
    [
        ("colour=red", "'colour' is not an option of method 'milp' of kind 'jellybean'"),
        ("routing", "NAME=VALUE"),
        # a MILP start is an array: Python only
        ("initial_values=3", "'initial_values' is not an option of method 'milp'"),
    ],
)
def test_unknown_or_malformed_family_option_is_a_usage_error(option, fragment):
    result = CliRunner().invoke(app, ["solve", VQA, "--method", "milp", "-O", option])
    assert result.exit_code == 2
    text = " ".join(result.output.split())  # click folds long usage lines
    assert fragment in text and "Traceback" not in result.output


def test_error_text_with_brackets_is_printed_verbatim(tmp_path):
    # messages quote the user's own text; rich must print it, not read it as markup
    bad = tmp_path / "bad.yaml"
    text = (INSTANCES / "idn" / "tree.yaml").read_text()
    bad.write_text(text.replace("models:", "'[bold]models':", 1))
    result = CliRunner().invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "'[bold]models'" in result.output


@pytest.mark.parametrize(
    "blocked, arguments, extra",
    [
        ("joblib", ["sweep", "benchmarks/sweep/idn_methods.yaml", "-o", "OUT"], "dist"),
        ("torch", ["profile", "-m", "resnet18"], "profile"),
    ],
)
def test_missing_optional_package_names_the_extra(blocked, arguments, extra, monkeypatch, tmp_path):
    from conftest import ROOT

    monkeypatch.chdir(ROOT)
    monkeypatch.setitem(sys.modules, blocked, None)  # import of it now fails
    arguments = [str(tmp_path / "out") if a == "OUT" else a for a in arguments]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 1
    assert f"pip install 'idnopt[{extra}]'" in result.output
    assert "Traceback" not in result.output and "internal error" not in result.output


def test_generate_jellybean_writes_what_the_generator_makes(tmp_path):
    import shlex

    import idnopt
    from idnopt.formulations.jellybean import random_instance

    out = tmp_path / "jb.yaml"
    arguments = ["--operators", "3", "--workers", "7", "--tiers", "3", "--worker-types", "2"]
    result = CliRunner().invoke(
        app, ["generate", "jellybean", *arguments, "--seed", "4", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    loaded = idnopt.load(out)
    assert loaded == random_instance(4, operators=3, workers=7, tiers=3, worker_types=2)
    # the command in the header regenerates the same file
    written = out.read_text()
    command = next(line for line in written.splitlines() if "idnopt generate" in line)
    out.unlink()
    again = CliRunner().invoke(app, shlex.split(command.lstrip("# "))[1:])
    assert again.exit_code == 0
    assert out.read_text() == written
    assert idnopt.solve(loaded).objective == pytest.approx(idnopt.solve(out).objective)


def test_piped_tables_keep_their_width(monkeypatch):
    from idnopt.cli.console import PIPED_WIDTH, table_console

    monkeypatch.delenv("COLUMNS", raising=False)
    assert table_console().width == PIPED_WIDTH  # pytest's output is not a terminal
    monkeypatch.setenv("COLUMNS", "100")
    assert table_console().width == 100


def test_narrow_tables_fold_names_instead_of_cutting_them(monkeypatch):
    import io

    from rich.console import Console

    import idnopt
    from idnopt.cli import main

    narrow = Console(width=80, file=io.StringIO(), record=True)
    monkeypatch.setattr(main, "console", narrow)
    result = idnopt.solve(VQA)
    main.print_result(result, rows=25)
    text = narrow.export_text()
    assert "plan (" in text and max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text  # rich's default cuts long cells to "kiosk-…"


def test_no_timings_writes_the_same_bytes_for_the_same_solve(tmp_path):
    written = []
    for name in ("first.json", "second.json"):
        assert run("solve", TREE, "-o", str(tmp_path / name), "--no-timings").exit_code == 0
        written.append((tmp_path / name).read_bytes())
    assert written[0] == written[1]
    data = json.loads(written[0])
    assert data["status"] == "optimal" and not {"build_seconds", "timings"} & set(data)
    timed = json.loads(run("solve", TREE, "--json").output)
    assert {key: timed[key] for key in data} == data
