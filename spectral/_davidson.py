"""Block generalised Davidson with a diagonal preconditioner, for the lowest eigenpairs (private).

Why: near the end of an anneal H(s) = A H_D + B H_P is almost diagonal (A small) while its
spectrum is wide (B times the penalty energies), so the relative gap that sets a Krylov
method's speed is tiny, and Lanczos needs hundreds of matvecs per point there.
A preconditioner that inverts the diagonal removes the wide part of the spectrum; what is
left is set by the off-diagonal strength A, which is small exactly there.

Method: Davidson (Davidson, J. Comput. Phys. 17 (1975) 87) in block form with a thick restart
that also keeps the previous iteration's Ritz vectors ("GD+k": Stathopoulos & Saad,
"Restarting techniques for the (Jacobi-)Davidson symmetric eigenvalue methods", ETNA 7
(1998) 163). The correction of residual ``r_j`` is ``T r_j`` with the
symmetric positive definite diagonal ``T = 1 / (max(B h_i - theta_0, 0) + sigma)``:
``h`` is H_P's diagonal, ``theta_0`` the lowest Ritz value. Because H_D has a zero diagonal,
``E_0 <= min_i B h_i`` and the clipped denominator is never below ``sigma``. ``sigma`` sets how
far T trusts the diagonal: the off-diagonal part of H has norm ``A * n``, so ``sigma`` is
proportional to ``A``.

The basis is not orthonormalised: Rayleigh-Ritz solves the pencil of its projection and its
overlap, both updated from the pass that forms the corrections, so that an iteration reads
the basis once (see ``block_davidson``); an orthonormal basis needs three passes more per
iteration for the same matvecs (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._blockops import combination as _combination
from ._blockops import davidson_pass as _davidson_pass
from ._blockops import products as _products

#: a new direction whose norm fell below this fraction after orthogonalisation is dropped
_DROP = 1e-8
#: a correction is admitted to the (non-orthogonal) basis without explicit projection while
#: at least this share of its squared norm lies outside the basis
_NEW_SHARE = 1e-3
#: Rayleigh-Ritz drops basis directions below this share of the scaled overlap's largest
#: eigenvalue, and the basis is restarted above this condition number of that overlap
_DEPENDENT = 1e-14
_ILL_CONDITIONED = 1e6
#: one round of Gram-Schmidt is enough when every row kept this fraction of its norm (DGKS)
#: and the block's Gram matrix had at least this ratio of extreme eigenvalues
_DGKS = 0.7071067811865476
_WELL_CONDITIONED = 1e-4
#: iterations, and matvecs in units of the budget, before the convergence rate is judged;
#: the window it is estimated over (iterations)
_JUDGE_AFTER = 10
_JUDGE_FRACTION = 0.25
_WINDOW = 16
#: most matvecs of a budgeted solve, in units of its budget
_BUDGET_CAP = 3


def _row_norms(T: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", T, T))


def _orthonormalise_against(V: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Rows of ``T`` made orthonormal to the rows of ``V`` and to each other.

    Block classical Gram-Schmidt against ``V``, then SVQB (Stathopoulos & Wu, SIAM J. Sci.
    Comput. 23 (2002) 2165): the block's Gram matrix is diagonalised and directions whose
    singular value fell below ``_DROP`` of the largest are dropped -- they already lie in
    span(V). A second round follows unless the first lost little: every row kept more than
    ``1/sqrt(2)`` of its norm in the projection (the DGKS criterion: then one projection is
    orthogonal to working precision) and the block was well conditioned (SVQB amplifies
    rounding-level components along ``V`` by at most ``1/sqrt(lambda_min / lambda_max)``).
    ``T`` (C-contiguous rows) is overwritten.
    """
    for round_ in range(2):
        before = _row_norms(T) if V.shape[0] else None
        if V.shape[0]:
            _combination(-_products(T, V), V, T, 1.0)
        norms = _row_norms(T)
        live = norms > 0.0
        if not np.any(live):
            return T[:0]
        if np.all(live):
            T /= norms[:, None]
        else:
            T = np.ascontiguousarray(T[live] / norms[live, None])
        lam, U = np.linalg.eigh(_products(T, T))
        good = lam > _DROP * lam[-1]
        T = _combination((U[:, good] / np.sqrt(lam[good])).T, T)
        if round_ == 0 and (before is None or (
                np.all(norms > _DGKS * before) and lam[0] > _WELL_CONDITIONED * lam[-1])):
            break
    return T


