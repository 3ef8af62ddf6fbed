"""From a config's [data], [model] and [train] to images and models (private; the client's
side).

:func:`check_inputs` looks for every file the config names before anything runs, so that a
missing file stops a study at once with the key and the fix. :func:`load_data` reads the train
and held-out splits; :func:`load_models` builds, trains and caches the built-in architectures,
or loads the user's own model, and checks it against the data.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .config import StudyConfig
from .exceptions import ConfigError

__all__ = ["ExplainedModel", "check_inputs", "load_data", "load_models"]


@dataclass
class ExplainedModel:
    """A model to explain, with what it is explained on.

    Attributes
    ----------
    name : str
        Its name in instance ids and figures (the architecture, or the factory's callable).
    model : torch.nn.Module
        In eval mode, parameters frozen (explanations need gradients of the explained layer's
        output only).
    layer : str
        Dotted name of the explained layer.
    test : encoding.ImageDataset
        The held-out images explanations are drawn from.
    metadata : dict
        Provenance: checkpoint, training recipe and accuracy, factory, layer channels.
    """

    name: str
    model: object = field(repr=False)
    layer: str
    test: object = field(repr=False)
    metadata: dict = field(default_factory=dict)


def _config_dir(config: StudyConfig) -> Path:
    source = Path(config.source)
    return source.parent if source.suffix == ".toml" and source.is_file() else Path.cwd()


def check_inputs(config: StudyConfig) -> None:
    """Every file the config names exists (data files per source, weights, checkpoint).

    Raises
    ------
    ConfigError
        Naming the key, the missing files and how to give them.
    """
    from encoding import missing_data_files

    d, m = config.settings.data, config.settings.model
    missing = []
    if d.path is not None:
        root = Path(d.path)
        if d.source == "folder" and not root.is_dir():
            missing.append(f"[data] path = {d.path!r}: no such folder (one sub-folder of images "
                           "per class)")
        elif d.source == "stl10":
            lack = missing_data_files("stl10", root)
            if lack:
                missing.append(f"[data] path = {d.path!r}: STL-10 binary files missing: {lack} "
                               "(the folder stl10_binary/ of the binary release)")
        elif d.source == "mnist":
            lack = missing_data_files("mnist", root)
            if lack:
                missing.append(f"[data] path = {d.path!r}: MNIST IDX files missing: {lack} "
                               "(plain or .gz)")
    for key in ("weights", "checkpoint"):
        value = getattr(m, key)
        if value is not None and not Path(value).is_file():
            missing.append(f"[model] {key} = {value!r}: no such file")
    if missing:
        raise ConfigError(f"{config.source}: input files not found (paths are relative to the "
                          "working directory; qaxai never downloads):\n  " + "\n  ".join(missing))


def _limit(data, limit, seed):
    if limit is None or len(data) <= limit:
        return data
    from sklearn.model_selection import train_test_split

    labels = data.labels.numpy()
    try:
        keep, _ = train_test_split(np.arange(len(data)), train_size=int(limit),
                                   random_state=seed, stratify=labels)
    except ValueError:  # fewer images than classes: a plain seeded draw
        keep = np.random.default_rng(seed).choice(len(data), int(limit), replace=False)
    return data.subset(np.sort(keep))


def load_data(config: StudyConfig):
    """The training and held-out splits of ``[data]``.

    Returns
    -------
    train, test : encoding.ImageDataset
        Pixels in [0, 1] (normalisation happens inside the model); MNIST and STL-10 use
        their own train and test files, the digits and a folder a seeded stratified split
        (``test_fraction``, seed ``[train] seed``). ``limit`` and ``test_limit`` keep a seeded
        stratified subset of each split (MNIST and STL-10 read only the first images).
    """
    from encoding import load_digits_dataset, load_image_folder, load_mnist, load_stl10

    d, seed = config.settings.data, config.settings.train.seed
    size = d.size
    test_limit = d.test_limit if d.test_limit is not None else d.limit
    if d.source in ("mnist", "stl10"):
        load = load_mnist if d.source == "mnist" else load_stl10
        return _same_classes(config, load(d.path, "train", size=size, limit=d.limit),
                             load(d.path, "test", size=size, limit=test_limit))
    if d.source == "digits":
        data = load_digits_dataset(size)
    else:
        data = load_image_folder(d.path, size=size, mode="RGB" if d.channels == 3 else "L")
    counts = np.bincount(data.labels.numpy(), minlength=len(data.classes))
    if counts.min() < 2:
        raise ConfigError(f"{config.source}: class {data.classes[int(counts.argmin())]!r} has "
                          f"{int(counts.min())} image(s); a train/held-out split needs at least 2 "
                          "per class.")
    train, test = data.split(d.test_fraction, seed)
    return _limit(train, d.limit, seed), _limit(test, test_limit, seed)


def _same_classes(config: StudyConfig, train, test):
    """The two splits of a file-based source name the same classes: a model is trained with
    one output per class of the one and explained on the other."""
    if train.classes != test.classes:
        raise ConfigError(
            f"{config.source}: [data] path = {config.settings.data.path!r}: the training split "
            f"has labels 0..{len(train.classes) - 1}, the held-out split 0..{len(test.classes) - 1}"
            "; both splits must label the same classes. Check the label files.")
    return train, test


def _is_default_digits(config: StudyConfig) -> bool:
    from encoding import DEFAULT_RECIPE

    d, m, t = config.settings.data, config.settings.model, asdict(config.settings.train)
    recipe = {k: DEFAULT_RECIPE[k] for k in t}
    return (d.source == "digits" and d.size is None and d.mean is None
            and d.limit is None and d.test_limit is None
            and d.test_fraction == DEFAULT_RECIPE["test_fraction"]
            and m.backbone == "digits-conv" and t == recipe)


def _listed(value):
    """Tuples as lists, as the TOML view and the model cache's keys have them."""
    return list(value) if isinstance(value, tuple) else value


def _freeze(model):
    model.eval()
    model.requires_grad_(False)
    return model


def load_models(config: StudyConfig, *, progress: bool = True, data=None, device=None
                ) -> list[ExplainedModel]:
    """The models of ``[model]``, each with its held-out images.

    Built-in architectures are trained on the train split by ``[train]`` (a frozen backbone's
    maps computed once) and cached by a key of data, model and recipe; a ``checkpoint`` is
    loaded instead. A ``factory`` model is imported (the config's folder and the working
    directory come first on ``sys.path``), its ``checkpoint`` loaded strictly, and checked:
    output ``(B, classes)`` for the data's images, ``layer`` present. Every model is put on
    ``device`` (a torch device; default the CPU), where it is trained as well.
    """
    import torch

    from encoding import (default_model, load_checkpoint, load_digits_dataset,
                          model_from_factory)
    from encoding.exceptions import EncodingError

    c, m, d = config, config.settings.model, config.settings.data
    out = []
    if m.factory is None and _is_default_digits(c) and m.checkpoint is None:
        # the bundled default: shared with `qaxai explain` and the cache of default_model
        digits = load_digits_dataset()
        for arch in m.architectures:
            model, meta = default_model(arch, n_maps=m.n_maps, progress=progress, device=device)
            test = digits.subset(meta["test_indices"])
            out.append(ExplainedModel(arch, _freeze(model), m.layer or model.target_layer,
                                      test, _provenance(meta)))
        return _checked(out, c)
    train, test = data if data is not None else load_data(c)
    if m.factory is not None:
        try:
            model = model_from_factory(m.factory, m.checkpoint,
                                       search_path=[_config_dir(c), Path.cwd()])
            model = _with_normalisation(model, d.mean, d.std).to(device or torch.device("cpu"))
        except EncodingError as err:
            raise ConfigError(f"{c.source}: [model] factory: {err}") from err
        name = re.sub(r"[^A-Za-z0-9_.]+", "-", m.factory.split(":")[1])
        out.append(ExplainedModel(name, _freeze(model), m.layer, test,
                                  {"factory": m.factory, "checkpoint": m.checkpoint}))
        return _checked(out, c)
    for arch in m.architectures:
        model, meta = (load_checkpoint(m.checkpoint) if m.checkpoint is not None
                       else _trained(arch, c, train, test, progress, device))
        model = model.to(device or torch.device("cpu"))
        out.append(ExplainedModel(arch, _freeze(model), m.layer or model.target_layer, test,
                                  _provenance(meta)))
    return _checked(out, c)


def _trained(arch: str, config: StudyConfig, train, test, progress: bool, device=None):
    """A built-in architecture trained on ``train`` by ``[train]`` (cached by a key of data,
    model and recipe); returns ``(model, metadata)``."""
    import torch

    from encoding import trained_model

    d, m = config.settings.data, config.settings.model
    channels, *size = test.image_shape
    model_config = {"architecture": arch, "backbone": m.backbone, "n_maps": m.n_maps,
                    "num_classes": len(test.classes), "in_channels": channels,
                    "image_size": list(size)}
    if d.mean is not None:
        model_config.update(mean=list(d.mean), std=list(d.std))
    data_key = {k: _listed(getattr(d, k)) for k in ("source", "size", "limit", "test_fraction",
                                                     "channels")}
    data_key["path"] = str(Path(d.path).resolve()) if d.path else None
    with torch.random.fork_rng():
        return trained_model(model_config, train, test, recipe=asdict(config.settings.train),
                             weights=m.weights, data_key=data_key, progress=progress,
                             name=f"{d.source}-{arch.lower()}-{m.backbone}", device=device)


def _provenance(meta: dict) -> dict:
    keep = ("checkpoint", "test_accuracy", "train_seconds", "recipe", "data")
    return {k: meta[k] for k in keep if k in meta}


def _checked(models: list[ExplainedModel], config: StudyConfig) -> list[ExplainedModel]:
    from encoding import check_classifier
    from encoding.exceptions import EncodingError

    for e in models:
        try:
            e.layer = check_classifier(e.model, e.test.image_shape, len(e.test.classes), e.layer,
                                       what=f"model {e.name!r}")
        except EncodingError as err:
            raise ConfigError(f"{config.source}: {err}") from err
        e.metadata["layer"] = e.layer
    return models


class _NormaliseInput:
    """A forward pre-hook applying :class:`encoding.InputNormalization` (picklable, for Dask
    workers)."""

    def __init__(self, mean, std):
        from encoding import InputNormalization

        self.normalise = InputNormalization(mean, std, len(mean))

    def __call__(self, module, args):
        return (self.normalise(args[0]), *args[1:])


def _with_normalisation(model, mean, std):
    if mean is not None:
        model.register_forward_pre_hook(_NormaliseInput(mean, std))
    return model
