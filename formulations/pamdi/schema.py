"""The PA-MDI instance schema: devices, links, layer chains, data sources, and their checks.

An instance names the devices (compute speed relative to the hardware the
layers were profiled on, optional weight memory), the links between them
(latency, bandwidth; several hops allowed), the models as chains of layers
(per-layer compute time and output size, inline or from a per-layer profile
by model and hardware name) and the data sources (device, model, arrival rate,
priority weight). ``queueing`` chooses the waiting model at the devices (see
:mod:`idnopt.formulations.pamdi.delay`).

Example::

    kind: pamdi
    profiles:
      h100-eager: {file: ../profiles/pamdi_layers.json}
    devices:
      - {name: xavier-1, speed: 0.1}
      - {name: xavier-2, speed: 0.1}
    links:
      - {source: xavier-1, target: xavier-2, latency: 2 ms, bandwidth: 20 Mbit/s}
    models:
      - {name: resnet50, layers: {profile: h100-eager}, input: 150 kB, result: 4 kB}
    sources:
      - {name: camera, device: xavier-1, model: resnet50, rate: 5 req/s, priority: 4}
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr

from idnopt.errors import InputError, format_location
from idnopt.instance import Instance, Name, Problem, Strict, duplicate_names, unknown_name
from idnopt.profiling.format import ProfileLookupError
from idnopt.profiling.references import (
    ProfileReference,
    load_profile_cached,
    resolve_profile_path,
)
from idnopt.units import MegabitsPerSecond, Megabytes, Milliseconds, RequestsPerSecond

WEIGHT_BYTES = 4
"""Bytes per parameter when a profiled layer's weight memory is derived (fp32)."""


class Layer(Strict):
    """One layer (block) of a chain.

    Attributes
    ----------
    name : str
        Block name, e.g. ``layer3.2``.
    time : float
        Compute time in ms on the reference hardware (a device of speed 1).
    output : float
        Size of the layer's output in MB: what crosses the network when the
        chain is cut after it.
    memory : float
        Weight memory in MB held by a device that runs the layer.
    """

    name: Annotated[str, Field(min_length=1)]
    time: Annotated[Milliseconds, Field(gt=0)]
    output: Annotated[Megabytes, Field(ge=0)]
    memory: Annotated[Megabytes, Field(ge=0)] = 0.0


class ProfiledLayers(Strict):
    """Layers taken from a per-layer profile.

    Attributes
    ----------
    profile : str
        Key of the instance's ``profiles`` section (file and hardware name).
    model : str, optional
        Model name in the profile (default: the model's own name).
    """

    profile: Name
    model: Name | None = None


class Model(Strict):
    """A model as a chain of layers.

    Attributes
    ----------
    name : str
        Model name referred to by sources.
    layers : list of Layer or ProfiledLayers
        The chain inline, or a reference to a per-layer profile.
    input : float
        Size in MB of a request's input, sent when the first layer runs away
        from the source's device.
    result : float, optional
        Size in MB of what returns to the source after the last layer
        (default: the last layer's output).
    time_scale : float
        Multiplies every layer time: expresses layers profiled on other hardware
        in the unit of the devices' speeds (e.g. a CPU profile next to GPU ones).
    """

    name: Name
    layers: list[Layer] | ProfiledLayers
    input: Annotated[Megabytes, Field(ge=0)]
    result: Annotated[Megabytes, Field(ge=0)] | None = None
    time_scale: Annotated[float, Field(gt=0)] = 1.0


class Device(Strict):
    """A device that computes layers.

    Attributes
    ----------
    name : str
        Device name.
    speed : float
        Compute speed relative to the hardware the layers were profiled on: a
        layer of time ``t`` takes ``t / speed`` ms here.
    memory : float, optional
        Weight memory in MB available to layers (unlimited when omitted).
    """

    name: Name
    speed: Annotated[float, Field(gt=0)] = 1.0
    memory: Annotated[Megabytes, Field(ge=0)] | None = None


class Link(Strict):
    """A network link; data crosses it in ``latency + size / bandwidth``."""

    source: Name
    target: Name
    latency: Annotated[Milliseconds, Field(ge=0)]
    bandwidth: Annotated[MegabitsPerSecond, Field(gt=0)]
    directed: bool = False


class Source(Strict):
    """A data source: requests for one model arrive at one device.

    Attributes
    ----------
    name : str
        Source name.
    device : str
        Device where requests arrive and where results return.
    model : str
        Model every request runs.
    rate : float
        Mean arrival rate in requests/s (Poisson arrivals).
    priority : float
        Priority weight: the weight of the source's requests in the objective
        and, at the devices, the order of service (higher first).
    label : str, optional
        Name of the source's class in tables (e.g. ``time-sensitive``).
    """

    name: Name
    device: Name
    model: Name
    rate: Annotated[RequestsPerSecond, Field(gt=0)]
    priority: Annotated[float, Field(gt=0)] = 1.0
    label: str | None = None


