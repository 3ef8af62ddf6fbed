"""Training, checkpoints and the cached default model (private).

A checkpoint is two files side by side: ``NAME.pt`` holds the ``state_dict`` only (read back
with ``torch.load(..., weights_only=True)``: no pickled code) and ``NAME.json`` the model's
config and metadata (data, recipe, accuracy, versions), from which the model is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ._allocator import auto_batch_size, hold_freed_memory
from ._data import ImageDataset, load_digits_dataset, split_indices
from ._device import model_device, resolve_device
from ._models import build_model
from .exceptions import EncodingError

__all__ = ["TrainResult", "train", "evaluate", "save_checkpoint", "load_checkpoint",
           "default_model", "trained_model", "dataset_fingerprint", "cache_dir",
           "DEFAULT_MODEL_CONFIG", "DEFAULT_RECIPE"]

#: the bundled default: the paper's architecture on the digits, 16 maps of 8 x 8
DEFAULT_MODEL_CONFIG = {"architecture": "PaperNet", "backbone": "digits-conv", "n_maps": 16,
                        "num_classes": 10, "in_channels": 1, "image_size": [8, 8]}
#: its training recipe
DEFAULT_RECIPE = {"epochs": 15, "batch_size": 64, "lr": 3e-3, "weight_decay": 1e-4, "seed": 0,
                  "test_fraction": 0.2}
_RECIPE_VERSION = 1


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : torch.nn.Module
        The trained model, in eval mode.
    test_accuracy : float
        Fraction of the held-out images classified correctly.
    history : list of dict
        Per epoch: ``epoch``, ``loss`` (mean cross-entropy), ``train_accuracy``.
    seconds : float
        Wall time of training.
    feature_seconds : float
        Of which computing the frozen backbone's maps once (``cache_features``; else 0).
    """

    model: nn.Module
    test_accuracy: float
    history: list = field(default_factory=list)
    seconds: float = 0.0
    feature_seconds: float = 0.0


@torch.no_grad()
def evaluate(model: nn.Module, data: ImageDataset, batch_size: int | None = None) -> float:
    """Fraction of ``data`` that ``model`` classifies correctly (eval mode; restored after);
    ``batch_size`` defaults to :func:`encoding.metrics.auto_batch_size`; the images are read
    in batches."""
    batch_size = batch_size or auto_batch_size((len(data), *data.image_shape), 512)
    was = model.training
    model.eval()
    try:
        correct = 0
        device = model_device(model)
        for x, y in data.batches(batch_size):
            logits = model(x.to(device))
            correct += int((logits.argmax(1).cpu() == y).sum())
    finally:
        model.train(was)
    return correct / max(len(data), 1)


def train(model: nn.Module, data: ImageDataset, test_data: ImageDataset | None = None, *,
          epochs: int = 15, batch_size: int = 64, lr: float = 3e-3, weight_decay: float = 1e-4,
          seed: int = 0, progress: bool = True, cache_features: bool = True) -> TrainResult:
    """Train ``model`` on ``data`` with Adam and cross-entropy; seeded and reproducible.

    Parameters
    ----------
    model : torch.nn.Module
        Any classifier returning logits ``(B, classes)``; trained in place (parameters with
        ``requires_grad=False``, e.g. a frozen backbone, are left alone).
    data : ImageDataset
        Training images.
    test_data : ImageDataset, optional
        Held-out images for ``test_accuracy`` (default: none, accuracy NaN).
    epochs, batch_size, lr, weight_decay : training recipe.
    seed : int
        Seeds the shuffling (and nothing global: torch's global RNG is left as it was).
    progress : bool
        A tqdm bar over epochs.
    cache_features : bool
        For a qaxai model with a frozen backbone (``model.frozen_backbone``), run the backbone
        once over ``data`` and train ``reduce`` and ``head`` on its stored maps: the same
        updates (a frozen backbone is deterministic in eval mode), without recomputing the
        backbone every epoch. The maps take ``N x C x h x w`` floats of memory; the images
        themselves are read in batches, never all at once.
    """
    if epochs < 1 or batch_size < 1 or not lr > 0:
        raise EncodingError(f"epochs and batch_size must be >= 1 and lr > 0, got {epochs}, "
                            f"{batch_size}, {lr}.")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise EncodingError("the model has no trainable parameters (all requires_grad=False).")
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    gen = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    t0 = time.perf_counter()
    n = len(data)
    cached = cache_features and getattr(model, "frozen_backbone", False) and \
        hasattr(model, "features")
    hold_freed_memory()  # long forward loops: freed activations stay in the heap for reuse
    features = _backbone_features(model, data) if cached else None
    feature_seconds = time.perf_counter() - t0 if cached else 0.0
    forward = (lambda x: model.head(model.reduce(x))) if cached else model  # noqa: E731
    model.train()
    bar = tqdm(range(epochs), desc="train", unit="epoch", disable=not progress, leave=False)
    device = model_device(model)
    for epoch in bar:
        order = torch.randperm(n, generator=gen)
        total, correct = 0.0, 0
        batches = (((features[idx], data.labels[idx]) for idx in order.split(batch_size))
                   if cached else data.batches(batch_size, order.numpy()))
        for x, y in batches:
            x, y = x.to(device), y.to(device)
            opt.zero_grad()
            logits = forward(x)
            loss = loss_fn(logits, y)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(y)
            correct += int((logits.argmax(1) == y).sum())
        sched.step()
        history.append({"epoch": epoch + 1, "loss": total / n, "train_accuracy": correct / n})
        bar.set_postfix(loss=f"{total / n:.3f}", acc=f"{correct / n:.3f}")
    model.eval()
    acc = evaluate(model, test_data) if test_data is not None else float("nan")
    return TrainResult(model, acc, history, time.perf_counter() - t0, feature_seconds)


