"""Explanation metrics: class disentanglement, target sensitivity, faithfulness, statistics.

Conventions. N explanations of N images; ``labels`` (N,) group them (the predicted class, or the
true class of correctly classified images). Selections are boolean arrays (N, K) (map k chosen);
channel vectors are (N, K) float; heatmaps (N, H, W) in [0, 1]. Class probabilities are softmax
of the logits.

Zero vectors (an empty selection, a constant heatmap returned as zeros) have no direction: the
distance between two of them is 0 and between one and a non-zero vector is 1, for Jaccard and
cosine alike (so they neither crash a metric nor look similar to real explanations).

Disentanglement (higher is better unless said):

- :func:`bhattacharyya_matrix` -- the reference paper's measure, class x class
  ``BC(c, d) = sum_k sqrt(p_c(k) p_d(k))``, ``p_c`` the frequency distribution of selected maps
  over the images of class c (Bhattacharyya, Bull. Calcutta Math. Soc. 35 (1943) 99). Its mean
  off-diagonal (:func:`mean_off_diagonal`) is lower for more distinct classes.
- :func:`silhouette` -- Rousseeuw, J. Comput. Appl. Math. 20 (1987) 53, on precomputed Jaccard
  or cosine distances.
- :func:`knn_accuracy` -- leave-one-out k-nearest-neighbour accuracy (majority vote of the k
  nearest, ties to the nearest tied class).
- :func:`target_sensitivity` -- ``1 - similarity`` between the explanations of one image for its
  predicted and its runner-up class (Jaccard similarity of selections, Spearman correlation
  of heatmaps); higher: the explanation depends more on the class asked about.

Faithfulness:

- :func:`average_drop` and :func:`increase_in_confidence` (Chattopadhay et al., WACV 2018):
  ``100/N sum max(0, Y - O)/Y`` and ``100/N sum 1[O > Y]``, Y the class probability of the
  image and O of the image multiplied by its heatmap. Lower drop, higher increase is better.
- :func:`deletion_auc` / :func:`insertion_auc` (Petsiuk et al., RISE, BMVC 2018): the class
  probability as the most salient pixels are removed (set to 0) / inserted into a blurred
  copy, area under the curve over the fraction of pixels; lower deletion, higher insertion.
- :func:`retained_score` -- the class probability with only the selected maps kept at the
  target layer (the rest zeroed), divided by the probability of the full model.

Statistics: :func:`bootstrap_interval` (percentile bootstrap, stratified by class) and
:func:`permutation_pvalue` (label permutation).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.integrate import trapezoid
from scipy.stats import spearmanr

from ._allocator import auto_batch_size
from ._capture import _check_images, _eval_mode, _hooked, resolve_layer
from ._device import model_device
from ._faithfulness import FaithfulnessProbe
from .exceptions import EncodingError

__all__ = ["bhattacharyya_matrix", "mean_off_diagonal", "pairwise_distances", "silhouette",
           "silhouette_samples", "knn_accuracy", "knn_correct",
           "knn_correct_from_distances", "target_sensitivity", "class_probabilities",
           "confidence_pair", "average_drop", "increase_in_confidence", "deletion_auc", "insertion_auc",
           "deletion_curves", "retained_score", "bootstrap_interval", "permutation_pvalue",
           "auto_batch_size"]


def _labels(labels, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise EncodingError(f"labels must have shape ({n},), got {labels.shape}.")
    return labels


def bhattacharyya_matrix(selections, labels, classes=None) -> np.ndarray:
    """Class x class Bhattacharyya coefficients of the selected-map distributions.

    Parameters
    ----------
    selections : (N, K) bool array_like
    labels : (N,) array_like
    classes : sequence, optional
        Row/column order (default: the sorted distinct labels).

    Returns
    -------
    (C, C) ndarray
        In [0, 1], 1 on the diagonal; NaN rows/columns for a class whose images selected no
        map at all.
    """
    S = np.asarray(selections, dtype=bool)
    if S.ndim != 2:
        raise EncodingError(f"selections must be (N, K) booleans, got shape {S.shape}.")
    labels = _labels(labels, S.shape[0])
    classes = np.unique(labels) if classes is None else np.asarray(classes)
    P = np.full((classes.size, S.shape[1]), np.nan)
    for i, c in enumerate(classes):
        counts = S[labels == c].sum(axis=0).astype(float)
        if counts.sum() > 0:
            P[i] = counts / counts.sum()
    return np.sqrt(P) @ np.sqrt(P).T


def mean_off_diagonal(M) -> float:
    """Mean of the off-diagonal entries, NaN ignored."""
    M = np.asarray(M, dtype=float)
    off = M[~np.eye(M.shape[0], dtype=bool)]
    off = off[np.isfinite(off)]
    return float(off.mean()) if off.size else float("nan")


def pairwise_distances(X, metric: str) -> np.ndarray:
    """(N, N) distances: "jaccard" (1 - |a and b| / |a or b| of boolean rows) or "cosine"
    (1 - cos), with the zero-vector rule of the module docstring."""
    X = np.asarray(X)
    X = X.reshape(X.shape[0], -1)
    if metric == "jaccard":
        B = X.astype(bool).astype(float)
        inter = B @ B.T
        size = B.sum(axis=1)
        union = size[:, None] + size[None, :] - inter
        D = 1.0 - np.divide(inter, union, out=np.ones_like(inter), where=union > 0)
        zero = size == 0
    elif metric == "cosine":
        Xf = X.astype(float)
        norms = np.linalg.norm(Xf, axis=1)
        zero = norms == 0
        U = Xf / np.where(zero, 1.0, norms)[:, None]
        D = np.clip(1.0 - U @ U.T, 0.0, 2.0)
    else:
        raise EncodingError(f"metric must be 'jaccard' or 'cosine', got {metric!r}.")
    D[zero[:, None] ^ zero[None, :]] = 1.0
    D[zero[:, None] & zero[None, :]] = 0.0
    np.fill_diagonal(D, 0.0)
    return D


def silhouette(X, labels, metric: str = "cosine") -> float:
    """Mean silhouette coefficient of the explanations grouped by ``labels``, in [-1, 1]
    (NaN unless there are 2..N-1 groups)."""
    return float(np.mean(silhouette_samples(pairwise_distances(X, metric), labels)))


def silhouette_samples(D, labels) -> np.ndarray:
    """Per explanation ``s_i = (b_i - a_i) / max(a_i, b_i)`` from a distance matrix (N, N):
    ``a_i`` the mean distance to the others of its group, ``b_i`` the smallest mean distance
    to another group; 0 for a group of one (Rousseeuw's convention, as scikit-learn's).
    All NaN unless there are 2..N-1 groups."""
    D = np.asarray(D, dtype=float)
    labels = _labels(labels, D.shape[0])
    groups, inverse = np.unique(labels, return_inverse=True)
    n = D.shape[0]
    if not 2 <= groups.size <= n - 1:
        return np.full(n, np.nan)
    onehot = np.zeros((n, groups.size))
    onehot[np.arange(n), inverse] = 1.0
    sums = D @ onehot
    sizes = onehot.sum(axis=0)
    own = sizes[inverse]
    a = np.divide(sums[np.arange(n), inverse], own - 1, out=np.zeros(n), where=own > 1)
    means = sums / sizes
    means[np.arange(n), inverse] = np.inf
    b = means.min(axis=1)
    denom = np.maximum(a, b)
    s_i = np.divide(b - a, denom, out=np.zeros(n), where=denom > 0)
    s_i[own == 1] = 0.0
    return s_i


def knn_correct(X, labels, k: int = 5, metric: str = "cosine") -> np.ndarray:
    """Leave-one-out: whether each explanation's k nearest others (by ``metric``) vote for its
    own label; ``(N,)`` bool. A tie in votes goes to the tied class with the nearest member
    (distance ties by index)."""
    return knn_correct_from_distances(pairwise_distances(X, metric), labels, k)


def knn_correct_from_distances(D, labels, k: int = 5) -> np.ndarray:
    """:func:`knn_correct` from a precomputed distance matrix (N, N)."""
    labels = _labels(labels, D.shape[0])
    n = D.shape[0]
    if not 1 <= k <= n - 1:
        raise EncodingError(f"k must be in 1..{n - 1}, got {k}.")
    D = D + np.diag(np.full(n, np.inf))
    order = np.argsort(D, axis=1, kind="stable")[:, :k]
    _, codes = np.unique(labels, return_inverse=True)
    neigh = codes[order]  # (n, k) class codes of the neighbours, nearest first
    votes = np.zeros((n, codes.max() + 1), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(n), k), neigh.ravel()), 1)
    tied = votes[np.arange(n)[:, None], neigh] == votes.max(axis=1)[:, None]
    vote = neigh[np.arange(n), np.argmax(tied, axis=1)]  # nearest member of a tied class
    return vote == codes


def knn_accuracy(X, labels, k: int = 5, metric: str = "cosine") -> float:
    """Leave-one-out k-NN accuracy (see :func:`knn_correct`)."""
    return float(knn_correct(X, labels, k, metric).mean())


def target_sensitivity(predicted, runner_up, kind: str) -> np.ndarray:
    """Per image ``1 - similarity`` of the explanations for the predicted and the runner-up
    class: ``kind="jaccard"`` for selections (N, K), ``"spearman"`` for heatmaps (N, H, W).

    Returns
    -------
    (N,) ndarray
        Two empty selections count as identical (0); a constant heatmap has no rank order and
        gives NaN.
    """
    a, b = np.asarray(predicted), np.asarray(runner_up)
    if a.shape != b.shape:
        raise EncodingError(f"the two explanation arrays must have one shape, got {a.shape} and "
                            f"{b.shape}.")
    a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    if kind == "jaccard":
        A, B = a.astype(bool), b.astype(bool)
        inter, union = (A & B).sum(1), (A | B).sum(1)
        return 1.0 - np.divide(inter, union, out=np.ones(len(A)), where=union > 0)
    if kind == "spearman":
        out = np.full(a.shape[0], np.nan)
        for i in range(a.shape[0]):
            if np.ptp(a[i]) > 0 and np.ptp(b[i]) > 0:
                out[i] = 1.0 - spearmanr(a[i], b[i]).statistic
        return out
    raise EncodingError(f"kind must be 'jaccard' or 'spearman', got {kind!r}.")


@torch.no_grad()
def class_probabilities(model, images, targets, batch_size: int | None = None) -> np.ndarray:
    """Softmax probability of ``targets`` (N,) for ``images`` (N, C, H, W), eval mode, in
    batches of ``batch_size`` (default :func:`auto_batch_size`)."""
    images = _check_images(images)
    device = model_device(model)
    t = torch.as_tensor(np.asarray(targets), dtype=torch.int64).to(device)
    batch_size = batch_size or auto_batch_size(images)
    out = []
    with _eval_mode(model):
        for i in range(0, images.shape[0], batch_size):
            p = torch.softmax(model(images[i:i + batch_size].to(device)).double(), dim=1)
            out.append(p.gather(1, t[i:i + batch_size, None])[:, 0])
    return torch.cat(out).cpu().numpy()


def confidence_pair(model, images, heatmaps, targets) -> tuple[np.ndarray, np.ndarray]:
    """``(Y, O)``: the class probability of each image and of the image times its heatmap."""
    probe = FaithfulnessProbe(model, images, targets, steps=1)
    return probe.probabilities, probe.measure({"": heatmaps}, ("confidence",))[""]["confidence"]


def average_drop(model, images, heatmaps, targets, pair=None) -> np.ndarray:
    """Per image ``100 max(0, Y - O) / Y`` (its mean is the Average Drop, in %); ``pair`` is a
    precomputed :func:`confidence_pair`."""
    Y, O = confidence_pair(model, images, heatmaps, targets) if pair is None else pair
    return 100.0 * np.maximum(0.0, Y - O) / Y


def increase_in_confidence(model, images, heatmaps, targets, pair=None) -> np.ndarray:
    """Per image ``100 * 1[O > Y]`` (its mean is the Increase in Confidence, in %); ``pair``
    as in :func:`average_drop`."""
    Y, O = confidence_pair(model, images, heatmaps, targets) if pair is None else pair
    return 100.0 * (O > Y)


def deletion_curves(model, images, heatmaps, targets, mode: str = "deletion", steps: int = 16,
                    blur_sigma: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The RISE curves: fractions ``(steps + 1,)`` and class probabilities ``(N, steps + 1)``.

    Pixels are ranked by heatmap value (highest first; ties by pixel index). ``"deletion"``
    sets the top fraction of pixels to 0 in every channel; ``"insertion"`` starts from a
    Gaussian-blurred copy (``blur_sigma``, default a tenth of the image side) and puts the
    top fraction of original pixels back. To measure many heatmaps of the same images, use
    one ``encoding._faithfulness.FaithfulnessProbe``: it runs the images that do not depend
    on the heatmap once.
    """
    if mode not in ("deletion", "insertion"):
        raise EncodingError(f"mode must be 'deletion' or 'insertion', got {mode!r}.")
    probe = FaithfulnessProbe(model, images, targets, steps, blur_sigma)
    return probe.fractions, probe.measure({"": heatmaps}, (mode,))[""][mode]


