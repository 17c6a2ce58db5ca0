"""Splitting a model into a chain of blocks for per-layer profiles.

A split is a list of ``(name, module)`` pairs whose composition, applied in
order, computes the model's forward pass: ``head(... block2(block1(stem(x))))``.
Each block is where a model-distributed inference system may cut the model; its
latency and the size of its output (what crosses the network after a cut) are
what the PA-MDI formulation needs.

Granularity: one block per residual/transformer block, plus a stem and a head.

* ResNet family: ``stem`` (conv, bn, relu, maxpool), every bottleneck/basic block
  (``layer1.0`` ... ``layer4.2``), ``head`` (pool, flatten, fc) - 18 blocks for
  ResNet-50, as in the bundled H100 reference.
* Vision transformers: ``embed`` (patchify, class token, position embedding),
  every encoder layer, ``head``.
* Models with a ``features`` stack (MobileNet, EfficientNet, ConvNeXt, Swin, VGG,
  AlexNet, DenseNet, SqueezeNet, MNASNet), RegNet, ShuffleNet and MaxViT: every
  block of every stage, runs of plain layers grouped up to the next pooling
  layer, then ``head``.
* Any ``torch.nn.Sequential``: the same rule applied to its children.

Other modules need an explicit split (``blocks=`` in :func:`profile_models`).
:func:`check_split` verifies that a split reproduces the model's output.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from idnopt.errors import InputError

Split = list[tuple[str, nn.Module]]

_POOLING = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


class SpatialMean(nn.Module):
    """Mean over the spatial dimensions (``x.mean([2, 3])``), as in ShuffleNet/MNASNet."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x.mean([2, 3])


