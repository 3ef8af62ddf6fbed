"""Block Davidson with the diagonal preconditioner, and the "auto" hand-over to Lanczos."""

import dimod
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import spectral
from spectral import _davidson
from spectral._levels import _lowest_levels
from tests import naive


def _selection(n: int, seed: int) -> dimod.BinaryQuadraticModel:
    rng = np.random.default_rng(seed)
    r = rng.standard_normal(n)
    feats = np.abs(rng.standard_normal((n, 16))) + 1e-3
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    R = feats @ feats.T
    np.fill_diagonal(R, 0.0)
    r, m, beta = r / np.abs(r).max(), max(1, n // 4), 0.5
    # choose m of n with a loose penalty: minimum gaps late in the anneal, where Davidson works
    lam = float(np.max(np.abs(r) + beta * np.abs(R).sum(axis=1))) + 0.1
    linear = {k: -r[k] + lam * (1 - 2 * m) for k in range(n)}
    quadratic = {(k, l): beta * R[k, l] + 2 * lam for k in range(n) for l in range(k + 1, n)}
    return dimod.BinaryQuadraticModel(linear, quadratic, lam * m * m, dimod.BINARY)


@settings(max_examples=25)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(8, 10),
       vartype=st.sampled_from([dimod.SPIN, dimod.BINARY]),
       s=st.one_of(st.floats(0.02, 0.98), st.floats(0.98, 0.99999)), k=st.integers(1, 4))
def test_davidson_matches_dense_eigvalsh(seed, n, vartype, s, k):
    bqm = naive.random_bqm(np.random.default_rng(seed), n, vartype)
    H = spectral.AnnealingHamiltonian.from_bqm(bqm, sector="full")
    ref = np.linalg.eigvalsh(naive.dense_hamiltonian(bqm, s))[:k]
    lv = _lowest_levels(H, s, k, None, backend="davidson", tol=1e-10, maxiter=2000, memory_limit=None, retry=False)
    np.testing.assert_allclose(lv.energies, ref, atol=1e-9)
    D = H.to_dense(s)
    explicit = np.linalg.norm(D @ lv.vectors - lv.vectors * lv.energies, axis=0)
    assert np.all(explicit <= 1e-10 * (n + np.abs(H.diagonal()).max()))


def test_rank_deficient_warm_start_is_topped_up():
    bqm = _selection(10, 1)
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)
    ref = np.linalg.eigvalsh(naive.dense_hamiltonian(bqm, 0.97))[:3]
    first = spectral.lowest_levels(H, 0.96, 1)
    v0 = np.repeat(first.vectors, 3, axis=1)  # three copies of one vector
    lv = _lowest_levels(H, 0.97, 3, v0, backend="davidson", tol=1e-10, maxiter=2000, memory_limit=None, retry=False)
    np.testing.assert_allclose(lv.energies, ref, atol=1e-9)


def test_davidson_beats_lanczos_late_in_the_anneal():
    """The reason Davidson exists: near s = 1 its preconditioner removes the penalty's wide
    spectrum (measured: 10-30x fewer matvecs at 12-16 qubits)."""
    H = spectral.AnnealingHamiltonian.from_bqm(_selection(12, 2))
    dav = _lowest_levels(H, 0.995, 2, None, backend="davidson", tol=1e-10, maxiter=2000, memory_limit=None, retry=False)
    lan = _lowest_levels(H, 0.995, 2, None, backend="matrix-free", tol=1e-10, maxiter=2000, memory_limit=None, retry=False)
    np.testing.assert_allclose(dav.energies, lan.energies, atol=1e-9)
    assert 3 * dav.matvecs < lan.matvecs


@pytest.mark.parametrize("budget", [1, 0])
def test_auto_hands_over_to_lanczos(budget):
    bqm = _selection(10, 3)
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)
    ref = np.linalg.eigvalsh(naive.dense_hamiltonian(bqm, 0.3))[:2]
    lv = _lowest_levels(H, 0.3, 2, None, backend="auto", tol=1e-10, maxiter=500, memory_limit=None, retry=False, budget=budget)
    assert lv.backend == "matrix-free"
    np.testing.assert_allclose(lv.energies, ref, atol=1e-9)
    plain = _lowest_levels(H, 0.3, 2, None, backend="matrix-free", tol=1e-10, maxiter=500, memory_limit=None, retry=False)
    if budget == 0:  # no Davidson attempt at all
        assert lv.matvecs == plain.matvecs
    else:  # the attempt's matvecs are counted
        assert lv.matvecs > 0


