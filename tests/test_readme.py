"""README stays true to the code: its Python examples run and its commands exist."""

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from idnopt.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("index", range(len(re.findall(r"```python\n", README))))
def test_python_examples_run(index, monkeypatch):
    block = re.findall(r"```python\n(.*?)```", README, re.S)[index]
    monkeypatch.chdir(ROOT)
    exec(compile(block, f"README.md python block {index}", "exec"), {})


def _commands() -> list[list[str]]:
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("idnopt "):
                commands.append(shlex.split(line)[1:])
    return commands


@pytest.mark.parametrize("arguments", _commands(), ids=lambda a: " ".join(a[:2]))
def test_every_command_and_option_in_the_readme_exists(arguments):
    # --help after the arguments makes click check every subcommand and option
    # named before it without running anything
    result = CliRunner().invoke(app, [*_command_path(arguments), "--help"])
    assert result.exit_code == 0, result.output
    options = [a.split("=")[0] for a in arguments if a.startswith("-")]
    for option in options:
        assert option in result.output, f"{option} is not an option of idnopt {arguments[0]}"


def _command_path(arguments: list[str]) -> list[str]:
    import click

    path, group = [], app
    context = click.Context(app)
    for argument in arguments:
        if not isinstance(group, click.Group) or argument not in group.list_commands(context):
            break
        path.append(argument)
        group = group.get_command(context, argument)
    if isinstance(group, click.Group) and "run" in group.list_commands(context):
        path.append("run")  # `idnopt sweep SPEC` means `sweep run SPEC`
    return path
