"""The selection QUBOs as dimod BQMs, and the cardinality penalty bound (private).

Two formulations over n candidate maps (binary x_k = 1: map k is chosen):

- "paper" (the reference paper): ``E(x) = (1 - beta) sum_{p<q} J_pq x_p x_q - beta sum_p a_p x_p``
  with a = normalised relevance and J the redundancy; no constraint on how many are chosen.
- "cardinality" (docs/design.md): ``E(x) = -sum_k r_k x_k + beta sum_{k<l} R_kl x_k x_l
  + lam (sum_k x_k - m)^2`` with r = relevance / max|relevance| and lam from
  :func:`cardinality_penalty`, which makes every minimiser choose exactly m maps.
"""

from __future__ import annotations

import dimod
import numpy as np

from .exceptions import EncodingError

__all__ = ["paper_bqm", "cardinality_bqm", "cardinality_penalty", "normalise_relevance",
           "NORMALISATIONS"]

#: "max": a / max(a) (keeps ratios; the default); "minmax": (a - min) / (max - min), the
#: reference paper's earlier code (the weakest candidate gets relevance 0); "none": as is
NORMALISATIONS = ("max", "minmax", "none")


def normalise_relevance(a: np.ndarray, how: str) -> np.ndarray:
    """Normalised relevance (see ``NORMALISATIONS``); an all-equal vector maps to ones for
    "minmax", a zero vector stays zero."""
    if how not in NORMALISATIONS:
        raise EncodingError(f"normalization must be one of {NORMALISATIONS}, got {how!r}.")
    a = np.asarray(a, dtype=np.float64)
    if how == "none" or a.size == 0:
        return a.copy()
    if how == "max":
        top = np.max(np.abs(a))
        return a / top if top > 0 else a.copy()
    lo, hi = a.min(), a.max()
    return (a - lo) / (hi - lo) if hi > lo else np.ones_like(a)


def _symmetric(name: str, R: np.ndarray, n: int) -> np.ndarray:
    R = np.asarray(R, dtype=np.float64)
    if R.shape != (n, n) or not np.isfinite(R).all():
        raise EncodingError(f"{name} must be a finite ({n}, {n}) matrix, got shape {R.shape}.")
    if not np.allclose(R, R.T, rtol=0, atol=1e-12 * max(1.0, np.abs(R).max(initial=0))):
        raise EncodingError(f"{name} must be symmetric.")
    return R


def paper_bqm(a, J, beta: float, labels=None) -> dimod.BinaryQuadraticModel:
    """``(1 - beta) sum_{p<q} J_pq x_p x_q - beta sum_p a_p x_p`` as a BINARY BQM.

    Parameters
    ----------
    a : (n,) array_like
        Relevance of the candidates (already normalised).
    J : (n, n) array_like
        Redundancy, symmetric; its diagonal is ignored.
    beta : float
        In [0, 1]: the weight of relevance against redundancy (the paper: 0.7).
    labels : sequence, optional
        Variable labels (default 0..n-1).
    """
    a = np.asarray(a, dtype=np.float64)
    n = a.size
    J = _symmetric("J", J, n)
    if not 0.0 <= beta <= 1.0:
        raise EncodingError(f"beta must be in [0, 1] for the paper formulation, got {beta!r}.")
    labels = list(range(n)) if labels is None else list(labels)
    iu = np.triu_indices(n, 1)
    bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(
        -beta * a, (iu[0], iu[1], (1.0 - beta) * J[iu]), 0.0, dimod.BINARY, variable_order=labels)
    return bqm