def test_gap_sweep_learns_to_use_davidson_late_and_stays_exact():
    bqm = _selection(10, 4)
    s = np.concatenate([np.linspace(0.0, 0.9, 10), [0.95, 0.98, 0.99, 0.995, 0.999]])
    sweep = spectral.gap_sweep(bqm, s, levels=3)
    assert "davidson" in sweep.backends[-3:]
    assert sweep.backends[1] == "matrix-free"  # early: Lanczos
    for j, sj in enumerate(s):
        ref = np.linalg.eigvalsh(naive.dense_hamiltonian(bqm, sj))[:3]
        np.testing.assert_allclose(sweep.energies[:, j], ref, atol=1e-9)


@settings(max_examples=30)
@given(seed=st.integers(0, 2**31 - 1), m=st.integers(0, 6), q=st.integers(1, 4),
       dependent=st.integers(0, 2))
def test_orthonormalise_against(seed, m, q, dependent):
    rng = np.random.default_rng(seed)
    dim = 64
    V = np.linalg.qr(rng.standard_normal((dim, m)))[0].T if m else np.empty((0, dim))
    T = rng.standard_normal((q + dependent, dim))
    for j in range(dependent):  # rows inside span(V) + span(T[:q]) must be dropped
        T[q + j] = rng.standard_normal(q) @ T[:q] + (rng.standard_normal(m) @ V if m else 0.0)
    out = _davidson._orthonormalise_against(V, T.copy())
    assert out.shape == (q, dim)
    np.testing.assert_allclose(out @ out.T, np.eye(q), atol=1e-12)
    if m:
        assert np.max(np.abs(out @ V.T)) < 1e-12


def test_too_slow_extrapolates_the_residual_history():
    tol = 1e-10
    halving = [0.5**j for j in range(12)]  # 22 more iterations of 3 matvecs: 67 matvecs
    assert not _davidson._too_slow(halving, 36, 3, tol, 70)
    assert _davidson._too_slow(halving, 36, 3, tol, 64)
    assert not _davidson._too_slow(halving, 200, 3, tol, 70)  # spent matvecs do not count...
    assert _davidson._too_slow(halving, 36, 3, tol, 12)  # ...up to the cap
    assert _davidson._too_slow([1.0 + 0.01 * j for j in range(12)], 36, 3, tol, 100)
    assert not _davidson._too_slow([1.0] * 3, 9, 3, tol, 100)  # too early to judge...
    assert not _davidson._too_slow([1.0] * 12, 24, 2, tol, 100)  # ...before a quarter of budget
    assert _davidson._too_slow([1.0] * 12, 26, 2, tol, 100)
    assert _davidson._too_slow(halving, 36, 6, tol, 70)  # the measured matvecs per iteration


@settings(max_examples=30)
@given(seed=st.integers(0, 2**31 - 1), m=st.integers(1, 8), dependent=st.booleans())
def test_rayleigh_ritz_of_a_non_orthogonal_basis(seed, m, dependent):
    """The pencil (V H V^T, V V^T) against the levels of H projected on an orthonormal basis of
    span(V); rows of very different norms, and a row inside the span of the others."""
    rng = np.random.default_rng(seed)
    dim = 40
    A = rng.standard_normal((dim, dim))
    H = A + A.T
    V = rng.standard_normal((m, dim)) * np.logspace(-8, 2, m)[:, None]
    if dependent and m > 2:
        V[-1] = rng.standard_normal(m - 1) @ V[:-1]
    Q = np.linalg.svd(V, full_matrices=False)[2][: np.linalg.matrix_rank(V)]
    theta, Y, cond = _davidson._rayleigh_ritz(V @ H @ V.T, V @ V.T)
    np.testing.assert_allclose(theta, np.linalg.eigvalsh(Q @ H @ Q.T), atol=1e-9)
    X = Y.T @ V
    np.testing.assert_allclose(X @ X.T, np.eye(theta.size), atol=1e-9)
    assert cond >= 1.0


def _basis(rng, nv, dim):
    V = np.empty((nv + 3, dim))
    V[:nv] = rng.standard_normal((nv, dim))
    A = rng.standard_normal((dim, dim))
    W = np.empty_like(V)
    W[:nv] = V[:nv] @ (A + A.T)
    S = np.zeros((nv + 3, nv + 3))
    S[:nv, :nv] = V[:nv] @ V[:nv].T
    return V, W, S


def _sums(T, V, W, nv):
    return T @ V[:nv].T, T @ W[:nv].T, T @ T.T


