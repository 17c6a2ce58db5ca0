"""The versioned JSON profile format: the entries of a profile document.

A profile file holds measured inference figures for models on named pieces of
hardware. It is written by ``idnopt profile`` (or
:func:`~idnopt.profiling.format.save_profile`) and read by instances, which
refer to a profile file and a hardware name instead of repeating numbers
inline. This module holds the validated entries of one hardware (measurements,
layer profiles, models); :mod:`~idnopt.profiling.document` the whole document
(:class:`~idnopt.profiling.document.Profile`) and its lookups;
:mod:`~idnopt.profiling.format` reading and writing files. None of them
imports torch or torchvision.

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
failed). :func:`~idnopt.profiling.document.profile_json_schema` returns the
JSON Schema for editors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    StringConstraints,
    model_validator,
)

PROFILE_FORMAT = "idnopt-profile"
PROFILE_VERSION = 1

Precision = Literal["fp32", "fp16", "bf16"]
"""Numeric precision of weights and activations during a measurement."""

Method = Literal["cuda-graph", "cuda-events", "wall-clock"]
"""How a latency was timed: CUDA-graph replay or eager launches between CUDA
events on a GPU, ``time.perf_counter`` around each call on a CPU."""

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+\-]*$")]

_RELATIVE_SLACK = 1e-9
STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
"""Configuration of every profile entry: unknown fields rejected, immutable, finite numbers."""


def _ordered(low: float, middle: float, high: float) -> bool:
    """Return whether ``low <= middle <= high`` up to rounding."""
    slack = _RELATIVE_SLACK * max(abs(high), 1.0)
    return low <= middle + slack and middle <= high + slack


class Measurement(BaseModel):
    """Whole-model latency at one batch size and precision."""

    model_config = STRICT

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

    model_config = STRICT

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

    model_config = STRICT

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

    model_config = STRICT

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

    model_config = STRICT

    device: str = Field(description="device name as reported by the driver or the OS")
    kind: Literal["gpu", "cpu"]
    method: Method
    environment: dict[str, Scalar] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    models: dict[Name, ModelProfile] = Field(min_length=1)


def merge_models(old: ModelProfile, new: ModelProfile) -> ModelProfile:
    """Merge two profiles of one model; ``new`` wins on every key it has.

    Parameters
    ----------
    old, new : ModelProfile
        Profiles of the same model on the same hardware.

    Returns
    -------
    ModelProfile
        ``old`` with ``new``'s metadata, and the union of both measurements and
        layer profiles, ``new``'s replacing those with the same (batch, precision).
    """
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
