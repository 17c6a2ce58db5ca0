"""One profiling run: timing every model, precision and batch size, and their blocks.

:class:`Session` holds the state of a run started by
:func:`~idnopt.profiling.profiler.profile_models` (device, stopping rule, notes,
progress) and turns timing statistics into the profile's entries.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from idnopt.profiling import models as model_catalogue
from idnopt.profiling.memory import cpu_peak_memory_mb, cuda_peak_memory_mb, resident_bytes
from idnopt.profiling.schema import Block, LayerProfile, Measurement, ModelProfile
from idnopt.profiling.specs import ModelSpec, example_input, to_device, torch_dtype
from idnopt.profiling.timing import StoppingRule, TimingStats, time_cpu_many, time_cuda_many

if TYPE_CHECKING:
    import torch

LAYER_SUM_TOLERANCE = 0.25
"""Accepted relative gap between the sum of block medians and the whole-model median."""

SPREAD_LIMIT = 1.5
"""A measurement whose p95 exceeds this multiple of its median is flagged as unreliable."""

SPREAD_FLOOR_MS = 0.01
"""…unless p95 and median differ by less than this (timer and scheduler noise)."""

ProgressCallback = Callable[[int, int, str], None]
"""``progress(done, total, label)``: called before each step and once at the end."""

ModelCallback = Callable[[str, dict[str, ModelProfile], int, int], None]
"""``on_model(name, entries, finished, total)``: called as each model is done, with every
model measured so far (``name`` is missing from ``entries`` when nothing of it could be)."""


def _measurement(
    stats: TimingStats, batch: int, precision: str, default_method: str, peak_mb: float | None
) -> Measurement:
    low, high = stats.median_ci_ms
    return Measurement(
        batch=batch,
        precision=precision,
        median_ms=round(stats.median_ms, 6),
        p95_ms=round(stats.p95_ms, 6),
        min_ms=round(stats.min_ms, 6),
        mean_ms=round(stats.mean_ms, 6),
        std_ms=round(stats.std_ms, 6),
        median_ci_ms=(round(low, 6), round(high, 6)),
        repetitions=stats.repetitions,
        warmup=stats.warmup,
        stopped_early=stats.stopped_early,
        peak_memory_mb=None if peak_mb is None else round(peak_mb, 3),
        method=None if stats.method == default_method else stats.method,
        note=stats.note,
    )


def _unsupported(error: BaseException) -> bool:
    text = str(error)
    return isinstance(error, NotImplementedError) or any(
        marker in text for marker in ("not implemented for", "not supported", "Unsupported")
    )


class Session:
    """State of one profiling run: device, timer settings, notes and progress.

    Parameters
    ----------
    device : torch.device
        Where the models run.
    rule : StoppingRule
        Warm-up and stopping rule of every timing.
    cuda_graphs : bool
        On a GPU, time CUDA-graph replays where capture succeeds.
    seed : int
        Seed of the random weights and inputs.
    measure_memory : bool
        Measure the peak memory of one forward pass.
    layers : bool
        Also profile every block of each model's split.
    progress : ProgressCallback or None
        Called before each step and once at the end.
    on_model : ModelCallback, optional
        Called as each model is done (to show it, or to save the partial profile).
    cores : int, optional
        Cores available to the run; with it, the machine's load average is
        checked after each model and a busy machine noted.
    """

    def __init__(
        self,
        device: torch.device,
        rule: StoppingRule,
        cuda_graphs: bool,
        seed: int,
        measure_memory: bool,
        layers: bool,
        progress: ProgressCallback | None,
        on_model: ModelCallback | None = None,
        cores: int | None = None,
    ) -> None:
        self.device = device
        self.rule = rule
        self.cuda_graphs = cuda_graphs
        self.seed = seed
        self.measure_memory = measure_memory
        self.layers = layers
        self.progress = progress
        self.on_model = on_model
        self.cores = cores
        self.notes: list[str] = []
        self.default_method = (
            "wall-clock" if device.type == "cpu" else "cuda-graph" if cuda_graphs else "cuda-events"
        )

    def _report(self, done: int, total: int, label: str) -> None:
        if self.progress is not None:
            self.progress(done, total, label)

    def _time(self, calls: Sequence[Callable[[], object]]) -> list[TimingStats]:
        if self.device.type == "cuda":
            return time_cuda_many(calls, self.rule, use_graph=self.cuda_graphs)
        return time_cpu_many(calls, self.rule)

    def run(
        self, specs: list[ModelSpec], batch_sizes: list[int], precisions: list[str]
    ) -> dict[str, ModelProfile]:
        """Measure every model at every precision and batch size.

        Parameters
        ----------
        specs : list of ModelSpec
            The models.
        batch_sizes : list of int
            Batch sizes.
        precisions : list of str
            Precisions; one the device cannot run is skipped with a note.

        Returns
        -------
        dict of str to ModelProfile
            The models with at least one measurement; skips are in :attr:`notes`.
        """
        import torch

        total = len(specs) * len(batch_sizes) * len(precisions)
        done = 0
        entries: dict[str, ModelProfile] = {}
        for finished, spec in enumerate(specs, start=1):
            base = spec.module
            if base is None:
                base = model_catalogue.build_model(spec.metadata.name, self.seed)
            measurements: list[Measurement] = []
            layer_profiles: list[LayerProfile] = []
            for precision in precisions:
                skip = self._skip_reason(precision)
                if skip is None:
                    with torch.no_grad():
                        skip = self._run_precision(
                            spec,
                            base,
                            precision,
                            batch_sizes,
                            measurements,
                            layer_profiles,
                            done,
                            total,
                        )
                if skip is not None:
                    self.notes.append(f"{spec.name} {precision}: skipped ({skip})")
                done += len(batch_sizes)
            del base
            self._release()
            if measurements:
                metadata = spec.metadata
                entries[spec.name] = ModelProfile(
                    weights=metadata.weights,
                    accuracy=metadata.accuracy,
                    params=metadata.params,
                    gflops=metadata.gflops,
                    file_mb=metadata.file_mb,
                    input_shape=list(spec.sample_shape) if spec.sample_shape else None,
                    measurements=measurements,
                    layers=layer_profiles,
                )
            self._check_load(spec.name)
            if self.on_model is not None:
                self.on_model(spec.name, dict(entries), finished, len(specs))
        self._report(total, total, "done")
        return entries

    def _check_load(self, model_name: str) -> None:
        """Note a machine busier than its cores while ``model_name`` was timed."""
        from idnopt.profiling.environment import machine_load

        if self.cores is None:
            return
        load = machine_load()
        if load is not None and load > self.cores + 0.5:
            self.notes.append(
                f"{model_name}: the machine was busy while it was timed (load average "
                f"{load:.1f} on {self.cores} core{'s' if self.cores > 1 else ''}); its figures "
                "may be inflated: measure on an idle machine, or with fewer --threads"
            )

    def _skip_reason(self, precision: str) -> str | None:
        import torch

        if (
            self.device.type == "cuda"
            and precision == "bf16"
            and not (torch.cuda.is_bf16_supported())
        ):
            return "bf16 is not supported by this GPU"
        return None

    def _release(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()

    def _prepare(self, spec: ModelSpec, base: Any, precision: str) -> tuple[Any, list]:
        """Copy (unless fp32 on the CPU for a built model), convert, and split if asked."""
        from idnopt.profiling.layers import split_model

        dtype = torch_dtype(precision)
        in_place = spec.module is None and precision == "fp32" and self.device.type == "cpu"
        if spec.blocks is not None:
            model, split = copy.deepcopy((base, list(spec.blocks)))
        else:
            model = base if in_place else copy.deepcopy(base)
            split = None
        model = model.eval().to(device=self.device, dtype=dtype)
        if self.layers and split is None:
            split = split_model(model)
        for _, block in split or []:
            block.eval().to(device=self.device, dtype=dtype)
        return model, split or []

    def _run_precision(
        self,
        spec: ModelSpec,
        base: Any,
        precision: str,
        batch_sizes: list[int],
        measurements: list[Measurement],
        layer_profiles: list[LayerProfile],
        done: int,
        total: int,
    ) -> str | None:
        """Measure one model at one precision over all batch sizes; return a skip reason."""
        import torch

        from idnopt.profiling.layers import check_split

        model, split = self._prepare(spec, base, precision)
        dtype = torch_dtype(precision)
        for step, batch in enumerate(batch_sizes):
            self._report(done + step, total, f"{spec.name} {precision} batch {batch}")
            example = to_device(example_input(spec, batch, self.seed), self.device, dtype)
            try:
                model(example)  # a first call fails fast for unsupported dtypes or shapes
                if split and step == 0:
                    check_split(
                        model,
                        split,
                        example,
                        relative_tolerance=_split_tolerance(dtype),
                        model_name=spec.name,
                    )
                measurement = self._measure(spec.name, model, example, batch, precision)
                measurements.append(measurement)
                if split:
                    layer_profiles.append(
                        self._measure_blocks(spec.name, model, split, example, measurement)
                    )
            except torch.cuda.OutOfMemoryError:
                self.notes.append(f"{spec.name} {precision} batch {batch}: skipped (out of memory)")
                self._release()
            except (RuntimeError, NotImplementedError) as error:
                if not _unsupported(error):
                    raise
                return f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"
        return None

    def _measure(
        self, model_name: str, model: Any, example: Any, batch: int, precision: str
    ) -> Measurement:
        def call() -> object:
            return model(example)

        peak = None
        if self.measure_memory:
            if self.device.type == "cuda":
                peak = cuda_peak_memory_mb(call, self.device)
            else:
                peak = cpu_peak_memory_mb(call, resident_bytes(model, example))
        (stats,) = self._time([call])
        measurement = _measurement(stats, batch, precision, self.default_method, peak)
        wide = stats.p95_ms > SPREAD_LIMIT * stats.median_ms
        if wide and stats.p95_ms - stats.median_ms > SPREAD_FLOOR_MS:
            warning = (
                f"unreliable: p95 is {stats.p95_ms / stats.median_ms:.1f}x the median "
                f"(more than {SPREAD_LIMIT}x); other work interfered"
            )
            self.notes.append(f"{model_name} {precision} batch {batch}: {warning}")
            note = "; ".join(filter(None, [measurement.note, warning]))
            measurement = measurement.model_copy(update={"note": note})
        return measurement

    def _measure_blocks(
        self,
        model_name: str,
        model: Any,
        split: list[tuple[str, Any]],
        example: Any,
        whole: Measurement,
    ) -> LayerProfile:
        """Time the whole model and every block interleaved, each block on its own input."""
        from idnopt.profiling.layers import (
            block_inputs,
            block_parameters,
            output_shape,
            tensor_bytes,
        )

        values = block_inputs(split, example)
        calls = [lambda: model(example)] + [
            lambda block=block, value=value: block(value)
            for (_, block), value in zip(split, values, strict=False)
        ]
        whole_stats, *block_stats = self._time(calls)
        blocks = [
            Block(
                name=name,
                median_ms=round(stats.median_ms, 6),
                p95_ms=round(stats.p95_ms, 6),
                min_ms=round(stats.min_ms, 6),
                output_shape=output_shape(output),
                output_bytes=tensor_bytes(output),
                params=block_parameters(block),
            )
            for (name, block), stats, output in zip(split, block_stats, values[1:], strict=True)
        ]
        chain = np.sum([stats.samples_ms for stats in block_stats], axis=0)
        methods = {stats.method for stats in block_stats}
        profile = LayerProfile(
            batch=whole.batch,
            precision=whole.precision,
            method=methods.pop() if len(methods) == 1 else None,
            granularity=(
                f"{len(blocks)} blocks, each timed on its own input, interleaved with the "
                "whole model"
            ),
            total_ms=round(whole_stats.median_ms, 6),
            chain_ms=round(float(np.median(chain)), 6),
            blocks=blocks,
        )
        for label, value in (
            ("sum of block medians", profile.sum_ms),
            ("median block chain", profile.chain_ms),
        ):
            gap = value / profile.total_ms - 1.0
            if abs(gap) > LAYER_SUM_TOLERANCE:
                self.notes.append(
                    f"{model_name} {whole.precision} batch {whole.batch}: {label} "
                    f"{value:.3f} ms is {gap:+.0%} off the whole model's "
                    f"{profile.total_ms:.3f} ms"
                )
        return profile


def _split_tolerance(dtype: torch.dtype) -> float:
    import torch

    return 1e-3 if dtype == torch.float32 else 5e-2