class PamdiInstance(Instance):
    """A priority-aware model-distributed inference instance.

    Attributes
    ----------
    devices, links, models, sources
        See :class:`Device`, :class:`Link`, :class:`Model`, :class:`Source`.
    profiles : dict of str to ProfileReference
        Profile files that layer lists refer to, by key.
    queueing : {"priority", "fifo"}
        Waiting model at the devices: non-preemptive priority M/G/1 (Cobham)
        or first-come first-served M/G/1 (Pollaczek-Khinchine).
    compute_cv : float
        Coefficient of variation of a segment's compute time (0: deterministic).
    max_load : float
        Largest utilisation allowed at a device (strictly below 1).
    """

    kind: Literal["pamdi"]
    devices: list[Device] = Field(min_length=1)
    links: list[Link] = Field(default_factory=list)
    models: list[Model] = Field(min_length=1)
    sources: list[Source] = Field(min_length=1)
    profiles: dict[str, ProfileReference] = Field(default_factory=dict)
    queueing: Literal["priority", "fifo"] = "priority"
    compute_cv: Annotated[float, Field(ge=0)] = 0.0
    max_load: Annotated[float, Field(gt=0, lt=1)] = 0.95

    _layers: dict[str, tuple[Layer, ...]] | None = PrivateAttr(default=None)

    # -- views ------------------------------------------------------------------------
    def model_layers(self, model: str) -> tuple[Layer, ...]:
        """The layer chain of ``model`` (profiled chains once :meth:`resolve` ran).

        Raises
        ------
        InputError
            When the model's layers come from a profile that was not read yet.
        """
        spec = next(m for m in self.models if m.name == model)
        if isinstance(spec.layers, list):
            return tuple(spec.layers)
        if self._layers is None or model not in self._layers:
            raise InputError(
                f"the layers of model {model!r} come from a profile; load the instance "
                "with idnopt.load or idnopt.from_dict so that the profile is read"
            )
        return self._layers[model]

    # -- checks -----------------------------------------------------------------------
    def cross_check(self) -> list[Problem]:
        """Check names and references between devices, links, models and sources."""
        problems: list[Problem] = []
        problems += duplicate_names([d.name for d in self.devices], ("devices",), "device")
        problems += duplicate_names([m.name for m in self.models], ("models",), "model")
        problems += duplicate_names([s.name for s in self.sources], ("sources",), "source")
        devices = {device.name for device in self.devices}
        models = {model.name for model in self.models}
        seen_links: dict[tuple[str, str], int] = {}
        for index, link in enumerate(self.links):
            for end in ("source", "target"):
                name = getattr(link, end)
                if name not in devices:
                    problems.append((("links", index, end), unknown_name("device", name, devices)))
            if link.source == link.target:
                problems.append((("links", index), f"link from {link.source!r} to itself"))
            key = (link.source, link.target)
            if not link.directed:
                key = tuple(sorted(key))
            if key in seen_links:
                problems.append(
                    (
                        ("links", index),
                        f"second link {link.source}-{link.target} "
                        f"(first at links[{seen_links[key]}]); keep one per pair",
                    )
                )
            seen_links.setdefault(key, index)
        for index, model in enumerate(self.models):
            if isinstance(model.layers, ProfiledLayers):
                if model.layers.profile not in self.profiles:
                    problems.append(
                        (
                            ("models", index, "layers", "profile"),
                            unknown_name(
                                "profile",
                                model.layers.profile,
                                self.profiles,
                                extra=" (add it to the 'profiles' section)",
                            ),
                        )
                    )
            elif not model.layers:
                problems.append((("models", index, "layers"), "a model needs at least one layer"))
        for index, source in enumerate(self.sources):
            if source.device not in devices:
                problems.append(
                    (("sources", index, "device"), unknown_name("device", source.device, devices))
                )
            if source.model not in models:
                problems.append(
                    (("sources", index, "model"), unknown_name("model", source.model, models))
                )
        return problems

    def resolve(self, base: Path | None) -> PamdiInstance:
        """Read the layer chains that come from profiles.

        Parameters
        ----------
        base : Path, optional
            Folder that relative profile paths are relative to.

        Returns
        -------
        PamdiInstance
            A copy whose :meth:`model_layers` answers for every model.

        Raises
        ------
        InputError
            Located at the model or profile entry when a file, hardware, model or
            layer profile is missing.
        """
        layers: dict[str, tuple[Layer, ...]] = {}
        for index, model in enumerate(self.models):
            if isinstance(model.layers, list):
                continue
            key = model.layers.profile
            reference = self.profiles[key]
            path = resolve_profile_path(reference.file, base)
            if not path.exists():
                raise InputError(
                    f"profile file {reference.file!r} not found (looked in {path.parent})",
                    location=f"profiles.{key}.file",
                )
            profile = load_profile_cached(path)
            hardware = reference.hardware or key
            name = model.layers.model or model.name
            try:
                blocks = profile.layers(hardware, name, reference.precision, reference.batch)
            except ProfileLookupError as error:
                raise InputError(
                    f"{error} (profile {reference.file})",
                    location=format_location(("models", index, "layers")),
                ) from None
            layers[model.name] = tuple(
                Layer(
                    name=block.name,
                    time=block.latency_ms,
                    output=block.output_bytes / 1e6,
                    memory=(block.params or 0) * WEIGHT_BYTES / 1e6,
                )
                for block in blocks
            )
        resolved = self.model_copy()
        resolved._layers = layers
        return resolved


def instance_to_dict(instance: PamdiInstance) -> dict:
    """Plain data of an instance, as written in a file (quantities in base units).

    Loading the result with :func:`idnopt.from_dict` (from the same folder, for
    profile references) gives back an equal instance.

    Parameters
    ----------
    instance : PamdiInstance
        A validated instance.

    Returns
    -------
    dict
        Keys in reading order: kind, name, description, queueing, compute_cv,
        max_load, profiles, devices, links, models, sources.
    """
    data: dict = {"kind": instance.kind}
    for key in ("name", "description"):
        if getattr(instance, key) is not None:
            data[key] = getattr(instance, key)
    data["queueing"] = instance.queueing
    data["compute_cv"] = float(instance.compute_cv)
    data["max_load"] = float(instance.max_load)
    if instance.profiles:
        data["profiles"] = {
            key: reference.model_dump(mode="json", exclude_defaults=True)
            for key, reference in instance.profiles.items()
        }
    for field in ("devices", "links", "models", "sources"):
        data[field] = [
            item.model_dump(mode="json", exclude_defaults=True) for item in getattr(instance, field)
        ]
    return data
