"""AnnealingHamiltonian: conventions, the Numba matvec, sectors, scaling, inputs untouched."""

import copy

import dimod
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import spectral
from tests import naive

VARTYPES = [dimod.BINARY, dimod.SPIN]


@st.composite
def bqms(draw, max_n=8, min_n=1, linear=True):
    n = draw(st.integers(min_n, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    vartype = draw(st.sampled_from(VARTYPES))
    return naive.random_bqm(np.random.default_rng(seed), n, vartype, linear=linear)


@given(bqms(max_n=10))
def test_diagonal_equals_dimod_energies(bqm):
    H = spectral.AnnealingHamiltonian.from_bqm(bqm, scale=None)
    np.testing.assert_allclose(H.diagonal(), naive.problem_energies(bqm), rtol=0, atol=1e-10)


def test_diagonal_beyond_one_block_equals_dimod_energies():
    # 15 variables cross the 12-bit block of the diagonal computation
    bqm = naive.random_bqm(np.random.default_rng(5), 15, dimod.BINARY)
    H = spectral.AnnealingHamiltonian.from_bqm(bqm, scale=None)
    np.testing.assert_allclose(H.diagonal(), naive.problem_energies(bqm), rtol=0, atol=1e-9)


@given(bqms(max_n=7), st.floats(0.0, 1.0))
def test_dense_matches_kronecker_reference(bqm, s):
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)
    np.testing.assert_allclose(H.to_dense(s), naive.dense_hamiltonian(bqm, s), atol=1e-12)
    np.testing.assert_allclose(H.to_sparse(s).toarray(), H.to_dense(s), atol=1e-12)


@pytest.mark.parametrize("n", [1, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 20])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_matvec_equals_sparse_product(n, dtype):
    # n < 4: the scalar path; n = 4..12: one block, its bits above 3 in register passes of
    # 1, 2, 3, 4 levels (n = 5..8) and 4 + 2, 4 + 3, 4 + 4 (n = 10..12); n = 13..20: blocks
    # of 2**12 states with one high bit, two, then the last four bits in the output pass:
    # alone (n = 16), after one bit (17), after a pass of four (20)
    rng = np.random.default_rng(n)
    H = spectral.AnnealingHamiltonian.from_bqm(naive.random_bqm(rng, n, dimod.BINARY))
    v = rng.standard_normal(H.dim).astype(dtype)
    if dtype is np.complex128:
        v = v + 1j * rng.standard_normal(H.dim)
    v_before = v.copy()
    s = 0.37
    out = H.matvec(s, v)
    # to_sparse is built by index arithmetic, not by the kernel (and is checked against
    # Kronecker products in test_sparse_driver_is_independent_of_kernel)
    np.testing.assert_allclose(out, H.to_sparse(s) @ v, atol=1e-11)
    np.testing.assert_array_equal(v, v_before)


@pytest.mark.parametrize("n, sector", [(13, "even"), (14, "odd"), (16, "even"), (17, "odd")])
def test_sector_matvec_equals_sparse_product_beyond_one_block(n, sector):
    # sector bases of 2**(n-1) states: the mirrored partner block of the blocked kernel
    rng = np.random.default_rng(n)
    bqm = naive.random_bqm(rng, n, dimod.SPIN, linear=False)
    H = spectral.AnnealingHamiltonian.from_bqm(bqm, sector=sector)
    assert H.dim == 2 ** (n - 1)
    v = rng.standard_normal(H.dim)
    np.testing.assert_allclose(H.matvec(0.41, v), H.to_sparse(0.41) @ v, atol=1e-11)


def test_sparse_driver_is_independent_of_kernel():
    # to_sparse builds H_D by index arithmetic, not by the kernel: compare with Kronecker
    bqm = naive.random_bqm(np.random.default_rng(2), 6, dimod.SPIN)
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)
    np.testing.assert_allclose(H.to_sparse(0.6).toarray(), naive.dense_hamiltonian(bqm, 0.6), atol=1e-12)
    sym = spectral.AnnealingHamiltonian.from_bqm(naive.random_bqm(np.random.default_rng(2), 6, dimod.SPIN, linear=False), sector="even")
    np.testing.assert_allclose(sym.to_sparse(0.6).toarray(), sym.to_dense(0.6), atol=1e-12)


