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
    for j in range(q):
        for r in range(m):
            acc = 0.0
            for c in range(nchunks):
                acc += partial[c, j, r]
            out[j, r] = acc


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
    with ``Y`` negated subtracts a combination in place (Gram-Schmidt).
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


@njit(void(float64[:, ::1], float64[::1], float64[:, ::1], float64[:, ::1], float64[:, ::1],
           float64[:, ::1]), **_FLAGS)
def ritz_residuals(Y, theta, V, W, X, R):
    """Ritz vectors ``X = Y @ V`` and residuals ``R = Y @ W - theta[:, None] * X`` in one
    pass over ``V`` and ``W``; shapes (q, m), (q,), (m, dim), (m, dim), (q, dim), (q, dim)."""
    q = Y.shape[0]
    dim = V.shape[1]
    nchunks = (dim + CHUNK - 1) // CHUNK
    for c in prange(nchunks):
        lo = c * CHUNK
        hi = min(lo + CHUNK, dim)
        ax = _chunk_combination(Y, V, lo, hi)  # each chunk of V and W is read once
        aw = _chunk_combination(Y, W, lo, hi)
        for j in range(q):
            x = X[j, lo:hi]
            res = R[j, lo:hi]
            a = ax[j]
            b = aw[j]
            t = theta[j]
            for i in range(hi - lo):
                x[i] = a[i]
                res[i] = b[i] - t * a[i]


@njit(void(float64[:, ::1], float64[::1], float64, float64, float64[:, ::1]), **_FLAGS)
def precondition_rows(R, diag, shift, sigma, out):
    """``out[j] = R[j] / (max(diag - shift, 0) + sigma)``, the Davidson correction."""
    q, dim = R.shape
    nchunks = (dim + CHUNK - 1) // CHUNK
    for c in prange(nchunks):
        lo = c * CHUNK
        hi = min(lo + CHUNK, dim)
        d = diag[lo:hi]
        for j in range(q):
            r = R[j, lo:hi]
            o = out[j, lo:hi]
            for i in range(hi - lo):
                o[i] = r[i] / (max(d[i] - shift, 0.0) + sigma)


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
