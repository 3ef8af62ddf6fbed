"""The lowest levels of H(s): eigensolver backends by name, with residual checks and retries."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import scipy.linalg as sla
from scipy.sparse.linalg import ArpackNoConvergence, eigsh

from ._davidson import block_davidson
from ._hamiltonian import AnnealingHamiltonian
from ._lanczos import thick_restart_lanczos
from ._memory import check_memory
from ._schedule import check_s
from ._threads import single_threaded_blas
from .exceptions import ConvergenceError, SpectralError

__all__ = ["Levels", "lowest_levels", "BACKENDS", "register_backend", "resolve_backend"]

#: default relative residual tolerance: ||H v - E v|| <= tol * ||H(s)||_est
DEFAULT_TOL = 1e-10
#: largest dimension the "auto" backend solves densely
AUTO_DENSE_MAX_DIM = 256
#: largest dimension any retry falls back to dense for
FALLBACK_DENSE_MAX_DIM = 4096
#: Lanczos: basis size before a thick restart (at least 2k + 10); smallest dimension that
#: uses partial reorthogonalisation (below, a full pass over the basis is cheaper than
#: the estimates' bookkeeping)
LANCZOS_BASIS = 32
LANCZOS_PARTIAL_MIN_DIM = 2**15
#: Davidson: basis size before a thick restart (at least 6 blocks: a restart keeps two
#: blocks of Ritz vectors and one of the previous iteration's, GD+k); extra Ritz pairs carried
#: beyond the k wanted; preconditioner shift in units of A(s)
#: (a small basis because each iteration reads the whole basis; the previous Ritz vectors
#: keep its matvec count near a large basis's. No extra pair: with min_gap's gap-aware
#: tolerances an extra pair costs more time than it saves; docs/performance.md)
DAVIDSON_BASIS = 12
DAVIDSON_EXTRA = 0
DAVIDSON_SIGMA = 2.0
#: bits of basis index from which "auto" runs the torch backend where torch sees a GPU (a
#: 2**22 state is 32 MiB: below, a GPU's launch overheads outweigh its bandwidth;
#: benchmarks/bench_gpu.py times both paths)
AUTO_TORCH_MIN_BITS = 22
#: matvecs a Davidson attempt of the "auto" backend may project before it hands over to
#: Lanczos, when the caller has learned no Lanczos cost nearby
AUTO_DAVIDSON_BUDGET = 300


@dataclass(frozen=True)
class Handover:
    """What a backend returns instead of ``(energies, rows)`` when it stops early on purpose
    (Davidson over its matvec budget): not a failure; the next backend starts from ``rows``,
    its current Ritz vectors ``(p, dim)``."""

    rows: np.ndarray


@dataclass
class Levels:
    """The ``k`` lowest eigenpairs of ``H(s)``.

    Attributes
    ----------
    s : float
        Schedule point.
    energies : (k,) ndarray
        Eigenvalues, ascending (dimensionless energy, docs/design.md).
    vectors : (dim, k) ndarray
        Normalised eigenvectors as columns (the layout of ``numpy.linalg.eigh``), in the
        Hamiltonian's sector basis.
    residuals : (k,) ndarray
        ``||H(s) v_j - E_j v_j||`` recomputed with the Numba operator.
    backend : str
        The backend that produced them (after any retry).
    matvecs : int
        Operator applications used (0 for dense and sparse backends).
    """

    s: float
    energies: np.ndarray
    vectors: np.ndarray
    residuals: np.ndarray
    backend: str
    matvecs: int = 0

    @property
    def k(self) -> int:
        return int(self.energies.size)


Backend = Callable[..., tuple[np.ndarray, np.ndarray]]
BACKENDS: dict[str, Backend] = {}


def register_backend(name: str):
    """Register an eigensolver under ``name``.

    The function is called as ``f(H, s, k, v0, tol_abs, maxiter, memory_limit=None)`` with
    ``v0`` warm-start vectors as rows ``(m, dim)`` or None, and returns ``(energies, rows)``:
    ascending energies and normalised eigenvectors as rows ``(p, dim)``, ``p >= k``, or a
    :class:`Handover` when it stops early on purpose. It raises :class:`ConvergenceError` when
    it cannot reach ``tol_abs``; :func:`lowest_levels` then tries the next backend.
    """

    def deco(f: Backend) -> Backend:
        BACKENDS[name] = f
        return f

    return deco


@register_backend("dense")
def _dense(H: AnnealingHamiltonian, s, k, v0, tol_abs, maxiter, memory_limit=None):
    check_memory(8.0 * 3 * H.dim**2, n=H.n, what="the dense eigensolver", memory_limit=memory_limit)
    D = H.to_dense(s, memory_limit=float("inf"))
    p = min(H.dim, k + 2)
    vals, vecs = sla.eigh(D, subset_by_index=[0, p - 1], driver="evr")
    return vals, np.ascontiguousarray(vecs.T)


def _arpack(op, H, s, k, v0, tol_abs, maxiter):
    """Implicitly restarted Lanczos (ARPACK) for the k smallest eigenvalues of ``op``."""
    start = None if v0 is None else np.ascontiguousarray(v0[:k].sum(axis=0))
    ncv = min(H.dim, max(2 * k + 2, 24))
    a, b = H.coefficients(s)
    norm_est = _norm_estimate(H, a, b)
    try:
        vals, vecs = eigsh(op, k=k, which="SA", v0=start, ncv=ncv,
                           tol=0.1 * tol_abs / norm_est, maxiter=maxiter)
    except ArpackNoConvergence as exc:
        raise ConvergenceError(
            f"ARPACK converged {exc.eigenvalues.size} of {k} levels at s = {s} in {maxiter} "
            "restarts", s=s, residuals=np.full(k, np.inf), tol=tol_abs) from exc
    order = np.argsort(vals)
    return vals[order], np.ascontiguousarray(vecs[:, order].T)


@register_backend("sparse")
def _sparse(H: AnnealingHamiltonian, s, k, v0, tol_abs, maxiter, memory_limit=None):
    """scipy CSR matrix + ARPACK (eigsh)."""
    check_memory(2 * 12.0 * H.dim * (H.nbits + 2), n=H.n, what="the sparse (CSR) eigensolver",
                 memory_limit=memory_limit)
    if k >= H.dim - 1:
        return _dense(H, s, k, v0, tol_abs, maxiter, memory_limit)
    return _arpack(H.to_sparse(s), H, s, k, v0, tol_abs, maxiter)


@register_backend("matrix-free")
def _matrix_free(H: AnnealingHamiltonian, s, k, v0, tol_abs, maxiter, memory_limit=None,
                 seed: int = 0):
    """The Numba operator + thick-restart Lanczos (partial reorthogonalisation from
    ``LANCZOS_PARTIAL_MIN_DIM`` on); no matrix is ever built."""
    if k >= H.dim - 1:
        return _dense(H, s, k, v0, tol_abs, maxiter, memory_limit)
    ncv = min(H.dim, max(2 * k + 10, LANCZOS_BASIS))
    check_memory(8.0 * H.dim * (ncv + 4 + k), n=H.n, what="the matrix-free eigensolver",
                 memory_limit=memory_limit)
    rng = np.random.default_rng(seed)
    start = rng.standard_normal(H.dim)
    if v0 is not None:
        # the warm rows' sum, with a random part of the same norm: a single start vector
        # spans only the eigenvectors it overlaps, and a level that the warm rows miss (one
        # that crossed in from above, or one in a subspace that H leaves invariant) must
        # overlap it too
        warm = v0[:k].sum(axis=0)
        start *= np.linalg.norm(warm) / np.linalg.norm(start)
        start += warm
    apply = H.bound_operator(*H.coefficients(s))
    vals, X, est, _ = thick_restart_lanczos(apply, start, k, 0.5 * tol_abs, maxiter, ncv, rng,
                                            partial=H.dim >= LANCZOS_PARTIAL_MIN_DIM)
    if np.any(est > 0.5 * tol_abs):
        raise ConvergenceError(
            f"Lanczos did not converge at s = {s} in {maxiter} restarts (estimates {est})",
            s=s, residuals=est, tol=tol_abs)
    return vals, X


@register_backend("davidson")
def _davidson(H: AnnealingHamiltonian, s, k, v0, tol_abs, maxiter, memory_limit=None,
              seed: int = 0, budget: int | None = None, workspace: dict | None = None):
    """The Numba operator + block Davidson with the diagonal preconditioner
    ``1 / (max(B(s) h - theta_0, 0) + 2 A(s))`` (see :mod:`spectral._davidson`).

    ``workspace``: a dict that keeps the basis arrays from one call to the next (a sweep's
    points), so that their memory is not allocated and faulted in again at every point.
    """
    p = k + DAVIDSON_EXTRA
    if 3 * p > H.dim // 3:  # too small for a basis of 3 blocks: solve densely
        return _dense(H, s, k, v0, tol_abs, maxiter, memory_limit)
    m = min(H.dim // 3, max(6 * p, DAVIDSON_BASIS))
    basis = None if workspace is None else workspace.get("davidson")
    if basis is not None and basis[0].shape != (m, H.dim):
        basis = workspace["davidson"] = None  # freed before the new one is counted
    held = 0 if basis is None else 2 * m
    check_memory(8.0 * H.dim * (2 * m - held + 3 * p + 4), n=H.n,  # V, W (restarts in place)
                 what="the Davidson eigensolver", memory_limit=memory_limit)
    if basis is None:
        basis = (np.empty((m, H.dim)), np.empty((m, H.dim)))
        if workspace is not None:
            workspace["davidson"] = basis
    rng = np.random.default_rng(seed)
    warm = 0 if v0 is None else min(p, v0.shape[0])
    X0 = np.empty((p, H.dim))
    if warm:
        X0[:warm] = v0[:warm]
    X0[warm:] = rng.standard_normal((p - warm, H.dim))  # only the rows the warm start lacks
    a, b = H.coefficients(s)
    diag = b * H.diagonal()

    def apply(X, out):
        H.apply(a, b, X, out)

    vals, X, res, used, status = block_davidson(
        apply, diag, DAVIDSON_SIGMA * abs(a), X0, k, 0.5 * tol_abs, maxiter, m, rng, budget,
        basis)
    if status == "too-slow":  # projected more than its budget: Lanczos goes on from here
        return Handover(X)
    if status != "converged":
        raise ConvergenceError(
            f"Davidson did not converge at s = {s} in {maxiter} iterations (residuals {res})",
            s=s, residuals=res, tol=tol_abs)
    return vals, X


@register_backend("torch")
def _torch_backend(H: AnnealingHamiltonian, s, k, v0, tol_abs, maxiter, memory_limit=None,
                   seed: int = 0, device=None):
    """The operator and thick-restart Lanczos on a torch device (``device``, default "cuda"
    where a GPU is present, else "cpu"; see :mod:`spectral._torch`)."""
    from ._torch import default_device, torch_lowest

    if k >= H.dim - 1:
        return _dense(H, s, k, v0, tol_abs, maxiter, memory_limit)
    return torch_lowest(H, s, k, v0, tol_abs, maxiter, memory_limit=memory_limit, seed=seed,
                        device=default_device() if device is None else device)


def resolve_backend(backend: str, device, H: AnnealingHamiltonian) -> str:
    """The backend a call runs: "torch" where a device is given (refusing another named
    backend), or for "auto" from ``AUTO_TORCH_MIN_BITS`` bits on where torch sees a GPU;
    otherwise ``backend`` itself, checked to exist."""
    if backend != "auto" and backend not in BACKENDS:
        raise SpectralError(f"unknown backend {backend!r}; choose one of {['auto', *BACKENDS]}.")
    if device is not None:
        if backend not in ("auto", "torch"):
            raise SpectralError(f"device={device!r} runs the 'torch' backend, but backend="
                                f"{backend!r} was asked for; leave backend 'auto' (or give "
                                "'torch') with a device, or drop the device.")
        return "torch"
    if backend == "auto" and H.nbits >= AUTO_TORCH_MIN_BITS:
        from ._torch import gpu_present

        if gpu_present():
            return "torch"
    return backend


def _norm_estimate(H: AnnealingHamiltonian, a: float, b: float) -> float:
    """An upper bound of ||H(s)||_2: A * (number of flip terms) + B * max|H_P|."""
    flips = H.nbits + (H.flip_sign != 0.0)
    return max(abs(a) * flips + abs(b) * H.max_abs_energy(), 1e-300)


def _ritz_pairs(H: AnnealingHamiltonian, a: float, b: float,
                rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rayleigh-Ritz on the span of a solver's vectors ``rows`` (k, dim): the Ritz values,
    the Ritz vectors as unit rows and their residual norms, all from one fresh application
    of H.

    A solver's own eigenvalue estimates carry the rounding it accumulated (Davidson's
    projected pencil is updated through its restarts, never recomputed; Lanczos' tridiagonal
    matrix through its recurrence), tens of ulp of ||H|| where the basis was long-lived.
    Fresh inner products over the k vectors bring the values back to the rounding of one
    Rayleigh quotient, which is what a gap of 1e-8 needs. Not counted in ``H.matvecs``.
    """
    X = np.array(rows, dtype=np.float64, order="C", ndmin=2)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    HX = H._apply(a, b, X, count=False)
    theta, C = sla.eigh(_pairwise_gram(X, HX), _pairwise_gram(X, X))
    X = C.T @ X
    HX = C.T @ HX
    norms = np.linalg.norm(X, axis=1)
    X /= norms[:, None]
    HX /= norms[:, None]
    res = np.empty(theta.size)
    for j in range(theta.size):  # one row's temporary at a time (rows are gigabytes at n = 24)
        HX[j] -= theta[j] * X[j]
        res[j] = np.linalg.norm(HX[j])
    return theta, X, res