@pytest.mark.parametrize("seed", range(5))
def test_admit_takes_corrections_outside_the_basis_as_they_are(seed):
    rng = np.random.default_rng(seed)
    nv, q, dim = 6, 2, 50
    V, W, S = _basis(rng, nv, dim)
    V[nv:nv + q] = rng.standard_normal((q, dim)) * [[1e-9], [3.0]]
    before = V[nv:nv + q].copy()
    sums = _sums(before, V, W, nv)
    q2, Tv, Tw, Tt = _davidson._admit(V, W, S, nv, q, sums, rng)
    assert q2 == q
    np.testing.assert_array_equal(V[nv:nv + q], before)
    assert Tv is sums[0] and Tw is sums[1] and Tt is sums[2]


@pytest.mark.parametrize("share", [1e-5, 0.0])
def test_admit_projects_corrections_that_lie_almost_in_the_basis(share):
    """A correction whose out-of-span part is below _NEW_SHARE is replaced by that part
    (normalised), or by a random direction when there is none; its sums are recomputed."""
    rng = np.random.default_rng(7)
    nv, dim = 6, 50
    V, W, S = _basis(rng, nv, dim)
    Q = np.linalg.qr(V[:nv].T)[0]
    outside = rng.standard_normal(dim)
    outside -= Q @ (Q.T @ outside)
    outside /= np.linalg.norm(outside)
    inside = rng.standard_normal(nv) @ V[:nv]
    inside /= np.linalg.norm(inside)
    V[nv] = inside + np.sqrt(share) * outside
    q2, Tv, Tw, Tt = _davidson._admit(V, W, S, nv, 1, _sums(V[nv:nv + 1], V, W, nv), rng)
    assert q2 == 1
    new = V[nv]
    assert np.linalg.norm(Q.T @ new) < 0.5 * np.linalg.norm(new)  # mostly outside the basis
    if share:  # the part outside, unit norm
        np.testing.assert_allclose(abs(new @ outside), 1.0, rtol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(Q.T @ new), 0.0, atol=1e-6)
    for got, ref in zip((Tv, Tw, Tt), _sums(V[nv:nv + 1], V, W, nv)):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_admit_keeps_one_of_two_parallel_corrections():
    rng = np.random.default_rng(3)
    nv, dim = 4, 50
    V, W, S = _basis(rng, nv, dim)
    t = rng.standard_normal(dim)
    V[nv], V[nv + 1] = t, 2.0 * t
    q2, Tv, Tw, Tt = _davidson._admit(V, W, S, nv, 2, _sums(V[nv:nv + 2], V, W, nv), rng)
    assert q2 == 1
    Q = np.linalg.qr(V[:nv].T)[0]
    expected = t - Q @ (Q.T @ t)
    np.testing.assert_allclose(abs(V[nv] @ expected), np.linalg.norm(expected), rtol=1e-9)
    np.testing.assert_allclose(Tt, [[1.0]], rtol=1e-9)


def test_a_workspace_is_reused_from_point_to_point():
    """min_gap's points share one basis allocation; results do not depend on what an earlier
    point left in it."""
    bqm = _selection(10, 5)
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)
    workspace = {}
    first = _lowest_levels(H, 0.97, 2, None, backend="davidson", tol=1e-10, maxiter=2000, memory_limit=None, retry=False, workspace=workspace)
    basis = workspace["davidson"]
    assert basis[0].shape == basis[1].shape and basis[0].shape[1] == H.dim
    second = _lowest_levels(H, 0.99, 2, first.vectors, backend="davidson", tol=1e-10, maxiter=2000, memory_limit=None, retry=False, workspace=workspace)
    assert workspace["davidson"] is basis
    for lv, s in ((first, 0.97), (second, 0.99)):
        ref = np.linalg.eigvalsh(naive.dense_hamiltonian(bqm, s))[:2]
        np.testing.assert_allclose(lv.energies, ref, atol=1e-9)
    nine = _lowest_levels(H, 0.99, 9, None, backend="davidson", tol=1e-10, maxiter=2000, memory_limit=None, retry=False, workspace=workspace)  # a block of 9 needs a basis of 54, not 12
    assert workspace["davidson"][0].shape == (54, H.dim)
    np.testing.assert_allclose(nine.energies,
                               np.linalg.eigvalsh(naive.dense_hamiltonian(bqm, 0.99))[:9],
                               atol=1e-9)


