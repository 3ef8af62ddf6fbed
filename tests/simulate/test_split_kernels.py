"""The split-operator kernels against dense factors: one stage on the chunked layout
(padding of small states included), and the blocked, grouped path of large states against the
one-block path."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm

from simulate import _split
from simulate._split_kernels import evolve_stages, evolve_stages_serial
from tests import naive


def _dense_stages(energies, thetas, betas, last, psi):
    """prod_k [exp(-i theta_k H_D) exp(-i beta_k H_P)] psi, then exp(-i last H_P), densely."""
    n = int(np.log2(energies.size))
    HD = -sum(naive.single_site(naive.X, i, n) for i in range(n))
    for theta, beta in zip(thetas, betas):
        psi = expm(-1j * theta * HD) @ (np.exp(-1j * beta * energies) * psi)
    return np.exp(-1j * last * energies) * psi


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 7), st.integers(0, 2**31 - 1), st.integers(1, 3))
def test_stages_match_dense_factors(n, seed, stages):
    rng = np.random.default_rng(seed)
    energies = rng.uniform(0.0, 30.0, 2**n)
    psi = rng.standard_normal(2**n) + 1j * rng.standard_normal(2**n)
    thetas, betas = rng.uniform(-2.0, 2.0, stages), rng.uniform(-2.0, 2.0, stages)
    if stages > 1:
        thetas[0] = 0.0  # a stage without rotation
    last = float(rng.uniform(-2.0, 2.0))
    prop = _split.SplitPropagator(energies, None, 1.0)
    state = prop.to_state(psi)
    assert state.size == 2 * max(2**n, 16)
    np.testing.assert_array_equal(prop.from_state(state), psi)
    evolve_stages_serial(state, prop.energies, thetas, betas, last, prop.n, prop.low)
    expected = _dense_stages(energies - energies.min(), thetas, betas, last, psi)
    np.testing.assert_allclose(prop.from_state(state), expected, rtol=0, atol=1e-12)
    # the padding amplitudes stay zero
    assert not np.any(state.reshape(-1, 2, 4).transpose(0, 2, 1).reshape(-1, 2)[2**n:])


@pytest.mark.parametrize("n, low", [(9, 8), (10, 8), (12, 10), (16, 8)])
def test_blocks_and_high_qubit_groups_match_one_block(n, low):
    # blocks of 2^low amplitudes in parallel, qubits low .. n-1 by the grouped pass: one tile
    # per group at (9, 8) and (10, 8), four at (12, 10); at (16, 8) two groups (6 + 2 qubits)
    # of 4 and 64 tiles
    rng = np.random.default_rng(n)
    energies = rng.uniform(0.0, 30.0, 2**n)
    psi = rng.standard_normal(2**n) + 1j * rng.standard_normal(2**n)
    thetas, betas = rng.uniform(-2.0, 2.0, 3), rng.uniform(-2.0, 2.0, 3)
    prop = _split.SplitPropagator(energies, None, 1.0)
    one, blocked = prop.to_state(psi), prop.to_state(psi)
    evolve_stages_serial(one, prop.energies, thetas, betas, 0.3, prop.n, min(n, 14))
    evolve_stages(blocked, prop.energies, thetas, betas, 0.3, prop.n, low)
    np.testing.assert_allclose(blocked, one, rtol=0, atol=1e-12)
    if n <= 10:
        expected = _dense_stages(energies - energies.min(), thetas, betas, 0.3, psi)
        np.testing.assert_allclose(prop.from_state(blocked), expected, rtol=0, atol=1e-11)
