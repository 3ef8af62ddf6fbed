"""ResNet-18 in plain torch, with torchvision's module and state_dict key names (private).

torchvision is not needed: :class:`ResNet18` has the same attribute names as
``torchvision.models.resnet18()`` (``conv1``, ``bn1``, ``layer1`` .. ``layer4`` of
``BasicBlock`` s with ``conv1``, ``bn1``, ``conv2``, ``bn2``, ``downsample.0/1``, ``fc``), so a
state_dict saved from torchvision (the ImageNet weights a user has, e.g.
``resnet18-f37072fd.pth``) loads into it key for key, and its outputs are torchvision's.
:class:`ResNet18Features` is the same network cut after ``layer3`` (256 maps at stride 16),
the reference paper's frozen backbone.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import torch
from torch import nn

from ._state_dict import load_strictly, read_state_dict

__all__ = ["BasicBlock", "ResNet18", "ResNet18Features", "load_resnet18_state_dict"]


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3 x 3 convolutions with batch norm and a residual connection (He et al. 2016);
    a 1 x 1 convolution + batch norm (``downsample``) matches shapes when they change."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = _conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


def _stage(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout))


class ResNet18Features(nn.Module):
    """ResNet-18 up to and including ``layer3``: images (B, 3, H, W) -> maps (B, 256, H/16,
    W/16). Parameters and buffers carry torchvision's key names."""

    #: channels of the output maps
    out_channels = 256

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = _stage(64, 64, 1)
        self.layer2 = _stage(64, 128, 2)
        self.layer3 = _stage(128, 256, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer3(self.layer2(self.layer1(x)))


class ResNet18(ResNet18Features):
    """The whole ResNet-18 classifier (``layer4``, global average pool, ``fc``), for users who
    explain an ImageNet-style network as it is (``layer = "layer4"``)."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.layer4 = _stage(256, 512, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer4(super().forward(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def load_resnet18_state_dict(module: nn.Module, path: str | PathLike) -> None:
    """Load a torchvision-format ResNet-18 state_dict file into ``module`` (strictly, in place).

    Keys of the file that ``module`` does not have are allowed only where the module is a cut
    of the network (``layer4.*`` and ``fc.*`` for :class:`ResNet18Features`); every parameter
    and buffer of ``module`` must be in the file with its shape.

    Raises
    ------
    EncodingError
        The file is missing or unreadable, or its keys or shapes do not match; the message
        names the first missing and unexpected keys.
    """
    path = Path(path)
    state = read_state_dict(
        path, what="ResNet-18 weights file",
        missing=f"ResNet-18 weights file {str(path)!r} does not exist. qaxai never downloads "
                "weights: save a torchvision-format resnet18 state_dict there first (e.g. "
                "torch.save(resnet18(weights=...).state_dict(), PATH) on a machine that has "
                "them).")
    load_strictly(module, state,
                  where=f"{str(path)!r} is not a torchvision-format ResNet-18 state_dict",
                  needs="ResNet-18", ignore=() if isinstance(module, ResNet18) else
                  ("layer4.", "fc."),
                  hint=" Save it from torchvision.models.resnet18().state_dict().")
