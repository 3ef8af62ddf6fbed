"""The skinny block kernels against numpy's products."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spectral._blockops import (_FUSED_GROUP, CHUNK, FUSED_CHUNK, combine_rows, davidson_pass,
                                inner_products)


@settings(max_examples=30)
@given(seed=st.integers(0, 2**31 - 1), q=st.integers(1, 5), m=st.integers(1, 10),
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


@settings(max_examples=40)
@given(seed=st.integers(0, 2**31 - 1), q=st.integers(1, 4), m=st.integers(1, 10), data=st.data(),
       dim=st.sampled_from([1, 7, FUSED_CHUNK - 1, FUSED_CHUNK + 3,
                            _FUSED_GROUP * FUSED_CHUNK + 5, 3 * _FUSED_GROUP * FUSED_CHUNK]))
def test_davidson_pass_matches_numpy(seed, q, m, data, dim):
    """Corrections and their sums for the first qt pairs; residual norms for all q."""
    qt = data.draw(st.integers(0, q))
    rng = np.random.default_rng(seed)
    Y, theta = rng.standard_normal((q, m)), rng.standard_normal(q)
    V, W = rng.standard_normal((m, dim)), rng.standard_normal((m, dim))
    diag, shift, sigma = rng.standard_normal(dim), float(rng.standard_normal()), 0.3
    T, sums = np.full((qt, dim), np.nan), np.full((q, 2 * m + qt + 2), np.nan)
    davidson_pass(Y, theta, V, W, diag, shift, sigma, T, sums)
    X = Y @ V
    R = Y @ W - theta[:, None] * X
    expected = R[:qt] / (np.maximum(diag - shift, 0.0) + sigma)
    np.testing.assert_allclose(T, expected, rtol=1e-12, atol=1e-12 * m)
    products = np.hstack([expected @ V.T, expected @ W.T, expected @ expected.T])
    ref = np.hstack([np.vstack([products, np.zeros((q - qt, 2 * m + qt))]),
                     np.sum(X * X, axis=1)[:, None], np.sum(R * R, axis=1)[:, None]])
    np.testing.assert_allclose(sums, ref, rtol=1e-10, atol=1e-10 * np.sqrt(dim) * m)


@settings(max_examples=20)
@given(seed=st.integers(0, 2**31 - 1), m=st.integers(1, 7), data=st.data(),
       dim=st.sampled_from([7, CHUNK + 3, 3 * CHUNK + 5]))
def test_combination_in_place_on_the_leading_rows(seed, m, data, dim):
    """A thick restart overwrites the basis's leading rows with combinations of all rows."""
    keep = data.draw(st.integers(1, m))
    rng = np.random.default_rng(seed)
    V, Y = rng.standard_normal((m, dim)), rng.standard_normal((keep, m))
    expected = Y @ V
    combine_rows(Y, V, V[:keep], 0.0)
    np.testing.assert_allclose(V[:keep], expected, rtol=1e-12, atol=1e-12 * m)
