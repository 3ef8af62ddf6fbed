"""D-Wave units: the converted anneal against a direct integration of D-Wave's GHz / ns
Hamiltonian, schedule files, and the statistics of QPU samples."""

import math

import dimod
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp
from scipy.stats import norm

import simulate
from simulate import SimulationError
from simulate.dwave import (DWaveSchedule, approximate_schedule, boltzmann_distribution,
                            boltzmann_ground_probability, enumerate_energies, fit_beta,
                            load_schedule, physical_beta, to_dimensionless, wilson_interval)
from tests import naive


def _dwave_reference(bqm, schedule, t_knots_us, s_knots, divisor):
    """P(ground) by integrating i dpsi/dt = 2 pi H(t) psi, H/h = -A/2 sum X + B/2 E/divisor
    (GHz), t in ns: D-Wave's own convention, written out independently."""
    n = bqm.num_variables
    E = naive.problem_energies(bqm.change_vartype("SPIN", inplace=False)) - bqm.offset
    HD = -sum(naive.single_site(np.array([[0.0, 1.0], [1.0, 0.0]]), i, n) for i in range(n))
    HP = np.diag(E / divisor)
    T_ns = 1000.0 * t_knots_us[-1]

    def H(t):
        s = np.interp(t / 1000.0, t_knots_us, s_knots)
        A, B = schedule(s)
        return 2 * math.pi * (A / 2 * HD + B / 2 * HP)

    w, v = np.linalg.eigh(H(0.0))
    psi0 = v[:, 0].astype(complex)
    sol = solve_ivp(lambda t, y: -1j * (H(t) @ y), (0.0, T_ns), psi0, method="DOP853",
                    rtol=1e-11, atol=1e-12)
    psi = sol.y[:, -1]
    ground = E <= E.min() + 1e-9
    return float(np.sum(np.abs(psi[ground]) ** 2))


@pytest.mark.parametrize("divisor", [1.0, 2.5])
def test_linear_anneal_in_ghz_and_ns_matches_the_dimensionless_one(divisor):
    bqm = dimod.BinaryQuadraticModel({"a": 0.3, "b": -0.2}, {("a", "b"): 0.45}, 0.7, "SPIN")
    sched = approximate_schedule()
    t_us = 0.001  # 1 ns: fast enough that P is far from 0 and 1 (0.58, 0.42)
    p_ref = _dwave_reference(bqm, sched, np.array([0.0, t_us]), np.array([0.0, 1.0]), divisor)
    schedule, T = to_dimensionless(sched, annealing_time_us=t_us, scale=1.0, divisor=divisor)
    assert T == pytest.approx(1.0)
    p = simulate.anneal(bqm, T, schedule=schedule, scale=None, tol=1e-9).p_success
    assert 0.05 < p_ref < 0.95
    assert p == pytest.approx(p_ref, abs=1e-6)


def test_anneal_schedule_with_a_pause_and_a_scaled_hamiltonian():
    bqm = dimod.BinaryQuadraticModel({0: 1.0, 1: -0.5, 2: 0.25}, {(0, 1): -1.5, (1, 2): 0.8},
                                     0.0, "BINARY")
    sched = approximate_schedule()
    knots = [(0.0, 0.0), (0.0005, 0.3), (0.001, 0.3), (0.0015, 1.0)]
    t, s = np.array(knots).T
    p_ref = _dwave_reference(bqm, sched, t, s, divisor=1.0)
    H = simulate._anneal.as_hamiltonian(bqm, None, "auto", "full", None)  # scale = max |h, J|
    schedule, T = to_dimensionless(sched, anneal_schedule=knots, scale=H.scale)
    assert T == pytest.approx(1.5)
    assert 0.02 < p_ref < 0.98
    p = simulate.anneal(bqm, T, schedule=schedule, scale=H.scale, tol=1e-9).p_success
    assert p == pytest.approx(p_ref, abs=1e-6)


