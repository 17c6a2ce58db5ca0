"""The machine a profile was measured on: CPU name, hardware slug, environment record.

The environment record (library versions, threads, GPU properties, cuDNN and
TF32 switches, the cores available and the load when the run started) is
stored with every hardware entry of a profile so that two profiles can be
compared knowing how they were made.

:func:`default_threads` picks the CPU thread count when none is given: the
cores this process may actually use (its CPU affinity and its container's CPU
quota, not the machine's core count) less those other work keeps busy. More
threads than free cores make every parallel region wait for a descheduled
thread: on a loaded machine a small CNN then measures a hundred times its
latency.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def cpu_name() -> str:
    """Return the CPU model name (from ``/proc/cpuinfo`` where available).

    Returns
    -------
    str
        E.g. ``AMD EPYC 7763 64-Core Processor``; the platform's processor or
        machine name elsewhere, ``cpu`` when nothing is known.
    """
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "cpu"


def _cgroup_quota(root: str = "/sys/fs/cgroup") -> float | None:
    """CPUs allowed by the container's CFS quota (cgroup v2 or v1), ``None`` without one."""
    with contextlib.suppress(OSError, ValueError):
        with open(f"{root}/cpu.max", encoding="ascii") as handle:
            quota, period = handle.read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    with contextlib.suppress(OSError, ValueError):
        with open(f"{root}/cpu/cpu.cfs_quota_us", encoding="ascii") as handle:
            quota_us = int(handle.read())
        with open(f"{root}/cpu/cpu.cfs_period_us", encoding="ascii") as handle:
            period_us = int(handle.read())
        return None if quota_us <= 0 else quota_us / period_us
    return None


def available_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a container's CPU quota.

    Returns
    -------
    int
        At least 1.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, math.floor(quota)))
    return max(1, cores)


def machine_load() -> float | None:
    """One-minute load average of the machine (runnable threads), ``None`` where unknown."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def default_threads(
    cores: int | None = None, load: float | None = None, ceiling: int | None = None
) -> int:
    """Threads for CPU timing: the cores left free by other work, at least one.

    Parameters
    ----------
    cores : int, optional
        Cores available (default :func:`available_cores`).
    load : float, optional
        Runnable threads of other work (default: :func:`machine_load` now,
        before the profiler runs anything).
    ceiling : int, optional
        Most threads wanted (e.g. torch's own default, the physical cores).

    Returns
    -------
    int
        ``round(cores - load)`` within ``[1, min(cores, ceiling)]``.
    """
    cores = available_cores() if cores is None else cores
    load = machine_load() if load is None else load
    free = cores - (load or 0.0)
    threads = max(1, min(cores, int(math.floor(free + 0.5))))
    return threads if ceiling is None else max(1, min(threads, ceiling))


def hardware_slug(text: str) -> str:
    """Turn a device name into a hardware name.

    ``NVIDIA H100 80GB HBM3`` becomes ``nvidia-h100-80gb-hbm3``.

    Parameters
    ----------
    text : str
        Device name as reported by the driver.

    Returns
    -------
    str
        Lower-case letters and digits joined by ``-`` (``device`` when none is left).
    """
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"


def environment_record(device: torch.device, seed: int, image_size: int | None) -> dict[str, Any]:
    """Describe the software and hardware of a profiling run.

    Parameters
    ----------
    device : torch.device
        Device the models ran on.
    seed : int
        Seed of the random weights and inputs.
    image_size : int or None
        Image side given to torchvision models.

    Returns
    -------
    dict of str to scalar
        torch, torchvision and Python versions, platform, CPU, threads, and on a
        GPU its name, memory, compute capability, CUDA/cuDNN versions and switches.
    """
    import torch
    import torchvision

    environment: dict[str, Any] = {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_name(),
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
