"""Skinny block products of the eigensolvers: Numba kernels and their thin wrappers (private).

The eigensolvers keep their bases as rows ``V (m, dim)`` with ``m`` a few tens and ``dim`` up to
2**24, and need products such as ``T @ V.T`` and ``Y @ V`` with a block ``T`` or ``Y`` of only
a few rows. OpenBLAS runs these "skinny" products well below the memory bandwidth a plain
``gemv`` reaches (docs/performance.md). These kernels stream ``V`` once, in chunks that keep the small block in cache, in parallel over
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


@njit(inline="always", **{**_FLAGS, "parallel": False})
def _add_combination(Y, V, lo, hi, acc):
    """``acc[:, :hi - lo] += Y @ V[:, lo:hi]`` (``acc`` must not alias ``V``).

    Register tiling: each inner loop takes two rows of ``Y`` and four rows of ``V``, so that
    an element of ``V`` loaded from cache feeds two multiply-adds and an element of ``acc``
    is loaded and stored once per four. A plain loop per (row of ``Y``, row of ``V``) is
    bound by its loads and stores, not its arithmetic. A missing partner row repeats a valid one with zero weight.
    """
    q, m = Y.shape
    length = hi - lo
    for j in range(0, q, 2):
        pair = j + 1 < q
        j1 = j + 1 if pair else j
        a0 = acc[j]
        a1 = acc[j1]
        for r in range(0, m, 4):
            r1 = min(r + 1, m - 1)
            r2 = min(r + 2, m - 1)
            r3 = min(r + 3, m - 1)
            y00 = Y[j, r]
            y01 = Y[j, r1] if r + 1 < m else 0.0
            y02 = Y[j, r2] if r + 2 < m else 0.0
            y03 = Y[j, r3] if r + 3 < m else 0.0
            v0 = V[r, lo:hi]
            v1 = V[r1, lo:hi]
            v2 = V[r2, lo:hi]
            v3 = V[r3, lo:hi]
            if pair:
                y10 = Y[j1, r]
                y11 = Y[j1, r1] if r + 1 < m else 0.0
                y12 = Y[j1, r2] if r + 2 < m else 0.0
                y13 = Y[j1, r3] if r + 3 < m else 0.0
                for i in range(length):
                    x0 = v0[i]
                    x1 = v1[i]
                    x2 = v2[i]
                    x3 = v3[i]
                    a0[i] += y00 * x0 + y01 * x1 + y02 * x2 + y03 * x3
                    a1[i] += y10 * x0 + y11 * x1 + y12 * x2 + y13 * x3
            else:
                for i in range(length):
                    a0[i] += y00 * v0[i] + y01 * v1[i] + y02 * v2[i] + y03 * v3[i]


@njit(inline="always", **{**_FLAGS, "parallel": False})
def _add_four(row, col, r, m, s0, s1, s2, s3):
    """``row[col + r + i] += s_i`` for the ``i < 4`` with ``r + i < m``."""
    row[col + r] += s0
    if r + 1 < m:
        row[col + r + 1] += s1
    if r + 2 < m:
        row[col + r + 2] += s2
    if r + 3 < m:
        row[col + r + 3] += s3


@njit(inline="always", **{**_FLAGS, "parallel": False})
def _add_overlaps(T, V, lo, hi, acc, col):
    """``acc[j, col + r] += T[j, lo:hi] . V[r, lo:hi]`` for all rows ``j``, ``r``.

    Tiled like :func:`_add_combination`: two rows of ``T`` by four of ``V`` per inner loop
    (eight sums from six loads).
    """
    q = T.shape[0]
    m = V.shape[0]
    length = hi - lo
    for j in range(0, q, 2):
        pair = j + 1 < q
        j1 = j + 1 if pair else j
        t0 = T[j, lo:hi]
        t1 = T[j1, lo:hi]
        for r in range(0, m, 4):
            v0 = V[r, lo:hi]
            v1 = V[min(r + 1, m - 1), lo:hi]
            v2 = V[min(r + 2, m - 1), lo:hi]
            v3 = V[min(r + 3, m - 1), lo:hi]
            s00 = 0.0
            s01 = 0.0
            s02 = 0.0
            s03 = 0.0
            s10 = 0.0
            s11 = 0.0
            s12 = 0.0
            s13 = 0.0
            for i in range(length):
                a = t0[i]
                b = t1[i]
                x0 = v0[i]
                x1 = v1[i]
                x2 = v2[i]
                x3 = v3[i]
                s00 += a * x0
                s01 += a * x1
                s02 += a * x2
                s03 += a * x3
                s10 += b * x0
                s11 += b * x1
                s12 += b * x2
                s13 += b * x3
            _add_four(acc[j], col, r, m, s00, s01, s02, s03)
            if pair:
                _add_four(acc[j1], col, r, m, s10, s11, s12, s13)


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
        _add_overlaps(T, V, lo, hi, partial[c], 0)
    _sum_partials(partial, out)


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
        acc = np.zeros((q, hi - lo))
        _add_combination(Y, V, lo, hi, acc)
        for j in range(q):
            if beta == 0.0:
                out[j, lo:hi] = acc[j]
            else:
                o = out[j, lo:hi]
                a = acc[j]
                for i in range(hi - lo):
                    o[i] = beta * o[i] + a[i]


#: elements per chunk of the fused Davidson pass: its ``2 m`` rows of V and W (m = 12 by default,
#: 8 KiB each) stay in L2 between the pass's two sweeps over the chunk
FUSED_CHUNK = 1024
#: chunks per parallel task of the fused pass (its partial sums are kept per task)
_FUSED_GROUP = 32


@njit(void(float64[:, ::1], float64[::1], float64[:, ::1], float64[:, ::1], float64[::1],
           float64, float64, float64[:, ::1], float64[:, ::1]), **_FLAGS)
def davidson_pass(Y, theta, V, W, diag, shift, sigma, T, sums):
    """One Davidson iteration's work on the basis, in a single pass over ``V`` and ``W``.

    With ``x_j = Y[j] @ V`` (a Ritz vector) and ``r_j = Y[j] @ W - theta[j] x_j`` (its
    residual), neither stored, writes the preconditioned corrections of the first ``qt``
    pairs, ``T[j] = r_j / (max(diag - shift, 0) + sigma)`` for ``j < qt`` (the others are
    converged: only their residual norms are wanted), and the sums, row ``j`` of ``sums``:
    ``[T[j] . V[r] for r < m] + [T[j] . W[r] for r < m] + [T[j] . T[i] for i < qt]
    + [|x_j|^2, |r_j|^2]`` (the products are zero for ``j >= qt``). Shapes (q, m), (q,),
    (m, dim), (m, dim), (dim,), (qt, dim), (q, 2 m + qt + 2), ``qt <= q``. ``T`` must not
    alias ``V`` or ``W``.
    """
    q, m = Y.shape
    qt = T.shape[0]
    dim = V.shape[1]
    width = 2 * m + qt + 2
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
            _add_combination(Y, V, lo, hi, ax)
            _add_combination(Y, W, lo, hi, aw)
            d = diag[lo:hi]
            for j in range(q):  # residuals, their norms and the corrections
                a = ax[j]
                b = aw[j]
                th = theta[j]
                sx = 0.0
                sr = 0.0
                for i in range(length):
                    res = b[i] - th * a[i]
                    sx += a[i] * a[i]
                    sr += res * res
                acc[j, 2 * m + qt] += sx
                acc[j, 2 * m + qt + 1] += sr
                if j < qt:  # unconverged: its correction too (ax, aw are still in L1)
                    t = T[j, lo:hi]
                    for i in range(length):
                        t[i] = (b[i] - th * a[i]) / (max(d[i] - shift, 0.0) + sigma)
            # second sweep, from cache: the corrections' overlaps
            _add_overlaps(T, V, lo, hi, acc, 0)
            _add_overlaps(T, W, lo, hi, acc, m)
            _add_overlaps(T, T, lo, hi, acc, 2 * m)
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
