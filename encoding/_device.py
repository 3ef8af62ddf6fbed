"""Torch devices of the CNN side (private): which one a name means, and where a model is.

Every function of :mod:`encoding` that runs a model runs it where its parameters are: images
given on the CPU (or as arrays) are moved there batch by batch, and what comes back to the
caller (maps, gradients, heatmaps, probabilities, metrics) is a NumPy array on the CPU, as
pytorch-grad-cam returns its heatmaps.
"""

from __future__ import annotations

import torch
from torch import nn

from .exceptions import EncodingError

__all__ = ["resolve_device", "model_device"]


def _visible() -> str:
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if not count:
        return "torch sees no CUDA GPU (torch.cuda.is_available() is False): only 'cpu'"
    return f"torch sees {count} CUDA GPU(s): 'cpu', " + ", ".join(
        f"'cuda:{i}'" for i in range(count))


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """The torch device a name means: ``"auto"`` (or None) is the first GPU where torch sees
    one, else the CPU; ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a ``torch.device`` as given.

    Raises
    ------
    EncodingError
        A name that is not a device, or a device torch cannot see (the message lists the
        devices it does see).
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise EncodingError(f"device {device!r} is not a torch device: give 'auto', 'cpu', "
                            f"'cuda' or 'cuda:N'; {_visible()}.") from exc
    if dev.type not in ("cpu", "cuda"):
        raise EncodingError(f"device {device!r}: qaxai runs on 'cpu' or 'cuda' devices; "
                            f"{_visible()}.")
    if dev.type == "cuda" and (not torch.cuda.is_available()
                               or (dev.index or 0) >= torch.cuda.device_count()):
        raise EncodingError(f"device {device!r} is not available: {_visible()}. Run on "
                            "'cpu' (--device cpu) or on a machine with that GPU.")
    return dev


def model_device(model: nn.Module) -> torch.device:
    """Where a model's parameters (or, without parameters, its buffers) are; the CPU for a
    model with neither."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")