@torch.no_grad()
def _backbone_features(model: nn.Module, data: ImageDataset) -> torch.Tensor:
    """The frozen backbone's maps of every image of ``data``, read in batches and kept in
    host memory (each training batch goes to the device)."""
    batch_size = auto_batch_size((len(data), *data.image_shape), 64)
    model.backbone.eval()
    device = model_device(model)
    out = None
    for i, (x, _) in enumerate(data.batches(batch_size)):
        maps = model.features(x.to(device)).cpu()
        if out is None:  # one allocation for all maps, filled batch by batch
            out = torch.empty((len(data), *maps.shape[1:]), dtype=maps.dtype)
        out[i * batch_size:i * batch_size + len(maps)] = maps
    return out


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_checkpoint(model: nn.Module, path, metadata: dict | None = None) -> Path:
    """Write ``PATH.pt`` (the state_dict) and ``PATH.json`` (``model.config`` + metadata).

    The JSON is written last, so a checkpoint without its JSON is incomplete and is not loaded.
    Returns the ``.pt`` path.
    """
    config = getattr(model, "config", None)
    if not isinstance(config, dict):
        raise EncodingError("save_checkpoint needs a qaxai model (with a .config dict); for your "
                            "own model save its state_dict with torch.save.")
    pt = Path(path).with_suffix(".pt")
    pt.parent.mkdir(parents=True, exist_ok=True)
    meta = {"config": config, "torch": torch.__version__, **(metadata or {})}
    text = json.dumps(meta, indent=2, sort_keys=True)
    # saved from the CPU: a checkpoint loads on any machine, whatever device trained it
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _atomic_write(pt, lambda p: torch.save(state, p))
    _atomic_write(pt.with_suffix(".json"), lambda p: p.write_text(text))
    return pt


