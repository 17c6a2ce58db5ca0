"""``idnopt solve`` and ``idnopt simulate`` on PA-MDI instances."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from idnopt.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
GPT2 = str(ROOT / "instances" / "pamdi" / "xavier-mesh-gpt2.yaml")


def test_solve_prints_the_split_and_the_latency_per_class():
    result = CliRunner().invoke(app, ["solve", GPT2])
    assert result.exit_code == 0, result.output
    for fragment in (
        "split",
        "cam-1-urgent",
        "xavier-1",
        "embed..block11",
        "classes",
        "time-sensitive (priority 4)",
        "best-effort (priority 1)",
        "latency_ms",
    ):
        assert fragment in result.output, fragment


def test_solve_baseline_and_relaxation_from_the_command_line():
    runner = CliRunner()
    baseline = runner.invoke(app, ["solve", GPT2, "-m", "mdi-llm", "-O", "nodes=3", "--json"])
    assert baseline.exit_code == 0, baseline.output
    assert json.loads(baseline.output)["method"] == "mdi-llm"
    relaxed = runner.invoke(app, ["solve", GPT2, "--relax", "--json"])
    assert relaxed.exit_code == 0, relaxed.output
    assert json.loads(relaxed.output)["relaxed"] is True


def test_simulate_prints_plots_and_writes(tmp_path):
    plot, output = tmp_path / "cdf.png", tmp_path / "run.json"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            GPT2,
            "--policy",
            "pa-mdi",
            "--duration",
            "20",
            "--seed",
            "2",
            "-O",
            "warmup=2",
            "--plot",
            str(plot),
            "-o",
            str(output),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "sources" in result.output and "time-sensitive (priority 4): mean_ms" in result.output
    assert plot.stat().st_size > 10_000
    data = json.loads(output.read_text())
    assert data["method"] == "pa-mdi"
    assert any(key.startswith("latency:") for key in data["values"])


def test_simulate_refuses_bad_input_in_one_line(tmp_path):
    runner = CliRunner()
    unknown = runner.invoke(app, ["simulate", GPT2, "--policy", "fastest", "-d", "5"])
    assert unknown.exit_code == 1 and "unknown policy 'fastest'" in unknown.output
    option = runner.invoke(app, ["simulate", GPT2, "-O", "speed=2"])
    assert option.exit_code == 2 and "not an option" in option.output
    idn = str(ROOT / "instances" / "idn" / "tree.yaml")
    none = runner.invoke(app, ["simulate", idn, "-d", "5"])
    assert none.exit_code == 1 and "declares no simulation" in none.output
