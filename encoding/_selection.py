"""The selection QUBO as an estimator: feature maps and gradients in, a BQM out (private)."""

from __future__ import annotations

import warnings

import dimod
import numpy as np

from ._qubo import (NORMALISATIONS, cardinality_bqm, cardinality_penalty, normalise_relevance,
                    paper_bqm)
from ._scores import REDUNDANCY, RELEVANCE, redundancy, relevance
from .exceptions import EncodingError

__all__ = ["SelectionQubo", "FORMULATIONS", "CandidatesTruncatedWarning"]

FORMULATIONS = ("paper", "cardinality")
_DEFAULT_BETA = {"paper": 0.7, "cardinality": 0.5}


class CandidatesTruncatedWarning(UserWarning):
    """More maps qualified as candidates than ``max_qubits``; the weakest were dropped."""


class SelectionQubo:
    """Which feature maps explain a prediction, as a QUBO over candidate maps.

    Parameters
    ----------
    formulation : {"paper", "cardinality"}
        "paper": the reference paper's ``(1 - beta) sum_{p<q} J_pq x_p x_q - beta sum_p a_p x_p``
        over the maps with positive relevance, no constraint on how many are chosen.
        "cardinality": ``-sum r_k x_k + beta sum_{k<l} R_kl x_k x_l + lam (sum x - m)^2`` over
        the maps of largest relevance, with the smallest penalty ``lam`` that the bound of
        :func:`encoding.cardinality_penalty` proves makes every minimiser choose exactly m.
    relevance : {"gradcam", "contribution", "ablation"}
        Default "gradcam" for "paper" (the paper's alpha), "contribution" for "cardinality".
    redundancy : {"abs-cosine", "rectified-cosine"}
        Default "abs-cosine" for "paper" (the paper's |cos|), "rectified-cosine" otherwise.
    beta : float, optional
        Default 0.7 ("paper", in [0, 1]) or 0.5 ("cardinality", >= 0).
    m : int, optional
        Maps to choose ("cardinality" only); default ``max(1, round(n / 4))`` of the n candidates.
    penalty : "auto" or float
        lam ("cardinality" only); "auto" is the proven bound plus ``margin``.
    margin : float
        Added to the bound by ``penalty="auto"``.
    normalization : {"max", "minmax", "none"}
        Relevance normalisation of the "paper" formulation: "max" divides by the largest
        candidate relevance (keeps ratios; default), "minmax" is the paper's earlier code (the
        weakest candidate gets 0), "none" keeps raw values. "cardinality" always divides by
        max|r| (docs/design.md).
    max_qubits : int, optional
        At most this many candidates (the largest relevance first); a
        :class:`CandidatesTruncatedWarning` reports a truncation, and ``metadata_["dropped"]``
        lists the dropped maps.

    Attributes
    ----------
    bqm_ : dimod.BinaryQuadraticModel
        BINARY, variables labelled by channel index (int, 0..K-1).
    relevance_ : (K,) ndarray
        Raw relevance of every map.
    redundancy_ : (K, K) ndarray
    candidates_ : (n,) ndarray of int
        Channel indices of the candidates, in the BQM's variable order.
    penalty_ : float or None
        lam of "cardinality".
    empty_ : bool
        No map qualified (e.g. no positive relevance for "paper"): ``bqm_`` has no variables and
        the explanation is empty -- flagged, not an error.
    metadata_ : dict
        JSON-serialisable: formulation, relevance, redundancy, beta, m, penalty, normalization,
        n_maps, candidates, dropped, empty, and the caller's ``image_id`` and ``target``.
    """

    def __init__(self, formulation: str = "paper", *, relevance: str | None = None,
                 redundancy: str | None = None, beta: float | None = None, m: int | None = None,
                 penalty="auto", margin: float = 1e-2, normalization: str = "max",
                 max_qubits: int | None = None):
        self.formulation = formulation
        self.relevance = relevance
        self.redundancy = redundancy
        self.beta = beta
        self.m = m
        self.penalty = penalty
        self.margin = margin
        self.normalization = normalization
        self.max_qubits = max_qubits

    # -- validated settings -------------------------------------------------------------
    def _settings(self):
        f = self.formulation
        if f not in FORMULATIONS:
            raise EncodingError(f"formulation must be one of {FORMULATIONS}, got {f!r}.")
        rel = self.relevance or ("gradcam" if f == "paper" else "contribution")
        red = self.redundancy or ("abs-cosine" if f == "paper" else "rectified-cosine")
        if rel not in RELEVANCE:
            raise EncodingError(f"relevance must be one of {RELEVANCE}, got {rel!r}.")
        if red not in REDUNDANCY:
            raise EncodingError(f"redundancy must be one of {REDUNDANCY}, got {red!r}.")
        beta = _DEFAULT_BETA[f] if self.beta is None else float(self.beta)
        if not np.isfinite(beta) or beta < 0 or (f == "paper" and beta > 1):
            rule = "[0, 1]" if f == "paper" else ">= 0"
            raise EncodingError(f"beta must be in {rule} for formulation {f!r}, got {self.beta!r}.")
        if f == "paper" and (self.m is not None or self.penalty != "auto"):
            raise EncodingError("m and penalty apply to formulation 'cardinality'; the paper's "
                                "formulation has no cardinality term.")
        if self.normalization not in NORMALISATIONS:
            raise EncodingError(f"normalization must be one of {NORMALISATIONS}, got "
                                f"{self.normalization!r}.")
        if self.max_qubits is not None and (not isinstance(self.max_qubits, (int, np.integer))
                                            or self.max_qubits < 1):
            raise EncodingError(f"max_qubits must be a positive int, got {self.max_qubits!r}.")
        return f, rel, red, beta

    def fit(self, activations, gradients=None, *, ablation=None, image_id=None,
            target: int | None = None) -> SelectionQubo:
        """Build the QUBO of one image.

        Parameters
        ----------
        activations : (K, H, W) array_like
            The feature maps A of the explained layer (``capture(...).activations[i]``).
        gradients : (K, H, W) array_like
            dy_c/dA for the explained class (not needed for relevance "ablation").
        ablation : (K,) array_like, optional
            ``y_c - y_c(A_k = 0)``, for relevance "ablation"
            (:func:`encoding.ablation_relevance`).
        image_id, target : optional
            Recorded in ``metadata_``.

        Returns
        -------
        self
        """
        f, rel, red, beta = self._settings()
        r = relevance(rel, activations, gradients, ablation)
        R = redundancy(red, activations)
        K = r.size
        order = np.argsort(-r, kind="stable")  # strongest first, ties by channel index
        eligible = order[r[order] > 0.0] if f == "paper" else order
        dropped = []
        if self.max_qubits is not None and eligible.size > self.max_qubits:
            dropped = sorted(int(k) for k in eligible[self.max_qubits:])
            eligible = eligible[:self.max_qubits]
            warnings.warn(f"{K} maps, {eligible.size + len(dropped)} candidates: kept the "
                          f"{self.max_qubits} of largest relevance (max_qubits), dropped "
                          f"{dropped}.", CandidatesTruncatedWarning, stacklevel=2)
        cand = np.sort(eligible)
        n = cand.size
        sub = R[np.ix_(cand, cand)]
        lam, m = None, None
        if f == "paper":
            a = normalise_relevance(r[cand], self.normalization)
            bqm = paper_bqm(a, sub, beta, cand.tolist())
        else:
            m = max(1, int(round(n / 4))) if self.m is None else self.m
            if not isinstance(m, (int, np.integer)) or not 1 <= m <= n:
                raise EncodingError(f"m must be an int in 1..{n} (the candidates"
                                    f"{', after max_qubits' if dropped else ''}), got {m!r}.")
            top = np.max(np.abs(r[cand]))
            rh = r[cand] / top if top > 0 else np.zeros(n)
            if self.penalty == "auto":
                lam = cardinality_penalty(rh, sub, beta, int(m), self.margin)
            else:
                lam = float(self.penalty)
            bqm = cardinality_bqm(rh, sub, beta, int(m), lam, cand.tolist())
        self.relevance_, self.redundancy_ = r, R
        self.candidates_ = cand
        self.penalty_ = lam
        self.empty_ = n == 0
        self.bqm_ = bqm if n else dimod.BinaryQuadraticModel(dimod.BINARY)
        self.metadata_ = {
            "formulation": f, "relevance": rel, "redundancy": red, "beta": beta,
            "m": None if m is None else int(m), "penalty": lam,
            "normalization": self.normalization if f == "paper" else "max-abs",
            "n_maps": int(K), "candidates": cand.tolist(), "dropped": dropped,
            "empty": bool(n == 0),
            "image_id": image_id if image_id is None or isinstance(image_id, (str, int))
            else str(image_id),
            "target": None if target is None else int(target),
        }
        return self
