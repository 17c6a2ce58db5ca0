"""``idnopt sweep``: run benchmark sweeps and report on their results.

``idnopt sweep SPEC [--jobs N] [--dask ADDRESS] [-o RESULTS]`` runs a sweep
specification (the ``run`` subcommand is the default), resuming from the
records already in RESULTS; ``idnopt sweep report RESULTS --plot time`` prints
median/IQR tables and draws figures; ``idnopt sweep plugins`` lists the
generators and task kinds a specification can name.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from idnopt.cli.console import table_console

console = table_console()
errors = Console(stderr=True)

PLOT_CHOICES = ("quality", "time", "ratio", "all")


class _RunByDefault(click.Group):
    """A group whose ``run`` subcommand is used when the first argument names no subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:  # noqa: D102
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(
    name="sweep",
    cls=_RunByDefault,
    context_settings={"help_option_names": ["-h", "--help"]},
)
def sweep_command() -> None:
    """Run benchmark sweeps (idnopt sweep SPEC) and report on them (idnopt sweep report).

    A sweep specification (YAML) lists instance generators or files, parameter
    grids, solvers, seeds and repetitions; each combination is one task. Finished
    tasks are stored at once in the results folder, so running the same command
    again after an interruption continues where it stopped.
    """


def _format(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value + 0.0:.4g}"  # no negative zero
    return str(value)


@sweep_command.command("run")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Parallel workers on this machine (default: every core); with --dask local, "
    "the number of local Dask workers.",
)
@click.option(
    "--dask",
    "dask_address",
    metavar="ADDRESS",
    default=None,
    help="Run on a Dask cluster: a scheduler address (tcp://host:8786) or 'local'.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Results folder (default: the spec's 'output', else results/<spec name>).",
)
@click.option("--retry-failed", is_flag=True, help="Run again the tasks recorded as failed.")
@click.option("--dry-run", is_flag=True, help="List the tasks and how many are done; run nothing.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar with ETA (default: when standard error is a terminal).",
)
@click.option("--strict", is_flag=True, help="Exit with status 1 when any task failed.")
@click.option(
    "--no-timings",
    is_flag=True,
    help="Leave wall-clock timings (*_seconds) and where each task ran out of the results: "
    "the same spec then gives byte-identical files on every run, with joblib or Dask.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def run_command(
    ctx: click.Context,
    spec: Path,
    jobs: int | None,
    dask_address: str | None,
    output: Path | None,
    retry_failed: bool,
    dry_run: bool,
    progress: bool | None,
    strict: bool,
    no_timings: bool,
    as_json: bool,
) -> None:
    """Run the unfinished tasks of sweep SPEC and merge the results table."""
    from idnopt.sweep import default_output, expand, load_spec, run_sweep
    from idnopt.sweep.store import ResultStore

    sweep_spec = load_spec(spec)
    if dry_run:
        tasks = expand(sweep_spec)
        folder = output if output is not None else default_output(sweep_spec)
        done = set()
        if (folder / "tasks").is_dir():
            done = ResultStore(folder).finished(
                [t.task_id for t in tasks], include_failed=not retry_failed
            )
        _print_tasks(tasks, done, folder, as_json)
        return
    if progress is None:
        progress = sys.stderr.isatty() and not as_json
    try:
        summary = run_sweep(
            sweep_spec,
            output,
            jobs=jobs,
            dask=dask_address,
            retry_failed=retry_failed,
            progress=progress,
            timings=not no_timings,
        )
    except KeyboardInterrupt:
        folder = output if output is not None else default_output(sweep_spec)
        errors.print(
            f"interrupted: finished tasks are stored in {folder}; "
            "run the same command again to continue",
            highlight=False,
        )
        ctx.exit(130)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        _print_summary(summary)
    if strict and summary.failed:
        ctx.exit(1)


def _print_tasks(tasks: list, done: set[str], folder: Path, as_json: bool, shown: int = 20) -> None:
    if as_json:
        listing = [{**task.columns(), "done": task.task_id in done} for task in tasks]
        click.echo(json.dumps({"output": str(folder), "tasks": listing}, indent=2, default=str))
        return
    table = Table(
        title=f"{len(tasks)} tasks, {len(done)} already done in {folder}", title_justify="left"
    )
    for column in ("task", "instance", "solver", "seed", "repetition", "done"):
        table.add_column(column)
    for task in tasks[:shown]:
        table.add_row(
            task.task_id,
            escape(task.instance.label),
            escape(task.solver.name),
            str(task.seed),
            str(task.repetition),
            "yes" if task.task_id in done else "",
        )
    if len(tasks) > shown:
        table.add_row("…", f"{len(tasks) - shown} more", "", "", "", "")
    console.print(table)


