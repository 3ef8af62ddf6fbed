"""The CNNs qaxai explains (private): the reference paper's architecture and a variant.

Both are ``backbone -> reduce -> head``. ``reduce`` is the explained layer: Conv2d(C -> N_f,
3 x 3, padding 1) + ReLU + BatchNorm2d, giving N_f feature maps (the paper's "reduce" block).

- :class:`PaperNet`: ``head`` = flatten + Linear, as in the reference paper. The class score is
  linear in the maps, so dy_c/dA = W_c does not depend on the image: GradCAM weights and the
  candidate set are constants per class.
- :class:`GapNet`: ``head`` = Conv2d + ReLU + global average pooling + Linear, so the gradient
  varies from image to image.

Backbones (by name, so that a model is rebuilt from its JSON config):

- ``"digits-conv"``: two Conv(3 x 3) + ReLU + BatchNorm layers (16 and 32 channels, size
  kept), trained together with the rest on the bundled digits -- the offline default.
- ``"resnet18"``: ResNet-18 cut after ``layer3`` (256 channels, stride 16), frozen, its
  weights read from a local torchvision-format state_dict file (``weights=``). Plain torch
  (:mod:`encoding._resnet`): torchvision is not needed. Nothing is downloaded.

Input normalisation (``mean``, ``std`` per channel, e.g. ImageNet's for the ResNet-18
weights) is part of the model: images stay in [0, 1] everywhere else (figures, deletion and
insertion baselines), and a checkpoint rebuilds it from its config.
"""

from __future__ import annotations


import torch
from torch import nn

from ._resnet import ResNet18Features, load_resnet18_state_dict
from .exceptions import EncodingError

__all__ = ["PaperNet", "GapNet", "build_model", "MODEL_CLASSES", "InputNormalization"]

BACKBONES = ("digits-conv", "resnet18")


