"""lowest_levels: every backend against dense eigvalsh; residuals; warm starts; errors."""

import dimod
import numpy as np
import pytest

import spectral
from spectral._levels import _lowest_levels
from tests import naive


_BQM9 = naive.random_bqm(np.random.default_rng(11), 9, dimod.BINARY)


@pytest.fixture(scope="module")
def hamiltonian():
    return spectral.AnnealingHamiltonian.from_bqm(_BQM9)


@pytest.mark.parametrize("backend", ["auto", *spectral.BACKENDS])
@pytest.mark.parametrize("s", [0.0, 0.2, 0.55, 0.93, 1.0])
def test_every_backend_matches_dense_eigvalsh(hamiltonian, backend, s):
    k = 4
    ref = np.linalg.eigvalsh(naive.dense_hamiltonian(_BQM9, s))[:k]
    lv = spectral.lowest_levels(hamiltonian, s, k, backend=backend)
    np.testing.assert_allclose(lv.energies, ref, atol=1e-9)
    assert lv.vectors.shape == (hamiltonian.dim, k)
    D = hamiltonian.to_dense(s)
    explicit = np.linalg.norm(D @ lv.vectors - lv.vectors * lv.energies, axis=0)
    np.testing.assert_allclose(lv.residuals, explicit, atol=1e-12)
    assert np.all(lv.residuals <= 1e-10 * (9 + np.abs(hamiltonian.diagonal()).max()))


def test_warm_start_uses_fewer_matvecs(hamiltonian):
    first = spectral.lowest_levels(hamiltonian, 0.5, 2, backend="matrix-free")
    warm = spectral.lowest_levels(hamiltonian, 0.51, 2, v0=first.vectors, backend="matrix-free")
    cold = spectral.lowest_levels(hamiltonian, 0.51, 2, backend="matrix-free")
    np.testing.assert_allclose(warm.energies, cold.energies, atol=1e-10)
    assert warm.matvecs < cold.matvecs


def test_even_sector_levels_against_projected_dense():
    bqm = naive.random_bqm(np.random.default_rng(3), 10, dimod.SPIN, linear=False)
    H = spectral.AnnealingHamiltonian.from_bqm(bqm, sector="even")
    P = naive.even_sector_projector(10)
    ref = np.linalg.eigvalsh(P.T @ naive.dense_hamiltonian(bqm, 0.7) @ P)[:3]
    lv = spectral.lowest_levels(H, 0.7, 3, backend="matrix-free")
    np.testing.assert_allclose(lv.energies, ref, atol=1e-9)


@pytest.mark.parametrize("k, match", [(0, "1 <= k"), (513, "1 <= k"), (-2, "1 <= k")])
def test_bad_k(hamiltonian, k, match):
    with pytest.raises(spectral.SpectralError, match=match):
        spectral.lowest_levels(hamiltonian, 0.5, k)


def test_bad_k_type(hamiltonian):
    with pytest.raises(TypeError, match="integer"):
        spectral.lowest_levels(hamiltonian, 0.5, 2.0)


def test_bad_s_and_backend(hamiltonian):
    with pytest.raises(spectral.ScheduleError, match=r"\[0, 1\]"):
        spectral.lowest_levels(hamiltonian, 1.2, 2)
    with pytest.raises(spectral.SpectralError, match="unknown backend"):
        spectral.lowest_levels(hamiltonian, 0.5, 2, backend="magic")
    with pytest.raises(spectral.SpectralError, match="v0 must have shape"):
        spectral.lowest_levels(hamiltonian, 0.5, 2, v0=np.ones(7))


def test_unconverged_is_never_returned_silently(hamiltonian):
    # one restart of a 32-vector Krylov space cannot reach 1e-14; without retry it must raise
    with pytest.raises(spectral.ConvergenceError, match="no backend converged") as info:
        _lowest_levels(hamiltonian, 0.5, 2, None, backend="matrix-free", tol=1e-14, maxiter=0, memory_limit=None, retry=False)
    assert info.value.tol > 0 and np.all(np.asarray(info.value.residuals) > 0)


def test_retry_falls_back_and_warns(hamiltonian):
    # a residual of 1e-14 relative is out of Lanczos' reach; the dense fallback attains it
    with pytest.warns(RuntimeWarning, match=r"matrix-free: .*; used") as record:
        lv = _lowest_levels(hamiltonian, 0.5, 2, None, backend="matrix-free", tol=1e-14, maxiter=2, memory_limit=None, retry=True)
    ref = np.linalg.eigvalsh(hamiltonian.to_dense(0.5))[:2]
    np.testing.assert_allclose(lv.energies, ref, atol=1e-9)
    assert f"used {lv.backend}" in str(record[0].message)
    assert np.all(lv.residuals <= 1e-14 * (9 + np.abs(hamiltonian.diagonal()).max()))


def test_register_backend_is_used():
    calls = []

    @spectral.register_backend("test-dense")
    def _backend(H, s, k, v0, tol_abs, maxiter, memory_limit=None):
        calls.append(s)
        vals, vecs = np.linalg.eigh(H.to_dense(s))
        return vals[:k], np.ascontiguousarray(vecs[:, :k].T)

    try:
        H = spectral.AnnealingHamiltonian.from_bqm(dimod.BinaryQuadraticModel({0: 1.0, 1: -0.5}, {(0, 1): 1.0}, 0, "SPIN"))
        lv = spectral.lowest_levels(H, 0.3, 2, backend="test-dense")
        assert calls == [0.3] and lv.backend == "test-dense"
    finally:
        del spectral.BACKENDS["test-dense"]