def _print_summary(summary) -> None:
    table = Table(title=f"sweep {summary.name}", title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("tasks", str(summary.total))
    table.add_row("run now", str(summary.ran))
    table.add_row("done earlier", str(summary.reused))
    table.add_row("failed", f"[red]{summary.failed}[/]" if summary.failed else "0")
    table.add_row("on", summary.executor or "-")
    table.add_row("wall time", f"{summary.seconds:.1f} s")
    table.add_row("results", ", ".join(str(path) for path in summary.tables) or str(summary.output))
    console.print(table)
    if summary.failures:
        failures = Table(title="failed tasks (first ones)", title_justify="left")
        for column in ("task", "instance", "solver", "error"):
            failures.add_column(column, overflow="fold")
        for row in summary.failures:
            failures.add_row(*(escape(str(value)) for value in row))
        console.print(failures)
        console.print(f"tracebacks: {summary.output / 'tasks'}/<task>.json", highlight=False)


@sweep_command.command("report")
@click.argument("results", type=click.Path(path_type=Path))
@click.option(
    "--by",
    multiple=True,
    help="Group columns of the summary table (repeatable; default: instance, parameters, solver).",
)
@click.option(
    "-m",
    "--metric",
    "metrics",
    multiple=True,
    help="Metrics of the summary table (repeatable; default: objective, gap, wall_seconds).",
)
@click.option(
    "--plot",
    "plots",
    type=click.Choice(PLOT_CHOICES),
    multiple=True,
    help="Figures: quality (metric vs size), time (log-log with fitted exponent), "
    "ratio (to --reference); repeatable.",
)
@click.option(
    "--x",
    "x_column",
    default=None,
    help="Size parameter of the figures (default: "
    "the numeric instance parameter with the most values).",
)
@click.option(
    "--y",
    "y_column",
    default="objective",
    show_default=True,
    help="Metric of the quality and ratio figures.",
)
@click.option(
    "--time",
    "time_column",
    default="wall_seconds",
    show_default=True,
    help="Time metric of the scaling figure.",
)
@click.option("--reference", default=None, help="Reference solver of the ratio figure.")
@click.option(
    "--lines",
    "line_groups",
    multiple=True,
    default=("solver",),
    show_default=True,
    help="One line per value of these columns in figures (repeatable).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for tables and figures (default: RESULTS/report).",
)
@click.option(
    "--format",
    "image_format",
    default="png",
    show_default=True,
    help="Figure format (png, pdf, svg).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary table as JSON.")
def report_command(
    results: Path,
    by: tuple[str, ...],
    metrics: tuple[str, ...],
    plots: tuple[str, ...],
    x_column: str | None,
    y_column: str,
    time_column: str,
    reference: str | None,
    line_groups: tuple[str, ...],
    output: Path | None,
    image_format: str,
    as_json: bool,
) -> None:
    """Summarise a sweep's RESULTS (folder or table): median and IQR per group, figures."""
    from idnopt.sweep.report import scaling_exponents, summarize, write_report
    from idnopt.sweep.store import read_table

    frame = read_table(results)
    if not metrics:
        metrics = tuple(m for m in ("objective", "gap", "wall_seconds") if m in frame.columns)
    folder = (
        output
        if output is not None
        else (results / "report" if results.is_dir() else results.parent / f"{results.stem}-report")
    )
    chosen = ("quality", "time", "ratio") if "all" in plots else tuple(dict.fromkeys(plots))
    written = write_report(
        frame,
        folder,
        plots=chosen,
        x=x_column,
        y=y_column,
        time=time_column,
        reference=reference,
        by=list(line_groups),
        metrics=list(metrics),
        image_format=image_format,
    )
    table = summarize(frame, by=list(by) or None, metrics=list(metrics))
    if as_json:
        click.echo(table.to_json(orient="records", indent=2))
        return
    _print_frame(table, metrics, f"{len(frame)} tasks: median [q1, q3] per group")
    if "time" in chosen:
        from idnopt.sweep.report import default_x

        x = x_column or default_x(frame)
        fits = scaling_exponents(frame, x, time_column, list(line_groups))
        fit_table = Table(
            title=escape(f"{time_column} ≈ a · {x.removeprefix('param.')}^b"), title_justify="left"
        )
        for column in fits.columns:
            fit_table.add_column(str(column))
        for row in fits.itertuples(index=False):
            fit_table.add_row(*(escape(_format(value)) for value in row))
        console.print(fit_table)
    for name, path in written.items():
        console.print(f"{name}: {path}", highlight=False)


def _print_frame(table, metrics: tuple[str, ...], title: str) -> None:
    """Print a summary table with one 'median [q1, q3]' cell per metric."""
    keys = [c for c in table.columns if "." not in c or c.startswith(("param.", "option."))]
    keys = [c for c in keys if c not in ("tasks", "failed")]
    shown = Table(title=escape(title), title_justify="left")
    for column in (*keys, "tasks", "failed", *metrics):
        shown.add_column(
            column.removeprefix("param."), justify="left" if column in keys else "right"
        )
    for _, row in table.iterrows():
        cells = [_format(row[c]) for c in keys] + [str(row["tasks"]), str(row["failed"])]
        for metric in metrics:
            median, q1, q3 = (row.get(f"{metric}.{s}") for s in ("median", "q1", "q3"))
            cells.append(f"{_format(median)} [{_format(q1)}, {_format(q3)}]")
        shown.add_row(*map(escape, cells))
    console.print(shown)


@sweep_command.command("plugins")
def plugins_command() -> None:
    """List the instance generators and task kinds a specification can name."""
    from idnopt.sweep.plugins import generators, task_kinds

    for title, entries in (("generators", generators()), ("task kinds", task_kinds())):
        table = Table(title=title, title_justify="left")
        table.add_column("name", style="bold")
        table.add_column("what it does")
        for name, entry in sorted(entries.items()):
            table.add_row(name, entry.summary)
        console.print(table)
