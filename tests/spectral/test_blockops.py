"""The skinny block kernels against numpy's products."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spectral._blockops import (CHUNK, combine_rows, inner_products, precondition_rows,
                                ritz_residuals)


@settings(max_examples=30)
@given(seed=st.integers(0, 2**31 - 1), q=st.integers(1, 5), m=st.integers(1, 7),
       dim=st.sampled_from([1, 7, CHUNK - 1, CHUNK, CHUNK + 3, 3 * CHUNK + 5]),
       beta=st.sampled_from([0.0, 1.0, -0.5]))
def test_kernels_match_numpy(seed, q, m, dim, beta):
    rng = np.random.default_rng(seed)
    T, V, Y = rng.standard_normal((q, dim)), rng.standard_normal((m, dim)), rng.standard_normal((q, m))
    out = np.full((q, m), np.nan)
    inner_products(T, V, out)
    np.testing.assert_allclose(out, T @ V.T, rtol=1e-12, atol=1e-12 * np.sqrt(dim))
    acc = rng.standard_normal((q, dim)) if beta != 0.0 else np.full((q, dim), np.nan)
    expected = Y @ V + (beta * acc if beta != 0.0 else 0.0)
    combine_rows(Y, V, acc, beta)
    np.testing.assert_allclose(acc, expected, rtol=1e-12, atol=1e-12 * m)


@settings(max_examples=30)
@given(seed=st.integers(0, 2**31 - 1), q=st.integers(1, 4), m=st.integers(1, 7),
       dim=st.sampled_from([1, 7, CHUNK - 1, CHUNK, CHUNK + 3, 3 * CHUNK + 5]))
def test_davidson_kernels_match_numpy(seed, q, m, dim):
    rng = np.random.default_rng(seed)
    Y, theta = rng.standard_normal((q, m)), rng.standard_normal(q)
    V, W = rng.standard_normal((m, dim)), rng.standard_normal((m, dim))
    X, R = np.full((q, dim), np.nan), np.full((q, dim), np.nan)
    ritz_residuals(Y, theta, V, W, X, R)
    np.testing.assert_allclose(X, Y @ V, rtol=1e-12, atol=1e-12 * m)
    np.testing.assert_allclose(R, Y @ W - theta[:, None] * (Y @ V), rtol=1e-12, atol=1e-11 * m)
    diag, shift, sigma = rng.standard_normal(dim), float(rng.standard_normal()), 0.3
    T = np.full((q, dim), np.nan)
    precondition_rows(R, diag, shift, sigma, T)
    np.testing.assert_allclose(T, R / (np.maximum(diag - shift, 0.0) + sigma), rtol=1e-14)
