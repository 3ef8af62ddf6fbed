"""Thick-restart Lanczos with partial reorthogonalisation against dense references."""

import dimod
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import spectral
from spectral._lanczos import thick_restart_lanczos
from tests import naive


def _operator(H, s):
    return H.bound_operator(*H.coefficients(s))


@settings(max_examples=25)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(8, 10), k=st.integers(1, 3),
       s=st.floats(0.05, 0.99), warm=st.booleans(),
       vartype=st.sampled_from([dimod.BINARY, dimod.SPIN]))
def test_partial_reorthogonalisation_matches_dense(seed, n, k, s, warm, vartype):
    rng = np.random.default_rng(seed)
    bqm = naive.random_bqm(rng, n, vartype)
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)
    D = H.to_dense(s)
    ref = np.linalg.eigvalsh(D)[:k]
    if warm:  # the previous point's eigenvectors: small beta_j early, the hard case
        v0 = np.linalg.eigh(H.to_dense(max(s - 0.02, 0.0)))[1][:, :k].sum(axis=1)
    else:
        v0 = rng.standard_normal(H.dim)
    tol = 1e-10 * (n + np.abs(H.diagonal()).max())
    stats = {}
    theta, X, _, _ = thick_restart_lanczos(_operator(H, s), v0, k, tol, 300, 24,
                                           np.random.default_rng(0), stats=stats)
    np.testing.assert_allclose(theta, ref, atol=1e-9)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    # the Ritz vectors themselves are accurate (not only the values), and not ghosts
    residuals = np.linalg.norm(X @ D - theta[:, None] * X, axis=1)
    assert np.all(residuals <= 10 * tol)
    np.testing.assert_allclose(X @ X.T, np.eye(k), atol=1e-8)


def test_partial_reorthogonalises_rarely_and_agrees_with_full():
    bqm = naive.random_bqm(np.random.default_rng(4), 12, dimod.BINARY)
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)
    v0 = np.random.default_rng(1).standard_normal(H.dim)
    runs = {}
    for partial in (True, False):
        stats = {}
        theta, _, _, _ = thick_restart_lanczos(_operator(H, 0.6), v0, 2, 1e-9, 300, 32,
                                               np.random.default_rng(0), partial=partial,
                                               stats=stats)
        runs[partial] = theta, stats
    np.testing.assert_allclose(runs[True][0], runs[False][0], atol=1e-10)
    assert runs[False][1]["full_reorthogonalisations"] == runs[False][1]["steps"]
    assert runs[True][1]["full_reorthogonalisations"] < runs[True][1]["steps"] / 4
    assert runs[True][1]["steps"] <= 1.2 * runs[False][1]["steps"]