def deletion_auc(model, images, heatmaps, targets, steps: int = 16) -> np.ndarray:
    """Per image area under the deletion curve (lower is better)."""
    f, p = deletion_curves(model, images, heatmaps, targets, "deletion", steps)
    return trapezoid(p, f, axis=1)


def insertion_auc(model, images, heatmaps, targets, steps: int = 16,
                  blur_sigma: float | None = None) -> np.ndarray:
    """Per image area under the insertion curve (higher is better)."""
    f, p = deletion_curves(model, images, heatmaps, targets, "insertion", steps, blur_sigma)
    return trapezoid(p, f, axis=1)


@torch.no_grad()
def retained_score(model, layer, images, targets, keep, full=None) -> np.ndarray:
    """Per image ``p_c(only the maps in keep) / p_c(all maps)``.

    Parameters
    ----------
    layer : nn.Module or dotted name
        The explained layer; its output is multiplied by the keep mask.
    keep : (N, K) bool array_like
        Maps kept per image.
    full : (N,) array_like, optional
        ``p_c(all maps)`` when it is known (e.g. ``FaithfulnessProbe.probabilities``).
    """
    images = _check_images(images)
    module, _ = resolve_layer(model, layer)
    mask = torch.as_tensor(np.asarray(keep, dtype=np.float32))
    full = (class_probabilities(model, images, targets) if full is None
            else np.asarray(full, dtype=np.float64))
    state = {}

    def hook(_m, _i, output):
        if output.shape[:2] != state["mask"].shape:
            raise EncodingError(f"keep must be (N, K) = {tuple(output.shape[:2])}, got "
                                f"{tuple(state['mask'].shape)}.")
        return output * state["mask"][:, :, None, None].to(output)

    targets = np.broadcast_to(np.asarray(targets, dtype=np.int64), (images.shape[0],)).copy()
    step = auto_batch_size(images)
    kept = []
    with _hooked(module, hook):
        for i in range(0, images.shape[0], step):
            state["mask"] = mask[i:i + step]
            kept.append(class_probabilities(model, images[i:i + step], targets[i:i + step],
                                            batch_size=step))
    return np.concatenate(kept) / full


