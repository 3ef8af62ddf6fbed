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
@given(st.integers(0, 2**31 - 1), st.integers(1, 12), st.sampled_from([0.0, 1.0, -1.0]))
def test_small_matvec_is_the_complex_matvec(seed, nbits, flip_sign):
    """The small-state path (real and imaginary parts apart, one thread each, by the serial
    real matvec) against spectral's complex matvec and against dense H @ z."""
    from spectral._kernels import hamiltonian_matvec

    from simulate._rk_kernels import small_matvec
    from tests import naive

    rng = np.random.default_rng(seed)
    dim = 1 << nbits
    z = rng.standard_normal(dim) + 1j * rng.standard_normal(dim)
    diag = rng.standard_normal(dim)
    a, b, shift = rng.standard_normal(3)
    out, ref = np.empty_like(z), np.empty_like(z)
    small_matvec(z, diag, a, b, nbits, flip_sign, shift, out, np.full((4, dim), np.nan))
    hamiltonian_matvec(z, diag, a, b, nbits, flip_sign, shift, ref)
    np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-13)
    if nbits <= 6:  # and both against the dense matrix
        flips = sum(naive.single_site(np.array([[0.0, 1.0], [1.0, 0.0]]), i, nbits)
                    for i in range(nbits))
        if flip_sign:
            flips = flips + flip_sign * np.eye(dim)[::-1]
        dense = -a * flips + np.diag(b * diag + shift)
        np.testing.assert_allclose(out, dense @ z, rtol=1e-12, atol=1e-12)
