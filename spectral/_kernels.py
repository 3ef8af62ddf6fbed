"""Numba kernels of the annealing Hamiltonian (private; array-in, array-out, no validation).

Basis convention (DESIGN.md): basis-state index ``b``; bit ``i`` of ``b`` is variable ``i``.
In a symmetry sector of the global spin flip, index ``b < 2**(n-1)`` stands for
``(|b> + sign * |~b>) / sqrt(2)`` with the top bit of ``b`` zero, and the driver term
``X_{n-1}`` becomes ``sign`` times the flip of all ``n - 1`` remaining bits.

The public wrappers live in :mod:`spectral._hamiltonian`; they validate shapes and dtypes.
"""

from __future__ import annotations

import numpy as np
from numba import complex128, float64, int64, njit, prange, void

from ._config import NJIT_FLAGS, NJIT_PARALLEL_FLAGS

#: log2 of the number of basis states handled as one cache block by the matvec kernel
#: (2**11 float64 = 16 KiB). Kept in this file: Numba's cache keys on this file's source, so a
#: constant imported from elsewhere could be baked stale into a cached kernel.
BLOCK_BITS = 11

_MATVEC_SIGNATURES = [
    void(float64[::1], float64[::1], float64, float64, int64, float64, float64[::1]),
    void(complex128[::1], float64[::1], float64, float64, int64, float64, complex128[::1]),
]


@njit(_MATVEC_SIGNATURES, **NJIT_PARALLEL_FLAGS)
def hamiltonian_matvec(v, diag, a, b, nbits, flip_sign, out):
    """``out = (-a * (sum_i X_i + flip_sign * F) + b * diag) @ v``.

    Parameters
    ----------
    v : (2**nbits,) float64 or complex128, C-contiguous
    diag : (2**nbits,) float64, the (scaled) problem energies
    a, b : float, schedule coefficients A(s), B(s)
    nbits : int, number of bits of the (sector) basis index
    flip_sign : float, 0 for the full space, +1 / -1 for the even / odd spin-flip sector;
        ``F`` flips all ``nbits`` bits.
    out : same shape and dtype as ``v``; must not alias ``v``.
    """
    dim = v.shape[0]
    mask = dim - 1
    if nbits <= BLOCK_BITS:
        for j in range(dim):
            acc = v[j ^ 1] if nbits > 0 else v[j] * 0.0
            for i in range(1, nbits):
                acc += v[j ^ (1 << i)]
            if flip_sign != 0.0:
                acc += flip_sign * v[j ^ mask]
            out[j] = b * diag[j] * v[j] - a * acc
        return
    bs = 1 << BLOCK_BITS
    nblocks = dim >> BLOCK_BITS
    for c in prange(nblocks):
        base = c << BLOCK_BITS
        acc = np.empty(bs, dtype=v.dtype)
        # bits 0-2: the 3-cube inside each group of 8, unrolled
        for g in range(base, base + bs, 8):
            x0, x1, x2, x3 = v[g], v[g + 1], v[g + 2], v[g + 3]
            x4, x5, x6, x7 = v[g + 4], v[g + 5], v[g + 6], v[g + 7]
            k = g - base
            acc[k] = x1 + x2 + x4
            acc[k + 1] = x0 + x3 + x5
            acc[k + 2] = x3 + x0 + x6
            acc[k + 3] = x2 + x1 + x7
            acc[k + 4] = x5 + x6 + x0
            acc[k + 5] = x4 + x7 + x1
            acc[k + 6] = x7 + x4 + x2
            acc[k + 7] = x6 + x5 + x3
        # bits 3 .. BLOCK_BITS-1: two butterfly levels per pass, contiguous runs of m >= 8
        i = 3
        while i < BLOCK_BITS:
            m = 1 << i
            if i + 1 < BLOCK_BITS:
                for j0 in range(0, bs, 4 * m):
                    for t in range(j0, j0 + m):
                        y0 = v[base + t]
                        y1 = v[base + t + m]
                        y2 = v[base + t + 2 * m]
                        y3 = v[base + t + 3 * m]
                        acc[t] += y1 + y2
                        acc[t + m] += y0 + y3
                        acc[t + 2 * m] += y3 + y0
                        acc[t + 3 * m] += y2 + y1
                i += 2
            else:
                for j0 in range(0, bs, 2 * m):
                    for t in range(j0, j0 + m):
                        acc[t] += v[base + t + m]
                        acc[t + m] += v[base + t]
                i += 1
        # bits above the block: whole partner blocks, contiguous, four per pass
        i = BLOCK_BITS
        while i + 3 < nbits:
            p0 = base ^ (1 << i)
            p1 = base ^ (1 << (i + 1))
            p2 = base ^ (1 << (i + 2))
            p3 = base ^ (1 << (i + 3))
            for j in range(bs):
                acc[j] += (v[p0 + j] + v[p1 + j]) + (v[p2 + j] + v[p3 + j])
            i += 4
        while i < nbits:
            p0 = base ^ (1 << i)
            for j in range(bs):
                acc[j] += v[p0 + j]
            i += 1
        if flip_sign != 0.0:
            partner_end = (base ^ mask) | (bs - 1)
            for j in range(bs):
                acc[j] += flip_sign * v[partner_end - j]
        for j in range(bs):
            out[base + j] = b * diag[base + j] * v[base + j] - a * acc[j]


@njit(
    [float64(float64[::1], int64, float64), float64(complex128[::1], int64, float64)],
    **NJIT_PARALLEL_FLAGS,
)
def driver_expectation(v, nbits, flip_sign):
    """``<v| (sum_i X_i + flip_sign * F) |v>`` (real part), without forming the product vector."""
    dim = v.shape[0]
    mask = dim - 1
    total = 0.0
    for j in prange(dim):
        acc = v[j] * 0.0
        for i in range(nbits):
            acc += v[j ^ (1 << i)]
        if flip_sign != 0.0:
            acc += flip_sign * v[j ^ mask]
        total += (np.conj(v[j]) * acc).real
    return total


@njit(void(float64[::1], float64[:, ::1], float64[::1]), **NJIT_FLAGS)
def ising_block_energies(h, J, out):
    """Ising energies ``sum_i h_i s_i + sum_{i<j} J_ij s_i s_j`` of all ``2**len(h)`` states.

    ``J`` is strictly upper triangular; ``s_i = 2 * ((b >> i) & 1) - 1``. Used on blocks of at
    most ~12 bits; the full diagonal is assembled from blocks in numpy.
    """
    n = h.shape[0]
    for b in range(out.shape[0]):
        e = 0.0
        for i in range(n):
            si = 2.0 * ((b >> i) & 1) - 1.0
            e += h[i] * si
            for j in range(i + 1, n):
                e += J[i, j] * si * (2.0 * ((b >> j) & 1) - 1.0)
        out[b] = e
