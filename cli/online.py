"""``idnopt online``: play an online allocation policy over a demand trace.

``idnopt online FILE --policy infida --slots 1000 --trace stationary`` loads
the instance, makes (or replays) the trace, plays the policy slot by slot with
a progress bar, solves the best static allocation in hindsight and prints a
summary: time-averaged gain against the hindsight optimum, final regret
against the policy's bound, and whether the regret stayed within it at every
slot. ``--plot`` draws cumulative regret against its bound and time-averaged
gain against the hindsight optimum; ``-o`` writes the per-slot trajectory
(``.parquet``/``.csv``) or the whole run (``.json``).

Exit codes: 0 done (bound respected or none stated), 1 error (bad input,
regret above its bound, an infeasible decision), 2 usage error.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from idnopt.cli.console import table_console
from idnopt.cli.pairs import read_pairs
from idnopt.errors import InputError

BUILTIN_ONLINE = ("idnopt.formulations.idn.online",)
"""Modules that register the built-in families' online versions."""

POLICY_CHOICES = ("infida", "oga", "static", "resolve", "lfu", "lru")


def _eta(text: str | None) -> float | str | None:
    if text is None or text in ("auto", "adaptive"):
        return text
    try:
        value = float(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not 'auto', 'adaptive' or a number", param_hint="'--eta'"
        ) from None
    if not value > 0:
        raise click.BadParameter("the step must be positive", param_hint="'--eta'")
    return value


@click.command(name="online")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--policy",
    "-p",
    "policy_name",
    type=click.Choice(POLICY_CHOICES),
    default="infida",
    show_default=True,
    help="Online policy.",
)
@click.option(
    "--slots",
    "-T",
    type=click.IntRange(min=1),
    default=None,
    help="Number of slots [default: 1000 for generated traces, a file's own length; "
    "a shorter file is padded with empty slots].",
)
@click.option(
    "--trace",
    "trace_source",
    default="stationary",
    show_default=True,
    help="Trace kind (stationary, shifting, diurnal, adversarial) or a .csv/.parquet "
    "file with columns slot, ingress, task, count.",
)
@click.option(
    "--eta",
    default=None,
    help="Step size of infida/oga: auto (minimises the a-priori regret bound), "
    "adaptive (data-dependent steps) or a number. [default: auto]",
)
@click.option(
    "--window",
    type=click.IntRange(min=1),
    default=None,
    help="Window of static/resolve in slots. [default: 10]",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the trace and of the policy.",
)
@click.option(
    "--trace-option",
    "-t",
    "trace_options",
    multiple=True,
    metavar="NAME=VALUE",
    help="Parameter of the trace generator, e.g. -t every=50 -t zipf=1.2 (repeatable).",
)
@click.option(
    "--policy-option",
    "-P",
    "policy_options",
    multiple=True,
    metavar="NAME=VALUE",
    help="Parameter of the policy, e.g. -P method=milp (repeatable).",
)
@click.option(
    "--integral-hindsight",
    is_flag=True,
    help="Also solve the best static integral allocation (a MILP).",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds for each hindsight solve.",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Draw regret vs bound and time-averaged gain vs hindsight (PNG/PDF/SVG).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the trajectory (.parquet or .csv) or the whole run (.json), atomically.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
def online_command(
    file: Path,
    policy_name: str,
    slots: int | None,
    trace_source: str,
    eta: str | None,
    window: int | None,
    seed: int,
    trace_options: tuple[str, ...],
    policy_options: tuple[str, ...],
    integral_hindsight: bool,
    time_limit: float | None,
    plot: Path | None,
    output: Path | None,
    as_json: bool,
) -> None:
    """Play an online allocation policy on instance FILE over a demand trace."""
    import idnopt
    from idnopt.online import online_family, run

    for module in BUILTIN_ONLINE:
        importlib.import_module(module)
    if output is not None and output.suffix.lower() not in (".parquet", ".csv", ".json"):
        raise click.BadParameter("use a .parquet, .csv or .json file", param_hint="'--output'")
    instance = idnopt.load(file)
    family = online_family(instance.kind)
    params = read_pairs(policy_options, "--policy-option")
    step = _eta(eta)
    policy_class = family.policies[policy_name]
    accepted = policy_class._param_names()
    if step is not None:
        if "eta" not in accepted:
            raise click.UsageError(f"--eta does not apply to policy {policy_name!r}")
        params["eta"] = step
    if window is not None:
        if "window" not in accepted:
            raise click.UsageError(f"--window does not apply to policy {policy_name!r}")
        params["window"] = window
    policy = family.policy(policy_name, **params)
    trace_params = read_pairs(trace_options, "--trace-option")
    replay = Path(trace_source).suffix.lower() in (".csv", ".parquet")
    if slots is None and not replay:
        slots = 1000
    trace = family.trace(instance, trace_source, slots=slots, seed=seed, **trace_params)
    options = {} if time_limit is None else {"time_limit": time_limit}
    progress_console = Console(stderr=True)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=progress_console,
        transient=True,
        disable=not progress_console.is_terminal,
    ) as progress:
        task = progress.add_task(f"{policy_name} on {trace.kind}", total=trace.slots)
        result = run(
            policy,
            instance,
            trace,
            seed=seed,
            integral_hindsight=integral_hindsight,
            hindsight_options=options,
            progress=lambda done: progress.update(task, completed=done),
        )
    if output is not None:
        _write_output(result, output)
    if plot is not None:
        plot_run(result, plot)
    if as_json:
        click.echo(result.to_json())
    else:
        print_summary(result, instance, file)
    check = result.check_regret_bound()
    if check.passed is False or result.metrics["feasible_slots"] < trace.slots:
        errors = Console(stderr=True)
        reason = str(check) if check.passed is False else result.message
        errors.print(f"[bold red]error:[/] {escape(reason)}", highlight=False, soft_wrap=True)
        sys.exit(1)