def _digits_conv(in_channels: int) -> tuple[nn.Module, int]:
    layers = nn.Sequential(
        nn.Conv2d(in_channels, 16, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(16),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(32),
    )
    return layers, 32


def _resnet18(in_channels: int, weights: str | None) -> tuple[nn.Module, int]:
    if in_channels != 3:
        raise EncodingError(f"the 'resnet18' backbone takes 3-channel images, got "
                            f"in_channels={in_channels}.")
    body = ResNet18Features()
    if weights is not None:
        load_resnet18_state_dict(body, weights)
    return body, ResNet18Features.out_channels


class InputNormalization(nn.Module):
    """``(x - mean) / std`` per channel; the identity when ``mean`` and ``std`` are None."""

    def __init__(self, mean=None, std=None, channels: int = 1):
        super().__init__()
        if (mean is None) != (std is None):
            raise EncodingError("give both mean and std, or neither.")
        self.enabled = mean is not None
        if self.enabled:
            mean_t = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
            std_t = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
            if mean_t.numel() != channels or std_t.numel() != channels:
                raise EncodingError(f"mean and std need one value per channel ({channels}), got "
                                    f"{mean_t.numel()} and {std_t.numel()}.")
            if not bool((std_t > 0).all()):
                raise EncodingError(f"std must be > 0 per channel, got {std_t.tolist()}.")
            self.register_buffer("mean", mean_t[None, :, None, None], persistent=False)
            self.register_buffer("std", std_t[None, :, None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std if self.enabled else x


class _ExplainedNet(nn.Module):
    """``backbone -> reduce -> head``; subclasses build the head."""

    #: dotted name of the explained layer
    target_layer = "reduce"

    def __init__(self, backbone: str = "digits-conv", n_maps: int = 16, num_classes: int = 10,
                 in_channels: int = 1, image_size: int | tuple[int, int] = 8,
                 freeze_backbone: bool | None = None, weights: str | None = None,
                 mean=None, std=None):
        super().__init__()
        if backbone not in BACKBONES:
            raise EncodingError(f"backbone must be one of {BACKBONES}, got {backbone!r}.")
        for name, value in (("n_maps", n_maps), ("num_classes", num_classes),
                            ("in_channels", in_channels)):
            if not isinstance(value, int) or value < 1:
                raise EncodingError(f"{name} must be a positive int, got {value!r}.")
        size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.normalize = (InputNormalization(mean, std, in_channels)
                          if mean is not None or std is not None else None)
        if backbone == "digits-conv":
            self.backbone, channels = _digits_conv(in_channels)
        else:
            self.backbone, channels = _resnet18(in_channels, weights)
        frozen = (backbone == "resnet18") if freeze_backbone is None else bool(freeze_backbone)
        self.frozen_backbone = frozen
        if frozen:
            self.backbone.requires_grad_(False)
        self.reduce = nn.Sequential(nn.Conv2d(channels, n_maps, 3, padding=1), nn.ReLU(),
                                    nn.BatchNorm2d(n_maps))
        with torch.no_grad():
            was = self.backbone.training
            self.backbone.eval()
            out = self.backbone(torch.zeros(1, in_channels, *size))
            self.backbone.train(was)
        self.map_size = tuple(int(x) for x in out.shape[-2:])
        self.head = self._make_head(n_maps, self.map_size, num_classes)
        self.config = {"architecture": type(self).__name__, "backbone": backbone,
                       "n_maps": n_maps, "num_classes": num_classes, "in_channels": in_channels,
                       "image_size": list(size), "freeze_backbone": frozen}
        if mean is not None:
            self.config.update(mean=[float(v) for v in self.normalize.mean.reshape(-1)],
                               std=[float(v) for v in self.normalize.std.reshape(-1)])

    def _make_head(self, n_maps, map_size, num_classes) -> nn.Module:  # pragma: no cover
        raise NotImplementedError

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen_backbone:  # a frozen backbone keeps its BatchNorm statistics
            self.backbone.eval()
        return self

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The backbone's maps of images ``(B, C, H, W)`` (normalised first)."""
        return self.backbone(images if self.normalize is None else self.normalize(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, num_classes)`` of images ``(B, C, H, W)`` in [0, 1]."""
        return self.head(self.reduce(self.features(images)))


class PaperNet(_ExplainedNet):
    """The reference paper's classifier: backbone -> reduce (N_f maps) -> flatten -> Linear.

    Parameters
    ----------
    backbone : {"digits-conv", "resnet18"}
    n_maps : int
        N_f, the number of feature maps of the explained layer (the paper: 16, 24 or 32).
    num_classes : int
    in_channels : int
        1 for the digits, 3 for colour images.
    image_size : int or (int, int)
        Input size (8 for the digits, 224 for the paper's STL-10 setting).
    freeze_backbone : bool, optional
        Default: frozen for "resnet18" (pre-trained), trained for "digits-conv".
    weights : path, optional
        ResNet-18 state_dict file in torchvision's key layout
        (``torch.load(..., weights_only=True)``).
    mean, std : sequence of float, optional
        Per-channel input normalisation applied inside the model (ImageNet's
        ``[0.485, 0.456, 0.406]``, ``[0.229, 0.224, 0.225]`` for its ResNet-18 weights).
    """

    def _make_head(self, n_maps, map_size, num_classes):
        return nn.Sequential(nn.Flatten(), nn.Linear(n_maps * map_size[0] * map_size[1],
                                                     num_classes))


class GapNet(_ExplainedNet):
    """As :class:`PaperNet`, but the explained layer is followed by a non-linear block
    (Conv2d 3 x 3 + ReLU, 2 N_f channels) and global average pooling before the Linear layer,
    so that dy_c/dA varies from image to image. Parameters as :class:`PaperNet`."""

    def _make_head(self, n_maps, map_size, num_classes):
        hidden = 2 * n_maps
        return nn.Sequential(nn.Conv2d(n_maps, hidden, 3, padding=1), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(hidden, num_classes))


MODEL_CLASSES = {"PaperNet": PaperNet, "GapNet": GapNet}


def build_model(config: dict, weights: str | None = None) -> nn.Module:
    """A model from its ``config`` (as in ``model.config``), with fresh parameters."""
    config = dict(config)
    name = config.pop("architecture", None)
    if name not in MODEL_CLASSES:
        raise EncodingError(f"config['architecture'] must be one of {sorted(MODEL_CLASSES)}, "
                            f"got {name!r}.")
    if "image_size" in config and not isinstance(config["image_size"], int):
        config["image_size"] = tuple(config["image_size"])
    return MODEL_CLASSES[name](**config, weights=weights)
