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

from spectral.kernels import hamiltonian_matvec, hamiltonian_matvec_serial

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
    vectorises (complex128 arithmetic does not)."""
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


@njit(float64[::1](_C1, _F1, float64, _F1, _F1, float64, _F1, int64, float64, _F2,
                   int64[:, ::1], int64[::1], int64[::1], _F1, _F1, _F1, _C2, _F2, _F1,
                   _F1), **NJIT_FLAGS)
def dop853_step(z, z_f, h, a, b, shift, diag, nbits, flip_sign, A, stage_rows, stage_counts,
                final_rows, B, E5, E3, G, G_f, y_f, y_new_f):  # pragma: no cover
    """One Dormand-Prince 8(5,3) step of length ``h`` from ``y`` (``G[0]`` must hold
    ``(H + shift) y`` at the step's start). ``a, b`` are A and B at the 12 stage times;
    ``stage_rows[i, :stage_counts[i]]`` are the nonzero columns of row i of ``A``;
    ``final_rows`` the nonzero entries of ``B``, ``E5``, ``E3``. ``*_f`` are float64 views of
    the complex arrays of the same name (``z`` is work space). Writes ``y_new`` and returns
    the squared 2-norms of the two embedded error vectors (without the factor h)."""
    for i in range(1, 12):
        cnt = stage_counts[i]
        rows = stage_rows[i, :cnt]
        beta = np.empty(cnt)
        for m in range(cnt):
            beta[m] = -h * A[i, rows[m]]
        combine(y_f, G_f, rows, beta, z_f)
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


# --- states of at most 2**BLOCK_BITS amplitudes: real and imaginary parts apart ----------------
#
# Such a state is one cache block of the matvec, which then runs on one thread, in complex128
# arithmetic (which vectorises worse), and each stage's combination opens a parallel region of
# its own. Here the state is kept as its real and imaginary parts, (2, dim) (``H`` is real:
# ``H (u + i w) = H u + i H w``), and each stage is one parallel region of two tasks: part
# ``p`` forms its half of the stage vector, ``z_p = y_p -+ sum_m h a_im G_m,(1-p)``, and
# applies the serial real matvec to it: cheaper than complex stages (the combination, then
# the real and imaginary matvecs on a thread each) or the complex matvec.


@njit(float64(_F2, _F1, float64, float64, int64, float64, _F2), **NJIT_PARALLEL_FLAGS)
def planar_first_row(y, diag, a, b, nbits, flip_sign, G0):  # pragma: no cover - compiled
    """``G0 = (H - <H>) y`` for ``y`` as (2, dim) real and imaginary parts; returns ``<H>``."""
    num = np.zeros(2)
    den = np.zeros(2)
    for part in prange(2):
        hamiltonian_matvec_serial(y[part], diag, a, b, nbits, flip_sign, 0.0, G0[part])
        yp = y[part]
        gp = G0[part]
        n_acc = 0.0
        d_acc = 0.0
        for j in range(yp.size):
            n_acc += yp[j] * gp[j]
            d_acc += yp[j] * yp[j]
        num[part] = n_acc
        den[part] = d_acc
    energy = (num[0] + num[1]) / (den[0] + den[1])
    for part in prange(2):
        yp = y[part]
        gp = G0[part]
        for j in range(yp.size):
            gp[j] -= energy * yp[j]
    return energy


@njit(float64[::1](_F2, float64, _F1, _F1, float64, _F1, int64, float64, _F2, int64[:, ::1],
                   int64[::1], int64[::1], _F1, _F1, _F1, float64[:, :, ::1], _F2),
      **NJIT_PARALLEL_FLAGS)
def planar_dop853_step(y, h, a, b, shift, diag, nbits, flip_sign, A, stage_rows, stage_counts,
                       final_rows, B, E5, E3, G, y_new):  # pragma: no cover - compiled
    """:func:`dop853_step` for a state kept as (2, dim) real and imaginary parts: ``y``,
    ``y_new`` (2, dim), ``G`` (12, 2, dim) with ``G[0] = (H + shift) y`` on entry."""
    dim = y.shape[1]
    for i in range(1, 12):
        cnt = stage_counts[i]
        rows = stage_rows[i, :cnt]
        for part in prange(2):
            sign = -1.0 if part == 0 else 1.0  # z = y + i sum beta G: re -= beta G_im ...
            z = y[part].copy()
            for m in range(cnt):
                coef = sign * -h * A[i, rows[m]]
                g = G[rows[m], 1 - part]
                for j in range(dim):
                    z[j] += coef * g[j]
            hamiltonian_matvec_serial(z, diag, a[i], b[i], nbits, flip_sign, shift, G[i, part])
    cnt = final_rows.size
    sums = np.zeros((2, 2))
    for part in prange(2):
        sign = -1.0 if part == 0 else 1.0
        w = y[part].copy()
        r5 = np.zeros(dim)
        r3 = np.zeros(dim)
        for m in range(cnt):
            row = final_rows[m]
            coef = sign * -h * B[row]
            g = G[row, 1 - part]
            own = G[row, part]  # the error vectors' part ``part``
            c5 = E5[row]
            c3 = E3[row]
            for j in range(dim):
                w[j] += coef * g[j]
                r5[j] += c5 * own[j]
                r3[j] += c3 * own[j]
        out = y_new[part]
        p5 = 0.0
        p3 = 0.0
        for j in range(dim):
            out[j] = w[j]
            p5 += r5[j] * r5[j]
            p3 += r3[j] * r3[j]
        sums[part, 0] = p5
        sums[part, 1] = p3
    result = np.empty(2)
    result[0] = sums[0, 0] + sums[1, 0]
    result[1] = sums[0, 1] + sums[1, 1]
    return result
