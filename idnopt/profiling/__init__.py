"""Latency profiles of inference models: measuring them and reading them.

Reading and writing profile files needs only pydantic::

    from idnopt.profiling import load_profile
    figures = load_profile("instances/profiles/h100.json").lookup("h100", "resnet50")

Measuring needs torch and torchvision, which are imported only when
:func:`profile_models` is called::

    from idnopt.profiling import profile_models
    profile = profile_models(["resnet18", "mobilenet_v3_small"], batch_sizes=[1, 8])
"""

from __future__ import annotations

from typing import Any

from idnopt.profiling.format import (
    PROFILE_FORMAT,
    PROFILE_VERSION,
    BlockFigures,
    ModelFigures,
    Profile,
    ProfileLookupError,
    load_profile,
    profile_json_schema,
    save_profile,
)
from idnopt.profiling.references import (
    ProfileReference,
    load_profile_cached,
    resolve_figures,
    resolve_models,
)
from idnopt.profiling.timing import StoppingRule

__all__ = [
    "PROFILE_FORMAT",
    "PROFILE_VERSION",
    "BlockFigures",
    "ModelFigures",
    "Profile",
    "ProfileLookupError",
    "ProfileReference",
    "StoppingRule",
    "load_profile",
    "load_profile_cached",
    "profile_json_schema",
    "profile_models",
    "resolve_figures",
    "resolve_models",
    "save_profile",
]


def profile_models(models: Any, **options: Any) -> Profile:
    """Measure models on a CPU or GPU; see :func:`idnopt.profiling.profiler.profile_models`.

    torch and torchvision are imported on the first call, not when
    :mod:`idnopt.profiling` is imported.
    """
    from idnopt.profiling.profiler import profile_models as run

    return run(models, **options)
