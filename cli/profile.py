r"""``idnopt profile``: measure model latencies on this machine's CPU or GPU.

Example::

    idnopt profile --models resnet50,mobilenet_v3_small --batch 1,8 \
        --precision fp32,fp16 --device cuda --layers -o profiles/mine.json

Prints a line per model as it is done, then a summary table (or the profile
as JSON with ``--json``); with ``-o``, writes the profile file that instances
can refer to after every model (atomically), so an interrupted run keeps the
models it finished. On a CPU the thread count defaults to the cores left free
by other work; figures that may not be trusted (wide spread, busy machine)
are flagged in notes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from idnopt.errors import InputError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from idnopt.profiling import Profile

_PRECISIONS = ("fp32", "fp16", "bf16")


def _split_list(value: str, option: str) -> list[str]:
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise click.UsageError(f"{option} needs at least one value")
    return items


def _batch_sizes(value: str) -> list[int]:
    sizes = []
    for item in _split_list(value, "--batch"):
        if not item.isdigit() or int(item) < 1:
            raise click.UsageError(f"--batch: {item!r} is not a positive integer (e.g. 1,8,32)")
        sizes.append(int(item))
    return list(dict.fromkeys(sizes))


def _precisions(value: str) -> list[str]:
    items = list(dict.fromkeys(_split_list(value, "--precision")))
    unknown = [item for item in items if item not in _PRECISIONS]
    if unknown:
        raise click.UsageError(
            f"--precision: unknown {', '.join(unknown)}; choose from {', '.join(_PRECISIONS)}"
        )
    return items


def _image_size(value: str) -> int | None:
    if value == "native":
        return None
    if not value.isdigit() or int(value) < 1:
        raise click.UsageError(
            f"--image-size: {value!r} is neither a positive integer nor 'native'"
        )
    return int(value)


def _format(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _summary_table(profile: Profile) -> Table:
    """One row per hardware, model, precision and batch size."""
    from rich.table import Table

    table = Table(title="Latency profile", header_style="bold")
    columns = (
        "hardware",
        "model",
        "prec",
        "batch",
        "median ms",
        "p95 ms",
        "min ms",
        "±CI",
        "reps",
        "req/s",
        "peak MB",
        "params M",
        "GFLOPs",
        "top-1",
        "method",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in columns[:3] else "right")
    for hardware_name, hardware in profile.hardware.items():
        for model_name, model in hardware.models.items():
            for measured in model.measurements:
                spread = "-"
                if measured.median_ci_ms is not None:
                    low, high = measured.median_ci_ms
                    spread = f"{(high - low) / 2 / measured.median_ms:.1%}"
                table.add_row(
                    hardware_name,
                    model_name,
                    measured.precision,
                    str(measured.batch),
                    _format(measured.median_ms),
                    _format(measured.p95_ms),
                    _format(measured.min_ms),
                    spread,
                    "-" if measured.repetitions is None else str(measured.repetitions),
                    _format(measured.throughput_rps, 1),
                    _format(measured.peak_memory_mb, 1),
                    _format(None if model.params is None else model.params / 1e6, 2),
                    _format(model.gflops, 3),
                    "-" if model.accuracy is None else f"{model.accuracy:.1%}",
                    measured.method or hardware.method,
                )
    return table


def _layer_lines(profile: Profile) -> list[str]:
    """One line per layer profile: block count and sums against the whole model."""
    lines = []
    for hardware in profile.hardware.values():
        for model_name, model in hardware.models.items():
            for layer_profile in model.layers:
                total = layer_profile.total_ms
                text = (
                    f"{model_name} {layer_profile.precision} batch {layer_profile.batch}: "
                    f"{len(layer_profile.blocks)} blocks, sum of block medians "
                    f"{layer_profile.sum_ms:.3f} ms"
                )
                if layer_profile.chain_ms is not None:
                    text += f", blocks in turn {layer_profile.chain_ms:.3f} ms"
                if total is not None:
                    text += f", whole model {total:.3f} ms"
                lines.append(text)
    return lines


@click.command("profile")
@click.option(
    "--models",
    "-m",
    "models",
    required=True,
    metavar="NAMES",
    help="Comma-separated torchvision model names; 'reference' adds the 18 models "
    "of the bundled H100 profile.",
)
@click.option(
    "--batch",
    "-b",
    "batch",
    default="1",
    show_default=True,
    metavar="SIZES",
    help="Comma-separated batch sizes.",
)
@click.option(
    "--precision",
    "-p",
    "precision",
    default="fp32",
    show_default=True,
    metavar="LIST",
    help="Comma-separated precisions: fp32, fp16, bf16 (skipped with "
    "a note where the device cannot run them).",
)
@click.option("--device", "-d", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option(
    "--layers",
    is_flag=True,
    help="Also profile every block (stem, residual/transformer blocks, head).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the profile to this JSON file (atomically).",
)
@click.option(
    "--merge", is_flag=True, help="Add to the existing --output file instead of replacing it."
)
@click.option(
    "--hardware",
    metavar="NAME",
    help="Hardware name in the profile [default: cpu, or the GPU's name].",
)
@click.option(
    "--cuda-graph/--no-cuda-graph",
    default=True,
    show_default=True,
    help="On a GPU, time CUDA-graph replays (falls back to eager with a note).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="CPU threads for torch [default: the cores this process may use, less those "
    "other work keeps busy].",
)
@click.option(
    "--image-size",
    default="224",
    show_default=True,
    metavar="PIXELS|native",
    help="Input side for torchvision models; 'native' uses each weights' crop size.",
)
@click.option(
    "--warmup",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Untimed calls before timing.",
)
@click.option(
    "--min-reps",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Timed calls before the stability test may stop.",
)
@click.option(
    "--max-reps",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Timed calls at most.",
)
@click.option(
    "--max-time",
    type=click.FloatRange(min=0, min_open=True),
    default=2.0,
    show_default=True,
    help="Timing budget per measurement, in seconds.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0, min_open=True),
    default=0.02,
    show_default=True,
    help="Stop when the 95% CI of the median is within this fraction of it.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the random weights and inputs."
)
@click.option("--cudnn-benchmark", is_flag=True, help="Let cuDNN pick algorithms by timing.")
@click.option("--json", "as_json", is_flag=True, help="Print the profile as JSON.")
def profile_command(
    models: str,
    batch: str,
    precision: str,
    device: str,
    layers: bool,
    output: Path | None,
    merge: bool,
    hardware: str | None,
    cuda_graph: bool,
    threads: int | None,
    image_size: str,
    warmup: int,
    min_reps: int,
    max_reps: int,
    max_time: float,
    tolerance: float,
    seed: int,
    cudnn_benchmark: bool,
    as_json: bool,
) -> None:
    """Measure inference latency per model, batch size and precision on a CPU or GPU."""
    from rich.console import Console

    from idnopt.cli.console import table_console
    from idnopt.profiling import load_profile, save_profile

    batch_sizes = _batch_sizes(batch)
    precisions = _precisions(precision)
    size = _image_size(image_size)
    model_names = _split_list(models, "--models")
    if merge and output is None:
        raise click.UsageError("--merge needs --output FILE")
    if max_reps < min_reps:
        raise click.UsageError("--max-reps must be at least --min-reps")
    existing = load_profile(output) if merge and output is not None and output.exists() else None
    if output is not None and not (output.parent if str(output.parent) else Path(".")).is_dir():
        raise InputError("output folder does not exist", path=output.parent)

    try:
        from idnopt.profiling.profiler import profile_models
        from idnopt.profiling.timing import StoppingRule
    except ImportError as error:
        raise InputError(
            f"profiling needs torch and torchvision ({error}); install idnopt[profile]"
        ) from None

    errors = Console(stderr=True)
    saved: list[str] = []

    def save(partial: Profile) -> None:
        if output is not None:
            save_profile(existing.merged(partial) if existing is not None else partial, output)
            saved[:] = list(next(iter(partial.hardware.values())).models)

    rule = StoppingRule(
        warmup=warmup,
        min_repetitions=min_reps,
        max_repetitions=max_reps,
        max_seconds=max_time,
        relative_tolerance=tolerance,
    )
    try:
        profile = _run_with_progress(
            errors,
            profile_models,
            model_names,
            save,
            batch_sizes=batch_sizes,
            precisions=precisions,
            device=device,
            hardware=hardware,
            layers=layers,
            cuda_graphs=cuda_graph,
            rule=rule,
            threads=threads,
            seed=seed,
            image_size=size,
            cudnn_benchmark=cudnn_benchmark,
        )
    except KeyboardInterrupt:
        if saved:
            errors.print(
                f"interrupted: {len(saved)} finished model{'s' if len(saved) > 1 else ''} "
                f"saved in {output}",
                highlight=False,
                soft_wrap=True,
            )
        else:
            errors.print(
                "interrupted: no model finished, nothing saved", highlight=False, soft_wrap=True
            )
        raise click.exceptions.Exit(130) from None
    if existing is not None:
        profile = existing.merged(profile)
    if output is not None:
        save_profile(profile, output)

    if as_json:
        click.echo(profile.to_json(), nl=False)
    else:
        console = table_console()
        console.print(_summary_table(profile))
        for line in _layer_lines(profile):
            console.print(line, highlight=False)
    for hardware_entry in profile.hardware.values():
        for note in hardware_entry.notes:
            errors.print(
                f"note: {note}", style="yellow", highlight=False, soft_wrap=True, markup=False
            )
    if output is not None:
        errors.print(f"wrote {output}", highlight=False)


def _run_with_progress(
    console: Console,
    run: Callable[..., Profile],
    models: list[str],
    save: Callable[[Profile], None],
    **options: Any,
) -> Profile:
    """Run ``run(models, **options)`` with a progress bar and a line per model on ``console``.

    The bar shows on a terminal only; the line printed as each model is done
    shows everywhere (a log, a pipe). ``save`` receives the profile measured so
    far after each model.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("profiling", total=None)

        def report(done: int, total: int, label: str) -> None:
            progress.update(task, completed=done, total=total, description=label)

        def model_done(name: str, partial: Profile | None, finished: int, total: int) -> None:
            if partial is not None:
                save(partial)
            if finished == 1 and partial is not None:
                progress.console.print(
                    _threads_line(partial), highlight=False, soft_wrap=True, markup=False
                )
            progress.console.print(
                f"[{finished}/{total}] {_model_line(name, partial)}",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )

        return run(models, progress=report, on_model=model_done, **options)


def _threads_line(profile: Profile) -> str:
    """How the run used the machine: threads, cores available, load when it started."""
    hardware = next(iter(profile.hardware.values()))
    environment = hardware.environment
    text = f"{hardware.device}: {environment.get('threads')} thread(s)"
    if environment.get("cores_available") is not None:
        text += f", {environment['cores_available']} core(s) available"
    if environment.get("load_at_start") is not None:
        text += f", load average {environment['load_at_start']} at start"
    return text


def _model_line(name: str, profile: Profile | None) -> str:
    """One model's medians, e.g. ``resnet18: fp32 batch 1 12.345 ms, batch 8 60.1 ms``."""
    hardware = None if profile is None else next(iter(profile.hardware.values()))
    if hardware is None or name not in hardware.models:
        return f"{name}: nothing measured (see the notes)"
    figures = [
        f"{m.precision} batch {m.batch} {m.median_ms:.3f} ms"
        + (" (unreliable)" if m.note and "unreliable" in m.note else "")
        for m in hardware.models[name].measurements
    ]
    return f"{name}: " + ", ".join(figures)
