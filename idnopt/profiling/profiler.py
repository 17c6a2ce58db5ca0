"""Profiling models on a CPU or a GPU into a :class:`~idnopt.profiling.format.Profile`.

For every model, precision and batch size :func:`profile_models` measures the
whole forward pass (median, p95, min, repetitions, spread, peak memory) and,
on request, every block of the model's split (latency and output size). Models
are torchvision classifiers built with seeded random weights (their accuracy,
parameter count, GFLOPs and file size come from torchvision's weight
metadata) or any ``torch.nn.Module`` passed in.

Block latencies are timed one block at a time on that block's real input, the
same way as the whole model and interleaved with it (one call of the model and
of every block per repetition), so that drift in the machine's speed affects
all alike. Both the sum of the block medians and ``chain_ms`` (the median of
the per-repetition block sums) should match the whole-model median within
:data:`LAYER_SUM_TOLERANCE`; a note is recorded otherwise. On a quiet machine
all three agree within a few per cent; on a CPU shared with other busy
processes the sum of medians of short blocks falls below the whole-model
median (short calls are interrupted less often), and ``chain_ms`` is the
consistent figure.
"""

from __future__ import annotations

import contextlib
import copy
import os
import platform
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from idnopt.errors import InputError
from idnopt.profiling import models as model_catalogue
from idnopt.profiling.format import (
    Block,
    Hardware,
    LayerProfile,
    Measurement,
    ModelProfile,
    Profile,
)
from idnopt.profiling.timing import StoppingRule, TimingStats, time_cpu_many, time_cuda_many

if TYPE_CHECKING:
    import torch

LAYER_SUM_TOLERANCE = 0.25
"""Accepted relative gap between the sum of block medians and the whole-model median."""

PRECISIONS = ("fp32", "fp16", "bf16")

ProgressCallback = Callable[[int, int, str], None]
"""``progress(done, total, label)``: called before each step and once at the end."""

InputFactory = Callable[[int], "torch.Tensor"]


@dataclass
class _ModelSpec:
    name: str
    module: Any  # torch.nn.Module, or None for a torchvision model built on demand
    metadata: model_catalogue.ModelMetadata
    sample_shape: tuple[int, ...] | None
    make_input: InputFactory | None
    blocks: Sequence[tuple[str, Any]] | None


def _dtype(precision: str) -> torch.dtype:
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "cpu"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"


def _environment(device: torch.device, seed: int, image_size: int | None) -> dict[str, Any]:
    import torch
    import torchvision

    environment: dict[str, Any] = {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "seed": seed,
        "image_size": image_size,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "grad_mode": "no_grad",
    }
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        environment.update(
            {
                "gpu": properties.name,
                "gpu_memory_mb": round(properties.total_memory / 2**20),
                "compute_capability": f"{properties.major}.{properties.minor}",
                "cuda": torch.version.cuda,
                "cudnn": torch.backends.cudnn.version(),
                "cudnn_enabled": torch.backends.cudnn.enabled,
                "cudnn_benchmark": torch.backends.cudnn.benchmark,
                "cudnn_deterministic": torch.backends.cudnn.deterministic,
                "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
                "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            }
        )
    return environment


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence native-library messages written straight to file descriptor 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w", encoding="utf-8") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _cpu_peak_memory_mb(call: Callable[[], object], resident_bytes: int) -> float | None:
    """Peak CPU memory of one call: resident tensors plus the peak of its allocations.

    Allocation and free events come from the PyTorch profiler's memory
    tracking; their running sum, ordered in time, gives the call's peak. Memory
    that native libraries allocate outside PyTorch's allocator is not seen.
    """
    from torch.profiler import ProfilerActivity, profile

    os.environ.setdefault("KINETO_LOG_LEVEL", "5")
    try:
        with (
            _quiet_native_stderr(),
            profile(activities=[ProfilerActivity.CPU], profile_memory=True) as recorder,
        ):
            call()
        events = [e for e in recorder.profiler.kineto_results.events() if e.name() == "[memory]"]
    except Exception:  # the profiler's memory events are best effort
        return None
    if not events:
        return resident_bytes / 2**20
    start = np.array([event.start_ns() for event in events], dtype=np.int64)
    size = np.array([event.nbytes() for event in events], dtype=np.int64)
    running = np.cumsum(size[np.argsort(start, kind="stable")])
    return (resident_bytes + max(int(running.max()), 0)) / 2**20


def _cuda_peak_memory_mb(call: Callable[[], object], device: torch.device) -> float:
    import torch

    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    call()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


def _resident_bytes(model: torch.nn.Module, example: Any) -> int:
    from idnopt.profiling.layers import tensor_bytes

    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors) + tensor_bytes(example)


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


