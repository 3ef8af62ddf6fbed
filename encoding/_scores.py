"""Relevance of each feature map to a class score, and redundancy between maps (private).

Conventions: one image at a time; ``activations`` A and ``gradients`` G = dy_c/dA are arrays
``(K, H, W)``; scores are float64.
"""

from __future__ import annotations

import numpy as np

from .exceptions import EncodingError

__all__ = ["relevance", "redundancy", "RELEVANCE", "REDUNDANCY"]

#: relevance kinds: "gradcam" alpha_k = mean(G_k) (the GradCAM weight, the reference paper's);
#: "contribution" alpha_k * sum(A_k) (first-order contribution of map k to y_c, exact for a
#: linear head); "ablation" y_c - y_c(A_k = 0) (from forward passes, given by the caller)
RELEVANCE = ("gradcam", "contribution", "ablation")
#: redundancy kinds: "abs-cosine" |cos(A_k, A_l)| of the flattened maps (the reference
#: paper's); "rectified-cosine" cos(ReLU A_k, ReLU A_l) (docs/design.md; in [0, 1])
REDUNDANCY = ("abs-cosine", "rectified-cosine")


def _maps(name: str, x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise EncodingError(f"{name} must be one image's feature maps (K, H, W), got shape "
                            f"{x.shape}; index a batch first (capture.{name}[i]).")
    if not np.isfinite(x).all():
        raise EncodingError(f"{name} contain NaN or inf: check the model and the input scaling.")
    return x


def relevance(kind: str, activations, gradients=None, ablation=None) -> np.ndarray:
    """Relevance r_k of each of the K maps, ``(K,)``.

    Parameters
    ----------
    kind : {"gradcam", "contribution", "ablation"}
    activations, gradients : (K, H, W) array_like
    ablation : (K,) array_like, optional
        ``y_c - y_c(A_k = 0)`` (see :func:`encoding.ablation_relevance`); required for
        "ablation".
    """
    if kind not in RELEVANCE:
        raise EncodingError(f"relevance must be one of {RELEVANCE}, got {kind!r}.")
    A = _maps("activations", activations)
    if kind == "ablation":
        if ablation is None:
            raise EncodingError("relevance 'ablation' needs ablation=y_c - y_c(A_k = 0) per map: "
                                "compute it with encoding.ablation_relevance(model, images, layer, "
                                "targets).")
        r = np.asarray(ablation, dtype=np.float64)
        if r.shape != (A.shape[0],) or not np.isfinite(r).all():
            raise EncodingError(f"ablation must be {A.shape[0]} finite values (one per map), got "
                                f"shape {r.shape}.")
        return r
    if gradients is None:
        raise EncodingError(f"relevance {kind!r} needs the gradients dy_c/dA.")
    G = _maps("gradients", gradients)
    if G.shape != A.shape:
        raise EncodingError(f"gradients {G.shape} and activations {A.shape} must have one shape.")
    alpha = G.mean(axis=(1, 2))
    return alpha if kind == "gradcam" else alpha * A.sum(axis=(1, 2))


def redundancy(kind: str, activations) -> np.ndarray:
    """Redundancy R_kl between maps, ``(K, K)``, symmetric, zero diagonal.

    A map that is zero everywhere (after rectification, for "rectified-cosine") has no direction;
    its cosine with every map is defined as 0.
    """
    if kind not in REDUNDANCY:
        raise EncodingError(f"redundancy must be one of {REDUNDANCY}, got {kind!r}.")
    A = _maps("activations", activations)
    flat = A.reshape(A.shape[0], -1)
    if kind == "rectified-cosine":
        flat = np.maximum(flat, 0.0)
    norms = np.linalg.norm(flat, axis=1)
    safe = np.where(norms > 0.0, norms, 1.0)
    unit = flat / safe[:, None]
    R = np.clip(unit @ unit.T, -1.0, 1.0)
    if kind == "abs-cosine":
        R = np.abs(R)
    R[norms == 0.0, :] = 0.0
    R[:, norms == 0.0] = 0.0
    np.fill_diagonal(R, 0.0)
    return 0.5 * (R + R.T)
