"""The split propagator on a torch device (``anneal(..., device=)``) against the Numba split
propagator and a dense reference, on CPU torch: final states, P(T), error control, fixed dt,
checkpoints, the errors."""

import dimod
import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import simulate
import spectral
from simulate._split import SUZUKI4
from simulate._torch_split import DRIVER_CHUNK_BITS, TorchSplitPropagator
from studies.problems import _random_selection
from tests import naive

pytestmark = pytest.mark.usefixtures("torch_single_thread")


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 9), st.sampled_from([dimod.BINARY, dimod.SPIN]),
       st.integers(0, 2**32 - 1), st.sampled_from([None, 0.25]))
def test_torch_split_equals_numba_split(n, vartype, seed, dt):
    bqm = naive.random_bqm(np.random.default_rng(seed), n, vartype)
    cpu = simulate.anneal(bqm, 8.0, dt=dt, checkpoints=[0.5])
    dev = simulate.anneal(bqm, 8.0, dt=dt, checkpoints=[0.5], device="cpu")
    assert dev.method == "split" and dev.info["steps"] == cpu.info["steps"]
    assert dev.p_success == pytest.approx(cpu.p_success, abs=1e-8)
    np.testing.assert_allclose(dev.ground_population, cpu.ground_population, atol=1e-8)
    np.testing.assert_allclose(dev.final_state, cpu.final_state, atol=1e-9)


def test_torch_split_at_n12_spans_two_driver_passes():
    n = 2 * DRIVER_CHUNK_BITS
    bqm, _, _ = _random_selection(n, 3, "proven", 0.5)
    cpu = simulate.success_probability(bqm, 5.0)
    dev = simulate.success_probability(bqm, 5.0, device="cpu")
    assert dev == pytest.approx(cpu, abs=1e-8)


def test_one_stage_equals_the_dense_exponentials():
    # exp(-i theta H_D) exp(-i beta H_P) psi, H_D = -sum X_i, against scipy's expm
    n = DRIVER_CHUNK_BITS + 2  # a full chunk and a partial one
    rng = np.random.default_rng(11)
    energies = rng.normal(size=2**n)
    prop = TorchSplitPropagator(energies, spectral.Schedule.linear(), 1.0,
                                SUZUKI4, "cpu")
    psi = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    theta, beta = 0.37, 0.81
    state = prop.to_state(psi)
    work = torch.empty_like(state)
    prop._phase(state, beta, work)
    out = prop.from_state(prop._drive(state, theta, work))
    H = spectral.AnnealingHamiltonian.from_bqm(
        naive.random_bqm(rng, n, dimod.SPIN), sector="full")
    HD = H.to_dense(0.0) / H.coefficients(0.0)[0]  # -sum X_i
    shifted = energies - energies.min()
    want = scipy.linalg.expm(-1j * theta * HD) @ (np.exp(-1j * beta * shifted) * psi)
    np.testing.assert_allclose(out, want, atol=1e-12)


def test_time_to_target_takes_a_device():
    bqm = naive.random_bqm(np.random.default_rng(4), 4, dimod.BINARY)
    assert simulate.time_to_target(bqm, 0.9, device="cpu") == pytest.approx(
        simulate.time_to_target(bqm, 0.9), rel=1e-9)


def test_device_errors_are_clear():
    bqm = naive.random_bqm(np.random.default_rng(6), 4, dimod.BINARY)
    with pytest.raises(simulate.SimulationError, match="CPU only"):
        simulate.anneal(bqm, 1.0, method="dop853", device="cpu")
    with pytest.raises(simulate.SimulationError, match="no registered method"):
        simulate.anneal(bqm, 1.0, dephasing=0.1, device="cpu")
    with pytest.raises(spectral.SpectralError, match="torch device"):
        simulate.anneal(bqm, 1.0, device="abacus")
    if not torch.cuda.is_available():
        with pytest.raises(spectral.SpectralError, match="sees no CUDA GPU"):
            simulate.anneal(bqm, 1.0, device="cuda")
    with pytest.raises(spectral.SpectralError, match="split time evolution .* needs"):
        simulate.anneal(bqm, 1.0, device="cpu", memory_limit=100.0)