def _too_slow(history: list[float], used: int, per_iteration: float, tol: float,
              budget: int) -> bool:
    """Whether to stop and hand over: the matvecs still needed, extrapolated from the residual
    history, exceed ``budget`` (what the other method is expected to need); or the matvecs
    used exceed ``_BUDGET_CAP * budget``. What is already spent does not count against
    continuing: handing over would not recover it.

    Davidson's residuals oscillate from one iteration to the next and often stall for a while
    before the basis captures the wanted levels, so the rate is the least-squares slope of
    log(residual) over the last ``_WINDOW`` iterations, each costing ``per_iteration``
    matvecs (the mean so far), and nothing is judged before ``_JUDGE_AFTER`` iterations and
    ``_JUDGE_FRACTION * budget`` matvecs: a stall in the middle of a solve projects many more
    matvecs than the solve then needs once the basis holds the wanted levels.
    """
    if used >= _BUDGET_CAP * budget:
        return True
    it = len(history)
    if it < _JUDGE_AFTER or used < _JUDGE_FRACTION * budget:
        return False
    y = np.log(np.maximum(history[-_WINDOW:], 1e-300))
    x = np.arange(y.size, dtype=float)
    slope, icpt = np.polyfit(x, y, 1)
    if slope >= 0.0:
        return True
    now = icpt + slope * x[-1]
    remaining = max((np.log(tol) - now) / slope, 0.0)  # iterations
    return per_iteration * remaining > budget


