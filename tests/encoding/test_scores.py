"""Relevance and redundancy against loops written from the definitions."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from encoding import EncodingError, redundancy, relevance

maps = arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 4), st.integers(1, 4)),
              elements=st.floats(-3, 3, allow_subnormal=False))


@given(maps, st.integers(0, 2**31 - 1))
def test_relevance_definitions(A, seed):
    G = np.random.default_rng(seed).standard_normal(A.shape)
    before = A.copy(), G.copy()
    for k in range(A.shape[0]):
        alpha = sum(G[k].ravel()) / G[k].size
        assert relevance("gradcam", A, G)[k] == pytest.approx(alpha, abs=1e-12)
        assert relevance("contribution", A, G)[k] == pytest.approx(alpha * sum(A[k].ravel()),
                                                                   abs=1e-10)
    np.testing.assert_array_equal(A, before[0])
    np.testing.assert_array_equal(G, before[1])


def _cos(u, v):
    nu, nv = np.sqrt(sum(u * u)), np.sqrt(sum(v * v))
    return 0.0 if nu == 0 or nv == 0 else float(sum(u * v) / (nu * nv))


@given(maps)
def test_redundancy_definitions(A):
    K = A.shape[0]
    flat = A.reshape(K, -1)
    Rabs, Rrect = redundancy("abs-cosine", A), redundancy("rectified-cosine", A)
    for k in range(K):
        for l in range(K):
            want_abs = 0.0 if k == l else abs(_cos(flat[k], flat[l]))
            want_rect = 0.0 if k == l else _cos(np.maximum(flat[k], 0), np.maximum(flat[l], 0))
            assert Rabs[k, l] == pytest.approx(want_abs, abs=1e-9)
            assert Rrect[k, l] == pytest.approx(want_rect, abs=1e-9)
    assert (Rrect >= 0).all() and (Rabs <= 1).all()
    np.testing.assert_array_equal(Rabs, Rabs.T)


def test_errors():
    A = np.ones((3, 2, 2))
    with pytest.raises(EncodingError, match="relevance must be one of"):
        relevance("saliency", A, A)
    with pytest.raises(EncodingError, match=r"\(K, H, W\)"):
        relevance("gradcam", A[None], A[None])
    with pytest.raises(EncodingError, match="NaN or inf"):
        relevance("gradcam", A, A * np.nan)
    with pytest.raises(EncodingError, match="ablation_relevance"):
        relevance("ablation", A)
    with pytest.raises(EncodingError, match="one shape"):
        relevance("gradcam", A, np.ones((3, 2, 3)))
    np.testing.assert_array_equal(relevance("ablation", A, ablation=[1, 2, 3]), [1, 2, 3])
