"""``idnopt generate KIND``: write random instances of any family that declares a generator.

One sub-command per registered family with a generator
(:attr:`idnopt.family.Family.generator`); its options are the generator's
declared parameters (``--models 10 --requests 50 --seed 1``), so a new family
gets its command by declaring a generator, without code here. The instance is
written (YAML, or JSON for a ``.json`` name) through a temporary file and a
rename; without ``-o`` the YAML goes to standard output. The file starts with
a comment giving the command that regenerates it.
"""

from __future__ import annotations

import shlex
import types
import typing
from pathlib import Path
from typing import Any

import click

OUTPUT_HELP = "Write here (atomically) instead of standard output; .json writes JSON."


def _flag(name: str, info: Any) -> str:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return "--" + str(extra.get("flag", name)).replace("_", "-")


def _click_type(annotation: Any) -> Any:
    """A click type for a parameter annotation (ranges are checked by the declaration)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        arguments = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _click_type(arguments[0]) if len(arguments) == 1 else str
    if origin is typing.Literal:
        return click.Choice([str(value) for value in typing.get_args(annotation)])
    if annotation is Path:
        return click.Path(dir_okay=False, path_type=Path)
    if annotation in (int, float, str):
        return annotation
    if annotation is bool:
        return bool
    return str


def _format(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _regenerate_arguments(kind: str, parameters: Any, output: Path | None) -> list[str]:
    """The command line that gives the same file: seed and every non-default parameter."""
    arguments: list[str] = []
    for name, info in type(parameters).model_fields.items():
        value = getattr(parameters, name)
        if value is None or (value == info.default and name != "seed"):
            continue
        arguments += [_flag(name, info), _format(value)]
    if output is not None:
        arguments += ["-o", str(output)]
    return arguments


def _generator_command(kind: str) -> click.Command:
    from idnopt.family import get_family

    family = get_family(kind)
    declared = family.generator
    params: list[click.Parameter] = []
    for name, info in declared.parameters.model_fields.items():
        default = None if info.is_required() else info.default
        params.append(
            click.Option(
                [_flag(name, info), name],
                type=_click_type(info.annotation),
                default=default,
                show_default=default is not None,
                help=info.description or None,
            )
        )
    params.append(
        click.Option(
            ["--output", "-o"],
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help=OUTPUT_HELP,
        )
    )

    def run(output: Path | None, **values: Any) -> None:
        from idnopt.documents import document_text, write_document

        parameters = declared.parameters.parse(values, where=f"idnopt generate {kind}")
        instance = declared.run(parameters)
        folder = output.parent if output is not None else Path(".")
        if declared.document is not None:
            data = declared.document(instance, parameters, folder)
        elif family.to_document is not None:
            data = family.to_document(instance)
        else:
            data = {"kind": kind, **instance.model_dump(mode="json", exclude_defaults=True)}
        lines = list(declared.header(instance, parameters)) if declared.header else []
        arguments = _regenerate_arguments(kind, parameters, output)
        lines += ["Regenerate with:", f"  idnopt generate {kind} {shlex.join(arguments)}"]
        header = "\n".join(lines)
        if output is None:
            click.echo(document_text(data, header=header), nl=False)
            return
        write_document(data, output, header=header)
        summary = declared.describe(instance) if declared.describe else "instance"
        click.echo(f"wrote {output}: {summary}", err=True)

    return click.Command(kind, params=params, callback=run, help=declared.summary + ".")


class GenerateGroup(click.Group):
    """Sub-commands made from the registered families' generators, on demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: D102
        from idnopt.family import families

        return [kind for kind, family in families().items() if family.generator is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # noqa: D102
        if cmd_name not in self.list_commands(ctx):
            return None
        return _generator_command(cmd_name)


@click.group(name="generate", cls=GenerateGroup)
def generate_command() -> None:
    """Generate random instances (deterministic for a seed)."""
