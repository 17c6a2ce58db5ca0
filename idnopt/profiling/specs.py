"""What a profiling run measures: one specification per model, and its inputs.

A :class:`ModelSpec` names a model, holds the module to measure (or ``None``
for a torchvision model built on demand), its catalogue metadata, the shape of
one input sample or a function making a batch, and an optional explicit split.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from idnopt.errors import InputError
from idnopt.profiling import models as model_catalogue

if TYPE_CHECKING:
    import torch

InputFactory = Callable[[int], "torch.Tensor"]
"""``make_input(batch) -> tensor``: builds one input batch (e.g. token ids)."""


@dataclass
class ModelSpec:
    """One model to measure.

    Attributes
    ----------
    name : str
        Name of the model in the profile.
    module : torch.nn.Module or None
        The module to measure, or ``None`` for a torchvision model built on demand.
    metadata : ModelMetadata
        Weights, accuracy, parameters, GFLOPs and file size from the catalogue.
    sample_shape : tuple of int or None
        Shape of one input sample (``None`` when ``make_input`` builds the batch).
    make_input : InputFactory or None
        Function building one input batch.
    blocks : sequence of (str, torch.nn.Module) or None
        Explicit split of the model, if given.
    """

    name: str
    module: Any
    metadata: model_catalogue.ModelMetadata
    sample_shape: tuple[int, ...] | None
    make_input: InputFactory | None
    blocks: Sequence[tuple[str, Any]] | None


def torch_dtype(precision: str) -> torch.dtype:
    """Return the torch dtype of ``fp32``, ``fp16`` or ``bf16``."""
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def model_specs(
    models: Sequence[str] | Mapping[str, Any],
    inputs: Mapping[str, InputFactory | Sequence[int]] | None,
    blocks: Mapping[str, Sequence[tuple[str, Any]]] | None,
    image_size: int | None,
) -> list[ModelSpec]:
    """Check the models asked for and describe each one.

    Parameters
    ----------
    models : str, sequence of str, or mapping of str to str or torch.nn.Module
        torchvision model names, or ``{name: module_or_torchvision_name}``.
    inputs : mapping, optional
        Per model name, the shape of one sample or a function ``batch -> tensor``.
    blocks : mapping, optional
        Per model name, an explicit split as ``[(name, submodule), ...]``.
    image_size : int or None
        Image side for torchvision models; ``None`` uses each weights' native crop.

    Returns
    -------
    list of ModelSpec
        One per model, in the order given.

    Raises
    ------
    InputError
        For no models, unknown torchvision names, or a model of another type.
    """
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
            ModelSpec(name, module, metadata, sample_shape, make_input, (blocks or {}).get(name))
        )
    return specs


def example_input(spec: ModelSpec, batch: int, seed: int) -> torch.Tensor:
    """Build one input batch for ``spec``: its own factory, or seeded normal noise.

    Parameters
    ----------
    spec : ModelSpec
        The model.
    batch : int
        Batch size.
    seed : int
        Seed of the random input.

    Returns
    -------
    torch.Tensor
        The batch, on the CPU in fp32 (or as the factory made it).
    """
    import torch

    if spec.make_input is not None:
        return spec.make_input(batch)
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *spec.sample_shape), generator=generator)


def to_device(value: Any, device: torch.device, dtype: torch.dtype) -> Any:
    """Move tensors (also inside tuples and lists) to a device; cast floating ones to ``dtype``.

    Parameters
    ----------
    value : Any
        A tensor, a tuple or list of values, or anything else (returned as is).
    device : torch.device
        Target device.
    dtype : torch.dtype
        Type of floating-point tensors; integer tensors keep theirs.

    Returns
    -------
    Any
        The value on the device.
    """
    import torch

    if isinstance(value, torch.Tensor):
        return value.to(device=device, dtype=dtype if value.is_floating_point() else value.dtype)
    if isinstance(value, tuple | list):
        return type(value)(to_device(item, device, dtype) for item in value)
    return value
