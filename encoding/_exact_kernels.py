"""Numba kernel of the exact ground-state search (private; see ``_exact.py``).

Every basis state of a BINARY QUBO ``E(x) = sum_i h_i x_i + sum_{i<j} Q_ij x_i x_j`` is visited
in Gray-code order, so consecutive states differ in one bit and the energy is updated in O(n)
from the local fields ``f_i = h_i + sum_j Q_ij x_j``. The 2^n states are split into chunks of
consecutive Gray-code indices that run in parallel; each chunk keeps its lowest energy and the
states within ``atol`` of it (at most ``cap``; the count goes on past ``cap`` to flag overflow).
"""

from __future__ import annotations

import numba as nb
import numpy as np


from ._config import NJIT_PARALLEL_FLAGS


@nb.njit(nb.types.Tuple((nb.float64[:], nb.int64[:], nb.int64[:, :]))(
    nb.float64[:], nb.float64[:, :], nb.int64, nb.int64, nb.float64), **NJIT_PARALLEL_FLAGS)
def chunked_ground_states(h, Q, chunk_bits, cap, atol):  # pragma: no cover - compiled
    """Per chunk: lowest energy ``(chunks,)``, count of states within ``atol`` of it
    ``(chunks,)``, and up to ``cap`` of those states as basis indices ``(chunks, cap)``.

    ``Q`` is symmetric with a zero diagonal; the offset is not included."""
    n = h.size
    chunks = 1 << (n - chunk_bits)
    length = 1 << chunk_bits
    best = np.empty(chunks)
    count = np.zeros(chunks, dtype=np.int64)
    states = np.full((chunks, cap), -1, dtype=np.int64)
    for c in nb.prange(chunks):
        t0 = c * length
        g = t0 ^ (t0 >> 1)
        x = np.empty(n, dtype=np.int64)
        f = np.empty(n)
        e = 0.0
        for i in range(n):
            x[i] = (g >> i) & 1
        for i in range(n):
            fi = h[i]
            for j in range(n):
                fi += Q[i, j] * x[j]
            f[i] = fi
            if x[i]:
                e += h[i]
                for j in range(i + 1, n):
                    e += Q[i, j] * x[j]
        b = e
        states[c, 0] = g
        cnt = 1
        for step in range(1, length):
            t = t0 + step
            # the bit that changes between Gray codes t-1 and t: trailing zeros of t
            i = 0
            while not (t >> i) & 1:
                i += 1
            sign = 1.0 - 2.0 * x[i]
            e += sign * f[i]
            x[i] = 1 - x[i]
            g ^= 1 << i
            for j in range(n):
                f[j] += sign * Q[j, i]
            if e < b - atol:
                b = e
                states[c, 0] = g
                cnt = 1
            elif e <= b + atol:
                if cnt < cap:
                    states[c, cnt] = g
                cnt += 1
                if e < b:
                    b = e
        best[c] = b
        count[c] = cnt
    return best, count, states
