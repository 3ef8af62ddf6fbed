"""The selection QUBOs: energies against the closed forms, the penalty bound by brute force,
and the estimator's behaviour on edge cases."""

import itertools
import json
import warnings

import dimod
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from encoding import (CandidatesTruncatedWarning, EncodingError, SelectionQubo, cardinality_bqm,
                      cardinality_penalty, paper_bqm)


def _all_x(n):
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.int8)


def _sym(rng, n, kind):
    """Symmetric, zero diagonal: "nonneg" (like |cos|), "mixed", or "negative" (mostly < 0:
    the case where the bound's sum over negative entries matters)."""
    low, high = {"nonneg": (0, 1), "mixed": (-1, 1), "negative": (-1, 0.3)}[kind]
    R = rng.uniform(low, high, size=(n, n))
    R = np.triu(R, 1)
    return R + R.T


def _f(x, r, R, beta):
    return -x @ r + beta * 0.5 * np.einsum("si,ij,sj->s", x, R, x)


problems = st.tuples(st.integers(2, 9), st.integers(0, 2**31 - 1),
                     st.sampled_from(["nonneg", "mixed", "negative"]), st.floats(0, 2))


@given(problems, st.floats(0, 3))
def test_cardinality_bqm_energy_equals_closed_form(p, lam):
    n, seed, nonneg, beta = p
    rng = np.random.default_rng(seed)
    r, R, m = rng.uniform(-1, 1, n), _sym(rng, n, nonneg), int(rng.integers(1, n + 1))
    labels = [f"map{k}" for k in range(n)]
    bqm = cardinality_bqm(r, R, beta, m, lam, labels)
    X = _all_x(n)
    want = _f(X, r, R, beta) + lam * (X.sum(1) - m) ** 2
    np.testing.assert_allclose(bqm.energies((X, labels)), want, rtol=0, atol=1e-12)


@given(problems)
def test_paper_bqm_energy_equals_closed_form(p):
    n, seed, _, beta = p
    beta = beta / 2
    rng = np.random.default_rng(seed)
    a, J = rng.uniform(0, 1, n), _sym(rng, n, "nonneg")
    bqm = paper_bqm(a, J, beta)
    X = _all_x(n)
    want = (1 - beta) * 0.5 * np.einsum("si,ij,sj->s", X, J, X) - beta * X @ a
    np.testing.assert_allclose(bqm.energies((X, list(range(n)))), want, atol=1e-12)


def test_paper_formulation_by_hand():
    # three maps, alpha = (0.2, -0.1, 0.4): candidates 0 and 2, normalised by max: (0.5, 1.0)
    A = np.zeros((3, 2, 2))
    A[0] = [[1, 0], [0, 0]]
    A[1] = [[0, 1], [0, 0]]
    A[2] = [[1, 1], [0, 0]]
    G = np.zeros_like(A)
    G[0], G[1], G[2] = 0.2, -0.1, 0.4
    q = SelectionQubo("paper", beta=0.7).fit(A, G)
    assert q.candidates_.tolist() == [0, 2]
    cos02 = 1 / np.sqrt(2)
    assert q.bqm_.linear == {0: pytest.approx(-0.35), 2: pytest.approx(-0.7)}
    assert q.bqm_.quadratic[(0, 2)] == pytest.approx(0.3 * cos02)
    assert q.bqm_.offset == 0
    # minmax normalisation: the weakest candidate gets 0
    q2 = SelectionQubo("paper", beta=0.7, normalization="minmax").fit(A, G)
    assert q2.bqm_.linear[0] == 0.0 and q2.bqm_.linear[2] == pytest.approx(-0.7)


def _threshold(r, R, beta, m):
    """The exact infimum of lam that makes every minimiser feasible, by enumeration."""
    X = _all_x(r.size)
    f = _f(X, r, R, beta)
    p = (X.sum(1) - m) ** 2
    F = f[p == 0].min()
    return max(0.0, float(np.max((F - f[p > 0]) / p[p > 0])))


