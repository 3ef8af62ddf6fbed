"""The random selection-QUBO family of the spectral benchmark (and of some spectral tests).

``E(x) = -sum r_k x_k + beta sum_{k<l} R_kl x_k x_l + lam (sum x - m)^2`` with the loose
penalty ``lam = max_k(|r_k| + beta sum_l |R_kl|) + 0.1`` (every minimiser has sum x = m: moving
one bit towards m changes the first two terms by less than lam and lowers the penalty by at
least lam). It is kept, rather than :func:`encoding.cardinality_penalty`'s tighter bound, so
that the spectral timings stay comparable from one session to the next: a larger lam pushes
the minimum gap to the very end of the anneal (s* near 0.99), the hardest regime for the
eigensolvers.
"""

from __future__ import annotations

import dimod
import numpy as np

__all__ = ["selection_bqm"]


def selection_bqm(r, R, m: int, beta: float, labels=None) -> dimod.BinaryQuadraticModel:
    """The QUBO above as a BINARY BQM, labels 0..n-1 unless given."""
    r = np.asarray(r, dtype=np.float64)
    R = np.asarray(R, dtype=np.float64)
    n = len(r)
    labels = list(range(n)) if labels is None else labels
    lam = float(np.max(np.abs(r) + beta * np.abs(R).sum(axis=1))) + 0.1
    linear = {labels[k]: -r[k] + lam * (1 - 2 * m) for k in range(n)}
    quadratic = {(labels[k], labels[l]): beta * R[k, l] + 2 * lam
                 for k in range(n) for l in range(k + 1, n)}
    return dimod.BinaryQuadraticModel(linear, quadratic, lam * m * m, dimod.BINARY)