def _pairwise_gram(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The symmetric k x k matrix of the inner products X[i] . Y[j], each a pairwise sum.

    A BLAS product's rounding over a row of 2^n terms depends on its kernel, up to one rounding
    per term (2^n) where the kernel accumulates in sequence; numpy's pairwise sum takes about
    n, what :func:`spectral._search._rounding_floor` allows for, on any machine. The upper
    triangle is computed and mirrored (H is symmetric). One row's temporary at a time.
    """
    k = X.shape[0]
    out = np.empty((k, k))
    tmp = np.empty(X.shape[1])
    for i in range(k):
        for j in range(i, k):
            np.multiply(X[i], Y[j], out=tmp)
            out[i, j] = out[j, i] = tmp.sum()
    return out


def _exact_levels(H: AnnealingHamiltonian, s: float, k: int):
    """Closed-form levels where H(s) is diagonal (A(s) = 0) or a pure driver (B(s) = 0).

    Returns ``None`` elsewhere. For B = 0 the eigenvectors are Walsh functions
    ``(-1)**popcount(b & c)``, energy ``-A * (n - 2 * popcount(c))``; in a spin-flip sector
    only the Walsh indices of matching parity survive.
    """
    a, b = H.coefficients(s)
    if a == 0.0:
        diag = b * H.diagonal()
        # the k lowest, ties in index order (as a stable sort's first k), without sorting all
        kth = np.partition(diag, k - 1)[k - 1]
        low = np.flatnonzero(diag <= kth)
        idx = low[np.argsort(diag[low], kind="stable")[:k]]
        rows = np.zeros((k, H.dim))
        rows[np.arange(k), idx] = 1.0
        return diag[idx], rows
    if b == 0.0:
        n = H.n
        parity = {"full": None, "even": 0, "odd": 1}[H.sector]
        codes = []
        for w in range(n + 1):  # Walsh indices by weight: lowest driver levels first
            if parity is None or w % 2 == parity:
                codes.extend((w, sum(1 << i for i in c)) for c in combinations(range(n), w))
            if len(codes) >= k:
                break
        codes = codes[:k]
        idx = np.arange(H.dim)
        rows = np.empty((k, H.dim))
        for j, (_, c) in enumerate(codes):
            masked = idx & (c & (H.dim - 1))
            pop = np.zeros(H.dim, dtype=np.int64)
            for i in range(H.nbits):
                pop += (masked >> i) & 1
            rows[j] = np.where(pop % 2 == 0, 1.0, -1.0) / np.sqrt(H.dim)
        weights = np.array([w for w, _ in codes], dtype=float)
        return -a * (n - 2.0 * weights), rows
    return None


def lowest_levels(
    H: AnnealingHamiltonian,
    s: float,
    k: int,
    v0: np.ndarray | None = None,
    *,
    backend: str = "auto",
    tol: float = DEFAULT_TOL,
    maxiter: int = 500,
    memory_limit: float | None = None,
    retry: bool = True,
    device=None,
) -> Levels:
    """The ``k`` lowest eigenpairs of ``H(s)`` with their residual norms.

    Parameters
    ----------
    H : AnnealingHamiltonian
        The operator (in its sector).
    s : float
        Schedule point in [0, 1].
    k : int
        Number of levels, ``1 <= k <= H.dim``.
    v0 : ndarray, optional
        Warm start: vectors as columns ``(dim, m)`` (e.g. the previous ``Levels.vectors``)
        or a single vector ``(dim,)``.
    backend : {"auto", "dense", "sparse", "matrix-free", "davidson", "torch"}
        ``"auto"`` is dense for ``dim <= 256``; above, block Davidson with a diagonal
        preconditioner (fast where A(s) is small: late in the anneal) that hands over to
        matrix-free Lanczos (fast where the spectrum is not stiff) as soon as its observed
        convergence rate projects more than 300 matvecs; on a machine where torch sees a GPU,
        ``"torch"`` from ``AUTO_TORCH_MIN_BITS`` bits of basis index on (see
        :data:`BACKENDS`).
    tol : float
        Relative residual tolerance: every pair must satisfy
        ``||H v - E v|| <= tol * (A(s) * n + B(s) * max|H_P|)``.
    maxiter : int
        Iteration limit of the iterative backends.
    memory_limit : float, optional
        Bytes allowed (default: 90 % of available memory).
    retry : bool
        If the first backend does not converge: retry with more iterations and a random
        restart, then ``"sparse"``, then ``"dense"`` where ``dim <= 4096``. Never returns an
        unconverged pair: raises :class:`ConvergenceError` with the residuals instead.
    device : str or torch.device, optional
        Run the ``"torch"`` backend on this device ("cuda", "cuda:1", "cpu"); giving a
        device implies that backend. The residuals are checked on the host with the Numba
        operator either way.

    Returns
    -------
    Levels
    """
    with single_threaded_blas():
        return _lowest_levels(H, s, k, v0, backend=backend, tol=tol, maxiter=maxiter,
                              memory_limit=memory_limit, retry=retry, device=device)


def _lowest_levels(H, s, k, v0, *, backend: str, tol: float, maxiter: int, memory_limit,
                   retry: bool, budget: int | None = None,
                   workspace: dict | None = None, device=None) -> Levels:
    """:func:`lowest_levels` without the BLAS thread limit, with two solver options of
    :func:`spectral.min_gap`'s sweeps: ``budget``, the matvecs a first Davidson attempt may
    project before it hands over to Lanczos (0: no Davidson attempt); ``workspace``, a dict
    that keeps Davidson's basis from one call to the next."""
    s = float(check_s(s))
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise TypeError(f"k must be an integer, got {type(k).__name__}.")
    if not 1 <= k <= H.dim:
        raise SpectralError(f"k must satisfy 1 <= k <= dim = {H.dim}, got k = {k}.")
    backend = resolve_backend(backend, device, H)
    rows = None
    if v0 is not None:
        v0 = np.asarray(v0, dtype=np.float64)
        if v0.ndim == 1:
            v0 = v0[:, None]
        if v0.ndim != 2 or v0.shape[0] != H.dim:
            raise SpectralError(f"v0 must have shape ({H.dim},) or ({H.dim}, m), got {v0.shape}.")
        rows = np.ascontiguousarray(v0.T)
    a, b = H.coefficients(s)
    tol_abs = tol * _norm_estimate(H, a, b)
    exact = _exact_levels(H, s, k)
    if exact is not None:
        vals, X = exact
        res = H.residual_norms(a, b, vals, X)
        return Levels(s=s, energies=vals, vectors=X.T, residuals=res, backend="exact")
    first = ("dense" if H.dim <= AUTO_DENSE_MAX_DIM else "matrix-free") if backend == "auto" else backend
    attempts = [(first, {"maxiter": maxiter, "rows": rows})]
    if first == "davidson":
        attempts[0][1]["workspace"] = workspace
    if first == "matrix-free" and backend == "auto" and budget != 0:
        # Davidson first; it hands over to Lanczos (with its Ritz vectors as the warm start)
        # as soon as its convergence rate projects more matvecs than Lanczos is expected to need
        attempts.insert(0, ("davidson", {"maxiter": maxiter, "rows": rows,
                                         "budget": budget or AUTO_DAVIDSON_BUDGET,
                                         "workspace": workspace}))
    if retry:
        if first in ("matrix-free", "torch"):
            attempts.append((first, {"maxiter": 4 * maxiter, "rows": None, "seed": 1}))
        if first != "sparse" and first != "dense":
            attempts.append(("sparse", {"maxiter": 20 * maxiter, "rows": rows}))
        if first != "dense" and H.dim <= FALLBACK_DENSE_MAX_DIM:
            attempts.append(("dense", {"maxiter": maxiter, "rows": None}))
    failures = []
    res = np.full(k, np.inf)
    handover = None
    start = H.matvecs
    for name, opts in attempts:
        extra = {key: opts[key] for key in ("seed", "budget", "workspace") if key in opts}
        if name == "torch":
            extra["device"] = device
        warm = opts["rows"] if handover is None else handover
        handover = None  # for the attempt right after Davidson only; retries start afresh
        if name != "davidson" and workspace is not None:
            # the other solver allocates its own basis: Davidson's kept one goes first, so that
            # a sweep holds one eigensolver's basis at a time (at n = 24 each is gigabytes)
            workspace.pop("davidson", None)
        try:
            found = BACKENDS[name](H, s, k, warm, tol_abs, opts["maxiter"],
                                   memory_limit=memory_limit, **extra)
        except ConvergenceError as exc:
            failures.append(f"{name}: {exc}")
            continue
        if isinstance(found, Handover):  # the next method starts from its vectors
            handover = found.rows
            continue
        used = H.matvecs - start
        if name == "dense":  # LAPACK's values are backward stable: kept as they are
            vals = np.asarray(found[0][:k], dtype=float)
            X = found[1][:k] / np.linalg.norm(found[1][:k], axis=1, keepdims=True)
            res = H.residual_norms(a, b, vals, X)
        else:
            vals, X, res = _ritz_pairs(H, a, b, found[1][:k])
        del found
        if np.all(res <= tol_abs):
            if failures:
                warnings.warn(f"lowest_levels at s = {s}: {'; '.join(failures)}; used {name}.",
                              RuntimeWarning, stacklevel=2)
            return Levels(s=s, energies=vals, vectors=X.T, residuals=res, backend=name,
                          matvecs=used)
        failures.append(f"{name}: residuals {np.array2string(res, precision=2)} > {tol_abs:.2e}")
    raise ConvergenceError(
        f"no backend converged the {k} lowest levels at s = {s} to residual {tol_abs:.2e}: "
        + "; ".join(failures)
        + ". Loosen tol, raise maxiter, or use backend='dense' for small n.",
        s=s, residuals=res, tol=tol_abs,
    )