def test_block_matvec_applies_each_row():
    rng = np.random.default_rng(0)
    H = spectral.AnnealingHamiltonian.from_bqm(naive.random_bqm(rng, 6, dimod.BINARY))
    V = rng.standard_normal((3, H.dim))
    np.testing.assert_allclose(H.matvec(0.5, V), (H.to_dense(0.5) @ V.T).T, atol=1e-12)


def test_bit_order_with_string_labels():
    # variable i of list(bqm.variables) is bit i, whatever the labels' sort order
    bqm = dimod.BinaryQuadraticModel("BINARY")
    bqm.add_variable("zeta", 1.0)
    bqm.add_variable("alpha", -2.0)
    bqm.add_variable("mid", 0.25)
    bqm.add_interaction("zeta", "mid", 3.0)
    bqm.offset = 0.5
    H = spectral.AnnealingHamiltonian.from_bqm(bqm, scale=None)
    assert list(bqm.variables) == ["zeta", "alpha", "mid"]
    assert H.variables == ("zeta", "alpha", "mid")
    for b in range(8):
        sample = {"zeta": b & 1, "alpha": (b >> 1) & 1, "mid": (b >> 2) & 1}
        assert H.diagonal()[b] == pytest.approx(bqm.energy(sample), abs=1e-12)
    # binary 1 <-> spin +1: the same problem as SPIN has the same diagonal
    H_spin = spectral.AnnealingHamiltonian.from_bqm(bqm.change_vartype("SPIN", inplace=False), scale=None)
    np.testing.assert_allclose(H_spin.diagonal(), H.diagonal(), atol=1e-12)


def test_auto_scale_is_largest_ising_bias_and_recorded():
    bqm = dimod.BinaryQuadraticModel({0: 4.0, 1: -1.0}, {(0, 1): 2.0}, 0.0, "BINARY")
    h, J, _ = bqm.to_ising()
    expected = max(map(abs, [*h.values(), *J.values()]))
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)
    assert H.scale == pytest.approx(expected)
    raw = spectral.AnnealingHamiltonian.from_bqm(bqm, scale=None)
    assert raw.scale == 1.0
    np.testing.assert_allclose(H.diagonal() * H.scale, raw.diagonal(), atol=1e-12)
    assert spectral.AnnealingHamiltonian.from_bqm(bqm, scale=2.0).scale == 2.0


@given(bqms(max_n=7, min_n=2, linear=False).filter(lambda b: b.vartype is dimod.SPIN))
def test_sectors_partition_the_spectrum(bqm):
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)
    assert H.problem.has_spin_flip_symmetry
    s = 0.45
    full = np.linalg.eigvalsh(H.to_dense(s))
    even = np.linalg.eigvalsh(H.in_sector("even").to_dense(s))
    odd = np.linalg.eigvalsh(H.in_sector("odd").to_dense(s))
    np.testing.assert_allclose(np.sort(np.r_[even, odd]), full, atol=1e-10)
    P = naive.even_sector_projector(bqm.num_variables)
    ref_even = np.linalg.eigvalsh(P.T @ naive.dense_hamiltonian(bqm, s) @ P)
    np.testing.assert_allclose(even, ref_even, atol=1e-10)


def test_sector_needs_symmetry():
    bqm = dimod.BinaryQuadraticModel({0: 1.0}, {(0, 1): 1.0}, 0.0, "SPIN")
    with pytest.raises(spectral.SpectralError, match="spin-flip symmetry"):
        spectral.AnnealingHamiltonian.from_bqm(bqm, sector="even")
    assert spectral.AnnealingHamiltonian.from_bqm(bqm, sector="auto").sector == "full"


