"""The XAI study: every explainer on the same correctly classified images, every metric, with
bootstrap intervals and permutation p-values, and a re-initialised-weights null (private)."""

from __future__ import annotations

import copy
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from scipy.integrate import trapezoid
from tqdm.auto import tqdm

from . import metrics as M
from ._cam import GradCAM, GradCAMPlusPlus, heatmaps_from_weights
from ._capture import _check_images, capture, check_scores, resolve_layer
from ._device import model_device
from ._faithfulness import FaithfulnessProbe
from ._allocator import hold_freed_memory
from ._data import ImageDataset
from ._qubocam import QuboCAM
from ._scores import relevance
from .exceptions import EncodingError

__all__ = ["XaiStudy", "xai_study", "explain", "METHODS", "select_correct"]

#: explainers with their own heatmaps
CAM_METHODS = ("qubo-paper", "qubo-cardinality", "gradcam", "gradcam++")
#: selections of the same size m as the reference QUBO's, per image
EQUAL_M_METHODS = ("top-m gradcam", "top-m gradcam++", "top-m contribution", "random-m")
METHODS = CAM_METHODS + EQUAL_M_METHODS


@dataclass
class Explanations:
    """One method's explanations of N images: heatmaps (N, H, W), channel vectors (N, K),
    selections (N, K) bool or None (GradCAM and GradCAM++ select nothing); for a QUBO,
    ``solved_exactly`` (N,) bool (a certified ground state, or a heuristic's best) and
    ``candidates_dropped`` (N,) int (candidate maps beyond ``max_qubits``)."""

    heatmaps: np.ndarray
    channel_vectors: np.ndarray
    selections: np.ndarray | None = None
    solved_exactly: np.ndarray | None = None
    candidates_dropped: np.ndarray | None = None


def _cam_for(method, model, layer, max_qubits=None):
    if method == "gradcam":
        return GradCAM(model, [layer])
    if method == "gradcam++":
        return GradCAMPlusPlus(model, [layer])
    return QuboCAM(model, [layer], formulation=method.split("-", 1)[1], max_qubits=max_qubits)


def _selection_array(selections, K):
    S = np.zeros((len(selections), K), dtype=bool)
    for i, sel in enumerate(selections):
        S[i, list(sel)] = True
    return S


