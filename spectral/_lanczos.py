"""Thick-restart Lanczos for the lowest eigenpairs of a symmetric operator (private).

Wu & Simon, "Thick-restart Lanczos method for large symmetric eigenvalue problems", SIAM J.
Matrix Anal. Appl. 22 (2000) 602, with partial reorthogonalisation (Simon, "The Lanczos
algorithm with partial reorthogonalization", Math. Comp. 42 (1984) 115): the inner products
``omega[i, j] = v_i . v_j`` of the cycle's Lanczos vectors are *estimated* by a recurrence of
O(j) scalars per step, and a step is reorthogonalised against the whole basis (classical
Gram-Schmidt with the DGKS correction; Daniel, Gragg, Kaufman & Stewart, Math. Comp. 30 (1976)
772) only when an estimate exceeds ``_SEMI``. Full reorthogonalisation at every step would be
most of the time at large n; with the estimates only a few steps of a cycle need it, for the
same eigenvalues, residuals and step counts.

The recurrence. Every Lanczos vector satisfies ``H v_i = sum_l M[l, i] v_l + beta_i v_(i+1)``
with ``M`` the symmetric projected matrix, so evaluating ``v_i . H v_j`` from both sides gives,
for i <= j,

    beta_j omega[j+1, i] = (M omega[:, j])_i - (omega M[:, j])_i + rounding,

and the rounding is modelled, as Simon does, by ``eps * max(||H v_j||, ||M||)`` with the sign
that increases the magnitude (also as the estimate of ``omega[j+1, j]``; a warm start makes
``beta_j`` small and this term large). When an estimate exceeds ``_SEMI`` both ``v_j`` and
``v_(j+1)`` are reorthogonalised (Simon's rule).

Two departures from Simon:

- ``_SEMI = 1e-12``, not sqrt(eps): eigenvalues from a semi-orthogonal basis are accurate to
  O(eps ||H||), but Ritz *vectors* only to O(sqrt(eps) ||H||) in the residual, and the callers
  ask for residuals of 1e-10 ||H||. At sqrt(eps) the residuals stall above that and the
  solves take more steps; at 1e-12 steps and residuals equal full reorthogonalisation's.
- The kept Ritz vectors of a thick restart are combinations of a merely semi-orthogonal basis:
  their relation ``H x_i = theta_i x_i + s_i v_keep`` holds only to O(omega ||H||), which the
  recurrence cannot model. Every step is therefore projected off them explicitly (a few
  vectors; their coefficients go into the projected matrix), and the first step of a cycle,
  which couples to all of them, is a full projection done twice.

Written here rather than taken from ARPACK because the basis is kept as contiguous rows and
every projection is one call of the parallel block kernels: with scipy's ARPACK, its serial
internal work, not the matvec, dominates a gap sweep.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.linalg.blas import daxpy

from ._blockops import combination, products

#: DGKS criterion: re-orthogonalise when the norm dropped below this fraction.
_DGKS = 0.7071067811865476
#: steps between convergence tests inside a cycle
_CHECK_EVERY = 4
_EPS = np.finfo(float).eps
#: reorthogonalise fully when an estimated |v_(j+1) . v_i| exceeds this (see the docstring)
_SEMI = 1e-12


def ritz(T: np.ndarray, last: int, beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ritz values, the eigenvectors of the projected matrix, and the Lanczos residual
    estimates ``|beta * y_last|``, from the upper triangle of ``T[:last, :last]``."""
    M = np.triu(T[:last, :last]) + np.triu(T[:last, :last], 1).T
    theta, Y = np.linalg.eigh(M)
    return theta, Y, np.abs(beta * Y[last - 1, :])


def _project_out(V: np.ndarray, lo: int, hi: int, row: int) -> np.ndarray:
    """Classical Gram-Schmidt of row ``V[row]`` against rows ``V[lo:hi]``, in place; returns
    the coefficients."""
    basis, r = V[lo:hi], V[row : row + 1]
    h = products(r, basis)
    combination(-h, basis, r, 1.0)
    return h[0]


def _full_reorthogonalisation(V: np.ndarray, j: int, w: np.ndarray, norm1: float,
                              force_twice: bool = False) -> np.ndarray:
    """Project ``w`` (row ``V[j+1]``) off ``V[:j+1]``, a second time if DGKS asks (or
    ``force_twice``); returns the coefficients."""
    h = _project_out(V, 0, j + 1, j + 1)
    if force_twice or np.linalg.norm(w) < _DGKS * norm1:
        h += _project_out(V, 0, j + 1, j + 1)
    return h


def _estimate(T, omega, j, j0, col, norm0, norm1) -> np.ndarray:
    """Simon's recurrence: estimated ``v_(j+1) . v_i`` for i <= j (see the module docstring).

    ``col`` is column j of the projected matrix (alpha_j, beta_(j-1) and any projection
    coefficients); kept Ritz vectors (i < j0) were just projected out and count as eps.
    """
    M = np.zeros((j + 1, j + 1))
    M[:j, :j] = np.triu(T[:j, :j]) + np.triu(T[:j, :j], 1).T
    M[:, j] = col
    M[j, :] = col
    om = omega[: j + 1, : j + 1]
    est = M @ om[:, j] - om @ col
    # rounding of w = H v_j - alpha v_j - beta v_(j-1): components of size eps ||H v_j|| (a
    # warm start makes beta_j small and this large), also along v_j itself
    noise = _EPS * max(norm0, np.abs(M).sum(axis=0).max())
    est = (est + np.copysign(noise, est)) / max(norm1, 1e-300)
    est[j] = noise / max(norm1, 1e-300)
    est[:j0] = _EPS
    return est


