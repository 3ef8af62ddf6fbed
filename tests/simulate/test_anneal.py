"""anneal(): every method against an independent dense propagator, Landau-Zener, agreement,
conservation, the adiabatic limit, and clear errors."""

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

#: every registered integrator (the registry, not a list kept here)
METHODS = list(simulate.METHODS)


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=8, deadline=None)
@given(st.integers(1, 5), st.sampled_from(["SPIN", "BINARY"]), st.integers(0, 2**31 - 1),
       st.sampled_from([2.0, 9.0]))
def test_every_method_matches_the_dense_propagator(method, n, vartype, seed, T):
    """State, P(T) and norm of each registered method against an independent dense
    propagator."""
    bqm = naive.random_bqm(np.random.default_rng(seed), n, vartype)
    psi = naive.dense_evolution(bqm, T)
    E = naive.problem_energies(bqm)
    ground = E <= E.min() + 1e-9 * max(1.0, abs(E.min()))
    p_ref = float(np.sum(np.abs(psi[ground]) ** 2))
    res = simulate.anneal(bqm, T, method=method)
    assert res.method == method
    assert res.p_success == pytest.approx(p_ref, abs=1e-6)
    assert abs(np.vdot(psi, res.final_state)) == pytest.approx(1.0, abs=2e-6)
    assert np.linalg.norm(res.final_state) == pytest.approx(1.0, abs=2e-6)


def test_eight_qubits_against_dense_propagator():
    bqm = naive.random_bqm(np.random.default_rng(8), 8, "BINARY")
    psi = naive.dense_evolution(bqm, 10.0)
    for method in METHODS:
        res = simulate.anneal(bqm, 10.0, method=method)
        assert abs(np.vdot(psi, res.final_state)) == pytest.approx(1.0, abs=2e-6), method


@pytest.mark.parametrize("method", METHODS)
def test_landau_zener(method):
    # one qubit: H = A (-X) + B(s) diag(0, h), B sweeping from -L to L: the diagonal splitting
    # eps = B h crosses 0 at rate v = 2 h L / T; the minimum gap is Delta = 2 A
    h, L, A0, T = 1.0, 60.0, 0.25, 150.0
    schedule = spectral.Schedule.from_functions(lambda s: A0 + 0 * s, lambda s: L * (2 * s - 1),
                                                signed=True)  # B changes sign: not an anneal
    bqm = dimod.BinaryQuadraticModel({"q": h}, {}, 0.0, "BINARY")
    res = simulate.anneal(bqm, T, schedule=schedule, scale=None, method=method)
    v = 2 * h * L / T
    delta = 2 * A0
    p_lz = 1 - math.exp(-math.pi * delta**2 / (2 * v))
    assert 0.3 < p_lz < 0.7  # a sensitive regime
    assert res.p_success == pytest.approx(p_lz, abs=3e-3)


@settings(max_examples=12, deadline=None)
@given(st.integers(1, 7), st.integers(0, 2**31 - 1), st.sampled_from([0.1, 0.5, 3.0, 7.0, 40.0]),
       st.sampled_from([1e-3, 1e-6, 1e-8]))
def test_dop853_final_state_error_is_within_tol(n, seed, T, tol):
    # the controller holds each local error estimate to tol * h / T; unitarity makes their sum
    # a bound on the final-state error (up to a global phase: the propagator shifts H by <H>)
    bqm = naive.random_bqm(np.random.default_rng(seed), n, "SPIN")
    psi = naive.dense_evolution(bqm, T)
    res = simulate.anneal(bqm, T, method="dop853", tol=tol)
    phase = np.vdot(res.final_state, psi)
    error = np.linalg.norm(psi - res.final_state * phase / abs(phase))
    assert error <= tol
    assert res.info["error_bound"] <= tol
    assert res.info["steps"] >= 1


def test_dop853_converges_at_eighth_order():
    # fixed accuracy targets 100x apart: the steps must grow by about 100^(1/7) (error per
    # unit time ~ h^7), and the error must fall, i.e. the tableau and the stages are right
    bqm = naive.random_bqm(np.random.default_rng(3), 5, "BINARY")
    psi = naive.dense_evolution(bqm, 20.0)
    steps, errors = [], []
    for tol in (1e-5, 1e-7, 1e-9):
        res = simulate.anneal(bqm, 20.0, method="dop853", tol=tol)
        steps.append(res.info["steps"])
        errors.append(1.0 - abs(np.vdot(psi, res.final_state)))
    ratios = np.array(steps[1:]) / np.array(steps[:-1])
    assert np.all((ratios > 1.4) & (ratios < 3.0)), steps
    assert errors[2] < errors[0]