def test_schedule_files_and_bad_input(tmp_path):
    sched = approximate_schedule(11)
    assert "approximate" in sched.name
    assert sched.A[0] == pytest.approx(10.0) and sched.A[-1] == 0.0
    assert 7.0 < sched.B[-1] < 8.0
    cross = sched.s[np.argmin(np.abs(sched.A - sched.B))]
    assert 0.2 < cross < 0.4
    path = tmp_path / "qpu.csv"
    path.write_text("s,A(s) (GHz),B(s) (GHz),extra\n" +
                    "".join(f"{a},{b},{c},9\n" for a, b, c in zip(sched.s, sched.A, sched.B)))
    loaded = load_schedule(path)
    np.testing.assert_allclose(loaded.A, sched.A)
    assert loaded.sha256 == sched.sha256
    assert DWaveSchedule(sched.s, sched.A, 2 * sched.B, "x").sha256 != sched.sha256
    with pytest.raises(SimulationError, match="does not exist"):
        load_schedule(tmp_path / "missing.csv")
    (tmp_path / "bad.csv").write_text("s,A,B\n0.5,1,1\n0.2,1,1\n")
    with pytest.raises(SimulationError, match="increase strictly from 0 to 1"):
        load_schedule(tmp_path / "bad.csv")
    with pytest.raises(SimulationError, match="exactly one"):
        to_dimensionless(sched)
    with pytest.raises(SimulationError, match="annealing_time must be > 0"):
        to_dimensionless(sched, annealing_time_us=0.0)
    with pytest.raises(SimulationError, match="pairs|forward"):
        to_dimensionless(sched, anneal_schedule=[(0, 0), (1, 0.5), (0.5, 1)])


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 400), st.data(), st.sampled_from([0.8, 0.95, 0.99]))
def test_wilson_interval_endpoints_solve_the_score_equation(trials, data, confidence):
    k = data.draw(st.integers(0, trials))
    lo, hi = wilson_interval(k, trials, confidence)
    z = norm.ppf(0.5 + confidence / 2)
    p_hat = k / trials
    assert 0.0 <= lo <= p_hat <= hi <= 1.0
    for p in (lo, hi):
        if 0.0 < p < 1.0:
            assert (p_hat - p) ** 2 == pytest.approx(z * z * p * (1 - p) / trials, abs=1e-12)
    with pytest.raises(SimulationError):
        wilson_interval(k + 1 + trials, trials)


def test_boltzmann_model_against_exact_solver_and_the_fit_recovers_beta():
    rng = np.random.default_rng(5)
    bqm = naive.random_bqm(rng, 6, "SPIN")
    E, variables = enumerate_energies(bqm)
    exact = dimod.ExactSolver().sample(bqm)
    assert sorted(E) == pytest.approx(sorted(exact.record.energy))
    beta = 1.7
    p = boltzmann_distribution(E, beta)
    w = np.exp(-beta * np.asarray(exact.record.energy))
    ground = exact.record.energy <= exact.first.energy + 1e-9
    assert boltzmann_ground_probability(E, beta) == pytest.approx(w[ground].sum() / w.sum())
    draws = rng.choice(E.size, size=200_000, p=p)
    fitted = fit_beta(E, E[draws])
    assert fitted == pytest.approx(beta, rel=0.02)
    # stationarity of the log-likelihood, by finite differences (independent of the mean rule)
    def loglik(b):
        return float(np.sum(np.log(boltzmann_distribution(E, b)[draws])))
    slope = (loglik(fitted + 1e-4) - loglik(fitted - 1e-4)) / 2e-4
    assert abs(slope) < 1e-2 * draws.size
    assert fit_beta(E, [E.max()] * 3) == 0.0
    assert fit_beta(E, [E.min()]) == 1e4


def test_physical_beta_units():
    # B(s*) = 2 GHz, 12 mK: k_B T / h = 0.25 GHz -> beta = 2 / (2 * 0.25) = 4 per unit energy
    assert physical_beta(2.0, 12.0) == pytest.approx(2.0 / (2 * 20.836619 * 0.012))
    assert physical_beta(2.0, 12.0, divisor=2.0) == pytest.approx(physical_beta(1.0, 12.0))
    with pytest.raises(SimulationError):
        physical_beta(1.0, 0.0)


@pytest.mark.parametrize("A, B, words", [
    ([10.0, 1.0, 0.0], [0.2, -0.5, 7.5], r"B\(s\) < 0 at s = \[0\.5\] .*-0\.5 GHz"),
    ([10.0, 1.0, 0.0], [0.2, 3.0, 0.0], r"B\(1\) = 0 GHz must be > 0"),
    ([0.0, 1.0, 0.0], [0.2, 3.0, 7.5], r"A\(0\) = 0 GHz must be > 0"),
])
def test_a_dwave_table_obeys_the_rule_of_every_schedule(A, B, words):
    # one rule for every schedule (spectral.Schedule.check_values), here in GHz
    with pytest.raises(SimulationError, match=words):
        DWaveSchedule(np.array([0.0, 0.5, 1.0]), np.array(A), np.array(B), name="table")
