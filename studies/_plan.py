"""From a config to instances (private; runs on the client).

The CNN side is cheap (milliseconds per image), so the client does it: it loads (or trains
and caches) the model, picks the correctly classified held-out images, captures maps and
gradients and builds every selection QUBO. Workers get BQMs, not models, for the physics;
the one XAI instance per model gets the model and the images.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np

from .config import StudyConfig
from .exceptions import ConfigError
from .problems import _random_selection

__all__ = ["Instance", "plan", "instance_seed"]


@dataclass
class Instance:
    """One unit of work.

    Attributes
    ----------
    id : str
        Its group name in the HDF5 file (stable across runs: resume relies on it).
    kind : {"problem", "xai"}
    spec : dict
        JSON-serialisable description (stored as the group's ``spec`` attribute).
    payload : dict
        What the worker computes from (a BQM, encoding arrays; or a model and images).
    """

    id: str
    kind: str
    spec: dict
    payload: dict = field(repr=False, default_factory=dict)


def instance_seed(study_seed: int, instance_id: str) -> int:
    """A seed that depends only on the study seed and the instance id (stable on resume)."""
    return (zlib.crc32(instance_id.encode()) ^ (study_seed * 2654435761)) % (2**31 - 1)


def _fingerprints(entry, idx: np.ndarray, explained) -> dict:
    """What every instance of one model records of its inputs (compared on resume)."""
    from ._fingerprint import images_sha256, weights_sha256

    return {"weights_sha256": weights_sha256(entry.model),
            "images_sha256": images_sha256(explained.images, explained.labels.numpy(), idx)}


def _xai_instance(entry, idx: np.ndarray, c, prints: dict, device, explained) -> Instance:
    """One model's explanations of its chosen held-out images, on ``device``."""
    return Instance(
        f"xai-{entry.name}", "xai",
        {"architecture": entry.name, "layer": entry.layer, "model": entry.metadata,
         "images": idx.tolist(), "methods": list(c.xai.methods), "n_boot": c.xai.n_boot,
         "n_perm": c.xai.n_perm, "null": c.xai.null, "seed": c.study.seed,
         "max_qubits": c.xai.max_qubits, "device": str(device or "cpu"), **prints},
        # only the explained images travel to the worker, as pixels at the model's size (a
        # mapped or file-backed held-out set stays where it is)
        {"model": entry.model, "data": explained, "indices": np.arange(idx.size)})


def _explained(test, idx: np.ndarray):
    """The images at ``idx`` of ``test``, held in memory at the model's size (made once per
    model: fingerprints, captures and the XAI task share them)."""
    from encoding import ImageDataset

    chosen = test.subset(idx)
    return ImageDataset(chosen.images, chosen.labels, test.classes, test.name)


def _image_problems(entry, idx: np.ndarray, c, prints: dict, explained) -> list[Instance]:
    """The selection problems of each chosen image: by image, formulation, then qubit cap
    (a larger cap with the same candidates is the same problem, kept once)."""
    from encoding import SelectionQubo, capture

    arch, labels = entry.name, entry.test.labels.numpy()
    # capture() splits large batches itself; the explained layer's maps are small
    cap = capture(entry.model, explained.images, entry.layer, labels[idx])
    out = []
    for row, i in enumerate(idx):
        for form in c.problems.formulations:
            seen = set()
            for cap_n in sorted(c.problems.qubits):
                qubo = SelectionQubo(form, beta=c.problems.beta, max_qubits=cap_n)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    qubo.fit(cap.activations[row], cap.gradients[row], image_id=int(i),
                             target=int(labels[i]))
                key = tuple(qubo.candidates_.tolist())
                if key in seen:
                    continue
                seen.add(key)
                spec = {"source": "image", "architecture": arch, "image": int(i),
                        "label": int(labels[i]), "formulation": form, "qubit_cap": cap_n,
                        "n": int(qubo.bqm_.num_variables), "m": qubo.metadata_["m"],
                        "layer": entry.layer, "n_maps": int(qubo.metadata_["n_maps"]),
                        "candidates_dropped": len(qubo.metadata_["dropped"]), **prints}
                out.append(Instance(f"{arch}-img{int(i):04d}-{form}-n{cap_n:02d}", "problem",
                                    spec, {"bqm": qubo.bqm_, "relevance": qubo.relevance_,
                                           "candidates": qubo.candidates_,
                                           "metadata": qubo.metadata_}))
    return out


def _random_problems(c) -> list[Instance]:
    out = []
    for n in c.problems.random_qubits:
        for seed in c.problems.random_seeds:
            bqm, r, meta = _random_selection(n, seed, "proven", 0.5)
            out.append(Instance(f"random-n{n:02d}-seed{seed}", "problem", {
                "source": "random", "formulation": "cardinality", "n": n, "seed": seed,
                "m": meta["m"]}, {"bqm": bqm, "relevance": r, "candidates": np.arange(n),
                                  "metadata": meta}))
    return out


def _with_scales(instances: list[Instance], scales) -> list[Instance]:
    """Each problem once per ``[problems] scales`` entry. A problem with H_P kept in the BQM's
    units ("none") follows its scaled twin, with the id suffix ``-unscaled`` and
    ``spec["scale"] = "none"``; without that key a problem's H_P is scaled ("auto")."""
    scales = tuple(dict.fromkeys(scales))
    out = []
    for inst in instances:
        if inst.kind != "problem":
            out.append(inst)
            continue
        if "auto" in scales:
            out.append(inst)
        if "none" in scales:
            out.append(Instance(f"{inst.id}-unscaled", inst.kind, {**inst.spec, "scale": "none"},
                                inst.payload))
    return out


def _mark_hardware(instances: list[Instance], hw) -> None:
    """The first ``[hardware] instances`` scaled problems within its qubit range get the
    stand-in (the QPU scales H_P itself)."""
    if hw.enabled:
        chosen = [inst for inst in instances if inst.kind == "problem"
                  and inst.spec.get("scale", "auto") == "auto"
                  and hw.min_qubits <= inst.spec["n"] <= hw.max_qubits][:hw.instances]
        for inst in chosen:
            inst.spec["hardware"] = True


def _check_classes(config: StudyConfig, entry) -> None:
    """``[images] classes`` names classes of the model's data, each of them."""
    classes = config.settings.images.classes
    if classes is None:
        return
    names = entry.test.classes
    missing = sorted(set(classes) - set(range(len(names))))
    if missing:
        listed = ", ".join(f"{i} ({name})" for i, name in enumerate(names))
        raise ConfigError(f"{config.source}: [images] classes {missing} do not exist; the data "
                          f"of {entry.name} has {len(names)} classes: {listed}.")


def _check_reach(config: StudyConfig, instances: list[Instance]) -> None:
    """Each enabled step of ``[spectral]``, ``[dynamics]`` and ``[hardware]`` reaches at least
    one problem through its qubit range: a range that no problem falls in would skip the step
    for the whole study without a word."""
    c = config.settings
    sizes = sorted({inst.spec["n"] for inst in instances
                    if inst.kind == "problem" and inst.spec["n"] > 0})
    if not sizes:
        return
    steps = [("spectral", c.spectral.enabled, 1, c.spectral.max_qubits, "max_qubits"),
             ("dynamics", c.dynamics.enabled, 1, c.dynamics.max_qubits, "max_qubits"),
             ("hardware", c.hardware.enabled, c.hardware.min_qubits, c.hardware.max_qubits,
              "min_qubits and max_qubits")]
    for section, enabled, low, high, keys in steps:
        if enabled and not any(low <= n <= high for n in sizes):
            raise ConfigError(
                f"{config.source}: [{section}] {keys} ({low}..{high} qubits) reach none of the "
                f"study's problems (sizes {sizes}): the step would be skipped for every one. "
                f"Change [{section}] {keys}, or set [{section}] enabled = false.")


def plan(config: StudyConfig, *, progress: bool = True, device=None) -> list[Instance]:
    """Every instance of the study, in a stable order (ids do not depend on the run).

    Order: per architecture, the XAI instance, then its images' problems (by image, then
    formulation, then qubits); then the random problems (by n, then seed); each problem's
    unscaled twin (``[problems] scales``) right after it. The first
    ``[hardware] instances`` scaled problems within its qubit range get the hardware stand-in.
    The models run on ``device`` (a torch device; default the CPU); each XAI instance
    records it in its spec and runs there.
    """
    from encoding import select_correct

    from ._inputs import check_inputs, load_models

    c = config.settings
    instances: list[Instance] = []
    needs_model = bool(c.problems.formulations) or c.xai.enabled
    if needs_model:
        check_inputs(config)
    for entry in (load_models(config, progress=progress, device=device) if needs_model else []):
        _check_classes(config, entry)
        idx = select_correct(entry.model, entry.test, c.images.per_class, c.study.seed)
        labels = entry.test.labels.numpy()
        if c.images.classes is not None:
            idx = idx[np.isin(labels[idx], c.images.classes)]
        if idx.size == 0:
            raise ConfigError(f"{entry.name}: no correctly classified held-out image in the "
                              f"classes {list(c.images.classes)}.")
        explained = _explained(entry.test, idx)
        prints = _fingerprints(entry, idx, explained)
        if c.xai.enabled:
            instances.append(_xai_instance(entry, idx, c, prints, device, explained))
        if c.problems.formulations:
            instances.extend(_image_problems(entry, idx, c, prints, explained))
    instances.extend(_random_problems(c))
    instances = _with_scales(instances, c.problems.scales)
    _check_reach(config, instances)
    _mark_hardware(instances, c.hardware)
    ids = [inst.id for inst in instances]
    if len(set(ids)) != len(ids):  # pragma: no cover - ids are built to be unique
        raise RuntimeError("duplicate instance ids")
    return instances
