"""Feature maps and gradients of one layer, captured through hooks (private).

The hooks are registered in a context manager and removed on every exit, exceptions
included, which propagate unchanged (with a note naming the layer and the image shape).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._allocator import auto_batch_size
from ._device import model_device
from .exceptions import EncodingError

__all__ = ["Capture", "capture", "resolve_layer", "ablation_relevance", "check_scores"]


@dataclass
class Capture:
    """Activations and gradients of one layer for a batch of images.

    Attributes
    ----------
    activations : (B, K, H, W) ndarray, float32
        The layer's output A (K feature maps of H x W per image).
    gradients : (B, K, H, W) ndarray, float32
        dy_c / dA for each image's target class c, y_c being the class logit.
    logits : (B, classes) ndarray, float32
    targets : (B,) ndarray, int64
        The class explained for each image; -1 where a target object other than a class index
        was given (its ``category`` attribute is used when it has one, as pytorch-grad-cam's
        ``ClassifierOutputTarget`` does).
    layer : str
        Dotted name of the layer.
    target_scores : (B,) ndarray, float64
        The explained score of each image (the target logit y_c, or the target object's value).
    target_objects : tuple of callables, optional
        The target objects given, if any (for re-scoring, e.g. by ablation).
    """

    activations: np.ndarray
    gradients: np.ndarray
    logits: np.ndarray
    targets: np.ndarray
    layer: str
    target_scores: np.ndarray | None = None
    target_objects: tuple | None = None

    def __len__(self) -> int:
        return int(self.activations.shape[0])

    @property
    def predictions(self) -> np.ndarray:
        """``(B,)`` predicted classes (argmax of the logits)."""
        return self.logits.argmax(axis=1)

    @property
    def scores(self) -> np.ndarray:
        """``(B,)`` the explained scores (the target-class logits y_c for class targets)."""
        if self.target_scores is not None:
            return self.target_scores
        return self.logits[np.arange(len(self)), self.targets]


def resolve_layer(model: nn.Module, layer) -> tuple[nn.Module, str]:
    """The module ``layer`` (a module of ``model`` or its dotted name) and its name."""
    if isinstance(layer, nn.Module):
        for name, module in model.named_modules():
            if module is layer:
                return module, name
        raise EncodingError(f"layer {type(layer).__name__} is not a sub-module of the model.")
    if not isinstance(layer, str):
        raise TypeError(f"layer must be an nn.Module or a dotted name, got {type(layer).__name__}.")
    try:
        return model.get_submodule(layer), layer
    except AttributeError:
        import difflib

        names = [n for n, _ in model.named_modules() if n]
        near = difflib.get_close_matches(layer, names, n=5, cutoff=0.5)
        hint = f" (did you mean {', '.join(map(repr, near))}?)" if near else ""
        top = [n for n in names if "." not in n]
        shown = ", ".join(top[:40]) + (f", ... ({len(top)} in all)" if len(top) > 40 else "")
        raise EncodingError(f"the model has no layer {layer!r}{hint}; its top-level layers: "
                            f"{shown} (a dotted name reaches inside them).") from None


def _check_images(images) -> torch.Tensor:
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor or numpy array, got {type(images).__name__}.")
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4:
        raise EncodingError(f"images must have shape (B, C, H, W) (or (C, H, W) for one image), "
                            f"got {tuple(images.shape)}.")
    if not images.is_floating_point():
        raise EncodingError(f"images must be floating point, got dtype {images.dtype}; convert, "
                            "e.g. images.float() / 255 for 8-bit pixels.")
    if not bool(torch.isfinite(images).all()):
        raise EncodingError("images contain NaN or inf values.")
    return images


def _check_channels(model: nn.Module, images: torch.Tensor) -> None:
    """Images whose channel count differs from the model's first convolution's are refused
    before the forward pass, with the two numbers."""
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first is not None and images.shape[1] != first.in_channels:
        raise EncodingError(f"images have {images.shape[1]} channels (shape "
                            f"{tuple(images.shape)}) but the model's first convolution takes "
                            f"{first.in_channels}: convert the images (e.g. grey <-> RGB).")


def _resolve_targets(targets, logits: torch.Tensor) -> torch.Tensor:
    b, classes = logits.shape
    if targets is None or (isinstance(targets, str) and targets == "predicted"):
        return logits.argmax(1)
    if isinstance(targets, str):
        if targets == "runner-up":
            if classes < 2:
                raise EncodingError("targets='runner-up' needs at least 2 classes.")
            return logits.topk(2, dim=1).indices[:, 1]
        raise EncodingError(f"targets must be None, 'predicted', 'runner-up', a class index or "
                            f"one index per image, got {targets!r}.")
    t = torch.as_tensor(np.asarray(targets), dtype=torch.int64)
    if t.ndim == 0:
        t = t.expand(b)
    if t.shape != (b,):
        raise EncodingError(f"targets must be one class index or {b} (one per image), got shape "
                            f"{tuple(t.shape)}.")
    if int(t.min()) < 0 or int(t.max()) >= classes:
        raise EncodingError(f"targets must be class indices in 0..{classes - 1}, got "
                            f"{int(t.min())}..{int(t.max())}.")
    return t


def _is_target_object(target) -> bool:
    return callable(target) and not isinstance(target, (str, bytes, np.ndarray, torch.Tensor))


class _Targets:
    """What each image's explained score is: a class logit, or a target object's value."""

    def __init__(self, targets, logits: torch.Tensor):
        b = logits.shape[0]
        if _is_target_object(targets):
            targets = [targets] * b
        self.objects = None
        if isinstance(targets, (list, tuple)) and any(_is_target_object(t) for t in targets):
            if len(targets) != b or not all(_is_target_object(t) for t in targets):
                raise EncodingError(f"target objects must be given one per image ({b}), all "
                                    f"callable (e.g. ClassifierOutputTarget(c)); got "
                                    f"{len(targets)} entries.")
            self.objects = tuple(targets)
            self.indices = torch.tensor([int(getattr(t, "category", -1))
                                         if isinstance(getattr(t, "category", None), (int, np.integer))
                                         else -1 for t in targets], dtype=torch.int64)
        else:
            self.indices = _resolve_targets(targets, logits.detach())
        self.indices = self.indices.to(logits.device)

    def scores(self, logits: torch.Tensor, images=None) -> torch.Tensor:
        """The score of each row of ``logits``; ``images[r]`` is the image of row r."""
        rows = torch.arange(logits.shape[0]) if images is None else torch.as_tensor(images)
        if self.objects is None:
            return logits.gather(1, self.indices[rows.to(self.indices.device)][:, None])[:, 0]
        out = []
        for r, i in enumerate(rows.tolist()):
            value = self.objects[i](logits[r])
            if not isinstance(value, torch.Tensor) or value.numel() != 1:
                raise EncodingError(f"target object {self.objects[i]!r} must map one image's "
                                    "output (classes,) to a scalar tensor, got "
                                    f"{type(value).__name__} of shape "
                                    f"{tuple(getattr(value, 'shape', ()))}.")
            out.append(value.reshape(()))
        return torch.stack(out)


@contextmanager
def _hooked(module: nn.Module, hook):
    handle = module.register_forward_hook(hook)
    try:
        yield handle
    finally:
        handle.remove()


@contextmanager
def _eval_mode(model: nn.Module):
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)


def _forward_with_layer(model, module, name, images):
    store = {}

    def hook(_module, _inputs, output):
        if not isinstance(output, torch.Tensor):
            raise EncodingError(f"layer {name!r} returns {type(output).__name__}, not a tensor: "
                                "choose a layer whose output is a feature-map tensor.")
        # a leaf of its own: gradients reach it even when everything before is frozen
        out = output.detach().requires_grad_(True)
        store["A"] = out
        return out

    with _hooked(module, hook):
        try:
            logits = model(images)
        except Exception as err:  # propagates unchanged, with context for the reader
            err.add_note(f"(raised by the model's forward pass while qaxai captured layer "
                         f"{name!r} for images of shape {tuple(images.shape)})")
            raise
    if "A" not in store:
        raise EncodingError(f"layer {name!r} was not called in the forward pass: choose a layer "
                            "on the path from the input to the logits.")
    return logits, store["A"]


def capture(model: nn.Module, images, layer, targets=None) -> Capture:
    """Feature maps of ``layer`` and the gradients of each image's target score.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits ``(B, classes)``; run in eval mode (its mode is restored).
    images : (B, C, H, W) tensor or array
        Float images (one image may be given as (C, H, W)).
    layer : nn.Module or str
        The explained layer, or its dotted name (``"reduce"`` for qaxai's models). Its output
        must be a ``(B, K, H, W)`` tensor.
    targets : None, "predicted", "runner-up", int, sequence of int, or target objects
        Class explained per image: the predicted class (default), the second-highest logit,
        one class for all, or one per image. Or, as in pytorch-grad-cam, one callable per
        image (or one for all) mapping that image's output ``(classes,)`` to the scalar
        explained, e.g. ``ClassifierOutputTarget(c)``.

    Returns
    -------
    Capture
        Gradients are ``d y / d A`` of each image's score y (the logit y_c for a class),
        computed by autograd in one backward pass of their sum (images do not interact in
        eval mode).
    """
    images = _check_images(images)
    _check_channels(model, images)
    module, name = resolve_layer(model, layer)
    b = images.shape[0]
    per_image = targets is not None and not isinstance(targets, str) and \
        not _is_target_object(targets) and np.ndim(targets) == 1 and len(targets) == b
    step = _chunk(images)
    parts = [_capture_chunk(model, module, name, images[i:i + step],
                            targets[i:i + step] if per_image else targets)
             for i in range(0, b, step)]
    if len(parts) == 1:
        return parts[0]
    objects = sum((list(p.target_objects) for p in parts), []) if parts[0].target_objects \
        else None
    return Capture(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("activations", "gradients", "logits", "targets")), name,
                   np.concatenate([p.target_scores for p in parts]),
                   tuple(objects) if objects else None)


def _chunk(images: torch.Tensor) -> int:
    """Images per forward pass, :func:`encoding.metrics.auto_batch_size`'s rule: images do
    not interact in eval mode, so large batches are split where their activations would
    outgrow the allocator's reusable range."""
    return auto_batch_size(images)


def check_scores(logits: torch.Tensor, *, offset: int = 0, what: str = "image") -> None:
    """Refuse a model output with a NaN or infinity: its argmax (the "prediction") and every
    explanation of it would be meaningless. Names the first image (``offset`` + its row) and
    class.

    Raises
    ------
    EncodingError
    """
    logits = logits.detach()
    bad = ~torch.isfinite(logits)
    if bool(bad.any()):
        row, col = (int(v) for v in bad.nonzero()[0])
        raise EncodingError(
            f"the model's output for {what} {offset + row} is {float(logits[row, col])} at class "
            f"{col} ({int(bad.any(1).sum())} image(s) of this batch have non-finite scores); a "
            "NaN or infinity in the weights, or images outside the range the model expects. "
            "qaxai neither predicts nor explains from non-finite scores.")


def _capture_chunk(model, module, name, images, targets) -> Capture:
    images = images.to(model_device(model))
    with _eval_mode(model), torch.enable_grad():
        logits, A = _forward_with_layer(model, module, name, images)
        if logits.ndim != 2 or logits.shape[0] != images.shape[0]:
            raise EncodingError(f"the model must return logits (B, classes), got "
                                f"{tuple(logits.shape)}.")
        check_scores(logits, what="explained image")
        t = _Targets(targets, logits)
        scores = t.scores(logits)
        (grad,) = torch.autograd.grad(scores.sum(), A, allow_unused=True)
    if grad is None:
        raise EncodingError(f"the class scores do not depend on layer {name!r}: it has no "
                            "gradient. Choose a layer the logits are computed from.")
    if A.ndim != 4:
        raise EncodingError(f"layer {name!r} returns shape {tuple(A.shape)}; feature maps must be "
                            "(B, K, H, W): choose a convolutional layer.")
    acts = A.detach().cpu().numpy()
    if not np.isfinite(acts).all() or not torch.isfinite(grad).all():
        bad = ~(np.isfinite(acts).reshape(len(acts), -1).all(1)
                & torch.isfinite(grad).reshape(len(grad), -1).all(1).cpu().numpy())
        row = int(np.flatnonzero(bad)[0])
        raise EncodingError(f"layer {name!r} produced NaN or inf activations or gradients for "
                            f"explained image {row} (class {int(t.indices[row])}); check the "
                            "model's weights and the image scaling.")
    return Capture(acts, grad.detach().cpu().numpy(), logits.detach().cpu().numpy(),
                   t.indices.cpu().numpy(), name, scores.detach().double().cpu().numpy(),
                   t.objects)


@torch.no_grad()
def ablation_relevance(model: nn.Module, images, layer, targets=None, channels=None,
                       batch_size: int = 256) -> np.ndarray:
    """Relevance by ablation: ``y_c - y_c(A_k = 0)`` for each image and feature map.

    Each image is run once per ablated map, with a forward hook that zeroes that map of the
    layer's output (``batch_size`` passes at a time), in eval mode.

    Parameters
    ----------
    model, images, layer, targets
        As in :func:`capture` (targets are resolved the same way).
    channels : sequence of int, optional
        Maps to ablate (default: all K).

    Returns
    -------
    (B, len(channels)) ndarray, float64
        Positive where removing the map lowers the class score.
    """
    images = _check_images(images).to(model_device(model))
    _check_channels(model, images)
    module, name = resolve_layer(model, layer)
    state = {"mask": None}

    def hook(_module, _inputs, output):
        mask = state["mask"]
        return output if mask is None else output * mask[:, :, None, None].to(output)

    with _eval_mode(model), _hooked(module, hook):
        logits, A = _forward_with_layer(model, module, name, images)
        t = _Targets(targets, logits)
        base = t.scores(logits).double().cpu().numpy()
        k = A.shape[1]
        chans = np.arange(k) if channels is None else np.asarray(channels, dtype=np.int64)
        if chans.size and (chans.min() < 0 or chans.max() >= k):
            raise EncodingError(f"channels must lie in 0..{k - 1}, got {chans.min()}..{chans.max()}.")
        b_idx, j_idx = np.divmod(np.arange(images.shape[0] * chans.size), chans.size)
        out = np.empty(b_idx.size)
        for start in range(0, b_idx.size, batch_size):
            bi = torch.as_tensor(b_idx[start:start + batch_size])
            mask = torch.ones(bi.numel(), k)
            mask[torch.arange(bi.numel()), torch.as_tensor(chans[j_idx[start:start + batch_size]])] = 0.0
            state["mask"] = mask
            out[start:start + bi.numel()] = t.scores(model(images[bi]), bi).double().cpu().numpy()
    return base[:, None] - out.reshape(images.shape[0], chans.size)
