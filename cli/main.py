"""The ``idnopt`` command: solve, validate and describe instance files.

Exit codes: 0 solved (optimal, or a solution within a limit), 1 error (bad
input, solver failure), 2 usage error, 3 infeasible or unbounded, 130
interrupted (Ctrl-C during a solve still reports and writes the answer so far).
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from idnopt.cli.console import table_console
from idnopt.cli.generate import generate_command
from idnopt.cli.online import online_command
from idnopt.cli.pairs import read_pairs
from idnopt.cli.profile import profile_command
from idnopt.cli.sweep import sweep_command
from idnopt.errors import IdnoptError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INFEASIBLE = 0, 1, 2, 3
EXIT_INTERRUPTED = 130

console = table_console()
errors = Console(stderr=True)

OPTIONAL_PACKAGES = {
    "torch": "profile",
    "torchvision": "profile",
    "gymnasium": "rl",
    "stable_baselines3": "rl",
    "simpy": "sim",
    "dask": "dist",
    "distributed": "dist",
    "joblib": "dist",
    "pandas": "dist",
    "pyarrow": "dist",
    "matplotlib": "plot",
    "topohub": "topo",
}
"""Import name of each optional dependency and the extra that installs it."""


class App(click.Group):
    """A click group that turns idnopt errors into one-line messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:  # noqa: D102
        try:
            return super().invoke(ctx)
        except IdnoptError as exc:
            print_error(exc)
            ctx.exit(EXIT_ERROR)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            errors.print("interrupted", highlight=False)
            ctx.exit(EXIT_INTERRUPTED)
        except ModuleNotFoundError as exc:
            package = (exc.name or "").split(".")[0]
            if package not in OPTIONAL_PACKAGES:
                raise
            errors.print(
                "[bold red]error:[/] "
                + escape(
                    f"this command needs the optional package {package!r}: "
                    f"pip install 'idnopt[{OPTIONAL_PACKAGES[package]}]'"
                ),
                highlight=False,
                soft_wrap=True,
            )
            ctx.exit(EXIT_ERROR)
        except Exception as exc:  # noqa: BLE001 - last line of defence, traceback on request
            if os.environ.get("IDNOPT_DEBUG"):
                raise
            errors.print(
                f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))} "
                "(set IDNOPT_DEBUG=1 for a traceback)",
                highlight=False,
                soft_wrap=True,
            )
            ctx.exit(EXIT_ERROR)


def print_error(error: Exception) -> None:
    """Print an error to standard error: one line per problem it carries."""
    from idnopt.errors import InputError

    lines = error.lines() if isinstance(error, InputError) else [str(error)]
    for line in lines:
        errors.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)


def _version() -> str:
    from idnopt import __version__

    return __version__


@click.group(cls=App, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=_version(), prog_name="idnopt")
def app() -> None:
    """Decide where ML inference models run and how requests reach them.

    Instance files (YAML or JSON) name their problem family with `kind`;
    `idnopt solve FILE` runs the family's default method (its exact one where
    it has one) and prints the decision.
    """


def _format(value: Any) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        value += 0.0  # no negative zero
        if abs(value) >= 1e5 or (0 < abs(value) < 1e-3):
            return f"{value:.4g}"
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return "-" if value is None else str(value)