def _write_output(result, output: Path) -> None:
    from idnopt.documents import write_atomic
    from idnopt.online import write_table

    if output.suffix.lower() == ".json":
        write_atomic(output, result.to_json() + "\n")
        return
    trajectory = result.trajectory
    write_table(output, trajectory.names, trajectory.to_rows())


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:
            return "-"
        if abs(value) >= 1e6 or (0 < abs(value) < 1e-3):
            return f"{value:.4g}"
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return str(value)


def print_summary(result, instance, file: Path) -> None:
    """Print the run's summary table."""
    console = table_console()
    metrics = result.metrics
    slots = metrics["slots"]
    table = Table(title="Online run", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("instance", escape(f"{instance.name or '-'} ({file})"))
    table.add_row("policy", escape(result.policy))
    trace = result.trace
    table.add_row("trace", escape(f"{trace['kind']}, {slots} slots, digest {trace['digest']}"))
    table.add_row(
        "seeds", escape(f"policy {result.seeds['policy']}, trace {result.seeds['trace']}")
    )
    hindsight = metrics.get("hindsight")
    table.add_row("time-averaged gain", _number(metrics["time_averaged_gain"]))
    if hindsight is not None:
        table.add_row("hindsight optimum / slot", _number(hindsight / slots))
        table.add_row("gain / hindsight", _number(metrics["gain_ratio"]))
        table.add_row("fractional gain / hindsight", _number(metrics["fractional_ratio"]))
    if "hindsight_integral" in metrics:
        table.add_row("integral hindsight / slot", _number(metrics["hindsight_integral"] / slots))
        table.add_row("gain / integral hindsight", _number(metrics["gain_ratio_integral"]))
    check = result.check_regret_bound()
    table.add_row("final regret", _number(metrics.get("regret")))
    table.add_row("bound", f"{_number(check.bound)} ({check.kind})")
    verdict = "-" if check.passed is None else ("pass" if check.passed else "[red]FAIL[/]")
    margin = "" if check.margin is None else f", smallest margin {_number(check.margin)}"
    table.add_row("bound check", f"{verdict}{margin}")
    if metrics.get("step") is not None:
        table.add_row("step (eta)", _number(metrics["step"]))
    table.add_row("messages / slot", _number(metrics["messages_per_slot"]))
    table.add_row("policy time / slot", f"{1e3 * metrics['policy_seconds_per_slot']:.3f} ms")
    table.add_row("feasible slots", f"{metrics['feasible_slots']} / {slots}")
    console.print(table)


def plot_run(result, path: Path) -> Path:
    """Draw cumulative regret vs its bound and time-averaged gain vs the hindsight optimum.

    Written through a temporary file and a rename.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError("output folder does not exist", path=folder)
    trajectory = result.trajectory
    slots = trajectory["slot"] + 1
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(slots, trajectory["regret"], label="cumulative regret (fractional)")
    left.plot(slots, trajectory["integral_regret"], label="cumulative regret (served)", alpha=0.7)
    if not np.isnan(trajectory["bound"]).all():
        kind = result.check_regret_bound().kind
        left.plot(slots, trajectory["bound"], "--", label=f"{kind} bound")
        left.set_yscale("symlog")
    left.set_xlabel("slot")
    left.set_ylabel("regret")
    left.legend()
    right.plot(slots, trajectory.time_averaged("gain"), label="time-averaged gain (served)")
    right.plot(
        slots, trajectory.time_averaged("fractional_gain"), label="time-averaged gain (fractional)"
    )
    right.plot(slots, trajectory.time_averaged("hindsight_gain"), "--", label="hindsight optimum")
    right.set_xlabel("slot")
    right.set_ylabel("gain per slot")
    right.legend()
    figure.suptitle(result.policy)
    figure.tight_layout()
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=folder)
    os.close(handle)
    try:
        figure.savefig(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    finally:
        plt.close(figure)
    return path
