"""Skinny block products of the eigensolvers: Numba kernels and their thin wrappers (private).

The eigensolvers keep their bases as rows ``V (m, dim)`` with ``m`` a few tens and ``dim`` up to
2**24, and need products such as ``T @ V.T`` and ``Y @ V`` with a block ``T`` or ``Y`` of only
a few rows. OpenBLAS runs these "skinny" products at about a third of the memory bandwidth a
plain ``gemv`` reaches on these machines (5 against 16 GB/s at dim = 2**20, measured). These
kernels stream ``V`` once, in chunks that keep the small block in cache, in parallel over
chunks.
"""

from __future__ import annotations

import numpy as np
from numba import float64, njit, prange, void

from ._config import NJIT_PARALLEL_FLAGS

#: reassociation lets LLVM vectorise the dot products; it changes them at the rounding level
#: only (these kernels orthogonalise bases and form Ritz vectors, whose residuals are
#: recomputed exactly afterwards)
_FLAGS = {**NJIT_PARALLEL_FLAGS, "fastmath": {"reassoc", "contract"}}

#: elements per chunk: 2**12 float64 = 32 KiB of each row
CHUNK = 4096


@njit(inline="always", **{**_FLAGS, "parallel": False})
def _sum_partials(partial, out):
    """``out = partial.sum(axis=0)``: the per-task partial sums of a parallel pass."""
    for j in range(out.shape[0]):
        for r in range(out.shape[1]):
            acc = 0.0
            for c in range(partial.shape[0]):
                acc += partial[c, j, r]
            out[j, r] = acc


@njit(void(float64[:, ::1], float64[:, ::1], float64[:, ::1]), **_FLAGS)
def inner_products(T, V, out):
    """``out[j, r] = T[j] . V[r]`` (``out = T @ V.T``), shapes (q, dim), (m, dim), (q, m)."""
    q, dim = T.shape
    m = V.shape[0]
    nchunks = (dim + CHUNK - 1) // CHUNK
    partial = np.zeros((nchunks, q, m))
    for c in prange(nchunks):
        lo = c * CHUNK
        hi = min(lo + CHUNK, dim)
        for r in range(m):
            vr = V[r, lo:hi]
            for j in range(q):
                tj = T[j, lo:hi]  # views: indices from range(0, ...) let LLVM vectorise
                acc = 0.0
                for i in range(hi - lo):
                    acc += tj[i] * vr[i]
                partial[c, j, r] = acc
    _sum_partials(partial, out)


@njit(inline="always", **{**_FLAGS, "parallel": False})
def _chunk_combination(Y, V, lo, hi):
    """``(Y @ V[:, lo:hi])`` into a fresh private buffer (no aliasing, so LLVM vectorises)."""
    q, m = Y.shape
    acc = np.zeros((q, hi - lo))
    for r in range(m):
        row = V[r, lo:hi]
        for j in range(q):
            y = Y[j, r]
            a = acc[j]
            for i in range(hi - lo):
                a[i] += y * row[i]
    return acc


@njit(void(float64[:, ::1], float64[:, ::1], float64[:, ::1], float64), **_FLAGS)
def combine_rows(Y, V, out, beta):
    """``out = Y @ V + beta * out``, shapes (q, m), (m, dim), (q, dim).

    ``beta = 0`` overwrites ``out`` (which may then hold anything, NaN included); ``beta = 1``
    with ``Y`` negated subtracts a combination in place (Gram-Schmidt). ``out`` may be the
    leading rows of ``V`` itself (a thick restart in place): each chunk of ``V`` is read
    whole into a private buffer before that chunk of ``out`` is written.
    """
    q = Y.shape[0]
    dim = V.shape[1]
    nchunks = (dim + CHUNK - 1) // CHUNK
    for c in prange(nchunks):
        lo = c * CHUNK
        hi = min(lo + CHUNK, dim)
        acc = _chunk_combination(Y, V, lo, hi)
        for j in range(q):
            if beta == 0.0:
                out[j, lo:hi] = acc[j]
            else:
                o = out[j, lo:hi]
                a = acc[j]
                for i in range(hi - lo):
                    o[i] = beta * o[i] + a[i]


#: elements per chunk of the fused Davidson pass: its ``2 m`` rows of V and W (m <= 24,
#: 8 KiB each) stay in L2 between the pass's two sweeps over the chunk
FUSED_CHUNK = 1024
#: chunks per parallel task of the fused pass (its partial sums are kept per task)
_FUSED_GROUP = 32


