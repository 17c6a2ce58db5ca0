"""The catalogue of malformed and hostile files: one exact located line each, no traceback.

Every file of ``tests/data/bad`` (with its expected line in ``EXPECTED.yaml``) and a
few inputs made on the spot (a directory, a FIFO, ``/dev/zero``, a missing file, a
file over the size limit, standard input) go through ``idnopt validate`` and
``idnopt solve`` in a child process limited in memory and CPU time, each command
under its own alarm. This module is also the child's program (``python
test_bad_inputs.py REQUESTS.json``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from idnopt.family import families

FOLDER = Path(__file__).resolve().parent / "data" / "bad"
ROOT = FOLDER.parents[2]
EXPECTED: dict[str, str] = yaml.safe_load((FOLDER / "EXPECTED.yaml").read_text(encoding="utf-8"))
COMMANDS = ("validate", "solve")
MEMORY_LIMIT = 3 * 2**30
"""Address space of the child (bytes): an alias bomb or a runaway allocation fails fast."""
SECONDS_PER_RUN = 20
"""Alarm for one command on one input (a hang fails the test instead of blocking it)."""


def _run_all(requests: list[dict]) -> list[dict]:
    """Child side: run each request through the CLI in this process, under an alarm."""
    from click.testing import CliRunner

    from idnopt.cli.main import app

    def expire(signum, frame):
        raise TimeoutError(f"no answer within {SECONDS_PER_RUN} s")

    signal.signal(signal.SIGALRM, expire)
    answers = []
    for request in requests:
        started = time.perf_counter()
        signal.alarm(SECONDS_PER_RUN)
        try:
            result = CliRunner().invoke(
                app, [request["command"], request["path"]], input=request.get("input")
            )
            answer = {
                "exit_code": result.exit_code,
                "stderr": result.stderr,
                "stdout": result.stdout,
                "exception": None
                if isinstance(result.exception, SystemExit) or result.exception is None
                else f"{type(result.exception).__name__}: {result.exception}",
            }
        except TimeoutError as exc:
            answer = {"exit_code": None, "stderr": "", "stdout": "", "exception": str(exc)}
        finally:
            signal.alarm(0)
        answer["seconds"] = time.perf_counter() - started
        answers.append({**request, **answer})
    return answers


def _limits() -> None:  # pragma: no cover - runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (600, 600))


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, tuple[str, str, str | None]]:
    """Inputs made on the spot: name -> (path, expected line, standard input)."""
    folder = tmp_path_factory.mktemp("hostile")
    fifo = folder / "fifo.yaml"
    os.mkfifo(fifo)
    oversized = folder / "oversized.yaml"
    with open(oversized, "wb") as handle:  # sparse: 65 MiB on paper, nothing on disk
        handle.truncate(65 * 2**20)
    stdin = (FOLDER / "rate_1e308.yaml").read_text(encoding="utf-8")
    special = "{path}: not a regular file (a pipe or device?); give a file or '-'"
    return {
        "directory": (str(folder), "{path}: is a directory, expected a YAML or JSON file", None),
        "fifo": (str(fifo), special, None),
        "dev-zero": ("/dev/zero", special, None),
        "missing": (str(folder / "missing.yaml"), "{path}: file not found", None),
        "oversized": (str(oversized), "{path}: file is 65 MiB; at most 64 MiB is read", None),
        "stdin": (
            "-",
            "<stdin>:17: requests[0].rate: '1e308 req/s' is out of range for a rate: "
            "at most 1e9 req/s is accepted",
            stdin,
        ),
    }


@pytest.fixture(scope="module")
def answers(made, tmp_path_factory) -> dict[tuple[str, str], dict]:
    """Run every input through both commands in one limited child process."""
    requests = [
        {"name": name, "command": command, "path": str(FOLDER / name)}
        for name in EXPECTED
        for command in COMMANDS
    ]
    requests += [
        {"name": name, "command": command, "path": path, "input": stdin}
        for name, (path, _, stdin) in made.items()
        for command in COMMANDS
    ]
    request_file = tmp_path_factory.mktemp("requests") / "requests.json"
    request_file.write_text(json.dumps(requests))
    done = subprocess.run(
        [sys.executable, __file__, str(request_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        preexec_fn=_limits,
        check=False,
        # a fixed hash seed: JellyBean's cycle search still starts from a set's order
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {(a["name"], a["command"]): a for a in json.loads(done.stdout)}


def _check(answer: dict, expected: str, shown_path: str) -> None:
    where = f"{answer['command']} {answer['path']}"
    assert answer["exception"] is None, f"{where}: {answer['exception']}"
    assert answer["exit_code"] == 1, f"{where}: exit {answer['exit_code']}\n{answer['stderr']}"
    assert "Traceback" not in answer["stderr"] + answer["stdout"], where
    lines = answer["stderr"].splitlines()
    assert lines, f"{where}: nothing on standard error"
    wanted = "error: " + expected.replace("{path}", shown_path).replace("{folder}", str(FOLDER))
    wanted = wanted.replace("{kinds}", ", ".join(sorted(families())))
    assert lines[0] == wanted, where
    assert all(line.startswith("error: ") for line in lines), f"{where}:\n{answer['stderr']}"
    assert answer["seconds"] < SECONDS_PER_RUN, where


def test_the_catalogue_is_complete():
    names = {path.name for path in FOLDER.iterdir()} - {"EXPECTED.yaml"}
    assert names == set(EXPECTED), "files and EXPECTED.yaml disagree"
    assert len(EXPECTED) >= 60


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_catalogue_file_gives_its_one_line(answers, name, command):
    answer = answers[(name, command)]
    _check(answer, EXPECTED[name], answer["path"])


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", ["directory", "fifo", "dev-zero", "missing", "oversized", "stdin"])
def test_made_input_gives_its_one_line(answers, made, name, command):
    path, expected, _ = made[name]
    _check(answers[(name, command)], expected, path)


def test_readme_quotes_the_catalogue_exactly():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Common mistakes", 1)[1].split("\n#", 1)[0]
    quoted = [line for line in section.splitlines() if line.startswith("error: tests/data/bad/")]
    assert len(quoted) >= 5
    for line in quoted:
        shown = line[len("error: ") :].split(":", 1)[0]
        expected = EXPECTED[Path(shown).name].replace("{path}", shown)
        assert line == f"error: {expected}"


if __name__ == "__main__":  # the child process of the `answers` fixture
    print(json.dumps(_run_all(json.loads(Path(sys.argv[1]).read_text()))))