def test_methods_agree_at_ten_qubits_and_norm_is_conserved():
    from studies.problems import random_selection_bqm

    bqm = random_selection_bqm(10, 3, penalty="loose")
    results = {m: simulate.anneal(bqm, 30.0, method=m, tol=1e-8) for m in METHODS}
    ref = results["qutip"].final_state
    for m, r in results.items():
        assert abs(np.vdot(ref, r.final_state)) == pytest.approx(1.0, abs=1e-6), m
        assert r.p_success == pytest.approx(results["qutip"].p_success, abs=1e-6), m
        if m == "split":  # a product of unitaries
            assert np.linalg.norm(r.final_state) == pytest.approx(1.0, abs=1e-12)
        elif m == "magnus":  # truncated Chebyshev series: unitary to the tolerance
            assert np.linalg.norm(r.final_state) == pytest.approx(1.0, abs=1e-8)


def test_adiabatic_limit_and_checkpoints():
    bqm = dimod.BinaryQuadraticModel({"a": -1.0, "b": 0.5, "c": 0.2},
                                     {("a", "b"): 0.7, ("b", "c"): -0.4}, 0.3, "BINARY")
    gap = spectral.min_gap(bqm).delta_min
    res = simulate.anneal(bqm, 200.0 / gap**2, method="magnus",
                          checkpoints=[0.0, 0.3, 0.6, 0.9])
    assert res.p_success > 0.999
    assert res.ground_fidelity[0] == pytest.approx(1.0, abs=1e-12)
    assert np.all(res.ground_fidelity > 0.999)
    assert res.ground_fidelity[-1] == pytest.approx(res.ground_population[-1])
    best = dimod.ExactSolver().sample(bqm).first.sample  # bit i of the index = variable i
    index = sum(best[v] << i for i, v in enumerate(("a", "b", "c")))
    assert res.ground_states.tolist() == [index] and res.variables == ("a", "b", "c")
    H = spectral.AnnealingHamiltonian.from_bqm(bqm)
    e0 = spectral.lowest_levels(H, 0.6, k=1).energies[0]
    assert res.energy[2] == pytest.approx(e0, abs=1e-3)


def test_dephasing_against_a_dense_lindblad_integration():
    from scipy.integrate import solve_ivp

    bqm = dimod.BinaryQuadraticModel({0: -0.5, 1: 0.3}, {(0, 1): 0.8}, 0.0, "BINARY")
    gamma, T = 0.05, 8.0
    res = simulate.anneal(bqm, T, dephasing=gamma)
    n = 2
    HD = -sum(naive.single_site(naive.X, i, n) for i in range(n))
    HP = np.diag(naive.problem_energies(bqm) / naive.ising_scale(bqm))
    Z = np.diag([1.0, -1.0])
    L = [math.sqrt(gamma) * naive.single_site(Z, i, n) for i in range(n)]

    def rhs(t, y):
        rho = y.reshape(4, 4)
        H = (1 - t / T) * HD + (t / T) * HP
        d = -1j * (H @ rho - rho @ H)
        for Lk in L:
            d += Lk @ rho @ Lk.conj().T - 0.5 * (Lk.conj().T @ Lk @ rho + rho @ Lk.conj().T @ Lk)
        return d.ravel()

    rho0 = np.full((4, 4), 0.25, dtype=complex)
    rho = solve_ivp(rhs, (0, T), rho0.ravel(), method="DOP853", rtol=1e-11,
                    atol=1e-11).y[:, -1].reshape(4, 4)
    g = res.ground_states
    assert res.p_success == pytest.approx(float(np.real(rho[g, g].sum())), abs=1e-6)
    closed = simulate.anneal(bqm, T, method="qutip").p_success
    assert res.p_success < closed


def test_bad_input():
    bqm = dimod.BinaryQuadraticModel({0: -1.0, 1: 0.5}, {(0, 1): 0.8}, 0.0, "BINARY")
    for T in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(SimulationError, match="T .*must be finite and > 0"):
            simulate.anneal(bqm, T)
    with pytest.raises(SimulationError, match="dephasing must be a finite rate >= 0"):
        simulate.anneal(bqm, 1.0, dephasing=-0.1)
    with pytest.raises(SimulationError, match="'split' cannot .*no dephasing.*'qutip'"):
        simulate.anneal(bqm, 1.0, dephasing=0.1, method="split")
    with pytest.raises(SimulationError, match="'qutip' cannot .* no fixed step dt.*'split'"):
        simulate.anneal(bqm, 1.0, dt=0.01, method="qutip")
    with pytest.raises(SimulationError, match="method must be 'auto' or one of"):
        simulate.anneal(bqm, 1.0, method="rk4")
    degenerate = spectral.Schedule.from_functions(lambda s: 1e-12 + 0 * s, lambda s: 1.0 + 0 * s)
    sym = dimod.BinaryQuadraticModel({}, {(0, 1): -1.0}, 0.0, "SPIN")
    with pytest.raises(SimulationError, match="degenerate ground state"):
        simulate.anneal(sym, 1.0, schedule=degenerate)
    with pytest.raises(spectral.MemoryGuardError, match="n = 2 qubits"):
        simulate.anneal(bqm, 1.0, memory_limit=10)