@given(bqms(max_n=6))
def test_inputs_are_not_mutated(bqm):
    before = copy.deepcopy(bqm)
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)
    spectral.min_gap(H, coarse_points=5)
    assert bqm == before and bqm.vartype is before.vartype
    assert list(bqm.variables) == list(before.variables)


def test_diagonal_is_read_only():
    H = spectral.AnnealingHamiltonian.from_bqm(dimod.BinaryQuadraticModel({0: 1.0}, {}, 0, "SPIN"))
    with pytest.raises(ValueError):
        H.diagonal()[0] = 5.0


@pytest.mark.parametrize(
    "bqm, match",
    [
        (dimod.BinaryQuadraticModel("BINARY"), "empty"),
        (dimod.BinaryQuadraticModel({0: float("nan")}, {}, 0.0, "SPIN"), "non-finite"),
        (dimod.BinaryQuadraticModel({0: 1.0, 1: 0.0}, {(0, 1): float("inf")}, 0.0, "SPIN"), "non-finite"),
        (dimod.BinaryQuadraticModel({0: 1.0}, {}, float("nan"), "SPIN"), "non-finite"),
    ],
)
def test_bad_bqm_gets_a_clear_error(bqm, match):
    with pytest.raises(spectral.SpectralError, match=match):
        spectral.AnnealingHamiltonian.from_bqm(bqm)


def test_not_a_bqm():
    with pytest.raises(TypeError, match="BinaryQuadraticModel"):
        spectral.AnnealingHamiltonian.from_bqm({0: 1.0})


@pytest.mark.parametrize("scale", ["max", -1.0, 0.0, float("nan")])
def test_bad_scale(scale):
    bqm = dimod.BinaryQuadraticModel({0: 1.0}, {}, 0.0, "SPIN")
    with pytest.raises(spectral.SpectralError, match="scale"):
        spectral.AnnealingHamiltonian.from_bqm(bqm, scale=scale)


def test_memory_guard_names_n_and_sizes():
    bqm = naive.random_bqm(np.random.default_rng(0), 10, dimod.BINARY)
    # 2^10 float64 = 8 KiB; sizes below 1 KiB in bytes, not "0.00 GiB"
    with pytest.raises(spectral.MemoryGuardError,
                       match=r"n = 10 qubits needs about 8\.00 KiB, but only 1000 bytes") as info:
        spectral.AnnealingHamiltonian.from_bqm(bqm, memory_limit=1000)
    assert info.value.n == 10 and info.value.required_bytes > 1000
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)
    with pytest.raises(spectral.MemoryGuardError, match="dense"):
        H.to_dense(0.5, memory_limit=1e5)
    with pytest.raises(spectral.MemoryGuardError, match="memory_limit"):
        spectral.lowest_levels(H, 0.5, 2, backend="dense", memory_limit=1e5)


def test_memory_guard_refuses_huge_n_before_allocating():
    # 40 variables would need 8 TiB for the diagonal alone
    bqm = dimod.BinaryQuadraticModel({i: 1.0 for i in range(40)}, {}, 0.0, "SPIN")
    with pytest.raises(spectral.MemoryGuardError, match="n = 40"):
        spectral.AnnealingHamiltonian.from_bqm(bqm)


def test_hellmann_feynman_slopes_match_finite_differences():
    rng = np.random.default_rng(4)
    bqm = naive.random_bqm(rng, 5, dimod.BINARY)
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)
    s, h = 0.4, 1e-6
    vals, vecs = np.linalg.eigh(H.to_dense(s))
    slopes = H.level_slopes(s, vecs[:, :3].T)
    fd = (np.linalg.eigvalsh(H.to_dense(s + h))[:3] - np.linalg.eigvalsh(H.to_dense(s - h))[:3]) / (2 * h)
    np.testing.assert_allclose(slopes, fd, atol=1e-6)
