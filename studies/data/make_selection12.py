"""Regenerate ``selection12.json``: a 12-qubit "choose m of n" feature-map selection QUBO.

A stand-in built without a trained CNN (the encoding issue replaces it with one from the
bundled model): one bundled scikit-learn digit, 12 seeded random 3x3 filters with ReLU (a filter whose map is all zero is redrawn) give
12 feature maps A_k; a seeded linear read-out w gives relevance r_k = w_k * mean(A_k);
redundancy R_kl = cosine similarity of the flattened maps. Energy (DESIGN.md):

    E(x) = -sum_k r_k x_k + beta * sum_{k<l} R_kl x_k x_l + lam * (sum_k x_k - m)^2

with r normalised by max|r|, beta = 0.5, m = 3 and lam = max_k(|r_k| + beta * sum_l R_kl)
+ 0.1, which makes every minimiser satisfy sum x = m: from any x with sum x != m, moving one
bit towards m changes the first two terms by at most max_k(|r_k| + beta sum_l R_kl) < lam and
lowers the penalty by at least lam.

Run: ``python -m studies.data.make_selection12``.
"""

from __future__ import annotations

import json
from pathlib import Path

import dimod
import numpy as np
from scipy.signal import correlate2d
from sklearn.datasets import load_digits


def build(seed: int = 12, n: int = 12, m: int = 3, beta: float = 0.5) -> dimod.BinaryQuadraticModel:
    rng = np.random.default_rng(seed)
    image = load_digits().images[0] / 16.0
    maps = []
    while len(maps) < n:  # redraw filters whose rectified map is identically zero
        a = np.maximum(correlate2d(image, rng.standard_normal((3, 3)), mode="valid"), 0.0)
        if a.any():
            maps.append(a)
    maps = np.stack(maps)
    flat = maps.reshape(n, -1)
    readout = rng.standard_normal(n)
    r = readout * flat.mean(axis=1)
    r = r / np.max(np.abs(r))
    norms = np.linalg.norm(flat, axis=1)
    R = (flat @ flat.T) / np.outer(norms, norms)
    np.fill_diagonal(R, 0.0)
    return selection_bqm(r, R, m, beta, [f"map{k:02d}" for k in range(n)])


def selection_bqm(r, R, m: int, beta: float, labels=None) -> dimod.BinaryQuadraticModel:
    """``-sum r x + beta sum_{k<l} R x x + lam (sum x - m)**2`` expanded into a BINARY BQM,
    with lam = max_k(|r_k| + beta * sum_l |R_kl|) + 0.1 (the rule proven in the module doc)."""
    n = len(r)
    labels = list(range(n)) if labels is None else labels
    lam = float(np.max(np.abs(r) + beta * np.abs(R).sum(axis=1))) + 0.1
    linear = {labels[k]: -r[k] + lam * (1 - 2 * m) for k in range(n)}
    quadratic = {(labels[k], labels[l]): beta * R[k, l] + 2 * lam
                 for k in range(n) for l in range(k + 1, n)}
    return dimod.BinaryQuadraticModel(linear, quadratic, lam * m * m, dimod.BINARY)


def main() -> None:
    bqm = build()
    doc = {
        "info": {
            "description": "12-qubit choose-3-of-12 feature-map selection QUBO (random-filter stand-in)",
            "generator": "python -m studies.data.make_selection12",
            "m": 3, "beta": 0.5,
        },
        "bqm": bqm.to_serializable(),
    }
    out = Path(__file__).with_name("selection12.json")
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
