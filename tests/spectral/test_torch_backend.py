"""The torch backend (``device=``) against the Numba backends and dense references, on CPU
torch: the operator, the levels, the minimum gap; BINARY and SPIN, both sectors,
degenerate ground manifolds; the errors."""

import dimod
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import spectral
from spectral._torch import DRIVER_CHUNK_BITS, TorchOperator
from studies.problems import _random_selection
from tests import naive

pytestmark = pytest.mark.usefixtures("torch_single_thread")


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 11), st.sampled_from([dimod.BINARY, dimod.SPIN]), st.booleans(),
       st.integers(0, 2**32 - 1), st.integers(1, 3))
def test_operator_equals_the_numba_operator(n, vartype, linear, seed, rows):
    rng = np.random.default_rng(seed)
    bqm = naive.random_bqm(rng, n, vartype, linear=linear)
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)  # "auto": the even sector where symmetric
    a, b = rng.uniform(-2, 2, 2)
    x = rng.standard_normal((rows, H.dim))
    got = TorchOperator(H, "cpu").apply(a, b, torch.as_tensor(x)).numpy()
    want = H.apply(a, b, x.copy())
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * max(1.0, np.abs(want).max()))
    one = TorchOperator(H, "cpu").apply(a, b, torch.as_tensor(x[0])).numpy()
    np.testing.assert_allclose(one, want[0], rtol=0, atol=1e-12 * max(1.0, np.abs(want).max()))


def test_operator_spans_several_driver_chunks():
    n = 2 * DRIVER_CHUNK_BITS + 1  # three chunks, the last of one bit
    bqm = naive.random_bqm(np.random.default_rng(3), n, dimod.BINARY)
    H = spectral.AnnealingHamiltonian.from_bqm(bqm, sector="full")
    op = TorchOperator(H, "cpu")
    assert [c for _, c, _ in op.chunks] == [DRIVER_CHUNK_BITS, DRIVER_CHUNK_BITS, 1]
    x = np.random.default_rng(4).standard_normal(H.dim)
    np.testing.assert_allclose(op.driver(torch.as_tensor(x)).numpy(), H.apply(1.0, 0.0, x),
                               atol=1e-12)


@pytest.mark.parametrize("s", [0.1, 0.5, 0.93])
def test_lowest_levels_on_torch_match_dense(s):
    bqm = naive.random_bqm(np.random.default_rng(7), 9, dimod.SPIN)
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)
    lv = spectral.lowest_levels(H, s, 4, device="cpu")
    assert lv.backend == "torch"
    dense = np.linalg.eigvalsh(H.to_dense(s))[:4]
    np.testing.assert_allclose(lv.energies, dense, atol=1e-9)
    assert np.all(lv.residuals <= 1e-10 * (9 + H.max_abs_energy()))


def _same_gap(bqm):
    numba = spectral.min_gap(bqm)
    calls = []
    torch_backend = spectral.BACKENDS["torch"]

    def spy(*args, **kwargs):
        calls.append(kwargs.get("device"))
        return torch_backend(*args, **kwargs)

    spectral.BACKENDS["torch"] = spy
    try:
        on_torch = spectral.min_gap(bqm, device="cpu")
    finally:
        spectral.BACKENDS["torch"] = torch_backend
    assert calls and set(calls) == {"cpu"}  # every solve ran on the torch backend
    assert on_torch.sector == numba.sector and on_torch.degeneracy == numba.degeneracy
    assert on_torch.delta_min == pytest.approx(numba.delta_min, rel=1e-9)
    assert on_torch.s_star == pytest.approx(numba.s_star, abs=1e-6)
    return numba


@pytest.mark.parametrize("n, seed", [(8, 0), (12, 1), (14, 2)])
def test_min_gap_on_torch_equals_numba_on_selection_problems(n, seed):
    bqm, _, _ = _random_selection(n, seed, "proven", 0.5)  # BINARY, full sector
    assert _same_gap(bqm).sector == "full"


@settings(max_examples=6, deadline=None)
@given(st.integers(3, 10), st.integers(0, 2**32 - 1))
def test_min_gap_on_torch_equals_numba_in_the_even_sector(n, seed):
    bqm = naive.random_bqm(np.random.default_rng(seed), n, dimod.SPIN, linear=False)
    assert _same_gap(bqm).sector == "even"


def test_min_gap_on_torch_equals_numba_with_a_twofold_ground_state():
    bqm = dimod.BinaryQuadraticModel({0: -1.0, 1: -1.0, 2: 0.5}, {(0, 1): 2.0}, 0.0, "BINARY")
    for i in range(3, 9):  # widen it to a dimension that Lanczos, not dense, solves
        bqm.add_linear(i, 0.3 + 0.1 * i)
    assert _same_gap(bqm).degeneracy == 2


def test_gap_sweep_runs_the_torch_backend_on_the_device_it_is_given():
    # the same gaps alone would pass with the device dropped: every point must say it ran
    # on the torch backend, and a device torch cannot use must be refused
    bqm = naive.random_bqm(np.random.default_rng(5), 8, dimod.SPIN)
    s = np.linspace(0.1, 0.9, 7)  # inside: the ends are solved exactly on any backend
    on_device = spectral.gap_sweep(bqm, s, device="cpu")
    assert on_device.backends == ("torch",) * s.size
    assert "torch" not in spectral.gap_sweep(bqm, s).backends
    np.testing.assert_allclose(on_device.gaps, spectral.gap_sweep(bqm, s).gaps, rtol=1e-8)
    with pytest.raises(spectral.SpectralError, match="torch device"):
        spectral.gap_sweep(bqm, s, device="abacus")


def test_device_errors_are_clear():
    bqm = naive.random_bqm(np.random.default_rng(6), 8, dimod.SPIN)
    with pytest.raises(spectral.SpectralError, match="runs the 'torch' backend"):
        spectral.min_gap(bqm, backend="davidson", device="cpu")
    with pytest.raises(spectral.SpectralError, match="torch device"):
        spectral.lowest_levels(spectral.AnnealingHamiltonian.from_bqm(bqm), 0.5, 2,
                               device="abacus")
    if not torch.cuda.is_available():
        with pytest.raises(spectral.SpectralError, match="sees no CUDA GPU"):
            spectral.min_gap(bqm, device="cuda")
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)
    with pytest.raises(spectral.SpectralError, match="torch eigensolver .* needs"):
        spectral.lowest_levels(H, 0.5, 2, device="cpu", memory_limit=1000.0, retry=False)


def test_torch_is_a_registered_backend_and_auto_keeps_numba_without_a_gpu():
    assert "torch" in spectral.BACKENDS
    from spectral._levels import resolve_backend

    H = spectral.AnnealingHamiltonian.from_bqm(naive.random_bqm(np.random.default_rng(8), 6,
                                                                dimod.SPIN))
    assert resolve_backend("auto", "cpu", H) == "torch"
    assert resolve_backend("auto", None, H) == "auto"