class VisionTransformerEmbedding(nn.Module):
    """Patch projection, class token, position embedding and dropout of a torchvision ViT."""

    def __init__(self, vit: nn.Module) -> None:
        super().__init__()
        self.conv_proj = vit.conv_proj
        self.class_token = vit.class_token
        self.pos_embedding = vit.encoder.pos_embedding
        self.dropout = vit.encoder.dropout
        self.hidden_dim = vit.hidden_dim
        self.patch_size = vit.patch_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        batch, _, height, width = x.shape
        patches = (height // self.patch_size) * (width // self.patch_size)
        tokens = self.conv_proj(x).reshape(batch, self.hidden_dim, patches).permute(0, 2, 1)
        tokens = torch.cat([self.class_token.expand(batch, -1, -1), tokens], dim=1)
        return self.dropout(tokens + self.pos_embedding)


class ClassTokenHead(nn.Module):
    """Final layer norm, class-token selection and classifier of a torchvision ViT."""

    def __init__(self, vit: nn.Module) -> None:
        super().__init__()
        self.ln = vit.encoder.ln
        self.heads = vit.heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.heads(self.ln(x)[:, 0])


def _is_leaf(module: nn.Module) -> bool:
    return next(module.children(), None) is None


def _split_container(prefix: str, container: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """Split a sequential container: composite children recursively, runs of leaves grouped."""
    run: list[tuple[str, nn.Module]] = []

    def flush() -> Iterator[tuple[str, nn.Module]]:
        if not run:
            return
        if len(run) == 1:
            yield run[0]
        else:
            first, last = run[0][0], run[-1][0].rsplit(".", 1)[-1]
            yield f"{first}-{last}", nn.Sequential(*(module for _, module in run))
        run.clear()

    for child_name, child in container.named_children():
        name = f"{prefix}.{child_name}" if prefix else child_name
        if _is_leaf(child):
            run.append((name, child))
            if isinstance(child, _POOLING):
                yield from flush()
        else:
            yield from flush()
            yield from _split_block(name, child)
    yield from flush()


def _split_block(name: str, module: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """Expand a sequential stage of composite blocks; keep anything else whole."""
    children = list(module.children())
    if isinstance(module, nn.Sequential) and children and not all(map(_is_leaf, children)):
        yield from _split_container(name, module)
    else:
        yield name, module


def _head(*modules: nn.Module) -> nn.Sequential:
    return nn.Sequential(*modules)


def split_model(model: nn.Module) -> Split:
    """Split a torchvision classifier (or any ``nn.Sequential``) into blocks.

    Parameters
    ----------
    model : torch.nn.Module
        The model; its submodules are shared with the blocks, not copied.

    Returns
    -------
    list of (str, torch.nn.Module)
        Blocks in execution order; applying them in turn computes ``model(x)``.

    Raises
    ------
    InputError
        If the architecture is not one this module knows how to split.
    """
    from torchvision import models as tv

    if isinstance(model, tv.ResNet):
        stem = _head(model.conv1, model.bn1, model.relu, model.maxpool)
        stages = [
            block
            for stage in ("layer1", "layer2", "layer3", "layer4")
            for block in _split_container(stage, getattr(model, stage))
        ]
        return [("stem", stem), *stages, ("head", _head(model.avgpool, nn.Flatten(1), model.fc))]
    if isinstance(model, tv.VisionTransformer):
        layers = list(_split_container("encoder.layers", model.encoder.layers))
        return [
            ("embed", VisionTransformerEmbedding(model)),
            *layers,
            ("head", ClassTokenHead(model)),
        ]
    if isinstance(model, tv.ShuffleNetV2):
        stages = [
            block
            for stage in ("stage2", "stage3", "stage4")
            for block in _split_container(stage, getattr(model, stage))
        ]
        return [
            ("stem", _head(model.conv1, model.maxpool)),
            *stages,
            ("conv5", model.conv5),
            ("head", _head(SpatialMean(), model.fc)),
        ]
    if isinstance(model, tv.RegNet):
        return [
            ("stem", model.stem),
            *_split_container("trunk_output", model.trunk_output),
            ("head", _head(model.avgpool, nn.Flatten(1), model.fc)),
        ]
    if isinstance(model, tv.MaxVit):
        blocks = [
            (f"blocks.{index}.layers.{layer_index}", layer)
            for index, block in enumerate(model.blocks)
            for layer_index, layer in enumerate(block.layers)
        ]
        return [("stem", model.stem), *blocks, ("head", model.classifier)]
    if isinstance(model, tv.MNASNet):
        return [
            *_split_container("layers", model.layers),
            ("head", _head(SpatialMean(), model.classifier)),
        ]
    if hasattr(tv, "SwinTransformer") and isinstance(model, tv.SwinTransformer):
        head = _head(model.norm, model.permute, model.avgpool, model.flatten, model.head)
        return [*_split_container("features", model.features), ("head", head)]
    heads: dict[type, Any] = {
        tv.MobileNetV2: lambda m: _head(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), m.classifier),
        tv.MobileNetV3: lambda m: _head(m.avgpool, nn.Flatten(1), m.classifier),
        tv.EfficientNet: lambda m: _head(m.avgpool, nn.Flatten(1), m.classifier),
        tv.VGG: lambda m: _head(m.avgpool, nn.Flatten(1), m.classifier),
        tv.AlexNet: lambda m: _head(m.avgpool, nn.Flatten(1), m.classifier),
        tv.ConvNeXt: lambda m: _head(m.avgpool, m.classifier),
        tv.DenseNet: lambda m: _head(
            nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(1), m.classifier
        ),
        tv.SqueezeNet: lambda m: _head(m.classifier, nn.Flatten(1)),
    }
    for family, make_head in heads.items():
        if isinstance(model, family):
            return [*_split_container("features", model.features), ("head", make_head(model))]
    if isinstance(model, nn.Sequential):
        return list(_split_container("", model))
    raise InputError(
        f"cannot split a {type(model).__name__} into blocks automatically; pass its blocks "
        "explicitly as a list of (name, module) pairs whose composition is the forward pass"
    )


def tensor_bytes(value: Any) -> int:
    """Bytes held by the tensors in ``value`` (a tensor or nested tuples/lists/dicts)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(tensor_bytes(item) for item in value.values())
    if isinstance(value, list | tuple):
        return sum(tensor_bytes(item) for item in value)
    return 0


def output_shape(value: Any) -> list[int] | None:
    """Shape of ``value`` if it is a tensor, else ``None``."""
    return list(value.shape) if isinstance(value, torch.Tensor) else None


def block_inputs(blocks: Sequence[tuple[str, nn.Module]], example: Any) -> list[Any]:
    """Run the chain once and return each block's input followed by the final output.

    Parameters
    ----------
    blocks : sequence of (str, Module)
        The split.
    example : Any
        Input of the first block.

    Returns
    -------
    list
        ``len(blocks) + 1`` values: the input of block ``i`` at index ``i``, the
        output of the last block at the end.
    """
    values = [example]
    with torch.no_grad():
        for _, block in blocks:
            values.append(block(values[-1]))
    return values


def check_split(
    model: nn.Module,
    blocks: Sequence[tuple[str, nn.Module]],
    example: Any,
    *,
    relative_tolerance: float = 1e-3,
    model_name: str = "model",
) -> None:
    """Check that chaining ``blocks`` reproduces ``model(example)``.

    Parameters
    ----------
    model : torch.nn.Module
        The whole model, in eval mode.
    blocks : sequence of (str, Module)
        Its split.
    example : Any
        A model input.
    relative_tolerance : float, default 1e-3
        Largest accepted ``max|chain - model| / max(max|model|, 1e-6)``.
    model_name : str
        Used in the error message.

    Raises
    ------
    InputError
        If the outputs differ in shape or value.
    """
    with torch.no_grad():
        expected = model(example)
        chained = block_inputs(blocks, example)[-1]
    if not isinstance(expected, torch.Tensor) or not isinstance(chained, torch.Tensor):
        return
    if expected.shape != chained.shape:
        raise InputError(
            f"the blocks of {model_name!r} do not compose to the model: output shape "
            f"{list(chained.shape)} instead of {list(expected.shape)}"
        )
    scale = max(float(expected.float().abs().max()), 1e-6)
    error = float((expected.float() - chained.float()).abs().max()) / scale
    if not error <= relative_tolerance:
        raise InputError(
            f"the blocks of {model_name!r} do not compose to the model: relative output "
            f"difference {error:.2e} exceeds {relative_tolerance:.0e}"
        )


def block_parameters(block: nn.Module) -> int:
    """Number of parameter elements a block holds."""
    return int(sum(p.numel() for p in block.parameters()))
