"""Numba kernel of a Chebyshev-series exponential (private; see ``_magnus.py``).

The operator is spectral's matrix-free H = a H_D + b H_P (the same Numba matvec kernel, called
from compiled code so that no Python runs between the terms of a series).
"""

from __future__ import annotations

import numba as nb

from spectral.kernels import hamiltonian_matvec

from ._config import NJIT_FLAGS


_C1D = nb.complex128[::1]


@nb.njit(nb.void(_C1D, nb.float64[::1], nb.float64, nb.float64, nb.int64, nb.float64,
                 nb.float64, nb.float64, _C1D, _C1D, _C1D, _C1D, _C1D), **NJIT_FLAGS)
def chebyshev_apply(psi, diag, a, b, nbits, flip_sign, center, inv_half, coefs, h_phi, phi,
                    prev, acc):  # pragma: no cover - compiled
    """``psi <- sum_k coefs[k] T_k(X) psi`` with ``X = (a H_D + b H_P - center) * inv_half``,
    by the three-term recurrence T_{k+1} = 2 X T_k - T_{k-1}; the other arrays are work
    space of psi's size."""
    n = psi.size
    for j in range(n):
        phi[j] = psi[j]
        prev[j] = 0.0
        acc[j] = coefs[0] * psi[j]
    for k in range(1, coefs.size):
        hamiltonian_matvec(phi, diag, a, b, nbits, flip_sign, 0.0, h_phi)
        factor = 1.0 if k == 1 else 2.0
        c = coefs[k]
        for j in range(n):
            new = factor * (h_phi[j] - center * phi[j]) * inv_half - prev[j]
            prev[j] = new
            acc[j] += c * new
        phi, prev = prev, phi
    for j in range(n):
        psi[j] = acc[j]
