"""Glue between instance files and profile files.

An instance's ``profiles`` section maps a hardware name used by its nodes to an
entry of a profile file (see :mod:`idnopt.profiling.format`)::

    profiles:
      h100: {file: ../profiles/h100.json}            # hardware 'h100' in that file
      h100-half: {file: ../profiles/h100.json, hardware: h100, precision: fp16}

Every model of the catalog then gets, for each such hardware name, the
profiled latency and throughput unless the instance gives them inline; its
memory footprint and accuracy are taken from the first profile that has the
model when the instance leaves them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from idnopt.errors import InputError


def resolve_models(models: Sequence, profiles: Mapping, base: Path | None) -> list:
    """Fill models' per-hardware numbers from profile files.

    Parameters
    ----------
    models : sequence of idnopt.instance.Model
        The catalog as written in the instance.
    profiles : mapping of str to idnopt.instance.ProfileSource
        Hardware name to profile entry.
    base : Path, optional
        Folder that relative profile paths are resolved against.

    Returns
    -------
    list of idnopt.instance.Model
        New model objects with the profiled values added.

    Raises
    ------
    InputError
        When a profile file cannot be read or does not have the requested hardware.
    """
    from idnopt.profiling.format import load_profile

    loaded = {}
    sources = {}
    for hardware, source in profiles.items():
        path = Path(source.file)
        if not path.is_absolute() and base is not None:
            path = base / path
        key = str(path.resolve()) if path.exists() else str(path)
        if key not in loaded:
            if not path.exists():
                raise InputError(
                    f"profile file {source.file!r} not found (looked in {path.parent})",
                    location=f"profiles.{hardware}.file",
                )
            loaded[key] = load_profile(path)
        profile = loaded[key]
        name_in_file = source.hardware or hardware
        if name_in_file not in profile.hardware_names():
            raise InputError(
                f"profile {source.file!r} has no hardware {name_in_file!r} "
                f"(it has {', '.join(profile.hardware_names())})",
                location=f"profiles.{hardware}.hardware",
            )
        sources[hardware] = (profile, name_in_file, source)

    resolved = []
    for model in models:
        latency = dict(model.latency)
        throughput = dict(model.throughput)
        memory, accuracy = model.memory, model.accuracy
        for hardware, (profile, name_in_file, source) in sources.items():
            try:
                figures = profile.lookup(name_in_file, model.name, source.batch, source.precision)
            except KeyError:
                continue
            if hardware not in latency and hardware not in throughput:
                latency[hardware] = figures.latency_ms
                throughput[hardware] = figures.throughput_rps
            if memory is None and figures.memory_mb:
                memory = figures.memory_mb
            if accuracy is None and figures.accuracy is not None:
                accuracy = figures.accuracy
        resolved.append(
            model.model_copy(
                update={
                    "latency": latency,
                    "throughput": throughput,
                    "memory": memory,
                    "accuracy": accuracy,
                }
            )
        )
    return resolved