def test_another_solver_releases_the_kept_basis_before_it_allocates_its_own():
    """A sweep holds one eigensolver's basis at a time: a Lanczos point after Davidson points
    frees Davidson's kept basis first (its peak memory is Lanczos's own, not the sum), and
    the next Davidson point allocates a fresh one."""
    import tracemalloc

    bqm = _selection(12, 6)
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)
    workspace = {}
    opts = dict(tol=1e-10, maxiter=2000, memory_limit=None, retry=False)

    def lanczos_peak(workspace):  # bytes above the memory in use when the call starts
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        lv = _lowest_levels(H, 0.5, 2, None, backend="matrix-free", workspace=workspace, **opts)
        return lv, tracemalloc.get_traced_memory()[1] - start

    tracemalloc.start()  # before Davidson allocates, so that freeing its basis is traced
    try:
        _, alone = lanczos_peak({})
        first = _lowest_levels(H, 0.97, 2, None, backend="davidson", workspace=workspace, **opts)
        held = sum(a.nbytes for a in workspace["davidson"])
        lanczos, peak = lanczos_peak(workspace)
    finally:
        tracemalloc.stop()
    assert "davidson" not in workspace
    assert peak < alone - 0.9 * held  # holding both, it would be ``alone`` or more
    again = _lowest_levels(H, 0.99, 2, first.vectors, backend="davidson", workspace=workspace,
                           **opts)
    assert workspace["davidson"][0].shape[1] == H.dim
    for lv, s in ((lanczos, 0.5), (again, 0.99)):
        ref = np.linalg.eigvalsh(naive.dense_hamiltonian(bqm, s))[:2]
        np.testing.assert_allclose(lv.energies, ref, atol=1e-9)


@given(seed=st.integers(0, 2**31 - 1), kept=st.integers(1, 5), npre=st.integers(1, 3))
@settings(max_examples=30, deadline=None)
def test_restart_rows_keep_the_ritz_vectors_and_add_the_previous_ones(seed, kept, npre):
    """GD+k: the restart coefficients are S-orthonormal, start with the kept Ritz vectors
    unchanged and span the previous iteration's Ritz vectors too; a previous vector already in
    the kept span adds nothing."""
    rng = np.random.default_rng(seed)
    dim, nv, nprev_rows = 40, 9, 7
    V = rng.standard_normal((nv, dim)) * np.exp(rng.uniform(-3, 3, nv))[:, None]
    S = V @ V.T
    C = rng.standard_normal((kept, nv))
    C[0, nprev_rows:] = 0.0  # the first kept Ritz vector lies in the leading coordinates
    L = np.linalg.cholesky(C @ S @ C.T)
    Yk = np.linalg.solve(L, C)  # S-orthonormal rows; row 0 is C[0] scaled
    previous = rng.standard_normal((nprev_rows, npre))  # in the leading 7 coordinates
    R = _davidson._with_previous(Yk, previous, S)
    assert R.shape == (kept + npre, nv)
    np.testing.assert_array_equal(R[:kept], Yk)
    np.testing.assert_allclose(R @ S @ R.T, np.eye(kept + npre), atol=1e-8)
    X = R @ V  # the restarted basis rows, orthonormal
    padded = np.zeros((npre, nv))
    padded[:, :nprev_rows] = previous.T
    P = padded @ V
    outside = P - (P @ X.T) @ X
    assert np.linalg.norm(outside) <= 1e-8 * np.linalg.norm(P)

    converged = np.column_stack([Yk[0, :nprev_rows], previous[:, 1:]])
    assert _davidson._with_previous(Yk, converged, S).shape == (kept + npre - 1, nv)


def test_the_operator_counts_its_applications_and_not_the_checks():
    """Levels.matvecs is exactly what the operator counted during the solve (the handover
    from Davidson included), and the residual check after it is not counted."""
    bqm = _selection(10, 3)
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)
    for backend, s, budget in (("matrix-free", 0.3, None), ("davidson", 0.97, None),
                               ("auto", 0.3, 1)):
        before = H.matvecs
        lv = _lowest_levels(H, s, 2, None, backend=backend, tol=1e-10, maxiter=500,
                            memory_limit=None, retry=False, budget=budget)
        assert lv.matvecs > 0
        assert H.matvecs - before == lv.matvecs, backend
    before = H.matvecs
    a, b = H.coefficients(0.3)
    res = H.residual_norms(a, b, lv.energies, lv.vectors.T)
    assert H.matvecs == before
    np.testing.assert_array_less(res, 1e-8)
    apply = H.bound_operator(a, b)
    out = np.empty(H.dim)
    apply(np.ascontiguousarray(lv.vectors[:, 0]), out)
    assert H.matvecs == before + 1
    np.testing.assert_allclose(out, lv.energies[0] * lv.vectors[:, 0], atol=1e-8)


def test_davidson_over_budget_returns_a_handover():
    """The Davidson backend's early stop is a returned Handover with Ritz vectors, not an
    exception; lowest_levels goes on with Lanczos from them."""
    H = spectral.AnnealingHamiltonian.from_bqm(_selection(10, 3))
    found = spectral.BACKENDS["davidson"](H, 0.3, 2, None, 1e-12, 500, budget=1)
    assert isinstance(found, spectral.Handover)
    assert found.rows.shape[1] == H.dim and found.rows.shape[0] >= 2