def _model_specs(
    models: Sequence[str] | Mapping[str, Any],
    inputs: Mapping[str, InputFactory | Sequence[int]] | None,
    blocks: Mapping[str, Sequence[tuple[str, Any]]] | None,
    image_size: int | None,
) -> list[_ModelSpec]:
    import torch

    if isinstance(models, str):
        models = [models]
    entries = list(models.items()) if isinstance(models, Mapping) else [(m, m) for m in models]
    if not entries:
        raise InputError("no models to profile")
    torchvision_names = [source for _, source in entries if isinstance(source, str)]
    model_catalogue.resolve_model_names(torchvision_names)
    specs = []
    for name, source in entries:
        given_input = (inputs or {}).get(name)
        make_input = given_input if callable(given_input) else None
        sample_shape = None if given_input is None or make_input else tuple(given_input)
        if isinstance(source, str):
            metadata = model_catalogue.model_metadata(source)
            module = None
            if sample_shape is None and make_input is None:
                sample_shape = model_catalogue.input_shape(metadata, image_size)
        elif isinstance(source, torch.nn.Module):
            metadata = model_catalogue.ModelMetadata(
                name=name,
                params=model_catalogue.count_parameters(source),
                file_mb=round(model_catalogue.state_size_mb(source), 3),
            )
            module = source
            if sample_shape is None and make_input is None:
                sample_shape = (3, image_size or 224, image_size or 224)
        else:
            raise InputError(
                f"model {name!r}: expected a torchvision model name or a torch.nn.Module, "
                f"got {type(source).__name__}"
            )
        specs.append(
            _ModelSpec(name, module, metadata, sample_shape, make_input, (blocks or {}).get(name))
        )
    return specs


def _example(spec: _ModelSpec, batch: int, seed: int) -> torch.Tensor:
    import torch

    if spec.make_input is not None:
        return spec.make_input(batch)
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *spec.sample_shape), generator=generator)


def _to(value: Any, device: torch.device, dtype: torch.dtype) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return value.to(device=device, dtype=dtype if value.is_floating_point() else value.dtype)
    if isinstance(value, tuple | list):
        return type(value)(_to(item, device, dtype) for item in value)
    return value


def _unsupported(error: BaseException) -> bool:
    text = str(error)
    return isinstance(error, NotImplementedError) or any(
        marker in text for marker in ("not implemented for", "not supported", "Unsupported")
    )


