"""``idnopt generate``: write random instances for sweeps and examples.

``idnopt generate idn --topology geant --models 10 --requests 50 --seed 1 -o FILE``
and ``idnopt generate jellybean --operators 5 --workers 20 --tiers 3 -o FILE``
write a validated instance (YAML, or JSON for a ``.json`` name) through a
temporary file and a rename; without ``-o`` the YAML goes to standard output.
The file starts with a comment giving the command that regenerates it.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import click

from idnopt.errors import InputError


@click.group(name="generate")
def generate_command() -> None:
    """Generate random instances (deterministic for a seed)."""


@generate_command.command("idn")
@click.option(
    "--topology",
    default="tree",
    show_default=True,
    help="tree, grid, abilene, geant, synthetic, or a topohub key such as topozoo/Sprint.",
)
@click.option(
    "--nodes",
    type=click.IntRange(min=2),
    default=None,
    help="Total number of nodes, cloud included (default depends on the topology).",
)
@click.option("--models", type=click.IntRange(min=1), default=10, show_default=True)
@click.option(
    "--requests",
    "request_classes",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Number of request classes (task, ingress).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--zipf",
    type=click.FloatRange(min=0),
    default=0.8,
    show_default=True,
    help="Exponent of the Zipf task popularity.",
)
@click.option(
    "--alpha",
    type=click.FloatRange(min=0),
    default=200.0,
    show_default=True,
    help="ms of cost per unit of accuracy lost.",
)
@click.option(
    "--budget-scale",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Multiplies every node's model-memory budget.",
)
@click.option(
    "--capacity",
    type=click.Choice(["per_request", "shared"]),
    default="per_request",
    show_default=True,
)
@click.option(
    "--profile",
    "profile_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Profile file giving the cloud hardware's latencies (referred to, not copied).",
)
@click.option(
    "--profile-hardware",
    default="h100",
    show_default=True,
    help="Hardware name taken from --profile.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here (atomically) instead of standard output; .json writes JSON.",
)
def generate_idn_command(
    topology: str,
    nodes: int | None,
    models: int,
    request_classes: int,
    seed: int,
    zipf: float,
    alpha: float,
    budget_scale: float,
    capacity: str,
    profile_file: Path | None,
    profile_hardware: str,
    output: Path | None,
) -> None:
    """Generate an IDN instance: tiered topology, H100-profiled models, Zipf requests."""
    from idnopt.documents import Document
    from idnopt.generators import (
        generate_idn,
        instance_to_dict,
        instance_to_text,
        refer_to_profile,
        write_instance,
    )
    from idnopt.loading import validate_document

    instance = generate_idn(
        topology,
        nodes=nodes,
        models=models,
        request_classes=request_classes,
        seed=seed,
        zipf=zipf,
        alpha=alpha,
        budget_scale=budget_scale,
        capacity=capacity,
    )
    data = instance_to_dict(instance)
    folder = output.parent if output is not None else Path(".")
    if profile_file is not None:
        if not profile_file.is_file():
            raise InputError("profile file not found", path=profile_file)
        relative = Path(os.path.relpath(profile_file.resolve(), folder.resolve()))
        data = refer_to_profile(data, relative, hardware=profile_hardware, base=folder)
        validate_document(Document(path=folder / "<generated>", data=data, lines={}))
    arguments = [
        "--topology",
        topology,
        "--nodes",
        str(len(instance.nodes)),
        "--models",
        str(models),
        "--requests",
        str(request_classes),
        "--seed",
        str(seed),
    ]
    for flag, value, default in (
        ("--zipf", zipf, 0.8),
        ("--alpha", alpha, 200.0),
        ("--budget-scale", budget_scale, 1.0),
    ):
        if value != default:
            arguments += [flag, f"{value:g}"]
    if capacity != "per_request":
        arguments += ["--capacity", capacity]
    if profile_file is not None:
        arguments += ["--profile", str(profile_file)]
        if profile_hardware != "h100":
            arguments += ["--profile-hardware", profile_hardware]
    if output is not None:
        arguments += ["-o", str(output)]
    lines = [
        f"Generated IDN instance: {instance.description}.",
        "Models: torchvision classifiers measured on an NVIDIA H100 (idnopt/data/idn_models.json);",
        "latency on t4, orin and orin-nano derived as in idnopt.generators.HARDWARE_SPEED.",
    ]
    if profile_file is not None:
        lines.append(
            f"Latencies on {profile_hardware} of the profiled models come from the profile file."
        )
    lines += ["Regenerate with:", f"  idnopt generate idn {shlex.join(arguments)}"]
    header = "\n".join(lines)
    if output is None:
        click.echo(instance_to_text(data, header=header), nl=False)
        return
    write_instance(data, output, header=header)
    click.echo(
        f"wrote {output}: {len(instance.nodes)} nodes, {len(instance.links)} links, "
        f"{len(instance.models)} models, {len(instance.requests)} request classes",
        err=True,
    )


@generate_command.command("jellybean")
@click.option("--operators", type=click.IntRange(min=1), default=3, show_default=True)
@click.option(
    "--variants", type=click.IntRange(min=1), default=3, show_default=True, help="Per operator."
)
@click.option("--workers", type=click.IntRange(min=1), default=6, show_default=True)
@click.option(
    "--tiers",
    type=click.IntRange(min=1, max=3),
    default=2,
    show_default=True,
    help="1: cloud; 2: edge < cloud; 3: device < edge < cloud.",
)
@click.option(
    "--rows",
    type=click.IntRange(min=1),
    default=None,
    help="Rows of the accuracy table (default: every combination when there are few).",
)
@click.option("--sources", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--worker-types",
    type=click.IntRange(min=1),
    default=None,
    help="Draw the workers from this many machine types (entries with a count); "
    "default: every worker distinct.",
)
@click.option(
    "--target",
    type=click.FloatRange(min=0, max=1),
    default=None,
    help="Accuracy target (default: the table's 40th percentile).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here (atomically) instead of standard output; .json writes JSON.",
)
def generate_jellybean_command(
    operators: int,
    variants: int,
    workers: int,
    tiers: int,
    rows: int | None,
    sources: int,
    worker_types: int | None,
    target: float | None,
    seed: int,
    output: Path | None,
) -> None:
    """Generate a JellyBean workflow: random DAG, variants, tiered workers, accuracy table."""
    from idnopt.formulations.jellybean import random_instance
    from idnopt.generators import instance_to_text, write_instance

    instance = random_instance(
        seed,
        operators=operators,
        variants=variants,
        workers=workers,
        tiers=tiers,
        rows=rows,
        sources=sources,
        worker_types=worker_types,
        target=target,
    )
    data = {"kind": "jellybean", **instance.model_dump(mode="json", exclude_defaults=True)}
    arguments = [
        "--operators",
        str(operators),
        "--variants",
        str(variants),
        "--workers",
        str(workers),
        "--tiers",
        str(tiers),
        "--seed",
        str(seed),
    ]
    for flag, value in (
        ("--rows", rows),
        ("--worker-types", worker_types),
        ("--target", target),
    ):
        if value is not None:
            arguments += [flag, f"{value:g}"]
    if sources != 1:
        arguments += ["--sources", str(sources)]
    if output is not None:
        arguments += ["-o", str(output)]
    header = "\n".join(
        [
            "Generated JellyBean instance (random workflow; illustrative numbers).",
            "Regenerate with:",
            f"  idnopt generate jellybean {shlex.join(arguments)}",
        ]
    )
    if output is None:
        click.echo(instance_to_text(data, header=header), nl=False)
        return
    write_instance(data, output, header=header)
    click.echo(
        f"wrote {output}: {len(instance.operators)} operators, {len(instance.workers)} "
        f"worker entries, {len(instance.accuracy.rows or [])} accuracy rows",
        err=True,
    )
