"""A user's own classifier: built by an importable factory, weights from a state_dict file
(private).

The factory is named as ``"package.module:callable"`` and called with no arguments; it must
return an ``nn.Module`` whose output for a batch is ``(B, classes)``. Its weights come from a
checkpoint holding a state_dict, read with ``torch.load(..., weights_only=True)`` (no pickled
code is ever loaded). The model is used as given, in eval mode; it is never trained.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import traceback
from os import PathLike
from pathlib import Path

import torch
from torch import nn

from ._capture import check_scores, resolve_layer
from ._device import model_device
from ._state_dict import load_strictly, read_state_dict
from .exceptions import EncodingError

__all__ = ["model_from_factory", "check_classifier"]


def _import_factory(spec: str, search_path=()):
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise EncodingError(f"factory must be 'package.module:callable', got {spec!r}.")
    added = [str(Path(p).resolve()) for p in search_path if str(Path(p).resolve()) not in sys.path]
    sys.path[:0] = added  # kept: worker processes started later inherit it
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # noqa: BLE001 - ImportError, or the module's own error
        where = ", ".join([*map(str, search_path), "the installed packages"])
        raise EncodingError(f"factory {spec!r}: cannot import {module_name!r} ({type(err).__name__}: "
                            f"{err}); it is looked up in {where}. Install the package or put "
                            "the module next to the config.") from err
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(module) if not n.startswith("_")]
            raise EncodingError(f"factory {spec!r}: module {module_name!r} has no {attr!r}; it "
                                f"has {names[:20]}.")
        obj = getattr(obj, part)
    if not callable(obj):
        raise EncodingError(f"factory {spec!r} is a {type(obj).__name__}, not a callable.")
    return obj


def model_from_factory(factory: str, checkpoint: str | PathLike | None = None, *,
                       search_path=()) -> nn.Module:
    """Build a user's model: import and call ``factory``, load ``checkpoint`` strictly.

    Parameters
    ----------
    factory : str
        ``"package.module:callable"``; the callable takes no arguments and returns an
        ``nn.Module``.
    checkpoint : path, optional
        A state_dict file; default: the factory's own weights.
    search_path : sequence of paths
        Folders put in front of ``sys.path`` before importing (e.g. the config's folder and
        the working directory).

    Returns
    -------
    torch.nn.Module
        In eval mode.

    Raises
    ------
    EncodingError
        The factory does not import or does not return a module; the checkpoint is unreadable
        or its keys or shapes do not match (the first missing and unexpected keys are named).
    """
    make = _import_factory(factory, search_path)
    try:
        signature = inspect.signature(make)
    except (TypeError, ValueError):  # a builtin or C callable: called as it is
        signature = None
    if signature is not None:
        needed = [p.name for p in signature.parameters.values()
                  if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY,
                                                         p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        if needed:
            raise EncodingError(f"factory {factory!r} needs the arguments {needed}, but a factory "
                                "is called with no arguments: give them defaults, or wrap it "
                                "(def make_model(): return MyNet(...)).")
    try:
        model = make()
    except Exception as err:  # noqa: BLE001 - the user's code: named, with its error and line
        frame = traceback.extract_tb(err.__traceback__)[-1]
        raise EncodingError(f"factory {factory!r} raised {type(err).__name__}: {err} (at "
                            f"{frame.filename}:{frame.lineno}); fix the factory, or try it "
                            "alone: python -c \"import "
                            f"{factory.split(':')[0]} as m; m.{factory.split(':')[1]}()\".") \
            from err
    if not isinstance(model, nn.Module):
        raise EncodingError(f"factory {factory!r} returned a {type(model).__name__}, not a "
                            "torch.nn.Module.")
    if checkpoint is not None:
        path = Path(checkpoint)
        state = read_state_dict(
            path, what="checkpoint",
            missing=f"checkpoint {str(path)!r} does not exist: give the file holding your "
                    "model's state_dict (torch.save(model.state_dict(), PATH)).")
        load_strictly(model, state, where=f"checkpoint {str(path)!r} does not fit the model "
                      f"of {factory!r}", needs=f"the model of {factory!r}")
    return model.eval()


@torch.no_grad()
def check_classifier(model: nn.Module, image_shape: tuple[int, int, int], num_classes: int,
                     layer, *, what: str = "the model") -> str:
    """Check that ``model`` maps images ``(B, *image_shape)`` to ``(B, num_classes)`` and has
    ``layer``; returns the layer's dotted name.

    Raises
    ------
    EncodingError
        Naming the output shape found, or the layer's near names.
    """
    _, name = resolve_layer(model, layer)
    was = model.training
    model.eval()
    try:
        out = model(torch.zeros(2, *image_shape, device=model_device(model)))
    except Exception as err:  # noqa: BLE001 - a shape mismatch inside the user's model
        raise EncodingError(f"{what} fails on images of shape (2, {', '.join(map(str, image_shape))}): "
                            f"{type(err).__name__}: {err}. Check [data] size and the number of "
                            "channels.") from err
    finally:
        model.train(was)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, num_classes):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise EncodingError(f"{what} must return class scores (B, {num_classes}) for the data's "
                            f"{num_classes} classes, got {shape} for B = 2.")
    try:
        check_scores(out, what="a blank test image")
    except EncodingError as err:
        raise EncodingError(f"{what}: {err}") from None
    return name