def test_time_to_target_and_adiabatic_scaling():
    # T_99 * Delta_min^2 across random instances with a unique ground state and a gap above
    # 0.1 (smaller gaps need T of thousands): reported, and within a modest band
    products = []
    for seed in range(6):
        bqm = naive.random_bqm(np.random.default_rng(seed), 4, "SPIN")
        H = spectral.AnnealingHamiltonian.from_bqm(bqm)
        gap = spectral.min_gap(H).delta_min
        if H.degeneracy != 1 or gap < 0.1:
            continue
        t99 = simulate.time_to_target(H, 0.99, rtol=1e-2, method="split", tol=1e-6)
        assert simulate.success_probability(H, t99, method="split") >= 0.99 - 1e-6
        assert simulate.success_probability(H, t99 / 1.05, method="split") < 0.99
        products.append(t99 * gap**2)
    print("T_99 * Delta_min^2:", np.round(products, 2))
    assert len(products) >= 4 and max(products) / min(products) < 20


@pytest.mark.parametrize("curved", [False, True])
@pytest.mark.parametrize("name, order, steps", [("SUZUKI4", 4, (40, 80, 160)),
                                                ("KAHAN_LI6", 6, (20, 40, 80)),
                                                ("BLANES_MOAN6", 6, (14, 28, 56))])
def test_splittings_have_their_order(name, order, steps, curved):
    """Halving a fixed step divides the final-state error by 2**order (against the dense
    propagator; steps where the error is well above the reference's rounding): wrong
    coefficients would show as order 2, and so would a wrong treatment of the time on a
    curved schedule."""
    from simulate import _split, _split_run

    bqm = naive.random_bqm(np.random.default_rng(3), 5, "SPIN")
    T = 6.0
    A, B = ((lambda s: np.cos(0.5 * np.pi * s) ** 2, lambda s: np.sin(0.5 * np.pi * s) ** 3)
            if curved else (lambda s: 1 - s, lambda s: s))
    H = spectral.AnnealingHamiltonian.from_bqm(bqm, schedule=spectral.Schedule.from_functions(A, B))
    psi_ref = naive.dense_evolution(bqm, T, A=A, B=B)
    psi0 = np.full(H.dim, 1.0 / np.sqrt(H.dim), dtype=complex)
    errors = []
    for n_steps in steps:
        states, _ = _split_run.propagate(np.asarray(H.diagonal()), H.schedule, T, psi0,
                                         [1.0], dt=T / n_steps,
                                         splitting=getattr(_split, name))
        # the dense reference is exact up to a global phase
        psi = states[-1]
        phase = np.vdot(psi, psi_ref) / abs(np.vdot(psi, psi_ref))
        errors.append(np.linalg.norm(psi * phase - psi_ref))
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(rates - order) < 0.3), (errors, rates)


def test_auto_chooses_from_the_registry_and_a_registered_method_is_used():
    """A method registered from outside (a dense propagator) is run by name, reported by the
    sampler's properties, chosen by "auto" only when preferred, and its capability flags are
    enforced."""
    from scipy.linalg import expm

    def dense(H, T, psi0, s_points, *, tol, dt, dephasing, options):
        psi, t, states, steps = np.array(psi0), 0.0, [], 400
        for s_end in s_points:
            ts = np.linspace(t, s_end, max(2, int(steps * (s_end - t)) + 1))
            for lo, hi in zip(ts[:-1], ts[1:]):
                psi = expm(-1j * T * (hi - lo) * H.to_dense(0.5 * (lo + hi))) @ psi
            states.append(psi.copy())
            t = s_end
        return states, {"steps": steps}

    bqm = naive.random_bqm(np.random.default_rng(4), 3, "SPIN")
    assert simulate.anneal(bqm, 5.0).method == "split"
    assert simulate.anneal(bqm, 5.0, dephasing=0.01).method == "qutip"
    simulate.register_method(simulate.Method("dense-test", dense, "midpoint dense expm",
                                             error_control=False, max_qubits=4,
                                             preference=-1))
    try:
        assert "dense-test" in simulate.AnnealingSampler().properties["methods"]
        res = simulate.anneal(bqm, 5.0)  # preferred now
        assert res.method == "dense-test"
        ref = simulate.anneal(bqm, 5.0, method="split", tol=1e-9)
        assert abs(np.vdot(ref.final_state, res.final_state)) == pytest.approx(1.0, abs=1e-4)
        big = naive.random_bqm(np.random.default_rng(4), 5, "SPIN")
        assert simulate.anneal(big, 1.0).method == "split"  # over its max_qubits
        with pytest.raises(SimulationError, match="up to n = 4 qubits"):
            simulate.anneal(big, 1.0, method="dense-test")
        with pytest.raises(SimulationError, match="reserved"):
            simulate.register_method(simulate.Method("auto", dense, "no"))
    finally:
        del simulate.METHODS["dense-test"]
