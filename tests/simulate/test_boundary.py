"""boundary_terms: one qubit against the analytic values, random and degenerate problems
against a dense computation of the same sums, and the asymptotic loss of the dense-accurate
propagator: 1 - P(T) ~ (b0 + b1) / T^2 averaged over the oscillation."""

import math

import dimod
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulate
import spectral
from simulate import SimulationError
from tests import naive


@pytest.mark.parametrize("h", [0.3, -2.0])
def test_one_qubit_analytic(h):
    # scaled H_P = diag(-1, 1) (or reversed): the gap at s = 1 is 2 B(1); at s = 0 the one
    # spin excitation of H_D costs 2 A(0) and couples through B'(0) h = B'(0)
    bqm = dimod.BinaryQuadraticModel({"q": h}, {}, 0.0, "SPIN")
    bt = simulate.boundary_terms(bqm)
    assert bt.b0 == pytest.approx(1 / 16, rel=1e-12) and bt.b1 == pytest.approx(1 / 16, rel=1e-12)
    assert bt.t_boundary(0.99) == pytest.approx(math.sqrt(0.125 / 0.01))
    sine = spectral.Schedule.from_functions(lambda s: np.cos(np.pi * s / 2),
                                            lambda s: np.sin(np.pi * s / 2))
    bt = simulate.boundary_terms(bqm, sine)
    assert bt.b0 == pytest.approx((np.pi / 2) ** 2 / 16, rel=1e-6)
    assert bt.b1 == pytest.approx((np.pi / 2) ** 2 / 16, rel=1e-6)
    smooth = spectral.Schedule.from_functions(lambda s: (1 - s) ** 2, lambda s: s**2)
    bt = simulate.boundary_terms(bqm, smooth)  # zero slopes at both ends: no boundary loss
    assert bt.b0 == pytest.approx(0.0, abs=1e-10) and bt.b1 == pytest.approx(0.0, abs=1e-10)


def _dense_sum(bqm, s, d, derivative):
    """sum over the levels above the lowest d of |<m|H'|0>|^2 / (E_m - E_0)^4 at s, densely."""
    HD, HP = naive.dense_parts(bqm)
    vals, vecs = np.linalg.eigh((1 - s) * HD + s * HP)
    dA, dB = derivative
    hv = (dA * HD + dB * HP) @ vecs[:, 0]
    return sum(float(vecs[:, m] @ hv) ** 2 / (vals[m] - vals[0]) ** 4
               for m in range(d, vals.size))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(0, 2**31 - 1), st.booleans())
def test_against_a_dense_computation_of_the_sums(n, seed, integer):
    """b0 from the eigenvectors of H(0); b1 as the limit s -> 1 of the same sum over the
    levels above the ground manifold (at s = 1 - 1e-5, an O(1e-5) difference). Integer biases
    make degenerate ground manifolds, where perturbation theory picks the limit state."""
    rng = np.random.default_rng(seed)
    if integer:
        lin = {i: float(rng.integers(-1, 2)) for i in range(n)}
        quad = {(i, j): float(rng.integers(-1, 2)) for i in range(n) for j in range(i + 1, n)}
        bqm = dimod.BinaryQuadraticModel(lin, quad, 0.0, "SPIN")
        if all(v == 0 for v in [*lin.values(), *quad.values()]):
            return
    else:
        bqm = naive.random_bqm(rng, n, "SPIN")
    bt = simulate.boundary_terms(bqm)
    E = naive.problem_energies(bqm)
    d = naive.ground_degeneracy(E)
    assert bt.degeneracy == d
    assert bt.b0 == pytest.approx(_dense_sum(bqm, 0.0, 1, (-1.0, 1.0)), rel=1e-9, abs=1e-12)
    if bt.limit_dimension == 1:
        eps = 1e-5
        assert bt.b1 == pytest.approx(_dense_sum(bqm, 1 - eps, d, (-1.0, 1.0)), rel=1e-3)


def test_degenerate_manifold_joined_by_a_single_flip():
    # E(z) = z0 z1 - z1 z2 ... with a ground pair that differs by one flip: first-order
    # perturbation theory picks their symmetric combination
    bqm = dimod.BinaryQuadraticModel({0: 1.0}, {(1, 2): -1.0}, 0.0, "SPIN")
    bqm.add_linear(1, 0.0)
    E = naive.problem_energies(bqm)
    assert naive.ground_degeneracy(E) == 2
    bt = simulate.boundary_terms(bqm)
    assert bt.limit_dimension == 1
    assert bt.b1 == pytest.approx(_dense_sum(bqm, 1 - 1e-5, 2, (-1.0, 1.0)), rel=1e-3)


def test_sector_hamiltonian_gives_the_same_terms():
    bqm = dimod.BinaryQuadraticModel({}, {(0, 1): -1.0, (1, 2): 0.5, (0, 2): -0.7}, 0.0, "SPIN")
    even = spectral.AnnealingHamiltonian.from_bqm(bqm, sector="even")
    a, b = simulate.boundary_terms(even), simulate.boundary_terms(bqm)
    assert (a.b0, a.b1) == pytest.approx((b.b0, b.b1), rel=1e-12)
    assert a.degeneracy == 2  # the pair z, -z of the full space


def test_asymptotic_loss_of_the_propagator():
    """T^2 (1 - P(T)) oscillates around b0 + b1 once T is well past 1 / Delta_min^2."""
    rng = np.random.default_rng(11)
    bqm = naive.random_bqm(rng, 3, "SPIN")
    gap = spectral.min_gap(bqm).delta_min
    bt = simulate.boundary_terms(bqm)
    T0 = 40.0 / gap**2
    Ts = np.linspace(T0, 3 * T0, 61)
    loss = np.array([T**2 * (1 - simulate.success_probability(bqm, T, tol=1e-11)) for T in Ts])
    assert np.mean(loss) == pytest.approx(bt.total, rel=0.08)
    # and the oscillation stays within the interference bounds (|c0| +- |c1|)^2
    hi = (math.sqrt(bt.b0) + math.sqrt(bt.b1)) ** 2
    lo = (math.sqrt(bt.b0) - math.sqrt(bt.b1)) ** 2
    assert np.all(loss < 1.1 * hi) and np.all(loss > 0.9 * lo)


def test_bad_schedules_are_refused():
    bqm = dimod.BinaryQuadraticModel({0: 1.0}, {}, 0.0, "SPIN")
    offset = spectral.Schedule.from_functions(lambda s: 1 - s, lambda s: 0.1 + s)
    with pytest.raises(SimulationError, match="B\\(0\\) = 0 and A\\(1\\) = 0"):
        simulate.boundary_terms(bqm, offset)
    with pytest.raises(SimulationError, match="p must be in"):
        simulate.boundary_terms(bqm).t_boundary(1.0)