def bootstrap_interval(statistic: Callable[[np.ndarray], float], n: int, *, strata=None,
                       n_boot: int = 1000, level: float = 0.95, seed: int = 0,
                       method: str = "percentile") -> tuple[float, float]:
    """Bootstrap interval of ``statistic(index)`` over resamples of ``range(n)`` (within each
    stratum, e.g. class, when ``strata`` is given); NaN resamples are ignored.

    ``method="percentile"``: the quantiles of the resampled statistic (for means of
    per-image values). ``"basic"``: ``2 t - q_hi, 2 t - q_lo`` around the full-sample value t,
    which corrects a plug-in statistic's resampling bias to first order (Davison & Hinkley
    1997, eq. 5.6) -- for the Bhattacharyya coefficient, which resampling biases downward."""
    if method not in ("percentile", "basic"):
        raise EncodingError(f"method must be 'percentile' or 'basic', got {method!r}.")
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if strata is None else [np.flatnonzero(np.asarray(strata) == s)
                                                     for s in np.unique(strata)]
    values = []
    for _ in range(n_boot):
        idx = np.concatenate([rng.choice(g, size=g.size, replace=True) for g in groups])
        values.append(statistic(idx))
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not values.size:
        return float("nan"), float("nan")
    a = (1.0 - level) / 2.0
    lo, hi = float(np.quantile(values, a)), float(np.quantile(values, 1.0 - a))
    if method == "basic":
        t = float(statistic(np.arange(n)))
        lo, hi = 2 * t - hi, 2 * t - lo
    return lo, hi


def permutation_pvalue(statistic: Callable[[np.ndarray], float], labels, *, n_perm: int = 1000,
                       alternative: str = "greater", seed: int = 0) -> float:
    """Label-permutation p-value ``(1 + #{perm >= observed}) / (1 + n_perm)`` (``"greater"``;
    ``"less"`` counts ``<=``): how often labels shuffled across the explanations score as
    well as the real ones."""
    if alternative not in ("greater", "less"):
        raise EncodingError(f"alternative must be 'greater' or 'less', got {alternative!r}.")
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    observed = statistic(labels)
    if not np.isfinite(observed):
        return float("nan")
    null = np.array([statistic(rng.permutation(labels)) for _ in range(n_perm)])
    hits = null >= observed if alternative == "greater" else null <= observed
    return float((1 + np.sum(hits)) / (1 + n_perm))
