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
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from idnopt.errors import InputError
from idnopt.profiling.document import Profile
from idnopt.profiling.environment import (
    available_cores,
    cpu_name,
    default_threads,
    environment_record,
    hardware_slug,
    machine_load,
)
from idnopt.profiling.schema import Hardware, ModelProfile
from idnopt.profiling.session import (
    LAYER_SUM_TOLERANCE,
    SPREAD_LIMIT,
    ProgressCallback,
    Session,
)
from idnopt.profiling.specs import InputFactory, model_specs
from idnopt.profiling.timing import StoppingRule

__all__ = [
    "LAYER_SUM_TOLERANCE",
    "PRECISIONS",
    "SPREAD_LIMIT",
    "InputFactory",
    "PartialCallback",
    "ProgressCallback",
    "profile_models",
]

PartialCallback = Callable[[str, "Profile | None", int, int], None]
"""``on_model(name, profile, finished, total)``: called as each model is done, with the
profile of every model measured so far (to show progress or save partial results;
``None`` while nothing could be measured yet)."""

PRECISIONS = ("fp32", "fp16", "bf16")
"""Precisions :func:`profile_models` can measure."""


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
    on_model: PartialCallback | None = None,
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
        By default on a CPU, the cores left free by other work
        (:func:`~idnopt.profiling.environment.default_threads`), at most torch's
        own default; the environment record says how many and why.
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
    on_model : callable, optional
        ``on_model(name, profile, finished, total)`` as each model is done, with
        the profile measured so far, see :data:`PartialCallback`.

    Returns
    -------
    Profile
        One hardware entry holding every model measured. Its notes flag the
        figures that may not be trusted: a p95 more than :data:`SPREAD_LIMIT`
        times the median, a machine busier than its cores, more threads than
        free cores.

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
    specs = model_specs(models, inputs, blocks, image_size)
    rule = rule or StoppingRule()

    saved_threads = torch.get_num_threads()
    saved_benchmark = torch.backends.cudnn.benchmark
    cores, load = available_cores(), machine_load()
    notes: list[str] = []
    if target.type == "cpu":
        free = default_threads(cores, load)
        if threads is None:
            threads = default_threads(cores, load, ceiling=saved_threads)
        elif threads > free:
            notes.append(
                f"{threads} threads on {free} free core{'s' if free > 1 else ''} (load "
                f"average {load or 0:.1f} on {cores}): threads wait for each other and "
                f"figures are inflated; --threads {free} is safer"
            )
    try:
        if threads is not None:
            torch.set_num_threads(int(threads))
        torch.backends.cudnn.benchmark = cudnn_benchmark
        environment = environment_record(target, seed, image_size)
        environment.update(
            {"cores_available": cores, "load_at_start": None if load is None else round(load, 2)}
        )
        describe = _describer(target, cuda_graphs, hardware, environment, torch.__version__)

        def model_done(name: str, done: dict[str, ModelProfile], finished: int, total: int):
            if on_model is not None:
                partial = describe(done, notes + session.notes) if done else None
                on_model(name, partial, finished, total)

        session = Session(
            target,
            rule,
            cuda_graphs,
            seed,
            measure_memory,
            layers,
            progress,
            on_model=model_done,
            cores=cores if target.type == "cpu" else None,
        )
        # Streams, events and graphs are created on the current device.
        on_device = torch.cuda.device(target) if target.type == "cuda" else contextlib.nullcontext()
        with on_device:
            entries = session.run(specs, [int(b) for b in batch_sizes], list(precisions))
    finally:
        torch.set_num_threads(saved_threads)
        torch.backends.cudnn.benchmark = saved_benchmark

    if not entries:
        raise InputError("nothing could be measured: " + "; ".join(notes + session.notes))
    return describe(entries, notes + session.notes)


def _describer(
    target: Any, cuda_graphs: bool, hardware: str | None, environment: dict, version: str
) -> Callable[[dict[str, ModelProfile], list[str]], Profile]:
    """A function turning the models measured so far and the notes into a profile."""
    import torch

    if target.type == "cuda":
        device_name = torch.cuda.get_device_name(target)
        method = "cuda-graph" if cuda_graphs else "cuda-events"
        default_name = hardware_slug(device_name)
    else:
        device_name, method, default_name = cpu_name(), "wall-clock", "cpu"

    def describe(entries: dict[str, ModelProfile], notes: list[str]) -> Profile:
        hardware_entry = Hardware(
            device=device_name,
            kind="gpu" if target.type == "cuda" else "cpu",
            method=method,
            environment=environment,
            notes=list(notes),
            models=entries,
        )
        return Profile(
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            source=f"idnopt profile, torch {version}",
            hardware={hardware or default_name: hardware_entry},
        )

    return describe