@settings(max_examples=300)
@given(problems)
def test_penalty_bound_makes_every_minimiser_choose_m(p):
    n, seed, nonneg, beta = p
    rng = np.random.default_rng(seed)
    r, R, m = rng.uniform(-1, 1, n), _sym(rng, n, nonneg), int(rng.integers(1, n + 1))
    lam = cardinality_penalty(r, R, beta, m, margin=1e-6)
    assert lam - 1e-6 >= _threshold(r, R, beta, m) - 1e-12
    X = _all_x(n)
    E = _f(X, r, R, beta) + lam * (X.sum(1) - m) ** 2
    ground = X[E <= E.min() + 1e-12]
    assert (ground.sum(1) == m).all()


@given(st.integers(2, 9), st.integers(0, 2**31 - 1))
def test_penalty_bound_is_exact_without_redundancy(n, seed):
    rng = np.random.default_rng(seed)
    r, R, m = rng.uniform(-1, 1, n), _sym(rng, n, "mixed"), int(rng.integers(1, n + 1))
    lam = cardinality_penalty(r, R, 0.0, m, margin=1e-9) - 1e-9
    assert lam == pytest.approx(_threshold(r, R, 0.0, m), abs=1e-12)


def test_penalty_bound_counts_every_negative_redundancy():
    # found by random search: with negative R, choosing all three maps gains from all three
    # pairs; a bound that counted only the m smallest entries of a row (0.239) is below the
    # exact threshold (0.317) and lets a 3-map state win
    r = np.array([0.7, -0.98, -0.74])
    R = np.array([[0.0, -0.72, -0.59], [-0.72, 0.0, -0.49], [-0.59, -0.49, 0.0]])
    lam = cardinality_penalty(r, R, 1.66, 1, margin=1e-9)
    assert _threshold(r, R, 1.66, 1) == pytest.approx(0.317, abs=1e-9)
    assert lam >= 0.317


def test_a_penalty_below_the_threshold_breaks_the_constraint():
    # the bound is needed: slightly below the exact threshold a minimiser has sum x != m
    r = np.array([1.0, 0.9, 0.8, 0.1])
    R = np.zeros((4, 4))
    lam_exact = _threshold(r, R, 0.0, 1)
    X = _all_x(4)
    E = _f(X, r, R, 0.0) + 0.9 * lam_exact * (X.sum(1) - 1) ** 2
    assert X[np.argmin(E)].sum() != 1


def _capture_like(K=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (K, 3, 3)), rng.standard_normal((K, 3, 3)) + 0.2


def test_estimator_cardinality_defaults_and_metadata():
    A, G = _capture_like()
    before = A.copy()
    q = SelectionQubo("cardinality").fit(A, G, image_id="img-7", target=3)
    assert set(q.bqm_.variables) == set(range(8)) and q.bqm_.vartype is dimod.BINARY
    assert q.metadata_["m"] == 2 and q.metadata_["relevance"] == "contribution"
    assert q.metadata_["image_id"] == "img-7" and q.metadata_["target"] == 3
    json.dumps(q.metadata_)
    np.testing.assert_array_equal(A, before)
    ss = dimod.ExactSolver().sample(q.bqm_)
    assert sum(ss.first.sample.values()) == 2


def test_estimator_truncation_empty_and_errors():
    A, G = _capture_like(K=10)
    with pytest.warns(CandidatesTruncatedWarning, match="dropped"):
        q = SelectionQubo("cardinality", max_qubits=4, m=2).fit(A, G)
    r = q.relevance_
    assert sorted(q.candidates_) == sorted(np.argsort(-r)[:4])
    assert len(q.metadata_["dropped"]) == 6
    with pytest.raises(EncodingError, match="m must be an int in 1..4"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CandidatesTruncatedWarning)
            SelectionQubo("cardinality", max_qubits=4, m=5).fit(A, G)
    empty = SelectionQubo("paper").fit(A, -np.abs(G) - 1)
    assert empty.empty_ and empty.bqm_.num_variables == 0 and empty.metadata_["empty"]
    with pytest.raises(EncodingError, match="formulation must be one of"):
        SelectionQubo("qaoa").fit(A, G)
    with pytest.raises(EncodingError, match=r"beta must be in \[0, 1\]"):
        SelectionQubo("paper", beta=1.5).fit(A, G)
    with pytest.raises(EncodingError, match="m and penalty apply"):
        SelectionQubo("paper", m=3).fit(A, G)
    with pytest.raises(EncodingError, match="normalization"):
        SelectionQubo("paper", normalization="zscore").fit(A, G)