def print_result(result, rows: int) -> None:
    """Print a result as rich tables: summary, metrics, then each decoded table."""
    summary = Table(title="Result", show_header=False, title_justify="left")
    summary.add_column("field", style="bold")
    summary.add_column("value")
    summary.add_row("status", str(result.status))
    summary.add_row("method", result.method or "-")
    summary.add_row("backend", f"{result.backend or '-'} ({result.solver or '-'})")
    summary.add_row("objective", _format(result.objective))
    summary.add_row("bound", _format(result.bound))
    summary.add_row(
        "gap",
        "-" if result.gap is None else f"{100 * result.gap:.3g} %" if result.gap > 1e-9 else "0 %",
    )
    summary.add_row("build / solve", f"{result.build_seconds:.3f} s / {result.solve_seconds:.3f} s")
    if result.message and result.status.value not in ("optimal",):
        summary.add_row("message", escape(result.message))
    for name, value in result.metrics.items():
        summary.add_row(name, _format(value))
    console.print(summary)
    for name, table_rows in result.tables.items():
        if not table_rows:
            continue
        table = Table(title=f"{name} ({len(table_rows)} rows)", title_justify="left")
        columns = list(table_rows[0])
        for column in columns:
            # fold long names onto a second line rather than cutting them short
            table.add_column(
                column,
                justify="right" if isinstance(table_rows[0][column], float) else "left",
                overflow="fold",
            )
        for row in table_rows[:rows]:
            table.add_row(*(escape(_format(row.get(column))) for column in columns))
        if len(table_rows) > rows:
            table.caption = f"{len(table_rows) - rows} more rows: use --rows or --json"
        console.print(table)


def _parse_options(pairs: tuple[str, ...], family, method: str | None) -> dict[str, Any]:
    """Read ``NAME=VALUE`` pairs, checking each name against the method's declaration."""
    accepted = family.options(method)
    chosen = family.method(method).name
    options = read_pairs(pairs)
    for name in options:
        if name not in accepted:
            raise click.BadParameter(
                f"{name!r} is not an option of method {chosen!r} of kind {family.kind!r}; "
                f"choose from {', '.join(sorted(accepted))}",
                param_hint="'--option'",
            )
    return options


def _exit_code(result) -> int:
    from idnopt.result import Status

    if result.status == Status.INTERRUPTED:
        return EXIT_INTERRUPTED
    if result.status in (Status.INFEASIBLE, Status.UNBOUNDED):
        return EXIT_INFEASIBLE
    if result.status == Status.ERROR or not result.has_solution:
        return EXIT_ERROR
    return EXIT_OK


@app.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--method",
    "-m",
    default=None,
    help="Method of the instance's family (default: its first, the exact one where there is one); "
    "`idnopt methods` lists them.",
)
@click.option(
    "--backend",
    "-b",
    type=click.Choice(["highs", "pyomo", "cvxpy"]),
    default="highs",
    show_default=True,
    help="Backend that compiles and solves the program.",
)
@click.option("--solver", default=None, help="Solver used by the pyomo or cvxpy backend.")
@click.option("--relax", is_flag=True, help="Solve the continuous relaxation.")
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds for the whole call (bounds, solves, explanations, decoding); "
    "the best solution found so far is returned with its gap.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the result as JSON to this file (atomically).",
)
@click.option(
    "--no-timings",
    is_flag=True,
    help="Leave wall-clock times out of --json and --output (the same solve then "
    "writes the same bytes).",
)
@click.option(
    "--write-model",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Export the exact program as .lp or .mps before solving.",
)
@click.option(
    "--rows",
    type=click.IntRange(min=1),
    default=25,
    show_default=True,
    help="Rows shown per table.",
)
@click.option(
    "--option",
    "-O",
    "family_options",
    multiple=True,
    metavar="NAME=VALUE",
    help="An option of the family's method or of the backend, e.g. -O routing=proportional "
    "-O target=0.8 -O mip_gap=0.01 (values read as YAML scalars; repeatable; "
    "`idnopt methods --options` lists them).",
)
@click.option("--verbose", "-v", is_flag=True, help="Show the solver log.")
def solve(
    file: Path,
    method: str | None,
    backend: str,
    solver: str | None,
    relax: bool,
    time_limit: float | None,
    as_json: bool,
    output: Path | None,
    no_timings: bool,
    write_model: Path | None,
    rows: int,
    family_options: tuple[str, ...],
    verbose: bool,
) -> None:
    """Solve an instance FILE with its family's formulation."""
    import idnopt
    from idnopt.backends import write_model as export
    from idnopt.documents import write_atomic
    from idnopt.family import get_family

    instance = idnopt.load(file)
    family = get_family(instance.kind)
    options: dict[str, Any] = _parse_options(family_options, family, method)
    if write_model is not None:
        if family.build is None:
            raise click.UsageError(f"kind {family.kind!r} has no program to export")
        build_options = {
            name: value
            for name, value in options.items()
            if name in inspect.signature(family.build).parameters
        }
        export(family.build(instance, relax=relax, **build_options), write_model)
    if verbose:
        options["verbose"] = True
    if solver:
        options["solver"] = solver
    from idnopt.budget import interruptible

    with interruptible():  # Ctrl-C stops the solver; the answer so far is still reported
        result = idnopt.solve(
            instance, method=method, backend=backend, relax=relax, time_limit=time_limit, **options
        )
    if output is not None:
        write_atomic(output, result.to_json(timings=not no_timings) + "\n")
    if as_json:
        click.echo(result.to_json(timings=not no_timings))
    else:
        if instance.name:
            console.print(
                f"[bold]{instance.kind}[/] instance [bold]{escape(instance.name)}[/] "
                f"({escape(str(file))})",
                highlight=False,
            )
        print_result(result, rows)
    sys.exit(_exit_code(result))


