"""How instance files refer to profiles instead of repeating numbers inline.

An instance's ``profiles`` section maps a hardware name used by its nodes to
an entry of a profile file (relative to the instance file)::

    profiles:
      h100: {file: ../profiles/h100.json}            # hardware 'h100' in that file
      h100-half: {file: ../profiles/h100.json, hardware: h100, precision: fp16}

Every model of the catalog then gets, for each such hardware name, the
profiled latency and throughput unless the instance gives them inline
(:func:`resolve_models`); its memory footprint and accuracy are taken from the
first profile that has the model when the instance leaves them out.

:class:`ProfileReference` is one entry; :func:`resolve_figures` turns it and a
model name into :class:`~idnopt.profiling.format.ModelFigures`, raising an
:class:`~idnopt.errors.InputError` located in the instance (via the ``where``
callback) when the file, hardware, model or measurement is missing. Profiles
are cached per resolved path and modification time, so many references to one
file read it once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from idnopt.errors import InputError
from idnopt.profiling.format import (
    ModelFigures,
    Precision,
    Profile,
    ProfileLookupError,
    load_profile,
)


class ProfileReference(BaseModel):
    """A pointer from an instance to figures in a profile file.

    Attributes
    ----------
    file : str
        Profile path, relative to the referring file's folder unless absolute.
    hardware : str, optional
        Hardware entry in the profile, e.g. ``h100``; in an instance's
        ``profiles`` section it defaults to the entry's own key.
    batch : int, default 1
        Batch size whose measurement is used.
    precision : {"fp32", "fp16", "bf16"}, default "fp32"
        Precision whose measurement is used.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(min_length=1)
    hardware: str | None = Field(default=None, min_length=1)
    batch: PositiveInt = 1
    precision: Precision = "fp32"


def resolve_profile_path(file: str | Path, base_dir: str | Path | None = None) -> Path:
    """Return ``file`` resolved against ``base_dir`` (the referring file's folder)."""
    path = Path(file).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return path.resolve()


@functools.lru_cache(maxsize=64)
def _cached(path: Path, modified_ns: int) -> Profile:
    return load_profile(path)


def load_profile_cached(path: str | Path) -> Profile:
    """Load a profile once per path and modification time.

    Parameters
    ----------
    path : str or Path
        Profile file.

    Returns
    -------
    Profile
        The validated profile (shared between callers; it is immutable).

    Raises
    ------
    InputError
        If the file is missing or invalid.
    """
    resolved = Path(path).resolve()
    try:
        modified = resolved.stat().st_mtime_ns
    except OSError:
        return load_profile(resolved)  # raises the located "file not found" error
    return _cached(resolved, modified)


def resolve_figures(
    reference: ProfileReference,
    model: str,
    *,
    base_dir: str | Path | None = None,
    where: Callable[[str], InputError] | None = None,
) -> ModelFigures:
    """Look up a model's figures through a profile reference.

    Parameters
    ----------
    reference : ProfileReference
        File, hardware, batch size and precision.
    model : str
        Model name in the profile.
    base_dir : str or Path, optional
        Folder of the referring file, for relative profile paths.
    where : callable, optional
        Builds the error for a missing hardware/model/measurement, located in
        the referring document, e.g. ``lambda message: document.error(location,
        message)``; by default the error names the profile file.

    Returns
    -------
    ModelFigures
        Latency, throughput, memory, size and accuracy of the model.

    Raises
    ------
    InputError
        If the profile cannot be read or does not hold the figures.
    """
    if reference.hardware is None:
        raise ValueError("resolve_figures needs a reference that names its hardware")
    path = resolve_profile_path(reference.file, base_dir)
    profile = load_profile_cached(path)
    try:
        return profile.lookup(reference.hardware, model, reference.batch, reference.precision)
    except ProfileLookupError as error:
        message = f"{error} (profile {reference.file})"
        raise (where(message) if where is not None else InputError(str(error), path=path)) from None


def resolve_models(
    models: Sequence, profiles: Mapping[str, ProfileReference], base: Path | None
) -> list:
    """Fill models' per-hardware numbers from an instance's ``profiles`` section.

    Parameters
    ----------
    models : sequence of idnopt.instance.Model
        The catalog as written in the instance.
    profiles : mapping of str to ProfileReference
        Hardware name (as used by the instance's nodes) to profile entry.
    base : Path, optional
        Folder that relative profile paths are resolved against.

    Returns
    -------
    list of idnopt.instance.Model
        New model objects with the profiled values added.

    Raises
    ------
    InputError
        When a profile file cannot be read or does not have the requested
        hardware (located at ``profiles.<name>``).
    """
    sources = []
    for hardware, reference in profiles.items():
        path = resolve_profile_path(reference.file, base)
        if not path.exists():
            raise InputError(
                f"profile file {reference.file!r} not found (looked in {path.parent})",
                location=f"profiles.{hardware}.file",
            )
        profile = load_profile_cached(path)
        name_in_file = reference.hardware or hardware
        if name_in_file not in profile.hardware_names():
            raise InputError(
                f"profile {reference.file!r} has no hardware {name_in_file!r} "
                f"(it has {', '.join(profile.hardware_names())})",
                location=f"profiles.{hardware}.hardware",
            )
        sources.append((hardware, profile, name_in_file, reference))

    resolved = []
    for model in models:
        latency, throughput = dict(model.latency), dict(model.throughput)
        memory, accuracy = model.memory, model.accuracy
        for hardware, profile, name_in_file, reference in sources:
            try:
                figures = profile.lookup(
                    name_in_file, model.name, reference.batch, reference.precision
                )
            except ProfileLookupError:
                continue
            if hardware not in latency and hardware not in throughput:
                latency[hardware] = figures.latency_ms
                throughput[hardware] = figures.throughput_rps
            if memory is None and figures.memory_mb:
                memory = figures.memory_mb
            if accuracy is None and figures.accuracy is not None:
                accuracy = figures.accuracy
        update = {
            "latency": latency,
            "throughput": throughput,
            "memory": memory,
            "accuracy": accuracy,
        }
        resolved.append(model.model_copy(update=update))
    return resolved
