"""The machine a profile was measured on: CPU name, hardware slug, environment record.

The environment record (library versions, threads, GPU properties, cuDNN and
TF32 switches) is stored with every hardware entry of a profile so that two
profiles can be compared knowing how they were made.
"""

from __future__ import annotations

import contextlib
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
