"""Reading a state_dict file safely and loading it strictly, with errors that name the keys
(private; shared by the ResNet-18 weights and the user's own checkpoints)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .exceptions import EncodingError

__all__ = ["read_state_dict", "load_strictly"]


def read_state_dict(path: Path, *, what: str, missing: str) -> dict:
    """The state_dict in ``path``, read with ``torch.load(..., weights_only=True)``.

    A training checkpoint that wraps it (``{"state_dict": ...}``) and the ``module.`` prefix
    of a model saved from ``DataParallel`` are unwrapped. ``what`` names the file in errors
    ("checkpoint", "ResNet-18 weights file"); ``missing`` is the error when it does not exist.
    """
    if not path.is_file():
        raise EncodingError(missing)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same advice
        raise EncodingError(f"cannot read {what} {str(path)!r} with "
                            f"torch.load(weights_only=True): {err}. Save the state_dict only "
                            "(torch.save(model.state_dict(), PATH)), not the pickled model.") from err
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EncodingError(f"{what} {str(path)!r} does not hold a state_dict (a dict of "
                            f"tensors), got {type(state).__name__}.")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def load_strictly(module: nn.Module, state: dict, *, where: str, needs: str,
                  ignore: tuple[str, ...] = (), hint: str = "") -> None:
    """Load ``state`` into ``module``: every key of the module present with its shape, no key
    left over except those starting with ``ignore``. Errors start with ``where``, name the
    first missing and unexpected keys (or the first mis-shaped one and what ``needs`` it), and
    end with ``hint``."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own and not (ignore and k.startswith(ignore))]
    if missing or unexpected:
        raise EncodingError(f"{where}: {len(missing)} keys missing (first: {missing[:3]}), "
                            f"{len(unexpected)} unexpected (first: {unexpected[:3]}).{hint}")
    wrong = [(k, tuple(state[k].shape), tuple(v.shape)) for k, v in own.items()
             if state[k].shape != v.shape]
    if wrong:
        k, got, want = wrong[0]
        raise EncodingError(f"{where}: {k} has shape {got}, {needs} needs {want} "
                            f"({len(wrong)} tensors differ).")
    module.load_state_dict({k: state[k] for k in own})
