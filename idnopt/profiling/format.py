"""The versioned JSON profile format: schema, validation, loading and saving.

A profile file holds measured inference figures for models on named pieces of
hardware. It is written by ``idnopt profile`` (or :func:`save_profile`) and read
by instances, which refer to a profile file and a hardware name instead of
repeating numbers inline. This module imports neither torch nor torchvision.

Schema (version 1)
------------------
Units: time in milliseconds (``*_ms``), sizes in MB where MB means 2**20 bytes
(the convention of torchvision's ``_file_size``), ``output_bytes`` in bytes,
accuracy as a fraction in [0, 1]. Unknown fields are rejected.

.. code-block:: text

    {
      "format": "idnopt-profile",            # required, exactly this string
      "version": 1,                          # required; newer versions are refused
      "created": "2025-01-31T12:00:00Z",     # optional, ISO 8601
      "source": "free text",                 # optional: how the file was made
      "hardware": {                          # at least one entry
        "<hardware name>": {                 # letters, digits and _ . + -
          "device": "NVIDIA H100 80GB HBM3", # what the figures were measured on
          "kind": "gpu" | "cpu",
          "method": "cuda-graph" | "cuda-events" | "wall-clock",   # default timing method
          "environment": {"torch": "2.11.0", "threads": 16, ...},  # scalar values only
          "notes": ["..."],
          "models": {                        # at least one entry
            "<model name>": {
              "weights": "ResNet50_Weights.IMAGENET1K_V2",  # optional
              "accuracy": 0.80858,           # optional, top-1 fraction
              "params": 25557032,            # optional
              "gflops": 4.089,               # optional, per sample at the native resolution
              "file_mb": 97.79,              # optional, fp32 weight file size
              "input_shape": [3, 224, 224],  # optional, one sample
              "measurements": [              # unique (batch, precision)
                {"batch": 1, "precision": "fp32" | "fp16" | "bf16",
                 "median_ms": 0.92, "p95_ms": 0.93, "min_ms": 0.91,
                 "mean_ms": ..., "std_ms": ..., "median_ci_ms": [lo, hi],
                 "repetitions": 50, "warmup": 5, "stopped_early": false,
                 "peak_memory_mb": 150.2, "method": "cuda-graph", "note": "..."}
              ],
              "layers": [                    # per-block profiles, unique (batch, precision)
                {"batch": 1, "precision": "fp32", "method": "cuda-events",
                 "granularity": "stem + 16 bottleneck blocks + head",
                 "total_ms": 4.1,            # whole model, timed the same way
                 "chain_ms": 4.2,            # median of the per-repetition block sums
                 "blocks": [{"name": "stem", "median_ms": ..., "p95_ms": ...,
                             "min_ms": ..., "output_shape": [1, 64, 56, 56],
                             "output_bytes": 802816, "params": 9536}]}
              ]
            }
          }
        }
      }
    }

The sum of the block medians estimates the whole model's time when the
machine is quiet; under interference from other processes medians of short
blocks are not additive (a long call is interrupted more often than a short
one), while ``chain_ms`` - the median of per-repetition sums - stays comparable
with ``total_ms``.

Every model needs at least one measurement or one layer profile. Within a
measurement ``min_ms <= median_ms <= p95_ms``. A measurement's ``method``
overrides the hardware's (e.g. an eager fallback when CUDA-graph capture
failed). :func:`profile_json_schema` returns the JSON Schema for editors.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    StringConstraints,
    ValidationError,
    model_validator,
)

from idnopt.documents import Document, read_document, write_atomic
from idnopt.errors import InputError

PROFILE_FORMAT = "idnopt-profile"
PROFILE_VERSION = 1

Precision = Literal["fp32", "fp16", "bf16"]
"""Numeric precision of weights and activations during a measurement."""

Method = Literal["cuda-graph", "cuda-events", "wall-clock"]
"""How a latency was timed: CUDA-graph replay or eager launches between CUDA
events on a GPU, ``time.perf_counter`` around each call on a CPU."""

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+\-]*$")]

_RELATIVE_SLACK = 1e-9
_STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _ordered(low: float, middle: float, high: float) -> bool:
    """Return whether ``low <= middle <= high`` up to rounding."""
    slack = _RELATIVE_SLACK * max(abs(high), 1.0)
    return low <= middle + slack and middle <= high + slack


class Measurement(BaseModel):
    """Whole-model latency at one batch size and precision."""

    model_config = _STRICT

    batch: PositiveInt
    precision: Precision = "fp32"
    median_ms: PositiveFloat
    p95_ms: PositiveFloat
    min_ms: PositiveFloat
    mean_ms: PositiveFloat | None = None
    std_ms: NonNegativeFloat | None = None
    median_ci_ms: tuple[PositiveFloat, PositiveFloat] | None = Field(
        default=None, description="distribution-free 95 % confidence interval of the median"
    )
    repetitions: PositiveInt | None = None
    warmup: NonNegativeInt | None = None
    stopped_early: bool | None = Field(
        default=None, description="true when the median was stable before the repetition cap"
    )
    peak_memory_mb: PositiveFloat | None = None
    method: Method | None = Field(default=None, description="overrides the hardware's method")
    note: str | None = None

    @model_validator(mode="after")
    def _check_order(self) -> Measurement:
        if not _ordered(self.min_ms, self.median_ms, self.p95_ms):
            raise ValueError(
                f"expected min_ms <= median_ms <= p95_ms, got {self.min_ms:g}, "
                f"{self.median_ms:g}, {self.p95_ms:g}"
            )
        if self.median_ci_ms is not None:
            low, high = self.median_ci_ms
            if not _ordered(low, self.median_ms, high):
                raise ValueError(
                    f"median_ci_ms [{low:g}, {high:g}] does not contain median_ms "
                    f"{self.median_ms:g}"
                )
        return self

    @property
    def throughput_rps(self) -> float:
        """Requests per second sustained at this batch size (batch * 1000 / median)."""
        return self.batch * 1000.0 / self.median_ms


class Block(BaseModel):
    """One block of a model split for distributed inference."""

    model_config = _STRICT

    name: Annotated[str, StringConstraints(min_length=1)]
    median_ms: PositiveFloat
    p95_ms: PositiveFloat
    min_ms: PositiveFloat
    output_shape: list[NonNegativeInt] | None = None
    output_bytes: NonNegativeInt
    params: NonNegativeInt | None = None

    @model_validator(mode="after")
    def _check_order(self) -> Block:
        if not _ordered(self.min_ms, self.median_ms, self.p95_ms):
            raise ValueError(
                f"expected min_ms <= median_ms <= p95_ms, got {self.min_ms:g}, "
                f"{self.median_ms:g}, {self.p95_ms:g}"
            )
        return self


class LayerProfile(BaseModel):
    """Per-block latencies and output sizes of one model at one batch and precision."""

    model_config = _STRICT

    batch: PositiveInt = 1
    precision: Precision = "fp32"
    method: Method | None = None
    granularity: str | None = None
    total_ms: PositiveFloat | None = Field(
        default=None, description="whole-model median timed the same way as the blocks"
    )
    chain_ms: PositiveFloat | None = Field(
        default=None,
        description="median over repetitions of the blocks' summed time (blocks run in turn)",
    )
    blocks: list[Block] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_unique_names(self) -> LayerProfile:
        names = [block.name for block in self.blocks]
        seen: dict[str, int] = {}
        for index, name in enumerate(names):
            if name in seen:
                raise ValueError(
                    f"blocks[{index}] repeats the name {name!r} of blocks[{seen[name]}]"
                )
            seen[name] = index
        return self

    @property
    def sum_ms(self) -> float:
        """Sum of the block medians."""
        return float(sum(block.median_ms for block in self.blocks))


def _first_duplicate(keys: Iterable[tuple[int, str]]) -> tuple[int, int, tuple] | None:
    seen: dict[tuple[int, str], int] = {}
    for index, key in enumerate(keys):
        if key in seen:
            return seen[key], index, key
        seen[key] = index
    return None


class ModelProfile(BaseModel):
    """Everything measured or known about one model on one piece of hardware."""

    model_config = _STRICT

    weights: str | None = Field(default=None, description="torchvision weights enum member")
    accuracy: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    params: NonNegativeInt | None = None
    gflops: NonNegativeFloat | None = None
    file_mb: NonNegativeFloat | None = None
    input_shape: list[PositiveInt] | None = None
    measurements: list[Measurement] = Field(default_factory=list)
    layers: list[LayerProfile] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_keys(self) -> ModelProfile:
        if not self.measurements and not self.layers:
            raise ValueError("needs at least one entry in measurements or layers")
        for field in ("measurements", "layers"):
            entries = getattr(self, field)
            duplicate = _first_duplicate((entry.batch, entry.precision) for entry in entries)
            if duplicate is not None:
                first, second, (batch, precision) = duplicate
                raise ValueError(
                    f"{field}[{second}] repeats batch {batch}, precision {precision} "
                    f"of {field}[{first}]"
                )
        return self

    def measurement(self, batch: int, precision: str) -> Measurement | None:
        """Return the measurement at ``batch`` and ``precision``, or ``None``."""
        return next(
            (m for m in self.measurements if m.batch == batch and m.precision == precision),
            None,
        )

    def layer_profile(self, batch: int, precision: str) -> LayerProfile | None:
        """Return the layer profile at ``batch`` and ``precision``, or ``None``."""
        return next((p for p in self.layers if p.batch == batch and p.precision == precision), None)


Scalar = str | int | float | bool | None


class Hardware(BaseModel):
    """One piece of hardware (and timing method) with its model profiles."""

    model_config = _STRICT

    device: str = Field(description="device name as reported by the driver or the OS")
    kind: Literal["gpu", "cpu"]
    method: Method
    environment: dict[str, Scalar] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    models: dict[Name, ModelProfile] = Field(min_length=1)


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
    >>> profile = load_profile("instances/profiles/h100.json")  # doctest: +SKIP
    >>> profile.lookup("h100", "resnet50", batch=1, precision="fp16").latency_ms  # doctest: +SKIP
    1.03
    """

    model_config = _STRICT

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
                    new_model if old_model is None else _merge_models(old_model, new_model)
                )
            notes = list(dict.fromkeys([*current.notes, *incoming.notes]))
            hardware[name] = incoming.model_copy(update={"models": models, "notes": notes})
        return Profile(
            created=other.created or self.created,
            source=other.source or self.source,
            hardware=hardware,
        )

    def to_json(self) -> str:
        """Serialise to the JSON text written by :func:`save_profile`."""
        data = self.model_dump(mode="json", exclude_none=True)
        return json.dumps(data, indent=1, allow_nan=False) + "\n"


