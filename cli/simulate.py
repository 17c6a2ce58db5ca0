"""``idnopt simulate``: run the discrete-event simulation an instance's family declares.

``idnopt simulate FILE --policy NAME --duration SECONDS`` loads the instance,
finds its family's :class:`~idnopt.family.Simulation`, validates the options
(``-O NAME=VALUE`` for the family's own, read as YAML scalars), runs the
simulation with a progress bar and prints the result's metrics and tables.
``--plot`` draws the latency CDF of every series the result holds samples for
(``Result.values["latency:<name>"]``), the on-time ratio over time beside it
(``<stem>-on-time<suffix>``) when the result has an ``on_time`` table, and the
learning curve (``<stem>-training<suffix>``) when it has a ``training`` table; ``-o``
writes the result as JSON with those samples. ``--train-steps``,
``--save-policy`` and ``--load-policy`` reach the simulation options of the same
names (families with learned policies declare them). Any family that declares a
simulation works the same way.

Exit codes: 0 done, 1 error (bad input, no simulation for the kind), 2 usage error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from idnopt.cli.pairs import read_pairs


@click.command(name="simulate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--policy",
    "-p",
    default=None,
    help="Policy of the family's simulation (default: its first; an unknown name lists them).",
)
@click.option(
    "--duration",
    "-d",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds of simulated arrivals [default: the family's].",
)
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed [default: 0].")
@click.option(
    "--option",
    "-O",
    "family_options",
    multiple=True,
    metavar="NAME=VALUE",
    help="An option of the family's simulation, e.g. -O warmup=10 -O discipline=fifo (repeatable).",
)
@click.option(
    "--train-steps",
    type=click.IntRange(min=0),
    default=None,
    help="Decisions of training of a learned policy before it is simulated.",
)
@click.option(
    "--save-policy",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the trained policy to this file.",
)
@click.option(
    "--load-policy",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Read a trained policy from this file (trained further only with --train-steps).",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Draw the latency CDFs (PNG/PDF/SVG), and beside them the on-time ratio over time and "
    "the learning curve when the result has them.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the result with its latency samples as JSON (atomically).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--rows", type=click.IntRange(min=1), default=25, show_default=True, help="Rows per table."
)
def simulate_command(
    file: Path,
    policy: str | None,
    duration: float | None,
    seed: int | None,
    family_options: tuple[str, ...],
    train_steps: int | None,
    save_policy: Path | None,
    load_policy: Path | None,
    plot: Path | None,
    output: Path | None,
    as_json: bool,
    rows: int,
) -> None:
    """Simulate instance FILE under a policy of its family's simulation."""
    import idnopt
    from idnopt.errors import InputError
    from idnopt.family import get_family

    instance = idnopt.load(file)
    family = get_family(instance.kind)
    declared = family.simulation
    if declared is None:
        raise InputError(f"kind {family.kind!r} declares no simulation", path=file)
    options = read_pairs(family_options)
    if duration is not None:
        options["duration"] = duration
    if seed is not None:
        options["seed"] = seed
    fields = declared.parameters.model_fields
    learning = {"train_steps": train_steps, "save_policy": save_policy, "load_policy": load_policy}
    for name, value in learning.items():
        if value is None:
            continue
        if name not in fields:
            flag = "--" + name.replace("_", "-")
            raise click.BadParameter(
                f"the {family.kind!r} simulation has no learned policy to {flag.split('-')[-2]}",
                param_hint=f"'{flag}'",
            )
        options[name] = value
    if load_policy is not None and train_steps is None and "train_steps" in fields:
        options["train_steps"] = 0
    known = [name for name in fields if name not in declared.parameters.python_only]
    for name in options:
        if name not in fields or name == "progress":
            raise click.BadParameter(
                f"{name!r} is not an option of the {family.kind!r} simulation; "
                f"choose from {', '.join(known)}",
                param_hint="'--option'",
            )
    chosen = policy or declared.policies[0]
    progress_console = Console(stderr=True)
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=progress_console,
        transient=True,
        disable=not progress_console.is_terminal,
    ) as bar:
        task = bar.add_task(f"{chosen} on {instance.name or file.stem}", total=1.0)
        if "progress" in fields:
            options["progress"] = lambda fraction: bar.update(task, completed=fraction)
        result = declared.simulate(instance, chosen, **options)
    if output is not None:
        from idnopt.documents import write_atomic

        write_atomic(output, result.to_json(values=True) + "\n")
    if plot is not None:
        plot_latency(result, plot, title=f"{instance.name or file.stem}: {chosen}")
        if result.tables.get("on_time"):
            plot_on_time(result, plot, chosen, title=f"{instance.name or file.stem}: {chosen}")
        if result.tables.get("training"):
            plot_training(result, plot, title=f"{instance.name or file.stem}: {chosen} training")
    if as_json:
        click.echo(result.to_json())
    else:
        from idnopt.cli.main import console, print_result

        if instance.name:
            console.print(
                f"[bold]{instance.kind}[/] instance [bold]{instance.name}[/] ({file})",
                highlight=False,
            )
        print_result(result, rows)
    sys.exit(0 if result.has_solution else 1)


def plot_latency(result, path: Path, *, title: str) -> Path:
    """Draw the latency CDFs of a simulation result (one curve per sample series)."""
    from idnopt.errors import InputError
    from idnopt.sim import latency_cdf_plot, latency_samples

    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError("output folder does not exist", path=folder)
    samples = latency_samples(result)
    if not samples:
        raise InputError("the simulation result holds no latency samples to plot")
    figure = latency_cdf_plot(samples, path, title=title)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return path


def plot_training(result, path: Path, *, title: str) -> Path:
    """Draw the learning curve beside ``path`` (``<stem>-training<suffix>``)."""
    from idnopt.sim.figures import training_plot

    target = path.with_name(f"{path.stem}-training{path.suffix}")
    figure = training_plot(result, target, title=title)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return target


def plot_on_time(result, path: Path, policy: str, *, title: str) -> Path:
    """Draw the on-time ratio over time beside ``path`` (``<stem>-on-time<suffix>``)."""
    from idnopt.sim.figures import on_time_plot

    target = path.with_name(f"{path.stem}-on-time{path.suffix}")
    figure = on_time_plot({policy: result}, target, title=title)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return target
