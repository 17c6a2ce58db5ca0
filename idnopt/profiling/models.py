"""Building torchvision models with random weights and reading their metadata.

Nothing is downloaded: models are built with ``weights=None`` (random weights
are fine for timing) and accuracy, parameter count, GFLOPs and file size are
read from the metadata that torchvision ships with its weight enums. The
figures are those of the architecture's ``DEFAULT`` weights.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from idnopt.errors import InputError

if TYPE_CHECKING:
    import torch

REFERENCE_MODELS: tuple[str, ...] = (
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "mobilenet_v2",
    "shufflenet_v2_x1_0",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "efficientnet_b0",
    "efficientnet_b3",
    "efficientnet_v2_s",
    "regnet_y_16gf",
    "convnext_tiny",
    "vit_b_16",
    "vit_l_16",
    "swin_t",
    "vgg16",
)
"""The 18 ImageNet classifiers of the bundled H100 reference profile."""


@dataclass(frozen=True)
class ModelMetadata:
    """What torchvision's weight metadata says about an architecture.

    Attributes
    ----------
    name : str
        torchvision model name.
    weights : str or None
        The ``DEFAULT`` weights enum member, e.g. ``ResNet50_Weights.IMAGENET1K_V2``.
    accuracy : float or None
        ImageNet-1K top-1 accuracy of those weights, as a fraction.
    params : int or None
        Parameter count.
    gflops : float or None
        GFLOPs per sample at the weights' native resolution.
    file_mb : float or None
        Size of the weight file in MB (2**20 bytes).
    native_size : int or None
        Crop size of the weights' preprocessing (224 for most models).
    min_size : tuple of int or None
        Smallest input the architecture accepts.
    """

    name: str
    weights: str | None = None
    accuracy: float | None = None
    params: int | None = None
    gflops: float | None = None
    file_mb: float | None = None
    native_size: int | None = None
    min_size: tuple[int, int] | None = None


def available_models() -> list[str]:
    """Return the names of torchvision's image classification models."""
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models))


def resolve_model_names(names: Iterable[str]) -> list[str]:
    """Validate torchvision model names; ``reference`` expands to :data:`REFERENCE_MODELS`.

    Parameters
    ----------
    names : iterable of str
        Model names as typed by a user.

    Returns
    -------
    list of str
        The names, de-duplicated, in the given order.

    Raises
    ------
    InputError
        For an unknown name, with close matches as suggestions.
    """
    known = available_models()
    resolved: list[str] = []
    for raw in names:
        name = raw.strip()
        expanded = REFERENCE_MODELS if name == "reference" else (name,)
        for item in expanded:
            if item not in known:
                close = difflib.get_close_matches(item, known, n=3)
                hint = (
                    f"; did you mean {', '.join(close)}?"
                    if close
                    else (
                        "; run `python -c 'import torchvision; print(torchvision.models."
                        "list_models(module=torchvision.models))'` for the list"
                    )
                )
                raise InputError(f"unknown torchvision classification model {item!r}{hint}")
            if item not in resolved:
                resolved.append(item)
    return resolved


def model_metadata(name: str) -> ModelMetadata:
    """Read the ``DEFAULT`` weights' metadata of a torchvision model (no download).

    Parameters
    ----------
    name : str
        torchvision model name.

    Returns
    -------
    ModelMetadata
        Accuracy, parameters, GFLOPs, file size and native resolution; fields the
        metadata lacks are ``None``.
    """
    from torchvision.models import get_model_weights

    try:
        default = get_model_weights(name).DEFAULT
    except (ValueError, KeyError, AttributeError):
        return ModelMetadata(name=name)
    meta = default.meta
    top1 = meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1")
    crop = getattr(default.transforms(), "crop_size", None)
    min_size = meta.get("min_size")
    return ModelMetadata(
        name=name,
        weights=f"{type(default).__name__}.{default.name}",
        accuracy=None if top1 is None or top1 != top1 else round(float(top1) / 100.0, 6),
        params=meta.get("num_params"),
        gflops=meta.get("_ops"),
        file_mb=meta.get("_file_size"),
        native_size=int(crop[0]) if crop else None,
        min_size=None if min_size is None else (int(min_size[0]), int(min_size[1])),
    )


def build_model(name: str, seed: int = 0) -> torch.nn.Module:
    """Build a torchvision model with seeded random weights, in eval mode, on the CPU.

    Parameters
    ----------
    name : str
        torchvision model name.
    seed : int, default 0
        Seed of ``torch.manual_seed`` before construction, so weights repeat.

    Returns
    -------
    torch.nn.Module
        The model in ``eval()`` mode.
    """
    import torch
    import torchvision

    torch.manual_seed(seed)
    return torchvision.models.get_model(name, weights=None).eval()


def input_shape(metadata: ModelMetadata, image_size: int | None) -> tuple[int, int, int]:
    """Shape of one input sample: ``(3, size, size)``.

    Parameters
    ----------
    metadata : ModelMetadata
        The model's metadata.
    image_size : int or None
        Side in pixels; ``None`` means the weights' native crop size (224 if unknown).

    Returns
    -------
    tuple of int
        Channels, height, width.

    Raises
    ------
    InputError
        If ``image_size`` is below the architecture's minimum input size.
    """
    size = image_size if image_size is not None else (metadata.native_size or 224)
    if metadata.min_size is not None and size < max(metadata.min_size):
        raise InputError(
            f"model {metadata.name!r} needs images of at least "
            f"{metadata.min_size[0]}x{metadata.min_size[1]} pixels, got {size}"
        )
    return 3, size, size


def state_size_mb(model: torch.nn.Module) -> float:
    """Size of a module's parameters and buffers as stored (MB = 2**20 bytes)."""
    tensors: Sequence = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameter elements of a module (shared parameters counted once)."""
    return int(sum(p.numel() for p in model.parameters()))