@app.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check instance FILES: syntax, fields, units and cross-references."""
    import idnopt

    failed = 0
    for file in files:
        try:
            instance = idnopt.load(file)
        except IdnoptError as exc:
            failed += 1
            print_error(exc)
            continue
        console.print(f"[green]ok[/] {escape(str(file))} ({instance.kind})", highlight=False)
    sys.exit(EXIT_ERROR if failed else EXIT_OK)


@app.command()
@click.argument("kind", required=False)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the schema to this file instead of printing it.",
)
def schema(kind: str | None, output: Path | None) -> None:
    """Print the JSON Schema of instance files of KIND (all kinds if omitted)."""
    import idnopt
    from idnopt.documents import write_atomic

    text = json.dumps(idnopt.schema(kind), indent=2)
    if output is not None:
        write_atomic(output, text + "\n")
    else:
        click.echo(text)


@app.command()
@click.option("--options", "show_options", is_flag=True, help="Also list each kind's -O options.")
def methods(show_options: bool) -> None:
    """List the problem kinds and the methods each offers."""
    from idnopt.family import families

    table = Table(title="Problem kinds and methods", title_justify="left")
    table.add_column("kind", style="bold")
    table.add_column("method")
    table.add_column("what it does")
    for kind, family in families().items():
        for index, declared in enumerate(family.methods):
            label = f"{declared.name} (default)" if index == 0 else declared.name
            table.add_row(kind if index == 0 else "", label, declared.summary)
    console.print(table)
    if not show_options:
        return
    listing = Table(title="Options of `idnopt solve -O NAME=VALUE`", title_justify="left")
    listing.add_column("kind", style="bold")
    listing.add_column("method")
    listing.add_column("option")
    listing.add_column("what it sets")
    for kind, family in families().items():
        first_of_kind = True
        for declared in family.methods:
            for index, (name, text) in enumerate(declared.options().items()):
                listing.add_row(
                    kind if first_of_kind else "",
                    declared.name if index == 0 else "",
                    name,
                    escape(text),
                )
                first_of_kind = False
    console.print(listing)


app.add_command(profile_command, "profile")
app.add_command(sweep_command, "sweep")
app.add_command(generate_command, "generate")
app.add_command(online_command, "online")
app.add_command(__import__("idnopt.cli.simulate", fromlist=["x"]).simulate_command, "simulate")


def main() -> None:
    """Entry point of the ``idnopt`` console script."""
    app(prog_name="idnopt")


if __name__ == "__main__":  # pragma: no cover
    main()
