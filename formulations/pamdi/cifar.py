"""ResNet-56 for CIFAR-10 (He et al., 2016, section 4.2), built in code to be profiled.

The network: a 3x3 convolution with 16 filters, then three stages of nine basic
blocks (two 3x3 convolutions each) with 16, 32 and 64 filters, the second
and third stages starting with stride 2 and a 1x1 projection shortcut, then
global average pooling and a 10-way linear layer - 6n + 2 = 56 weighted layers
for n = 9, about 0.85 M parameters, inputs of 3 x 32 x 32. No weights are
downloaded: the model is built with seeded random weights, which is enough
to time it. torch is imported when a model is built.
"""

from __future__ import annotations

from typing import Any

BLOCKS_PER_STAGE = 9
"""Basic blocks per stage (n = 9 gives 56 layers)."""

INPUT_SHAPE = (3, 32, 32)
"""One CIFAR-10 image."""


def resnet56(num_classes: int = 10, seed: int = 0) -> Any:
    """Build ResNet-56 as an ``nn.Sequential`` of ``stem``, ``layer1``..``layer3`` and ``head``.

    Parameters
    ----------
    num_classes : int
        Outputs of the final linear layer.
    seed : int
        Seed of the random weights.

    Returns
    -------
    torch.nn.Sequential
        In eval mode; children ``stem``, ``layer1``, ``layer2``, ``layer3`` (each a
        Sequential of nine blocks) and ``head``.
    """
    import torch
    from torch import nn

    class BasicBlock(nn.Module):
        def __init__(self, inputs: int, outputs: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(outputs)
            self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(outputs)
            self.relu = nn.ReLU(inplace=True)
            self.shortcut = nn.Identity()
            if stride != 1 or inputs != outputs:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs)
                )

        def forward(self, x):  # noqa: D102
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + self.shortcut(x))

    torch.manual_seed(seed)
    stages = []
    inputs = 16
    for index, width in enumerate((16, 32, 64)):
        blocks = []
        for block in range(BLOCKS_PER_STAGE):
            stride = 2 if index > 0 and block == 0 else 1
            blocks.append(BasicBlock(inputs, width, stride))
            inputs = width
        stages.append((f"layer{index + 1}", nn.Sequential(*blocks)))
    stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(64, num_classes))
    from collections import OrderedDict

    model = nn.Sequential(OrderedDict([("stem", stem), *stages, ("head", head)]))
    return model.eval()


def resnet56_blocks(model: Any) -> list[tuple[str, Any]]:
    """The 29 blocks of :func:`resnet56` (``stem``, ``layer1.0`` .. ``layer3.8``, ``head``)."""
    blocks = [("stem", model.stem)]
    for stage in ("layer1", "layer2", "layer3"):
        blocks += [(f"{stage}.{i}", block) for i, block in enumerate(getattr(model, stage))]
    blocks.append(("head", model.head))
    return blocks
