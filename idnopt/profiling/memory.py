"""Peak memory of one forward pass, on a CPU (PyTorch profiler events) or a GPU."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


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


def cpu_peak_memory_mb(call: Callable[[], object], resident_bytes: int) -> float | None:
    """Peak CPU memory of one call: resident tensors plus the peak of its allocations.

    Allocation and free events come from the PyTorch profiler's memory
    tracking; their running sum, ordered in time, gives the call's peak. Memory
    that native libraries allocate outside PyTorch's allocator is not seen.

    Parameters
    ----------
    call : callable
        The forward pass.
    resident_bytes : int
        Bytes already held before the call (weights, buffers, input).

    Returns
    -------
    float or None
        Peak memory in MB (2**20 bytes); ``None`` when the profiler could not
        record memory events.
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


def cuda_peak_memory_mb(call: Callable[[], object], device: torch.device) -> float:
    """Peak GPU memory allocated by PyTorch during one call.

    Parameters
    ----------
    call : callable
        The forward pass.
    device : torch.device
        The CUDA device it runs on.

    Returns
    -------
    float
        Peak allocated memory in MB (2**20 bytes), resident tensors included.
    """
    import torch

    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    call()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


def resident_bytes(model: torch.nn.Module, example: Any) -> int:
    """Bytes held by a model's parameters and buffers and by its input.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    example : tensor or nested tuple/list of tensors
        Its input.

    Returns
    -------
    int
        Total size in bytes.
    """
    from idnopt.profiling.layers import tensor_bytes

    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors) + tensor_bytes(example)