def thick_restart_lanczos(
    apply: Callable[[np.ndarray, np.ndarray], None],
    v0: np.ndarray,
    k: int,
    tol: float,
    maxiter: int,
    ncv: int,
    rng: np.random.Generator,
    *,
    partial: bool = True,
    stats: dict | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Lowest ``k`` eigenpairs.

    Parameters
    ----------
    apply : callable
        ``apply(x, out)`` writes ``H @ x`` into ``out`` (both ``(dim,)`` float64).
    v0 : (dim,) ndarray
        Start vector (a warm start: e.g. the sum of the previous eigenvectors).
    k : int
        Wanted pairs.
    tol : float
        Absolute residual tolerance ``||H x - theta x||`` (Lanczos estimate).
    maxiter : int
        Restart limit.
    ncv : int
        Basis size, ``> k + 1``.
    rng : numpy.random.Generator
        For a fresh direction if the Krylov space becomes invariant.
    partial : bool
        Partial reorthogonalisation (default, see the module docstring); ``False``
        reorthogonalises every step against the whole basis.
    stats : dict, optional
        Filled with ``steps`` and ``full_reorthogonalisations``.

    Returns
    -------
    theta : (k,) ndarray
    X : (k, dim) ndarray
        Ritz vectors as rows.
    estimates : (k,) ndarray
        Lanczos residual estimates.
    restarts : int
    """
    dim = v0.shape[0]
    m = min(ncv, dim)
    keep = min(m - 2, max(k + 6, m // 3))
    V = np.empty((m + 1, dim))
    T = np.zeros((m, m))
    omega = np.eye(m + 1)  # estimated inner products of the cycle's Lanczos vectors
    V[0] = v0 / np.linalg.norm(v0)
    j0 = 0
    beta = 0.0
    steps = fulls = 0
    for restart in range(maxiter + 1):
        for j in range(j0, m):
            w = V[j + 1]
            apply(V[j], w)
            steps += 1
            norm0 = np.linalg.norm(w)
            # local three-term step first, in place (no temporaries: each would be one more
            # pass over dim), so that the projections below only remove small components
            local = 0.0
            if j > j0:
                local = beta
                daxpy(V[j - 1], w, a=-beta)
            alpha = float(V[j] @ w)
            daxpy(V[j], w, a=-alpha)
            norm1 = np.linalg.norm(w)
            h = np.zeros(j + 1)
            full = j == j0 or not partial
            if not full and j0 > 0:
                # every step: against the kept Ritz vectors, whose Lanczos relation holds only
                # to O(sqrt(eps) ||H||) (see the module docstring); few vectors, cheap
                h[:j0] = _project_out(V, 0, j0, j + 1)
                norm1 = np.linalg.norm(w)
            if not full:
                col = h.copy()
                col[j] += alpha
                col[j - 1] += local
                est = _estimate(T, omega, j, j0, col, norm0, norm1)
                full = bool(np.max(np.abs(est)) > _SEMI)
            if full:
                if partial and j > j0:  # Simon's rule: v_j is about as far off as v_(j+1)
                    _project_out(V, 0, j, j)
                    V[j] /= np.linalg.norm(V[j])
                    omega[j, :j] = omega[:j, j] = _EPS
                h += _full_reorthogonalisation(V, j, w, norm1, force_twice=j == j0 > 0)
                fulls += 1
                beta = np.linalg.norm(w)
                omega[j + 1, : j + 1] = omega[: j + 1, j + 1] = _EPS
            else:
                beta = norm1
                omega[j + 1, : j + 1] = omega[: j + 1, j + 1] = est
            h[j] += alpha
            if j > j0:
                h[j - 1] += local
            T[: j + 1, j] = h  # upper triangle only: the projected matrix is its symmetrisation
            if beta <= 1e-14 * max(norm0, 1.0):  # invariant subspace: continue with a new direction
                w[:] = rng.standard_normal(dim)
                for _ in range(2):
                    _project_out(V, 0, j + 1, j + 1)
                w /= np.linalg.norm(w)
                beta = 0.0  # no coupling to the new direction
                omega[j + 1, : j + 1] = omega[: j + 1, j + 1] = _EPS
            else:
                w /= beta
            # early exit: test convergence every few steps, not only at the end of a cycle,
            # so that a good warm start pays off
            last = j + 1
            if last == m or (last >= k + 2 and (last - j0) % _CHECK_EVERY == 0):
                theta, Y, res_est = ritz(T, last, beta)
                if np.all(res_est[:k] <= tol) or (last == m and restart == maxiter):
                    if stats is not None:
                        stats.update(steps=steps, full_reorthogonalisations=fulls)
                    return theta[:k], combination(Y[:, :k].T, V[:last]), res_est[:k], restart
        # thick restart: keep the lowest `keep` Ritz vectors, continue from the residual direction
        V[:keep] = combination(Y[:, :keep].T, V[:m])
        V[keep] = V[m]
        T[:] = 0.0
        T[np.arange(keep), np.arange(keep)] = theta[:keep]
        omega[:] = np.eye(m + 1)
        # the column of v_keep (the arrow couplings beta * Y[m-1, :keep]) is filled in by the
        # next step's full projection h = V[:keep+1] @ (H v_keep)
        j0 = keep
    raise AssertionError("unreachable")  # pragma: no cover
