"""The fused DOP853 kernels against numpy, on sizes that are and are not multiples of a
chunk."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulate._rk_kernels import CHUNK, combine, combine_with_errors, subtract_mean_energy

SIZES = st.sampled_from([1, 7, CHUNK - 1, CHUNK, 3 * CHUNK + 5])


def _vectors(rng, dim, rows):
    y = rng.standard_normal(dim) + 1j * rng.standard_normal(dim)
    G = rng.standard_normal((rows, dim)) + 1j * rng.standard_normal((rows, dim))
    return y, G


@settings(max_examples=20, deadline=None)
@given(SIZES, st.integers(0, 2**31 - 1), st.integers(1, 6))
def test_combine_is_y_plus_i_times_a_real_combination(dim, seed, count):
    rng = np.random.default_rng(seed)
    y, G = _vectors(rng, dim, 8)
    rows = rng.choice(8, size=count, replace=False).astype(np.int64)
    beta = rng.standard_normal(count)
    z = np.empty_like(y)
    combine(y.view(np.float64), G.view(np.float64), rows, beta, z.view(np.float64))
    np.testing.assert_allclose(z, y + 1j * (beta @ G[rows]), rtol=1e-12, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(SIZES, st.integers(0, 2**31 - 1))
def test_combine_with_errors_returns_the_error_norms(dim, seed):
    rng = np.random.default_rng(seed)
    y, G = _vectors(rng, dim, 12)
    rows = np.array([0, 5, 6, 7, 8, 9, 10, 11], dtype=np.int64)
    beta, e5, e3 = rng.standard_normal((3, rows.size))
    y_new = np.empty_like(y)
    norms = combine_with_errors(y.view(np.float64), G.view(np.float64), rows, beta, e5, e3,
                                y_new.view(np.float64))
    np.testing.assert_allclose(y_new, y + 1j * (beta @ G[rows]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(norms, [np.linalg.norm(e5 @ G[rows]) ** 2,
                                       np.linalg.norm(e3 @ G[rows]) ** 2], rtol=1e-12)


@settings(max_examples=20, deadline=None)
@given(SIZES, st.integers(0, 2**31 - 1))
def test_subtract_mean_energy(dim, seed):
    rng = np.random.default_rng(seed)
    y, _ = _vectors(rng, dim, 1)
    energies = rng.standard_normal(dim)
    Hy = energies * y
    mean = float(np.sum(energies * np.abs(y) ** 2) / np.sum(np.abs(y) ** 2))
    got = subtract_mean_energy(y, Hy)
    assert got == np.float64(mean) or abs(got - mean) <= 1e-12 * max(1.0, abs(mean))
    np.testing.assert_allclose(Hy, (energies - mean) * y, rtol=1e-10, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 12), st.sampled_from([0.0, 1.0, -1.0]),
       st.floats(1e-3, 0.3))
def test_planar_step_is_the_complex_step(seed, nbits, flip_sign, h):
    """The step on (real, imaginary) parts against the complex step, stage by stage: same new
    state, same error norms, same stage vectors."""
    from simulate import _rk
    from simulate._rk_kernels import dop853_step, planar_dop853_step, planar_first_row
    from spectral.kernels import hamiltonian_matvec

    rng = np.random.default_rng(seed)
    dim = 1 << nbits
    y = rng.standard_normal(dim) + 1j * rng.standard_normal(dim)
    diag = rng.standard_normal(dim)
    a, b = rng.uniform(0.0, 1.0, (2, 12))
    consts = (_rk._A, _rk._STAGE_ROWS, _rk._STAGE_COUNTS, _rk._FINAL_ROWS, _rk._B, _rk._E5,
              _rk._E3)
    yp = np.stack([y.real, y.imag])
    Gp = np.full((12, 2, dim), np.nan)
    energy = planar_first_row(yp, diag, a[0], b[0], nbits, flip_sign, Gp[0])
    G = np.full((12, dim), np.nan, dtype=complex)
    hamiltonian_matvec(y, diag, a[0], b[0], nbits, flip_sign, 0.0, G[0])
    assert abs(energy - subtract_mean_energy(y, G[0])) <= 1e-12 * max(1.0, abs(energy))
    np.testing.assert_allclose(Gp[0, 0] + 1j * Gp[0, 1], G[0], rtol=1e-12, atol=1e-12)
    y_new = np.full_like(y, np.nan)
    yp_new = np.full_like(yp, np.nan)
    z = np.empty_like(y)
    ref = dop853_step(z, z.view(np.float64), h, a, b, -energy, diag, nbits, flip_sign, *consts,
                      G, G.view(np.float64), y.view(np.float64), y_new.view(np.float64))
    got = planar_dop853_step(yp, h, a, b, -energy, diag, nbits, flip_sign, *consts, Gp, yp_new)
    np.testing.assert_allclose(Gp[:, 0] + 1j * Gp[:, 1], G, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(yp_new[0] + 1j * yp_new[1], y_new, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-24)
