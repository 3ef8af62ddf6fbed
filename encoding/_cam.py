"""Class activation maps in pytorch-grad-cam's calling shape (private).

``cam = GradCAM(model, target_layers=[layer]); heatmaps = cam(input_tensor, targets=None)``.

Shapes: ``input_tensor`` (B, C, H, W); activations A and gradients g of the target layer
(B, K, h, w); per-channel weights w (B, K); heatmaps (B, H, W) in [0, 1].

Heatmap (all methods): ``L = ReLU(sum_k w_k A_k)`` (or, ``per_channel_relu=True``, the reference
paper's ``sum_k ReLU(w_k A_k)``), bilinear up-sampling to (H, W) (``align_corners=False``),
min-max normalisation per image. A map that is constant after up-sampling (e.g. ReLU of an
all-negative sum, or an empty selection) has no maximum to normalise by; it is returned as
all zeros (as pytorch-grad-cam's ``scale_cam_image`` does) and flagged in ``constant_``.

Each method overrides one hook, :meth:`BaseCAM.channel_weights`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._capture import Capture, capture
from .exceptions import EncodingError

__all__ = ["BaseCAM", "GradCAM", "GradCAMPlusPlus", "heatmaps_from_weights"]


def heatmaps_from_weights(activations: np.ndarray, weights: np.ndarray, size: tuple[int, int],
                          per_channel_relu: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps ``(B, H, W)`` in [0, 1] and the constant flags ``(B,)``.

    Parameters
    ----------
    activations : (B, K, h, w) ndarray
    weights : (B, K) ndarray
        Channel weights; zero for channels not used.
    size : (H, W)
        Output size (the input images').
    per_channel_relu : bool
        ``sum_k ReLU(w_k A_k)`` instead of ``ReLU(sum_k w_k A_k)``.
    """
    A = torch.as_tensor(np.asarray(activations), dtype=torch.float64)
    w = torch.as_tensor(np.asarray(weights), dtype=torch.float64)
    if A.ndim != 4 or w.shape != A.shape[:2]:
        raise EncodingError(f"activations (B, K, h, w) and weights (B, K) must match, got "
                            f"{tuple(A.shape)} and {tuple(w.shape)}.")
    if per_channel_relu:
        cam = (w[:, :, None, None] * A).clamp(min=0).sum(1)
    else:  # the weighted sum without a (B, K, h, w) intermediate
        cam = torch.einsum("bk,bkhw->bhw", w, A).clamp(min=0)
    up = F.interpolate(cam[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]
    lo = up.amin(dim=(1, 2), keepdim=True)
    span = up.amax(dim=(1, 2), keepdim=True) - lo
    # relative threshold: a map equal up to rounding is constant
    scale = torch.maximum(up.abs().amax(dim=(1, 2), keepdim=True), torch.ones_like(span))
    constant = (span <= 1e-12 * scale)[:, 0, 0]
    out = torch.where(span > 1e-12 * scale, (up - lo) / torch.where(span > 0, span, 1.0), 0.0)
    return out.numpy(), constant.numpy()


class BaseCAM:
    """Heatmaps from per-channel weights of one layer's activations.

    Parameters
    ----------
    model : torch.nn.Module
        Classifier returning logits (B, classes).
    target_layers : list of one nn.Module or dotted name
        The explained layer (pytorch-grad-cam takes a list; one layer is supported).
    per_channel_relu : bool
        Use the reference paper's ``sum_k ReLU(w_k A_k)``.

    Attributes (after a call)
    -------------------------
    channel_vectors_ : (B, K) ndarray
        The weights that made each heatmap (zero for unused channels).
    capture_ : Capture
        Activations, gradients, logits and targets of the call.
    constant_ : (B,) bool ndarray
        Heatmaps that were constant (returned as zeros).
    """

    def __init__(self, model: nn.Module, target_layers, per_channel_relu: bool = False):
        if isinstance(target_layers, (str, nn.Module)):
            target_layers = [target_layers]
        target_layers = list(target_layers)
        if len(target_layers) != 1:
            raise EncodingError(f"target_layers must hold exactly one layer, got "
                                f"{len(target_layers)}.")
        self.model = model
        self.target_layers = target_layers
        self.per_channel_relu = per_channel_relu

    # context manager: hooks live only inside each call; nothing to hold between calls
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False

    def release(self) -> None:
        """Drop references to the last call's arrays (the hooks are already gone)."""
        self.__dict__.pop("capture_", None)

    def channel_weights(self, cap: Capture) -> np.ndarray:  # pragma: no cover - abstract
        """Per-image channel weights ``(B, K)`` from the capture."""
        raise NotImplementedError

    def __call__(self, input_tensor, targets=None) -> np.ndarray:
        """Heatmaps ``(B, H, W)`` in [0, 1] for the target classes.

        ``targets``: None (predicted class), "runner-up", a class index, one per image, or
        pytorch-grad-cam's target objects (``[ClassifierOutputTarget(c), ...]``, or any
        callable mapping one image's output to a scalar tensor).
        """
        cap = capture(self.model, input_tensor, self.target_layers[0], targets)
        return self.from_capture(cap, input_tensor)

    def from_capture(self, cap: Capture, input_tensor) -> np.ndarray:
        """Heatmaps ``(B, H, W)`` from a capture of ``input_tensor`` already taken at the
        target layer, so that several methods share one forward and backward pass; sets the
        same attributes as a call."""
        weights = np.asarray(self.channel_weights(cap), dtype=np.float64)
        size = tuple(torch.as_tensor(input_tensor).shape[-2:])
        heat, constant = heatmaps_from_weights(cap.activations, weights, size,
                                               self.per_channel_relu)
        self.capture_, self.channel_vectors_, self.constant_ = cap, weights, constant
        return heat


class GradCAM(BaseCAM):
    """GradCAM (Selvaraju et al., ICCV 2017): ``w_k = mean_ij dy_c/dA_k,ij``."""

    def channel_weights(self, cap: Capture) -> np.ndarray:
        return cap.gradients.astype(np.float64).mean(axis=(2, 3))


class GradCAMPlusPlus(BaseCAM):
    """GradCAM++ (Chattopadhay et al., WACV 2018), eq. 19 with first-order gradients g:

    ``alpha_k,ij = g^2 / (2 g^2 + (sum_ab A_k,ab) g^3)`` (0 where the denominator is 0),
    ``w_k = sum_ij alpha_k,ij ReLU(g_k,ij)``.

    Not the widespread variant with ``sum_ab A_k,ab g^3_k,ab`` in the denominator (a bug).
    """

    def channel_weights(self, cap: Capture) -> np.ndarray:
        g = cap.gradients.astype(np.float64)
        A_sum = cap.activations.astype(np.float64).sum(axis=(2, 3), keepdims=True)
        g2 = g * g
        denom = 2.0 * g2 + A_sum * g2 * g
        alpha = np.divide(g2, denom, out=np.zeros_like(g), where=denom != 0.0)
        return (alpha * np.maximum(g, 0.0)).sum(axis=(2, 3))