def _merge_models(old: ModelProfile, new: ModelProfile) -> ModelProfile:
    """Merge two profiles of one model; ``new`` wins on every key it has."""
    measurements = {(m.batch, m.precision): m for m in old.measurements}
    measurements.update({(m.batch, m.precision): m for m in new.measurements})
    layers = {(p.batch, p.precision): p for p in old.layers}
    layers.update({(p.batch, p.precision): p for p in new.layers})
    metadata = {
        key: value
        for key, value in new.model_dump(exclude={"measurements", "layers"}).items()
        if value is not None
    }
    return old.model_copy(
        update={
            **metadata,
            "measurements": sorted(measurements.values(), key=_entry_order),
            "layers": sorted(layers.values(), key=_entry_order),
        }
    )


_PRECISION_ORDER = {"fp32": 0, "fp16": 1, "bf16": 2}


def _entry_order(entry: Measurement | LayerProfile) -> tuple[int, int]:
    return _PRECISION_ORDER[entry.precision], entry.batch


def profile_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of the profile format (for editors and ``idnopt schema``)."""
    return Profile.model_json_schema()


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error_message(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (check the spelling against the profile schema)"
    message = error["msg"]
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    if "input" in error and not isinstance(error["input"], dict | list):
        message += f" (got {_short(error['input'])})"
    return message


def validation_error(error: ValidationError, document: Document) -> InputError:
    """Turn a pydantic error on ``document`` into one located :class:`InputError`."""
    problems = error.errors()
    first = problems[0]
    location = list(first["loc"])
    message = _error_message(first)
    if location and location[-1] == "[key]":
        location.pop()
        message = f"invalid name {location[-1]!r}: {message}" if location else message
    return document.error(tuple(location), message, more=len(problems) - 1)


def _header_problem(data: Any) -> tuple[tuple[str, ...], str] | None:
    """Location and message of a wrong format/version header, or None."""
    if not isinstance(data, dict):
        return (), f'expected a JSON object with "format": "{PROFILE_FORMAT}"'
    if data.get("format") != PROFILE_FORMAT:
        found = "is missing" if "format" not in data else f"is {_short(data['format'])}"
        location = ("format",) if "format" in data else ()
        return location, f'not an idnopt profile: "format" {found}, expected {PROFILE_FORMAT!r}'
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        location = ("version",) if "version" in data else ()
        return location, (
            f'"version" must be a positive integer (this idnopt writes {PROFILE_VERSION}), '
            f"got {_short(version)}"
        )
    if version > PROFILE_VERSION:
        return ("version",), (
            f"profile format version {version} is newer than this idnopt reads "
            f"({PROFILE_VERSION}); upgrade idnopt"
        )
    return None


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile file.

    Parameters
    ----------
    path : str or Path
        JSON file written by ``idnopt profile`` or :func:`save_profile`.

    Returns
    -------
    Profile
        The validated profile.

    Raises
    ------
    InputError
        If the file is missing or invalid; the message names the file, the line,
        the location (e.g. ``hardware.h100.models.resnet50.measurements[2].median_ms``)
        and what is wrong.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        # Unreadable, not JSON, or YAML: the document reader explains or parses it.
        data = read_document(path).data
    problem = _header_problem(data)
    if problem is not None:
        raise read_document(path).error(*problem)
    try:
        return Profile.model_validate(data)
    except ValidationError as error:
        # Parse again with line numbers only when there is an error to locate.
        raise validation_error(error, read_document(path)) from None


def save_profile(profile: Profile, path: str | Path) -> Path:
    """Write ``profile`` as JSON, atomically (temporary file, then rename).

    Parameters
    ----------
    profile : Profile
        What to write.
    path : str or Path
        Destination file; its folder must exist.

    Returns
    -------
    Path
        The destination path.
    """
    return write_atomic(path, profile.to_json())