def explain(model: nn.Module, images, layer, targets=None, methods=METHODS,
            reference: str = "qubo-paper", seed: int = 0, max_qubits: int | None = None
            ) -> dict[str, Explanations]:
    """Explanations of ``images`` by each method, at equal m for the selection baselines.

    ``max_qubits`` caps the QUBO methods' candidates (the maps of largest relevance first; by
    default every map that qualifies: exact up to 20, tabu search beyond).

    ``top-m X`` selects, per image, the m maps of largest weight X (GradCAM, GradCAM++ or
    contribution), m being the size of the ``reference`` QUBO's selection of that image;
    ``random-m`` draws m of the reference QUBO's candidates (seeded). Their channel vector is
    the GradCAM weight on the selection, their heatmap the standard form.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise EncodingError(f"unknown methods {unknown}; choose from {list(METHODS)}.")
    if reference not in ("qubo-paper", "qubo-cardinality"):
        raise EncodingError(f"reference must be a QUBO method, got {reference!r}.")
    images = _check_images(images)
    size = tuple(images.shape[-2:])
    out, weights = {}, {}
    needed = list(dict.fromkeys([m for m in methods if m in CAM_METHODS]
                                + ([reference] if any(m in EQUAL_M_METHODS for m in methods)
                                   else [])
                                + (["gradcam++"] if "top-m gradcam++" in methods else [])))
    cams = {}
    # one forward and backward pass serves every method: they differ in the channel weights
    cap = capture(model, images, layer, targets) if needed else None
    for method in needed:
        with _cam_for(method, model, layer, max_qubits) as cam:
            heat = cam.from_capture(cap, images).astype(np.float32)
            cams[method] = cam
            weights[method] = cam.channel_vectors_
            if isinstance(cam, QuboCAM):
                out[method] = Explanations(
                    heat, cam.channel_vectors_,
                    _selection_array(cam.selections_, cam.channel_vectors_.shape[1]),
                    cam.solved_exactly_.copy(),
                    np.array([len(q.get("dropped", ())) for q in cam.qubos_], dtype=np.int64))
            else:
                out[method] = Explanations(heat, cam.channel_vectors_)
    if any(m in EQUAL_M_METHODS for m in methods):
        ref = cams[reference]
        A = cap.activations
        grad_w = cap.gradients.astype(np.float64).mean(axis=(2, 3))
        scores = {"top-m gradcam": grad_w,
                  "top-m contribution": np.stack([relevance("contribution", A[i], cap.gradients[i])
                                                  for i in range(len(A))])}
        if "top-m gradcam++" in methods:
            scores["top-m gradcam++"] = weights["gradcam++"]
        sizes = [len(s) for s in ref.selections_]
        rng = np.random.default_rng(seed)
        for method in (m for m in methods if m in EQUAL_M_METHODS):
            S = np.zeros_like(grad_w, dtype=bool)
            for i, m in enumerate(sizes):
                if method == "random-m":
                    cands = np.asarray(ref.qubos_[i]["candidates"], dtype=int)
                    S[i, rng.choice(cands, size=m, replace=False)] = True
                elif m:
                    S[i, np.argsort(-scores[method][i], kind="stable")[:m]] = True
            w = np.where(S, grad_w, 0.0)
            heat, _ = heatmaps_from_weights(A, w, size)
            out[method] = Explanations(heat.astype(np.float32), w, S)
    return {m: out[m] for m in methods}


def select_correct(model: nn.Module, data: ImageDataset, n_per_class: int = 20, seed: int = 0
                   ) -> np.ndarray:
    """Indices of up to ``n_per_class`` correctly classified images per class (seeded draw),
    sorted."""
    hold_freed_memory()  # a long forward loop: freed activations stay in the heap for reuse
    with torch.no_grad():
        was = model.training
        model.eval()
        try:
            step = M.auto_batch_size((len(data), *data.image_shape), 512)
            pred = []
            device = model_device(model)
            for i, (x, _) in enumerate(data.batches(step)):
                logits = model(x.to(device))
                check_scores(logits, offset=i * step, what=f"{data.name} image")
                pred.append(logits.argmax(1).cpu())
            pred = torch.cat(pred).numpy()
        finally:
            model.train(was)
    labels = data.labels.numpy()
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(len(data.classes)):
        ok = np.flatnonzero((labels == c) & (pred == c))
        chosen.extend(rng.choice(ok, size=min(n_per_class, ok.size), replace=False).tolist())
    return np.sort(np.asarray(chosen, dtype=int))


@dataclass
class XaiStudy:
    """What :func:`xai_study` returns.

    Attributes
    ----------
    table : list of dict
        One row per (weights, method, space, metric): ``value``, bootstrap ``low``/``high``
        (95 %, stratified by class), ``p_value`` (class-label permutation for the
        disentanglement measures; NaN for per-image measures, and for target sensitivity,
        whose label permutation -- swapping an image's two targets -- leaves it unchanged),
        ``better`` ("higher" or "lower"), ``n`` images.
    arrays : dict of str -> ndarray
        For the HDF5 store and figures: ``indices``, ``labels``, ``runner_up``, and per weights
        and method ``{weights}/{method}/heatmaps`` (N, H, W), ``channel_vectors`` (N, K),
        ``selections`` (N, K, where defined), ``bhattacharyya`` (C, C); per weights
        ``{weights}/forward_passes`` (images run through the model's forward, captures
        included) and ``{weights}/seconds`` (wall time of that weights' explanations,
        forward passes and statistics).
    """

    table: list = field(default_factory=list)
    arrays: dict = field(default_factory=dict)

    #: the table's text and numeric columns, as :meth:`to_record` writes them
    TEXT_COLUMNS = ("weights", "method", "space", "metric", "better")
    NUMBER_COLUMNS = ("value", "low", "high", "p_value", "n")

    def to_record(self) -> tuple[dict, dict]:
        """``(datasets, attrs)``: every array of :attr:`arrays` under its key, and the table
        as one dataset per column, ``table/<column>`` (text columns as lists of str); no
        attributes. Keys are relative to a study's ``xai`` group."""
        datasets = {key: np.asarray(value) for key, value in self.arrays.items()}
        for col in self.TEXT_COLUMNS:
            datasets[f"table/{col}"] = [str(r[col]) for r in self.table]
        for col in self.NUMBER_COLUMNS:
            datasets[f"table/{col}"] = np.array([r[col] for r in self.table], float)
        return datasets, {}

    def format_table(self) -> str:
        """The table as aligned text."""
        lines = [f"{'weights':<14}{'method':<20}{'space':<10}{'metric':<24}{'value':>9}"
                 f"{'95% interval':>22}{'p':>8}  better"]
        for r in self.table:
            lines.append(f"{r['weights']:<14}{r['method']:<20}{r['space']:<10}{r['metric']:<24}"
                         f"{r['value']:9.3f}   [{r['low']:8.3f}, {r['high']:8.3f}]"
                         f"{r['p_value']:8.3f}  {r['better']}")
        return "\n".join(lines)


def _channels_last(model: nn.Module, images: torch.Tensor) -> nn.Module:
    """A copy of ``model`` with channels-last convolution weights, oneDNN's fast layout on the
    CPU (the same numbers to float rounding); the model itself on another device, without
    convolutions, or where the copy fails or differs on the first image (a forward pass that
    ``view``-s a feature map, say)."""
    if model_device(model).type != "cpu" or not any(isinstance(m, nn.Conv2d)
                                                    for m in model.modules()):
        return model
    fast = copy.deepcopy(model).to(memory_format=torch.channels_last)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want, got = model(images[:1]), fast(images[:1])
    except Exception:  # noqa: BLE001 -- any failure: explain with the model as given
        return model
    close = bool(torch.allclose(got, want, rtol=1e-4, atol=1e-5 * float(want.abs().max())))
    return fast if close else model


def _reinitialised(model: nn.Module, seed: int) -> nn.Module:
    null = copy.deepcopy(model)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for module in null.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
            if hasattr(module, "reset_running_stats"):
                module.reset_running_stats()
    return null.eval()


def _rows(weights_name, method, ex, ex_runner, labels, model, layer, images, targets, n_boot,
          n_perm, k, probe, faith, seed, arrays):
    rows = []
    n = len(labels)

    def row(space, metric, value, interval, p, better):
        rows.append({"weights": weights_name, "method": method, "space": space, "metric": metric,
                     "value": float(value), "low": interval[0], "high": interval[1],
                     "p_value": float(p), "better": better, "n": n})

    def per_image(space, metric, values, better):
        values = np.asarray(values, dtype=float)
        ci = M.bootstrap_interval(lambda idx: np.nanmean(values[idx]), n, strata=labels,
                                  n_boot=n_boot, seed=seed)
        row(space, metric, np.nanmean(values), ci, np.nan, better)

    def grouped(space, X):
        D = M.pairwise_distances(X, "jaccard" if space == "selection" else "cosine")
        s_i = M.silhouette_samples(D, labels)
        ci = M.bootstrap_interval(lambda idx: s_i[idx].mean(), n, strata=labels, n_boot=n_boot,
                                  seed=seed)
        p = M.permutation_pvalue(lambda lab: M.silhouette_samples(D, lab).mean(), labels,
                                 n_perm=n_perm, seed=seed)
        row(space, "silhouette", s_i.mean(), ci, p, "higher")
        correct = M.knn_correct_from_distances(D, labels, k)
        ci = M.bootstrap_interval(lambda idx: correct[idx].mean(), n, strata=labels,
                                  n_boot=n_boot, seed=seed)
        p = M.permutation_pvalue(lambda lab: M.knn_correct_from_distances(D, lab, k).mean(),
                                 labels, n_perm=n_perm, seed=seed)
        row(space, f"{k}-NN accuracy", correct.mean(), ci, p, "higher")

    if ex.selections is not None:
        S = ex.selections
        bc = M.bhattacharyya_matrix(S, labels)
        arrays[f"{weights_name}/{method}/bhattacharyya"] = bc
        stat = lambda lab, idx=slice(None): M.mean_off_diagonal(  # noqa: E731
            M.bhattacharyya_matrix(S[idx], lab[idx]))
        ci = M.bootstrap_interval(lambda idx: stat(labels, idx), n, strata=labels,
                                  n_boot=n_boot, seed=seed, method="basic")
        p = M.permutation_pvalue(lambda lab: stat(lab), labels, n_perm=n_perm, seed=seed,
                                 alternative="less")
        row("selection", "Bhattacharyya off-diag", stat(labels), ci, p, "lower")
        grouped("selection", S)
        per_image("selection", "target sensitivity",
                  M.target_sensitivity(S, ex_runner.selections, "jaccard"), "higher")
        per_image("selection", "retained score",
                  M.retained_score(model, layer, images, targets, S, full=probe.probabilities),
                  "higher")
        per_image("selection", "maps selected", S.sum(1), "-")
    grouped("channels", ex.channel_vectors)
    grouped("heatmap", ex.heatmaps)
    per_image("heatmap", "target sensitivity",
              M.target_sensitivity(ex.heatmaps, ex_runner.heatmaps, "spearman"), "higher")
    pair = (probe.probabilities, faith["confidence"])
    per_image("heatmap", "average drop %", M.average_drop(None, None, None, None, pair), "lower")
    per_image("heatmap", "increase in confidence %",
              M.increase_in_confidence(None, None, None, None, pair), "higher")
    per_image("heatmap", "deletion AUC", trapezoid(faith["deletion"], probe.fractions, axis=1),
              "lower")
    per_image("heatmap", "insertion AUC", trapezoid(faith["insertion"], probe.fractions, axis=1),
              "higher")
    return rows


def xai_study(model: nn.Module, data: ImageDataset, *, layer=None, n_per_class: int = 20,
              methods=METHODS, reference: str = "qubo-paper", null: bool = True, k: int = 5,
              steps: int = 16, n_boot: int = 200, n_perm: int = 200, seed: int = 0,
              progress: bool = True, indices=None, max_qubits: int | None = None) -> XaiStudy:
    """Run every explainer on correctly classified images and measure them.

    Parameters
    ----------
    model : torch.nn.Module
    data : ImageDataset
        Held-out images to draw from.
    layer : nn.Module or str, optional
        Explained layer (default ``model.target_layer``).
    n_per_class : int
        Correctly classified images per class (the reference paper: 20).
    methods : sequence of str
        From ``METHODS``.
    reference : {"qubo-paper", "qubo-cardinality"}
        The QUBO whose selection sizes set m for the equal-m baselines.
    null : bool
        Also measure everything on a copy of the model with re-initialised weights (same
        images, grouped by their true class).
    k, steps, n_boot, n_perm, seed
        k-NN neighbours, deletion/insertion steps, bootstrap resamples, permutations, seed.
    indices : array_like, optional
        Use these images of ``data`` instead of drawing them.
    max_qubits : int, optional
        Cap of the QUBO methods' candidates (see :func:`explain`); the arrays record per
        image how many were dropped and whether the selection is exact.

    Returns
    -------
    XaiStudy
        Grouping is by class; the images are correctly classified, so predicted = true class.
    """
    layer = getattr(model, "target_layer", None) if layer is None else layer
    if layer is None:
        raise EncodingError("layer is required for a model without a target_layer attribute.")
    layer = resolve_layer(model, layer)[1]  # by name: the runs below are copies of the model
    hold_freed_memory()  # long forward loops: freed activations stay in the heap for reuse
    idx = select_correct(model, data, n_per_class, seed) if indices is None else np.asarray(indices)
    images, labels = data.batch(idx), data.labels[torch.as_tensor(idx)].numpy()
    study = XaiStudy()
    study.arrays["indices"], study.arrays["labels"] = idx, labels
    runs = [("trained", model)] + ([("re-initialised", _reinitialised(model, seed))] if null else [])
    runs = [(name, _channels_last(net.eval(), images)) for name, net in runs]
    bar = tqdm(total=len(runs) * len(methods), desc="xai study", disable=not progress, leave=False)
    for name, net in runs:
        net.eval()
        targets = labels
        passes = [0]
        counter = net.register_forward_pre_hook(
            lambda _m, args: passes.__setitem__(0, passes[0] + int(args[0].shape[0])))
        start = time.perf_counter()
        try:
            probe = FaithfulnessProbe(net, images, targets, steps)
            runner = np.argsort(-probe.logits, axis=1, kind="stable")[:, 1]
            study.arrays[f"{name}/runner_up"] = runner
            ex = explain(net, images, layer, targets, methods, reference, seed, max_qubits)
            ex_r = explain(net, images, layer, runner, methods, reference, seed, max_qubits)
            faith = probe.measure({method: ex[method].heatmaps for method in methods})
            for method in methods:
                e = ex[method]
                study.arrays[f"{name}/{method}/heatmaps"] = e.heatmaps.astype(np.float32,
                                                                               copy=False)
                study.arrays[f"{name}/{method}/channel_vectors"] = e.channel_vectors
                if e.selections is not None:
                    study.arrays[f"{name}/{method}/selections"] = e.selections
                if e.solved_exactly is not None:
                    study.arrays[f"{name}/{method}/solved_exactly"] = e.solved_exactly
                    study.arrays[f"{name}/{method}/candidates_dropped"] = e.candidates_dropped
                study.table.extend(_rows(name, method, e, ex_r[method], labels, net, layer,
                                         images, targets, n_boot, n_perm, k, probe,
                                         faith[method], seed, study.arrays))
                bar.update()
            del ex, ex_r, faith  # before the next weights' explanations are made
        finally:
            counter.remove()
        study.arrays[f"{name}/forward_passes"] = np.int64(passes[0])
        study.arrays[f"{name}/seconds"] = np.float64(time.perf_counter() - start)
    bar.close()
    return study
