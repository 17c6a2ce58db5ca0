"""IDN instances as files: plain data, YAML/JSON text, atomic writes, profile references."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from idnopt.documents import document_text, write_document
from idnopt.errors import InputError
from idnopt.formulations.idn.catalog import CLOUD_HARDWARE
from idnopt.formulations.idn.schema import IdnInstance


def instance_to_dict(instance: IdnInstance) -> dict[str, Any]:
    """Plain data of an IDN instance, as it would be written in a file.

    Quantities are in base units (ms, MB, requests/s); fields at their default
    are left out (except ``tier``, ``alpha`` and ``capacity``, kept for
    readers). Loading the result (:func:`idnopt.from_dict`) gives back an equal
    instance.

    Parameters
    ----------
    instance : IdnInstance
        A validated instance.

    Returns
    -------
    dict
        Keys in reading order: kind, name, description, repository, alpha,
        capacity, repository_models, profiles, nodes, links, models, requests.
    """
    data: dict[str, Any] = {"kind": instance.kind}
    for key in ("name", "description"):
        if getattr(instance, key) is not None:
            data[key] = getattr(instance, key)
    data["repository"] = instance.repository
    data["alpha"] = float(instance.alpha)
    data["capacity"] = instance.capacity
    if instance.repository_models is not None:
        data["repository_models"] = list(instance.repository_models)
    if instance.profiles:
        data["profiles"] = {
            name: source.model_dump(mode="json", exclude_defaults=True)
            for name, source in instance.profiles.items()
        }

    def dump(item: Any) -> dict[str, Any]:
        return item.model_dump(mode="json", exclude_defaults=True)

    data["nodes"] = [{"name": n.name, "tier": n.tier, **dump(n)} for n in instance.nodes]
    data["links"] = [dump(link) for link in instance.links]
    data["models"] = [dump(model) for model in instance.models]
    data["requests"] = [dump(request) for request in instance.requests]
    return data


def instance_to_text(
    instance: IdnInstance | dict[str, Any], *, header: str | None = None, fmt: str = "yaml"
) -> str:
    """Serialise an instance (or its :func:`instance_to_dict` data) as YAML or JSON.

    See :func:`idnopt.documents.document_text` for ``header`` and ``fmt``.
    """
    data = instance if isinstance(instance, dict) else instance_to_dict(instance)
    return document_text(data, header=header, fmt=fmt)


def write_instance(
    instance: IdnInstance | dict[str, Any], path: str | Path, *, header: str | None = None
) -> Path:
    """Write an instance atomically as YAML (or JSON for a ``.json`` path).

    See :func:`idnopt.documents.write_document`.
    """
    data = instance if isinstance(instance, dict) else instance_to_dict(instance)
    return write_document(data, path, header=header)


def refer_to_profile(
    data: dict[str, Any],
    profile_file: str | Path,
    *,
    hardware: str = CLOUD_HARDWARE,
    base: str | Path | None = None,
) -> dict[str, Any]:
    """Take one hardware's model latencies from a profile file instead of inline numbers.

    Every model the profile has on ``hardware`` (batch 1, fp32) loses its inline
    latency and throughput for that hardware; the instance gains a
    ``profiles`` entry pointing at the file. Other models keep their numbers.

    Parameters
    ----------
    data : dict
        Instance data (from :func:`instance_to_dict`); not modified.
    profile_file : str or Path
        Path written into the instance (relative paths are relative to ``base``).
    hardware : str
        Hardware name used by the instance's nodes and present in the profile.
    base : str or Path, optional
        Folder of the instance file, to find a relative ``profile_file``.

    Returns
    -------
    dict
        New instance data.

    Raises
    ------
    InputError
        When the profile cannot be read or lacks the hardware.
    """
    from idnopt.profiling.format import load_profile

    location = Path(profile_file)
    if not location.is_absolute() and base is not None:
        location = Path(base) / location
    if not location.exists():
        raise InputError("profile file not found", path=location)
    profile = load_profile(location)
    if hardware not in profile.hardware_names():
        raise InputError(
            f"profile has no hardware {hardware!r} (it has {', '.join(profile.hardware_names())})",
            path=location,
        )
    covered = set()
    for name in profile.model_names(hardware):
        try:
            profile.lookup(hardware, name, 1, "fp32")
        except KeyError:
            continue
        covered.add(name)
    data = json.loads(json.dumps(data))
    for model in data["models"]:
        if model["name"] in covered:
            for field in ("latency", "throughput"):
                values = model.get(field, {})
                values.pop(hardware, None)
                if field in model and not values:
                    del model[field]
    profiles = dict(data.get("profiles", {}))
    profiles[hardware] = {"file": Path(profile_file).as_posix()}
    data = {key: value for key, value in data.items() if key != "profiles"}
    ordered: dict[str, Any] = {}
    for key, value in data.items():
        if key == "nodes":
            ordered["profiles"] = profiles
        ordered[key] = value
    return ordered
