"""Numba kernels of the DOP853 propagator (private; see ``_rk.py``).

The right-hand side of i dpsi/dt = (H(t) + c) psi is stored as ``G_j = (H + c) z_j`` (the
matvec's output, without the factor -i), so that the stage vectors are
``z_i = y + i sum_j (-h a_ij) G_j``: one pass per stage, in cache-sized chunks that run in
parallel, with real coefficients on float64 views, and no Python between the stages of a
step.
"""

from __future__ import annotations

import numpy as np
from numba import complex128, float64, int64, njit, prange, void

from spectral._kernels import BLOCK_BITS, hamiltonian_matvec, hamiltonian_matvec_serial

from ._config import NJIT_FLAGS, NJIT_PARALLEL_FLAGS

#: basis states per chunk of the stage combinations (16 KiB of complex128 per vector; four
#: chunks at n = 12, so that both cores work there)
CHUNK = 1024

_C1 = complex128[::1]
_C2 = complex128[:, ::1]
_F1 = float64[::1]
_F2 = float64[:, ::1]


@njit(void(_F1, _F2, int64[::1], _F1, _F1), **NJIT_PARALLEL_FLAGS)
def combine(y, G, rows, beta, z):  # pragma: no cover - compiled
    """``z = y + i sum_m beta[m] G[rows[m]]`` on float64 views of complex vectors
    (interleaved real and imaginary parts): the sum is accumulated in real arithmetic, which
    vectorises (about 2x faster than complex128 arithmetic while the vectors are in cache)."""
    dim = y.size // 2
    for c in prange((dim + CHUNK - 1) // CHUNK):
        lo = 2 * c * CHUNK
        m_len = 2 * min(CHUNK, dim - c * CHUNK)
        w = np.zeros(m_len)
        for m in range(rows.size):
            gb = G[rows[m], lo:lo + m_len]
            bm = beta[m]
            for t in range(m_len):
                w[t] += bm * gb[t]
        zb = z[lo:lo + m_len]
        yb = y[lo:lo + m_len]
        for t in range(m_len // 2):
            zb[2 * t] = yb[2 * t] - w[2 * t + 1]
            zb[2 * t + 1] = yb[2 * t + 1] + w[2 * t]


@njit(float64[::1](_F1, _F2, int64[::1], _F1, _F1, _F1, _F1), **NJIT_PARALLEL_FLAGS)
def combine_with_errors(y, G, rows, beta, e5, e3, y_new):  # pragma: no cover - compiled
    """``y_new = y + i sum_m beta[m] G[rows[m]]`` (float64 views, as :func:`combine`) and, in
    the same pass, the squared 2-norms of ``sum_m e5[m] G[rows[m]]`` and
    ``sum_m e3[m] G[rows[m]]`` (the embedded error estimates, without the step)."""
    dim = y.size // 2
    s5 = 0.0
    s3 = 0.0
    for c in prange((dim + CHUNK - 1) // CHUNK):
        lo = 2 * c * CHUNK
        m_len = 2 * min(CHUNK, dim - c * CHUNK)
        w = np.zeros(m_len)
        r5 = np.zeros(m_len)
        r3 = np.zeros(m_len)
        for m in range(rows.size):
            gb = G[rows[m], lo:lo + m_len]
            bm, c5, c3 = beta[m], e5[m], e3[m]
            for t in range(m_len):
                g = gb[t]
                w[t] += bm * g
                r5[t] += c5 * g
                r3[t] += c3 * g
        ob = y_new[lo:lo + m_len]
        yb = y[lo:lo + m_len]
        for t in range(m_len // 2):
            ob[2 * t] = yb[2 * t] - w[2 * t + 1]
            ob[2 * t + 1] = yb[2 * t + 1] + w[2 * t]
        p5 = 0.0
        p3 = 0.0
        for t in range(m_len):
            p5 += r5[t] * r5[t]
            p3 += r3[t] * r3[t]
        s5 += p5
        s3 += p3
    out = np.empty(2)
    out[0] = s5
    out[1] = s3
    return out


@njit(float64(_C1, _C1), **NJIT_PARALLEL_FLAGS)
def subtract_mean_energy(y, Hy):  # pragma: no cover - compiled
    """``Hy <- (H - <H>) y`` given ``Hy = H y``; returns ``<H> = Re<y|H|y> / <y|y>``."""
    num = 0.0
    den = 0.0
    for j in prange(y.size):
        num += y[j].real * Hy[j].real + y[j].imag * Hy[j].imag
        den += y[j].real ** 2 + y[j].imag ** 2
    energy = num / den
    for j in prange(y.size):
        Hy[j] -= energy * y[j]
    return energy


@njit(void(_C1, _F1, float64, float64, int64, float64, float64, _C1, _F2),
      **NJIT_PARALLEL_FLAGS)
def small_matvec(z, diag, a, b, nbits, flip_sign, shift, out, work):  # pragma: no cover
    """``out = (H + shift) z`` for a state of at most ``2**BLOCK_BITS`` amplitudes: its real
    and imaginary parts apart (``H`` is real), each by the real matvec on its own thread.
    ``work``: (4, dim). Measured at 12 qubits: about 20 us against 39-58 us for the complex
    matvec, which runs such a state as one block on one thread, in complex128 arithmetic
    (which vectorises worse)."""
    dim = z.size
    for part in prange(2):
        src = work[part]
        for j in range(dim):
            src[j] = z[j].real if part == 0 else z[j].imag
        hamiltonian_matvec_serial(src, diag, a, b, nbits, flip_sign, shift, work[2 + part])
    for j in range(dim):
        out[j] = complex(work[2, j], work[3, j])


@njit(float64[::1](_C1, _F1, float64, _F1, _F1, float64, _F1, int64, float64, _F2,
                   int64[:, ::1], int64[::1], int64[::1], _F1, _F1, _F1, _C2, _F2, _F1,
                   _F1, _F2), **NJIT_FLAGS)
def dop853_step(z, z_f, h, a, b, shift, diag, nbits, flip_sign, A, stage_rows, stage_counts,
                final_rows, B, E5, E3, G, G_f, y_f, y_new_f, work):  # pragma: no cover
    """One Dormand-Prince 8(5,3) step of length ``h`` from ``y`` (``G[0]`` must hold
    ``(H + shift) y`` at the step's start). ``a, b`` are A and B at the 12 stage times;
    ``stage_rows[i, :stage_counts[i]]`` are the nonzero columns of row i of ``A``;
    ``final_rows`` the nonzero entries of ``B``, ``E5``, ``E3``. ``*_f`` are float64 views of
    the complex arrays of the same name (``z`` is work space). ``work``: (4, dim) for states
    of at most ``2**BLOCK_BITS`` amplitudes (:func:`small_matvec`), else unused. Writes
    ``y_new`` and returns the squared 2-norms of the two embedded error vectors (without the
    factor h)."""
    small = z.size <= (1 << BLOCK_BITS) and work.shape[1] == z.size
    for i in range(1, 12):
        cnt = stage_counts[i]
        rows = stage_rows[i, :cnt]
        beta = np.empty(cnt)
        for m in range(cnt):
            beta[m] = -h * A[i, rows[m]]
        combine(y_f, G_f, rows, beta, z_f)
        if small:
            small_matvec(z, diag, a[i], b[i], nbits, flip_sign, shift, G[i], work)
        else:
            hamiltonian_matvec(z, diag, a[i], b[i], nbits, flip_sign, shift, G[i])
    cnt = final_rows.size
    beta = np.empty(cnt)
    e5 = np.empty(cnt)
    e3 = np.empty(cnt)
    for m in range(cnt):
        j = final_rows[m]
        beta[m] = -h * B[j]
        e5[m] = E5[j]
        e3[m] = E3[j]
    return combine_with_errors(y_f, G_f, final_rows, beta, e5, e3, y_new_f)