def load_checkpoint(path) -> tuple[nn.Module, dict]:
    """The model (eval mode) and metadata of a checkpoint written by :func:`save_checkpoint`.

    Its state_dict holds every parameter, a pre-trained backbone's included."""
    pt = Path(path).with_suffix(".pt")
    js = pt.with_suffix(".json")
    if not (pt.is_file() and js.is_file()):
        raise EncodingError(f"checkpoint {str(pt)!r} is incomplete: expected {pt.name} and "
                            f"{js.name} side by side.")
    meta = json.loads(js.read_text())
    model = build_model(meta["config"])
    state = torch.load(pt, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    return model, meta


def cache_dir() -> Path:
    """Where trained default models are kept: ``$QAXAI_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/qaxai``, else ``~/.cache/qaxai``."""
    if os.environ.get("QAXAI_CACHE_DIR"):
        return Path(os.environ["QAXAI_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "qaxai"


def _key(config: dict, recipe: dict) -> str:
    text = json.dumps({"config": config, "recipe": recipe, "version": _RECIPE_VERSION},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def dataset_fingerprint(data: ImageDataset) -> str:
    """A short hash of a dataset's labels, shape and a strided sample of its pixels: enough to
    tell two datasets apart in a cache key without hashing every pixel."""
    h = hashlib.sha256()
    h.update(repr(((len(data), *data.image_shape), data.classes)).encode())
    h.update(data.labels.numpy().tobytes())
    step = max(1, len(data) // 64)
    h.update(data.batch(np.arange(0, len(data), step)).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def trained_model(config: dict, train_data: ImageDataset, test_data: ImageDataset | None = None,
                  *, recipe: dict | None = None, weights: str | os.PathLike | None = None,
                  data_key: dict | None = None, cache: str | os.PathLike | None = None,
                  progress: bool = True, retrain: bool = False, name: str = "model",
                  extra_metadata: dict | None = None, device=None) -> tuple[nn.Module, dict]:
    """A built-in model (``config`` as in ``model.config``) trained on ``train_data``, cached.

    The checkpoint's name is a hash of the model config, the recipe, the data (``data_key``
    and :func:`dataset_fingerprint`) and the backbone weights file's content, so a change to
    any of them trains anew and never loads a stale model.

    Parameters
    ----------
    config : dict
        Model config for :func:`encoding.build_model`.
    train_data, test_data : ImageDataset
        Training images; held-out images for ``test_accuracy``.
    recipe : dict, optional
        ``epochs``, ``batch_size``, ``lr``, ``weight_decay``, ``seed`` (default
        :data:`DEFAULT_RECIPE`).
    weights : path, optional
        Backbone weights file (ResNet-18).
    data_key : dict, optional
        JSON-serialisable description of the data (source, path, size, ...).
    cache, progress, retrain
        As in :func:`default_model`.
    name : str
        Prefix of the checkpoint's file name.
    device : str or torch.device, optional
        Where to train and return the model (:func:`encoding.resolve_device`; default the
        CPU). The cached checkpoint is the same file whatever the device.

    Returns
    -------
    model, metadata
        As in :func:`default_model` (without ``test_indices``).
    """
    device = resolve_device(device if device is not None else "cpu")
    recipe = {**DEFAULT_RECIPE, **(recipe or {})}
    key = {"data": data_key or {}, "fingerprint": dataset_fingerprint(train_data),
           "weights": _file_sha256(weights) if weights is not None else None}
    folder = Path(cache) if cache is not None else cache_dir()
    path = folder / f"{name}-{_key({**config, 'key': key}, recipe)}.pt"
    if not retrain and path.is_file() and path.with_suffix(".json").is_file():
        model, meta = load_checkpoint(path)
        meta["checkpoint"] = str(path)
        return model.to(device), meta
    with torch.random.fork_rng():
        torch.manual_seed(recipe["seed"])
        model = build_model(config, weights=weights).to(device)
    result = train(model, train_data, test_data, epochs=recipe["epochs"],
                   batch_size=recipe["batch_size"], lr=recipe["lr"],
                   weight_decay=recipe["weight_decay"], seed=recipe["seed"], progress=progress)
    meta = {"recipe": recipe, "data": train_data.name, "data_key": key,
            "test_accuracy": result.test_accuracy, "train_seconds": result.seconds,
            "history": result.history, **(extra_metadata or {})}
    try:
        save_checkpoint(result.model, path, meta)
        where = str(path)
    except OSError as err:  # a read-only cache: keep the trained model, say so
        warnings.warn(f"could not cache the trained model in {str(folder)!r} ({err}); it will "
                      "be trained again next time. Set QAXAI_CACHE_DIR to a writable folder.",
                      stacklevel=2)
        where = None
    meta = {"config": result.model.config, "torch": torch.__version__, **meta,
            "checkpoint": where}
    return result.model, meta


def default_model(architecture: str = "PaperNet", *, n_maps: int = 16,
                  cache: str | os.PathLike | None = None, progress: bool = True,
                  retrain: bool = False, device=None) -> tuple[nn.Module, dict]:
    """The bundled default classifier of the digits, trained on first use and cached.

    Parameters
    ----------
    architecture : {"PaperNet", "GapNet"}
    n_maps : int
        Feature maps of the explained layer (``model.reduce``).
    cache : path, optional
        Cache folder (default :func:`cache_dir`); the checkpoint's name is a hash of the model
        config and the training recipe, so a changed recipe never loads a stale model.
    progress : bool
        Show a progress bar while training.
    retrain : bool
        Train even if a cached checkpoint exists.
    device : str or torch.device, optional
        As in :func:`trained_model` (default the CPU).

    Returns
    -------
    model : torch.nn.Module
        In eval mode, on ``device``.
    metadata : dict
        ``config``, ``recipe``, ``data``, ``test_accuracy``, ``test_indices`` (the held-out
        digits), ``train_seconds``, ``checkpoint`` (path).
    """
    config = {**DEFAULT_MODEL_CONFIG, "architecture": architecture, "n_maps": int(n_maps)}
    recipe = dict(DEFAULT_RECIPE)
    data = load_digits_dataset()
    train_idx, test_idx = split_indices(data.labels.numpy(), recipe["test_fraction"],
                                        recipe["seed"])
    return trained_model(config, data.subset(train_idx), data.subset(test_idx), recipe=recipe,
                         data_key={"source": "digits"}, cache=cache, progress=progress,
                         retrain=retrain, name=f"digits-{architecture.lower()}",
                         extra_metadata={"test_indices": test_idx.tolist()}, device=device)