def cardinality_penalty(r, R, beta: float, m: int, margin: float = 1e-2) -> float:
    """The penalty weight lam that makes every minimiser of the cardinality QUBO choose m maps.

    Returns ``max(lam_star, 0) + margin`` where ``lam_star = max(lam_remove, lam_add)`` is a
    bound, proven below, above which no x with ``sum x != m`` minimises
    ``E(x) = -sum r_k x_k + beta sum_{k<l} R_kl x_k x_l + lam (sum x - m)^2`` (beta >= 0).

    Proof. Let ``f`` be the first two terms and ``j = |x|``. It suffices that every x with
    ``j != m`` has a one-bit neighbour of strictly lower energy.

    - ``j >= m + 1``: removing k from x changes E by
      ``r_k - beta sum_{l in x, l != k} R_kl - lam (2 (j - m) - 1)``, and
      ``2 (j - m) - 1 >= 1``. The sum runs over at least m entries of row k, so it is at least
      ``low_k`` = (sum of the m smallest off-diagonal entries of row k) + (the negative entries
      among the rest). With ``u_k = r_k - beta low_k``, some removal lowers E if
      ``lam > min_{k in x} u_k``; x has at least m + 1 members, so ``min_{k in x} u_k`` is at
      most ``lam_remove`` = the (m+1)-th largest u.
    - ``j <= m - 1``: adding k not in x changes E by
      ``-r_k + beta sum_{l in x} R_kl - lam (2 (m - j) - 1)``; the sum has at most m - 1
      terms, so it is at most ``high_k`` = the sum of the positive entries among the m - 1
      largest off-diagonal entries of row k. With ``c_k = -r_k + beta high_k``, some addition
      lowers E if ``lam > min_{k not in x} c_k``; x excludes at most m - 1 indices, so that
      minimum is at most ``lam_add`` = the m-th smallest c.

    With ``beta = 0`` (or ``R = 0``) the bound is exact: ``lam_star = max(r_(m+1), -r_(m))``
    (order statistics, largest first). The margin makes the inequality strict; it is in the
    units of r (normalised to max|r| = 1 by the cardinality formulation).

    Parameters
    ----------
    r : (n,) array_like
        Relevance.
    R : (n, n) array_like
        Redundancy, symmetric (diagonal ignored).
    beta : float
        Redundancy weight, >= 0.
    m : int
        Maps to choose, ``1 <= m <= n``.
    margin : float
        Added to the bound, > 0.
    """
    r = np.asarray(r, dtype=np.float64)
    n = r.size
    R = _symmetric("R", R, n)
    if not (np.isfinite(beta) and beta >= 0):
        raise EncodingError(f"beta must be finite and >= 0, got {beta!r}.")
    if not 1 <= m <= n:
        raise EncodingError(f"m must be in 1..{n} (the number of candidates), got {m!r}.")
    if not margin > 0:
        raise EncodingError(f"margin must be > 0, got {margin!r}.")
    off = R[~np.eye(n, dtype=bool)].reshape(n, n - 1) if n > 1 else np.zeros((n, 0))
    rows = np.sort(off, axis=1)  # ascending per row
    bounds = []
    if m < n:  # removal case exists (some x has more than m members)
        low = rows[:, :m].sum(axis=1) + np.minimum(rows[:, m:], 0.0).sum(axis=1)
        u = r - beta * low
        bounds.append(np.sort(u)[::-1][m])  # (m+1)-th largest
    top = rows[:, ::-1][:, :m - 1]
    c = -r + beta * np.maximum(top, 0.0).sum(axis=1)
    bounds.append(np.sort(c)[m - 1])  # m-th smallest
    return float(max(max(bounds), 0.0) + margin)


def cardinality_bqm(r, R, beta: float, m: int, lam: float, labels=None
                    ) -> dimod.BinaryQuadraticModel:
    """``-sum r_k x_k + beta sum_{k<l} R_kl x_k x_l + lam (sum x - m)^2`` as a BINARY BQM
    (the square expanded with ``x^2 = x``: linear ``lam (1 - 2m)``, quadratic ``2 lam``,
    offset ``lam m^2``)."""
    r = np.asarray(r, dtype=np.float64)
    n = r.size
    R = _symmetric("R", R, n)
    if not (np.isfinite(lam) and lam >= 0):
        raise EncodingError(f"the penalty weight must be finite and >= 0, got {lam!r}.")
    labels = list(range(n)) if labels is None else list(labels)
    iu = np.triu_indices(n, 1)
    return dimod.BinaryQuadraticModel.from_numpy_vectors(
        -r + lam * (1 - 2 * m), (iu[0], iu[1], beta * R[iu] + 2.0 * lam), lam * m * m,
        dimod.BINARY, variable_order=labels)