def profile_models(
    models: Sequence[str] | Mapping[str, Any],
    *,
    batch_sizes: Sequence[int] = (1,),
    precisions: Sequence[str] = ("fp32",),
    device: str = "cpu",
    hardware: str | None = None,
    layers: bool = False,
    cuda_graphs: bool = True,
    rule: StoppingRule | None = None,
    threads: int | None = None,
    seed: int = 0,
    image_size: int | None = 224,
    inputs: Mapping[str, InputFactory | Sequence[int]] | None = None,
    blocks: Mapping[str, Sequence[tuple[str, Any]]] | None = None,
    cudnn_benchmark: bool = False,
    measure_memory: bool = True,
    progress: ProgressCallback | None = None,
) -> Profile:
    """Measure models and return a profile with one hardware entry.

    Parameters
    ----------
    models : sequence of str, or mapping of str to str or torch.nn.Module
        torchvision model names (``"reference"`` expands to the 18 reference
        models), or ``{name: module_or_torchvision_name}``. Modules are copied,
        never modified.
    batch_sizes : sequence of int, default (1,)
        Batch sizes to measure.
    precisions : sequence of {"fp32", "fp16", "bf16"}, default ("fp32",)
        Precisions; one the device cannot run is skipped with a note.
    device : str, default "cpu"
        ``cpu``, ``cuda`` or ``cuda:N``.
    hardware : str, optional
        Name of the hardware entry (default ``cpu``, or the GPU's name as a slug
        such as ``nvidia-h100-80gb-hbm3``).
    layers : bool, default False
        Also profile every block of each model's split (see
        :mod:`idnopt.profiling.layers`) at every batch size and precision.
    cuda_graphs : bool, default True
        On a GPU, time CUDA-graph replays where capture succeeds.
    rule : StoppingRule, optional
        Warm-up and stopping rule of every timing.
    threads : int, optional
        CPU threads for the run (``torch.set_num_threads``); restored afterwards.
    seed : int, default 0
        Seed of the random weights and inputs.
    image_size : int or None, default 224
        Image side for torchvision models; ``None`` uses each weights' native crop.
    inputs : mapping, optional
        Per model name, the shape of one sample (e.g. ``(3, 32, 32)``) or a
        function ``batch -> tensor`` (e.g. token ids for a language model).
    blocks : mapping, optional
        Per model name, an explicit split as ``[(name, submodule), ...]``.
    cudnn_benchmark : bool, default False
        Value of ``torch.backends.cudnn.benchmark`` during the run (recorded).
    measure_memory : bool, default True
        Measure the peak memory of one forward pass.
    progress : callable, optional
        ``progress(done, total, label)``, see :data:`ProgressCallback`.

    Returns
    -------
    Profile
        One hardware entry holding every model measured.

    Raises
    ------
    InputError
        For unknown models, bad options, an unavailable device, or when nothing
        could be measured.
    """
    import torch

    unknown = sorted(set(precisions) - set(PRECISIONS))
    if unknown or not precisions:
        raise InputError(
            f"unknown precision {', '.join(unknown) or '(none)'}; use {', '.join(PRECISIONS)}"
        )
    if not batch_sizes or any(int(b) < 1 for b in batch_sizes):
        raise InputError("batch sizes must be positive integers")
    try:
        target = torch.device(device)
    except RuntimeError:
        raise InputError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from None
    if target.type == "cuda" and not torch.cuda.is_available():
        raise InputError(
            f"CUDA is not available here (torch {torch.__version__}, built for CUDA "
            f"{torch.version.cuda or 'none'}); use --device cpu"
        )
    if target.type not in ("cpu", "cuda"):
        raise InputError(f"unsupported device {device!r}; use cpu, cuda or cuda:N")
    if target.type == "cuda" and target.index is None:
        target = torch.device("cuda", torch.cuda.current_device())
    specs = _model_specs(models, inputs, blocks, image_size)
    rule = rule or StoppingRule()

    saved_threads = torch.get_num_threads()
    saved_benchmark = torch.backends.cudnn.benchmark
    try:
        if threads is not None:
            torch.set_num_threads(int(threads))
        torch.backends.cudnn.benchmark = cudnn_benchmark
        session = _Session(target, rule, cuda_graphs, seed, measure_memory, layers, progress)
        # Streams, events and graphs are created on the current device.
        on_device = torch.cuda.device(target) if target.type == "cuda" else contextlib.nullcontext()
        with on_device:
            entries = session.run(specs, [int(b) for b in batch_sizes], list(precisions))
        environment = _environment(target, seed, image_size)
    finally:
        torch.set_num_threads(saved_threads)
        torch.backends.cudnn.benchmark = saved_benchmark

    if not entries:
        raise InputError("nothing could be measured: " + "; ".join(session.notes))
    if target.type == "cuda":
        device_name = torch.cuda.get_device_name(target)
        method = "cuda-graph" if cuda_graphs else "cuda-events"
        default_name = _slug(device_name)
    else:
        device_name, method, default_name = _cpu_name(), "wall-clock", "cpu"
    hardware_entry = Hardware(
        device=device_name,
        kind="gpu" if target.type == "cuda" else "cpu",
        method=method,
        environment=environment,
        notes=session.notes,
        models=entries,
    )
    return Profile(
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        source=f"idnopt profile, torch {torch.__version__}",
        hardware={hardware or default_name: hardware_entry},
    )


class _Session:
    """State of one profiling run: device, timer settings, notes and progress."""

    def __init__(
        self,
        device: torch.device,
        rule: StoppingRule,
        cuda_graphs: bool,
        seed: int,
        measure_memory: bool,
        layers: bool,
        progress: ProgressCallback | None,
    ) -> None:
        self.device = device
        self.rule = rule
        self.cuda_graphs = cuda_graphs
        self.seed = seed
        self.measure_memory = measure_memory
        self.layers = layers
        self.progress = progress
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
        self, specs: list[_ModelSpec], batch_sizes: list[int], precisions: list[str]
    ) -> dict[str, ModelProfile]:
        import torch

        total = len(specs) * len(batch_sizes) * len(precisions)
        done = 0
        entries: dict[str, ModelProfile] = {}
        for spec in specs:
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
        self._report(total, total, "done")
        return entries

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

    def _prepare(self, spec: _ModelSpec, base: Any, precision: str) -> tuple[Any, list]:
        """Copy (unless fp32 on the CPU for a built model), convert, and split if asked."""
        from idnopt.profiling.layers import split_model

        dtype = _dtype(precision)
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
        spec: _ModelSpec,
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
        dtype = _dtype(precision)
        for step, batch in enumerate(batch_sizes):
            self._report(done + step, total, f"{spec.name} {precision} batch {batch}")
            example = _to(_example(spec, batch, self.seed), self.device, dtype)
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
                measurement = self._measure(model, example, batch, precision)
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

    def _measure(self, model: Any, example: Any, batch: int, precision: str) -> Measurement:
        def call() -> object:
            return model(example)

        peak = None
        if self.measure_memory:
            if self.device.type == "cuda":
                peak = _cuda_peak_memory_mb(call, self.device)
            else:
                peak = _cpu_peak_memory_mb(call, _resident_bytes(model, example))
        (stats,) = self._time([call])
        return _measurement(stats, batch, precision, self.default_method, peak)

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
