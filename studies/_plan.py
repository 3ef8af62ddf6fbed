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


def plan(config: StudyConfig, *, progress: bool = True) -> list[Instance]:
    """Every instance of the study, in a stable order (ids do not depend on the run).

    Order: per architecture, the XAI instance, then its images' problems (by image, then
    formulation, then qubits); then the random problems (by n, then seed). The first
    ``[hardware] instances`` problems within its qubit range get the hardware stand-in.
    """
    from encoding import SelectionQubo, capture, select_correct

    from ._inputs import check_inputs, load_models

    c = config
    instances: list[Instance] = []
    needs_model = bool(c.settings.problems.formulations) or c.settings.xai.enabled
    if needs_model:
        check_inputs(c)
    for entry in (load_models(c, progress=progress) if needs_model else []):
        arch, model, test, layer = entry.name, entry.model, entry.test, entry.layer
        idx = select_correct(model, test, c.settings.images.per_class, c.settings.study.seed)
        labels_all = test.labels.numpy()
        if c.settings.images.classes is not None:
            idx = idx[np.isin(labels_all[idx], c.settings.images.classes)]
        if idx.size == 0:
            raise ConfigError(f"{arch}: no correctly classified held-out image in the classes "
                             f"{list(c.settings.images.classes)}.")
        if c.settings.xai.enabled:
            instances.append(Instance(
                f"xai-{arch}", "xai",
                {"architecture": arch, "layer": layer, "model": entry.metadata,
                 "images": idx.tolist(), "methods": list(c.settings.xai.methods),
                 "n_boot": c.settings.xai.n_boot, "n_perm": c.settings.xai.n_perm,
                 "null": c.settings.xai.null, "seed": c.settings.study.seed},
                # only the explained images travel to the worker, not the held-out set
                {"model": model, "data": test.subset(idx), "indices": np.arange(idx.size)}))
        if not c.settings.problems.formulations:
            continue
        # capture() splits large batches itself; the explained layer's maps are small
        cap = capture(model, test.images[idx], layer, labels_all[idx])
        for row, i in enumerate(idx):
            for form in c.settings.problems.formulations:
                seen = set()  # a larger cap with the same candidates is the same problem
                for cap_n in sorted(c.settings.problems.qubits):
                    qubo = SelectionQubo(form, beta=c.settings.problems.beta, max_qubits=cap_n)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        qubo.fit(cap.activations[row], cap.gradients[row], image_id=int(i),
                                 target=int(labels_all[i]))
                    key = tuple(qubo.candidates_.tolist())
                    if key in seen:
                        continue
                    seen.add(key)
                    iid = f"{arch}-img{int(i):04d}-{form}-n{cap_n:02d}"
                    spec = {"source": "image", "architecture": arch, "image": int(i),
                            "label": int(labels_all[i]), "formulation": form,
                            "qubit_cap": cap_n, "n": int(qubo.bqm_.num_variables),
                            "m": qubo.metadata_["m"], "layer": layer,
                            "n_maps": int(qubo.metadata_["n_maps"]),
                            "candidates_dropped": len(qubo.metadata_["dropped"])}
                    instances.append(Instance(iid, "problem", spec, {
                        "bqm": qubo.bqm_, "relevance": qubo.relevance_,
                        "candidates": qubo.candidates_, "metadata": qubo.metadata_}))
    for n in c.settings.problems.random_qubits:
        for seed in c.settings.problems.random_seeds:
            bqm, r, meta = _random_selection(n, seed, "proven", 0.5)
            enc = {"relevance": r, "candidates": np.arange(n), "metadata": meta}
            iid = f"random-n{n:02d}-seed{seed}"
            instances.append(Instance(iid, "problem", {
                "source": "random", "formulation": "cardinality", "n": n, "seed": seed,
                "m": enc["metadata"]["m"]}, {"bqm": bqm, **enc}))
    hw = c.settings.hardware
    if hw.enabled:
        chosen = [inst for inst in instances if inst.kind == "problem"
                  and hw.min_qubits <= inst.spec["n"] <= hw.max_qubits][:hw.instances]
        for inst in chosen:
            inst.spec["hardware"] = True
    ids = [inst.id for inst in instances]
    if len(set(ids)) != len(ids):  # pragma: no cover - ids are built to be unique
        raise RuntimeError("duplicate instance ids")
    return instances
