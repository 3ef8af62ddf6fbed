"""The exact ground-state solver against dimod's ExactSolver and the dimod sampler API."""

import unittest

import dimod
import dimod.testing
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from encoding import EncodingError, ExactGroundStateSolver, get_sampler, selections


def _ground_set(ss):
    e = ss.record.energy
    keep = e <= e.min() + 1e-9 * max(abs(e.min()), 1.0)
    variables = list(ss.variables)
    return e.min(), {tuple(int(s[variables.index(v)]) for v in sorted(variables, key=str))
                     for s in ss.record.sample[keep]}


@given(st.integers(1, 10), st.sampled_from(["SPIN", "BINARY"]), st.integers(0, 2**31 - 1),
       st.booleans())
def test_agrees_with_dimod_exact_solver(n, vartype, seed, integer):
    rng = np.random.default_rng(seed)
    draw = (lambda size: rng.integers(-2, 3, size).astype(float)) if integer else (
        lambda size: rng.uniform(-1, 1, size))
    h = dict(zip([f"v{i}" for i in range(n)], draw(n)))
    J = {(f"v{i}", f"v{j}"): float(b) for (i, j), b in
         zip([(i, j) for i in range(n) for j in range(i + 1, n)], draw(n * (n - 1) // 2))}
    bqm = dimod.BinaryQuadraticModel(h, J, float(draw(1)[0]), vartype)
    ours = ExactGroundStateSolver().sample(bqm)
    dimod.testing.assert_sampleset_energies(ours, bqm)
    e_ref, ref = _ground_set(dimod.ExactSolver().sample(bqm))
    e_ours, got = _ground_set(ours)
    assert e_ours == pytest.approx(e_ref, abs=1e-12)
    assert got == ref  # every ground state, degenerate ones included (integer biases)
    assert ours.info["degeneracy"] == len(ref)


def test_sixteen_variables_against_exact_solver():
    bqm = dimod.generators.gnp_random_bqm(16, 0.7, "BINARY", random_state=3)
    e_ref, ref = _ground_set(dimod.ExactSolver().sample(bqm))
    e_ours, got = _ground_set(ExactGroundStateSolver().sample(bqm))
    assert e_ours == pytest.approx(e_ref, abs=1e-12) and got == ref


def test_chunked_search_beyond_one_chunk_finds_planted_states():
    # n = 20 > 16 bits per chunk: 16 chunks; a planted 2-fold ground state in distant chunks
    n = 20
    rng = np.random.default_rng(0)
    target = rng.integers(0, 2, n)
    spins = 2 * target - 1
    # ferromagnet gauged to +-target: ground states target and its complement (spin flip)
    J = {(i, j): -float(spins[i] * spins[j]) for i in range(n) for j in range(i + 1, n)}
    bqm = dimod.BinaryQuadraticModel({}, J, 0.0, "SPIN")
    ss = ExactGroundStateSolver().sample(bqm)
    got = {tuple(int(v) for v in row) for row in ss.record.sample}
    assert got == {tuple(spins), tuple(-spins)}
    assert ss.info["ground_energy"] == pytest.approx(-n * (n - 1) / 2)


def test_bit_order_and_labels():
    bqm = dimod.BinaryQuadraticModel({"b": -1.0, "a": 0.5}, {}, 0.0, "BINARY")
    ss = ExactGroundStateSolver().sample(bqm)
    assert list(ss.variables) == ["b", "a"]
    assert ss.first.sample == {"b": 1, "a": 0}
    assert selections(ss) == [("b",)]


def test_errors():
    solver = ExactGroundStateSolver()
    with pytest.raises(EncodingError, match="n <= 30"):
        solver.sample(dimod.BinaryQuadraticModel({i: 1.0 for i in range(31)}, {}, 0, "BINARY"))
    with pytest.raises(EncodingError, match="max_ground_states"):
        solver.sample(dimod.BinaryQuadraticModel({i: 0.0 for i in range(6)}, {}, 0, "BINARY"),
                      max_ground_states=10)
    with pytest.raises(EncodingError, match="sampler must be one of"):
        get_sampler("quantum")


def test_empty_bqm_gives_one_empty_sample():
    ss = ExactGroundStateSolver().sample(dimod.BinaryQuadraticModel({}, {}, 1.5, "SPIN"))
    assert len(ss) == 1 and ss.first.energy == 1.5 and selections(ss) == [()]


def test_simulated_annealing_is_reachable_and_finds_the_ground_state():
    bqm = dimod.generators.gnp_random_bqm(8, 0.8, "BINARY", random_state=1)
    ss = get_sampler("simulated-annealing").sample(bqm, num_reads=50, seed=4)
    assert ss.first.energy == pytest.approx(dimod.ExactSolver().sample(bqm).first.energy)


@dimod.testing.load_sampler_bqm_tests(ExactGroundStateSolver)
class TestDimodSamplerContract(unittest.TestCase):
    def test_api(self):
        dimod.testing.assert_sampler_api(ExactGroundStateSolver())