@njit(void(float64[:, ::1], float64[::1], float64[:, ::1], float64[:, ::1], float64[::1],
           float64, float64, float64[:, ::1], float64[:, ::1]), **_FLAGS)
def davidson_pass(Y, theta, V, W, diag, shift, sigma, T, sums):
    """One Davidson iteration's work on the basis, in a single pass over ``V`` and ``W``.

    With ``x_j = Y[j] @ V`` (a Ritz vector) and ``r_j = Y[j] @ W - theta[j] x_j`` (its
    residual), neither stored, writes the preconditioned correction
    ``T[j] = r_j / (max(diag - shift, 0) + sigma)`` and the sums, row ``j`` of ``sums``:
    ``[T[j] . V[r] for r < m] + [T[j] . W[r] for r < m] + [T[j] . T[i] for i < q]
    + [|x_j|^2, |r_j|^2]``. Shapes (q, m), (q,), (m, dim), (m, dim), (dim,), (q, dim),
    (q, 2 m + q + 2). ``T`` must not alias ``V`` or ``W``.
    """
    q, m = Y.shape
    dim = V.shape[1]
    width = 2 * m + q + 2
    span = FUSED_CHUNK * _FUSED_GROUP
    ngroups = (dim + span - 1) // span
    partial = np.zeros((ngroups, q, width))
    for g in prange(ngroups):
        ax = np.empty((q, FUSED_CHUNK))
        aw = np.empty((q, FUSED_CHUNK))
        acc = partial[g]
        for lo in range(g * span, min((g + 1) * span, dim), FUSED_CHUNK):
            hi = min(lo + FUSED_CHUNK, dim)
            length = hi - lo
            for j in range(q):
                ax[j, :length] = 0.0
                aw[j, :length] = 0.0
            # first sweep: x and H x of every wanted pair, into buffers reused chunk to chunk
            # (two calls of _chunk_combination, which allocates per chunk: 2-6 % slower at
            # n = 20, 22, measured)
            for r in range(m):
                vr = V[r, lo:hi]
                wr = W[r, lo:hi]
                for j in range(q):
                    y = Y[j, r]
                    a = ax[j]
                    b = aw[j]
                    for i in range(length):
                        a[i] += y * vr[i]
                        b[i] += y * wr[i]
            d = diag[lo:hi]
            for j in range(q):  # residuals, their norms and the corrections
                a = ax[j]
                b = aw[j]
                t = T[j, lo:hi]
                th = theta[j]
                sx = 0.0
                sr = 0.0
                for i in range(length):
                    res = b[i] - th * a[i]
                    sx += a[i] * a[i]
                    sr += res * res
                    t[i] = res / (max(d[i] - shift, 0.0) + sigma)
                acc[j, 2 * m + q] += sx
                acc[j, 2 * m + q + 1] += sr
            for r in range(m):  # second sweep, from cache: the corrections' overlaps
                vr = V[r, lo:hi]
                wr = W[r, lo:hi]
                for j in range(q):
                    t = T[j, lo:hi]
                    sv = 0.0
                    sw = 0.0
                    for i in range(length):
                        sv += t[i] * vr[i]
                        sw += t[i] * wr[i]
                    acc[j, r] += sv
                    acc[j, m + r] += sw
            for j in range(q):
                t = T[j, lo:hi]
                for l in range(q):
                    u = T[l, lo:hi]
                    st = 0.0
                    for i in range(length):
                        st += t[i] * u[i]
                    acc[j, 2 * m + l] += st
    _sum_partials(partial, sums)


def products(T: np.ndarray, V: np.ndarray) -> np.ndarray:
    """``T @ V.T`` for row blocks (the Numba kernel streams ``V`` once)."""
    out = np.empty((T.shape[0], V.shape[0]))
    if T.shape[0] and V.shape[0]:
        inner_products(np.ascontiguousarray(T), np.ascontiguousarray(V), out)
    return out


def combination(Y: np.ndarray, V: np.ndarray, out: np.ndarray | None = None,
                 beta: float = 0.0) -> np.ndarray:
    """``Y @ V + beta * out`` for a row basis ``V`` (into ``out`` when given)."""
    if out is None:
        out = np.empty((Y.shape[0], V.shape[1]))
    if Y.shape[0]:
        combine_rows(np.ascontiguousarray(Y), np.ascontiguousarray(V), out, beta)
    return out
