"""A whole profile document and what its lookups return.

:class:`Profile` is the validated document (format header, hardware entries);
:meth:`Profile.lookup` and :meth:`Profile.layers` turn its entries into the
plain :class:`ModelFigures` and :class:`BlockFigures` that instances use, and
raise :class:`ProfileLookupError` naming what the profile does hold. The
entries themselves are defined in :mod:`~idnopt.profiling.schema`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from idnopt.profiling.schema import (
    PROFILE_FORMAT,
    PROFILE_VERSION,
    STRICT,
    Hardware,
    ModelProfile,
    Name,
    merge_models,
)


@dataclass(frozen=True, slots=True)
class ModelFigures:
    """The figures an instance needs for one model on one piece of hardware.

    Attributes
    ----------
    latency_ms, p95_ms, min_ms : float
        Median, 95th percentile and minimum latency of one batch.
    throughput_rps : float
        Requests per second, ``batch * 1000 / latency_ms``.
    memory_mb : float or None
        Peak memory of a forward pass when measured, otherwise the file size.
    file_mb : float or None
        Size of the fp32 weight file.
    accuracy : float or None
        Top-1 accuracy as a fraction in [0, 1].
    params : int or None
        Number of parameters.
    gflops : float or None
        Giga floating-point operations per sample.
    batch : int
        Batch size of the measurement.
    precision : str
        ``fp32``, ``fp16`` or ``bf16``.
    hardware, model : str
        Where the figures come from.
    method : str
        Timing method of the measurement.
    """

    latency_ms: float
    p95_ms: float
    min_ms: float
    throughput_rps: float
    memory_mb: float | None
    file_mb: float | None
    accuracy: float | None
    params: int | None
    gflops: float | None
    batch: int
    precision: str
    hardware: str = ""
    model: str = ""
    method: str = ""


@dataclass(frozen=True, slots=True)
class BlockFigures:
    """Latency and output size of one block of a split model.

    Attributes
    ----------
    name : str
        Block name (a module path such as ``layer3.2``, or ``stem``/``head``).
    latency_ms, p95_ms, min_ms : float
        Median, 95th percentile and minimum latency of the block alone.
    output_bytes : int
        Size of the block's output, i.e. what is sent when the model is split after it.
    output_shape : tuple of int or None
        Shape of the block's output.
    params : int or None
        Parameters held by the block.
    """

    name: str
    latency_ms: float
    p95_ms: float
    min_ms: float
    output_bytes: int
    output_shape: tuple[int, ...] | None
    params: int | None


class ProfileLookupError(KeyError):
    """A hardware, model or measurement is not in a profile (message lists what is)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _listing(items: Iterable[str]) -> str:
    items = list(items)
    return ", ".join(items) if items else "none"