def _rayleigh_ritz(G: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Ritz pairs of the pencil ``(G, S)``: ``G = V W^T``, ``S = V V^T`` of a basis ``V``.

    The basis is scaled to unit rows (Jacobi), ``S`` is diagonalised and directions below
    ``_DEPENDENT`` of its largest eigenvalue are dropped. Returns the Ritz values, their
    coefficient columns ``Y`` (``Y^T S Y = I``: the Ritz vectors ``Y[:, j] @ V`` have unit
    norm) and the condition number of the scaled ``S``.
    """
    d = 1.0 / np.sqrt(np.diag(S))
    Ss = d[:, None] * S * d[None, :]
    lam, U = np.linalg.eigh(0.5 * (Ss + Ss.T))
    good = lam > _DEPENDENT * lam[-1]
    Z = U[:, good] / np.sqrt(lam[good])
    Gz = Z.T @ (d[:, None] * G * d[None, :]) @ Z
    theta, Yz = np.linalg.eigh(0.5 * (Gz + Gz.T))
    return theta, d[:, None] * (Z @ Yz), lam[-1] / max(lam[0], 1e-300)


def _admit(V: np.ndarray, W: np.ndarray, S: np.ndarray, nv: int, q: int,
           sums: tuple[np.ndarray, np.ndarray, np.ndarray],
           rng: np.random.Generator) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Make the ``q`` new rows ``V[nv:nv + q]`` a well-conditioned extension of the basis.

    ``sums = (T V^T, T W^T, T T^T)`` for the new rows ``T``. Rows of which at least
    ``_NEW_SHARE`` of the squared norm lies outside span(V[:nv]) (the Schur complement of
    ``S``) are taken as they are: the usual case, at no cost. Otherwise the block is
    projected off the basis explicitly (``T - T V^T S^-1 V``), reduced by SVQB (see
    ``_orthonormalise_against``) to its directions above ``_DROP`` of the largest squared
    norm before the projection, and its sums are recomputed from the rows; a block that lies
    wholly in the basis is replaced by random directions. Returns the number of rows
    admitted and their sums.
    """
    Tv, Tw, Tt = sums
    Sb = S[:nv, :nv]
    C = np.linalg.solve(Sb, Tv.T).T if nv else np.zeros((q, 0))  # T V^T S^-1
    scale = 1.0 / np.sqrt(np.diag(Tt))
    out_of_span = scale[:, None] * (Tt - C @ Tv.T) * scale[None, :]
    if np.linalg.eigvalsh(0.5 * (out_of_span + out_of_span.T))[0] >= _NEW_SHARE:
        return q, Tv, Tw, Tt
    T = V[nv:nv + q]
    if nv:
        _combination(-C, V[:nv], T, 1.0)
    lam, U = np.linalg.eigh(_products(T, T))
    good = lam > _DROP * np.max(np.diag(Tt))  # against the norms before the projection
    if np.any(good):
        q = int(np.count_nonzero(good))
        _combination((U[:, good] / np.sqrt(lam[good])).T, T, V[nv:nv + q])
    else:
        V[nv:nv + q] = rng.standard_normal((q, V.shape[1]))
    T = V[nv:nv + q]
    return q, _products(T, V[:nv]), _products(T, W[:nv]), _products(T, T)


def _with_previous(Yk: np.ndarray, previous: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Restart coefficients: the kept Ritz vectors, then the previous iteration's (GD+k).

    ``Yk`` (rows, ``Yk S Yk^T = I``) are the Ritz vectors kept; ``previous`` (columns) the
    wanted Ritz vectors of the iteration before, in the leading coordinates of the same basis
    (rows have been appended since). Their parts S-orthogonal to ``Yk`` are S-orthonormalised;
    directions with less than ``_DROP`` of their squared norm left (already in span(Yk), as
    for converged pairs) are dropped. Returns the rows of both, S-orthonormal.
    """
    nv = S.shape[0]
    P = np.zeros((previous.shape[1], nv))
    P[:, :previous.shape[0]] = previous.T
    P -= (P @ S @ Yk.T) @ Yk
    M = P @ S @ P.T
    lam, U = np.linalg.eigh(0.5 * (M + M.T))
    good = lam > _DROP
    P = (U[:, good] / np.sqrt(lam[good])).T @ P
    return np.ascontiguousarray(np.vstack([Yk, P]))


def block_davidson(
    apply: Callable[[np.ndarray, np.ndarray], None],
    diag: np.ndarray,
    sigma: float,
    X0: np.ndarray,
    k: int,
    tol: float,
    maxiter: int,
    max_basis: int,
    rng: np.random.Generator,
    budget: int | None = None,
    basis: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, str]:
    """Lowest ``k`` eigenpairs of a symmetric operator with diagonal ``diag``.

    Parameters
    ----------
    apply : callable
        ``apply(X, out)`` writes ``H @ x`` for each row ``x`` of ``X`` into the rows of ``out``.
    diag : (dim,) ndarray
        The operator's diagonal (``B(s) * h``), used by the preconditioner.
    sigma : float
        Preconditioner shift, ``> 0``.
    X0 : (p, dim) ndarray
        Start block, ``p >= k`` rows (warm start: the previous point's eigenvectors; the caller
        pads with random rows).
    k : int
        Wanted pairs; the block has ``p`` Ritz pairs, the extra ones speed up the k-th.
    tol : float
        Absolute residual tolerance ``||H x - theta x||`` (computed from the basis, not
        estimated).
    maxiter : int
        Iteration limit (one block of ``<= p`` matvecs per iteration).
    max_basis : int
        Basis size before a thick restart, ``>= 3 p``. A restart keeps the ``2 p`` lowest Ritz
        vectors and, room permitting (``max_basis >= 6 p``), the ``p`` wanted Ritz vectors of
        the iteration before (GD+k): these carry the direction of the last step, which a
        small basis would otherwise lose (at basis 12, 22 qubits, 40 % more matvecs without).
    rng : numpy.random.Generator
        Fresh directions if the start block is rank deficient.
    budget : int, optional
        Matvecs another method is expected to need for this solve. From iteration
        ``_JUDGE_AFTER`` and ``_JUDGE_FRACTION * budget`` matvecs on, the convergence rate of
        the slowest wanted residual over the last ``_WINDOW`` iterations is extrapolated to
        ``tol`` (see ``_too_slow``); if the matvecs still needed exceed
        ``budget`` (or those used exceed ``_BUDGET_CAP * budget``), the solve stops with status
        ``"too-slow"`` and returns its current Ritz pairs (a warm start for the other method).
    basis : pair of (max_basis, dim) ndarrays, optional
        Storage for the basis ``V`` and ``H V`` (contents ignored and overwritten); allocated
        when not given.

    Returns
    -------
    theta : (k,) ndarray
    X : (k, dim) ndarray
        Ritz vectors as rows.
    residuals : (k,) ndarray
    matvecs : int
    status : {"converged", "maxiter", "too-slow"}

    Notes
    -----
    The basis is not kept orthonormal. Its overlap ``S = V V^T`` and projection
    ``G = V (H V)^T`` are kept instead, and Rayleigh-Ritz solves the pencil ``(G, S)``. The
    corrections' overlaps with ``V`` and ``H V`` come out of the pass that forms them
    (:func:`spectral._blockops.davidson_pass`, by the symmetry of ``H``), so an iteration
    reads the basis once: an orthonormal basis costs two more passes per iteration (project,
    then the new rows of ``G``) -- most of an iteration's time at 20+ qubits, where a matvec
    costs about as much as reading 10 vectors. The price is the conditioning of ``S``: a
    correction is admitted as it is only while at least ``_NEW_SHARE`` of it lies outside
    the basis (almost always so), and a thick restart -- which makes the basis
    orthonormal again, up to rounding -- comes at the latest when the scaled ``S`` has a
    condition number above ``_ILL_CONDITIONED``. The Ritz values are accurate to about
    ``eps * cond(S) * ||H||``; the residuals are always computed from the vectors.
    """
    p, dim = X0.shape
    m = min(max_basis, dim)
    if basis is None:
        basis = (np.empty((m, dim)), np.empty((m, dim)))
    V, W = basis
    if V.shape != (m, dim) or W.shape != (m, dim):
        raise ValueError(f"basis arrays must have shape {(m, dim)}")
    G = np.zeros((m, m))
    S = np.zeros((m, m))
    start = _orthonormalise_against(V[:0], np.array(X0, dtype=np.float64))
    while start.shape[0] < p:  # rank-deficient warm start: top up with random directions
        extra = _orthonormalise_against(start, rng.standard_normal((p - start.shape[0], dim)))
        start = np.vstack([start, extra])
    nv = p
    V[:nv] = start
    apply(V[:nv], W[:nv])
    used = nv
    history = []
    G[:nv, :nv] = _products(V[:nv], W[:nv])
    S[:nv, :nv] = _products(V[:nv], V[:nv])
    keep = min(2 * p, m - p)  # Ritz vectors kept at a restart
    room = min(p, m - p - keep)  # previous Ritz vectors kept with them (GD+k)
    previous = None
    open_ = np.ones(p, dtype=bool)  # pairs not converged at the last iteration
    for it in range(maxiter + 1):
        theta, Y, cond = _rayleigh_ritz(G[:nv, :nv], S[:nv, :nv])
        if nv + p > m or cond > _ILL_CONDITIONED:  # thick restart on the lowest Ritz vectors
            kept = min(keep, theta.size)
            Yk = np.ascontiguousarray(Y[:, :kept].T)
            if room and previous is not None:
                Yk = _with_previous(Yk, previous[:, :room], S[:nv, :nv])
                kept = Yk.shape[0]
            _combination(Yk, V[:nv], V[:kept])  # in place
            _combination(Yk, W[:nv], W[:kept])
            S[:kept, :kept] = Yk @ S[:nv, :nv] @ Yk.T
            G[:kept, :kept] = Yk @ G[:nv, :nv] @ Yk.T
            nv = kept
            theta, Y, cond = _rayleigh_ritz(G[:nv, :nv], S[:nv, :nv])
        previous = Y[:, :p].copy()
        # the pass forms corrections for the first qt pairs of ``order`` only, the pairs
        # unconverged at the last iteration, and writes them straight after the basis
        qt = int(np.count_nonzero(open_))
        order = np.concatenate([np.flatnonzero(open_), np.flatnonzero(~open_)])
        out = np.empty((p, 2 * nv + qt + 2))
        _davidson_pass(np.ascontiguousarray(Y[:, order].T), np.ascontiguousarray(theta[order]),
                       V[:nv], W[:nv], diag, float(theta[0]), float(sigma), V[nv:nv + qt], out)
        res = np.empty(p)
        res[order] = np.sqrt(np.maximum(out[:, -1], 0.0) / out[:, -2])
        done = np.all(res[:k] <= tol)
        stop = "converged" if done else "maxiter" if it == maxiter else None
        if stop is None:
            history.append(float(np.max(res[:k])))
            if budget is not None and _too_slow(history, used, used / len(history), tol, budget):
                stop = "too-slow"
        if stop is not None:
            X = _combination(np.ascontiguousarray(Y[:, :k].T), V[:nv])
            return theta[:k], X, res[:k], used, stop
        open_ = res > tol
        # rows of the pass (positions in ``order``) to admit: formed and still unconverged
        # (a pair that came unconverged again is formed from the next iteration on)
        active = np.flatnonzero(open_[order[:qt]])
        q = active.size
        if q == 0:
            continue
        if q < qt:  # a pair converged: move the others up
            V[nv:nv + q] = V[nv + active]
        Tv = out[active, :nv]
        Tw = out[active, nv:2 * nv]
        Tt = out[active][:, 2 * nv + active]
        q, Tv, Tw, Tt = _admit(V, W, S, nv, q, (Tv, Tw, Tt), rng)
        apply(V[nv:nv + q], W[nv:nv + q])
        used += q
        new = slice(nv, nv + q)
        S[new, :nv] = Tv
        S[:nv, new] = Tv.T
        S[new, new] = 0.5 * (Tt + Tt.T)
        G[new, :nv] = Tw
        G[:nv, new] = Tw.T
        Gnn = _products(W[new], V[new])
        G[new, new] = 0.5 * (Gnn + Gnn.T)
        nv += q
    raise AssertionError("unreachable")  # pragma: no cover