class Profile(BaseModel):
    """A profile document: measured figures per hardware and model.

    Examples
    --------
    >>> from idnopt.profiling import load_profile
    >>> profile = load_profile("instances/profiles/h100.json")  # doctest: +SKIP
    >>> profile.lookup("h100", "resnet50", batch=1, precision="fp16").latency_ms  # doctest: +SKIP
    1.03
    """

    model_config = STRICT

    format: Literal["idnopt-profile"] = PROFILE_FORMAT
    version: Literal[1] = PROFILE_VERSION
    created: str | None = None
    source: str | None = None
    hardware: dict[Name, Hardware] = Field(min_length=1)

    def hardware_names(self) -> list[str]:
        """Return the hardware names in file order."""
        return list(self.hardware)

    def model_names(self, hardware: str) -> list[str]:
        """Return the model names profiled on ``hardware``."""
        return list(self._hardware(hardware).models)

    def _hardware(self, hardware: str) -> Hardware:
        try:
            return self.hardware[hardware]
        except KeyError:
            raise ProfileLookupError(
                f"no hardware {hardware!r} in the profile; available: {_listing(self.hardware)}"
            ) from None

    def _model(self, hardware: str, model: str) -> ModelProfile:
        entry = self._hardware(hardware)
        try:
            return entry.models[model]
        except KeyError:
            raise ProfileLookupError(
                f"no model {model!r} on hardware {hardware!r}; available: {_listing(entry.models)}"
            ) from None

    def lookup(
        self, hardware: str, model: str, batch: int = 1, precision: str = "fp32"
    ) -> ModelFigures:
        """Return the figures of ``model`` on ``hardware`` at a batch size and precision.

        Parameters
        ----------
        hardware : str
            Hardware name, one of :meth:`hardware_names`.
        model : str
            Model name as profiled (e.g. ``resnet50``).
        batch : int, default 1
            Batch size of the measurement.
        precision : {"fp32", "fp16", "bf16"}, default "fp32"
            Numeric precision of the measurement.

        Returns
        -------
        ModelFigures
            Latencies, throughput, memory, size, accuracy and cost of the model.

        Raises
        ------
        ProfileLookupError
            A ``KeyError`` whose message lists the hardware, models or
            (batch, precision) pairs that the profile does hold.
        """
        entry = self._model(hardware, model)
        measured = entry.measurement(batch, precision)
        if measured is None:
            pairs = [f"batch {m.batch} {m.precision}" for m in entry.measurements]
            raise ProfileLookupError(
                f"no measurement of {model!r} on {hardware!r} at batch {batch}, precision "
                f"{precision}; available: {_listing(pairs)}"
            )
        memory = measured.peak_memory_mb if measured.peak_memory_mb is not None else entry.file_mb
        return ModelFigures(
            latency_ms=measured.median_ms,
            p95_ms=measured.p95_ms,
            min_ms=measured.min_ms,
            throughput_rps=measured.throughput_rps,
            memory_mb=memory,
            file_mb=entry.file_mb,
            accuracy=entry.accuracy,
            params=entry.params,
            gflops=entry.gflops,
            batch=measured.batch,
            precision=measured.precision,
            hardware=hardware,
            model=model,
            method=measured.method or self.hardware[hardware].method,
        )

    def layers(
        self, hardware: str, model: str, precision: str = "fp32", batch: int = 1
    ) -> list[BlockFigures]:
        """Return the per-block profile of ``model`` on ``hardware``, in execution order.

        Parameters
        ----------
        hardware, model : str
            Where to look.
        precision : {"fp32", "fp16", "bf16"}, default "fp32"
            Precision of the layer profile.
        batch : int, default 1
            Batch size of the layer profile.

        Returns
        -------
        list of BlockFigures
            One entry per block: name, latency and output size.

        Raises
        ------
        ProfileLookupError
            If there is no such layer profile (the message lists those there are).
        """
        entry = self._model(hardware, model)
        layer_profile = entry.layer_profile(batch, precision)
        if layer_profile is None:
            pairs = [f"batch {p.batch} {p.precision}" for p in entry.layers]
            raise ProfileLookupError(
                f"no layer profile of {model!r} on {hardware!r} at batch {batch}, precision "
                f"{precision}; available: {_listing(pairs)}"
            )
        return [
            BlockFigures(
                name=block.name,
                latency_ms=block.median_ms,
                p95_ms=block.p95_ms,
                min_ms=block.min_ms,
                output_bytes=block.output_bytes,
                output_shape=None if block.output_shape is None else tuple(block.output_shape),
                params=block.params,
            )
            for block in layer_profile.blocks
        ]

    def merged(self, other: Profile) -> Profile:
        """Return this profile updated with ``other``.

        Hardware and models of ``other`` are added; for a hardware present in
        both, ``other``'s device description wins, and its measurements and
        layer profiles replace those with the same (batch, precision).
        """
        hardware = dict(self.hardware)
        for name, incoming in other.hardware.items():
            current = hardware.get(name)
            if current is None:
                hardware[name] = incoming
                continue
            models = dict(current.models)
            for model_name, new_model in incoming.models.items():
                old_model = models.get(model_name)
                models[model_name] = (
                    new_model if old_model is None else merge_models(old_model, new_model)
                )
            notes = list(dict.fromkeys([*current.notes, *incoming.notes]))
            hardware[name] = incoming.model_copy(update={"models": models, "notes": notes})
        return Profile(
            created=other.created or self.created,
            source=other.source or self.source,
            hardware=hardware,
        )

    def to_json(self) -> str:
        """Serialise to the JSON text written by :func:`~idnopt.profiling.format.save_profile`."""
        data = self.model_dump(mode="json", exclude_none=True)
        return json.dumps(data, indent=1, allow_nan=False) + "\n"


def profile_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of the profile format (for editors and ``idnopt schema``)."""
    return Profile.model_json_schema()
