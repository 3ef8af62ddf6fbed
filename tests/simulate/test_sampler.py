"""AnnealingSampler follows dimod's sampler contract and draws from |psi(T)|^2; the paper's
protocol."""

import unittest

import dimod
import dimod.testing
import numpy as np
import pytest

import simulate
from simulate import AnnealingSampler, SimulationError


@dimod.testing.load_sampler_bqm_tests(AnnealingSampler, max_num_variables=4)
class TestDimodContract(unittest.TestCase):
    def test_api(self):
        dimod.testing.assert_sampler_api(AnnealingSampler())


@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
def test_samples_follow_the_final_state(vartype):
    bqm = dimod.BinaryQuadraticModel({"x": 0.3, "y": -0.2, "z": 0.1},
                                     {("x", "y"): 0.5, ("y", "z"): -0.4}, 1.25, vartype)
    T = 3.0
    ss = AnnealingSampler().sample(bqm, num_reads=20000, annealing_time=T, seed=7)
    res = simulate.anneal(bqm, T)
    prob = np.abs(res.final_state) ** 2
    variables = list(ss.variables)
    assert variables == ["x", "y", "z"]
    bits = (ss.record.sample > 0).astype(int)  # spin +1 <-> binary 1
    counts = np.bincount(bits @ (1 << np.arange(3)), weights=ss.record.num_occurrences,
                         minlength=8)
    freq = counts / counts.sum()
    sigma = np.sqrt(prob * (1 - prob) / 20000)
    assert np.all(np.abs(freq - prob) <= 5 * sigma + 1e-12)
    dimod.testing.assert_sampleset_energies(ss, bqm)  # offset included
    assert ss.info["p_success"] == pytest.approx(res.p_success)
    assert ss.info["annealing_time"] == T


def test_sample_qubo_has_no_offset_and_bad_reads():
    ss = AnnealingSampler().sample_qubo({("a", "a"): -1.0, ("a", "b"): 2.0}, num_reads=5,
                                        annealing_time=5.0, seed=0)
    for sample, energy in ss.data(["sample", "energy"]):
        assert energy == pytest.approx(dimod.qubo_energy(sample, {("a", "a"): -1.0,
                                                                 ("a", "b"): 2.0}))
    with pytest.raises(SimulationError, match="num_reads must be an int >= 1"):
        AnnealingSampler().sample(dimod.BinaryQuadraticModel({0: 1.0}, {}, 0, "SPIN"),
                                  num_reads=0)


def test_paper_protocol_finds_the_ground_state_of_an_easy_problem():
    bqm = dimod.BinaryQuadraticModel({0: -1.0, 1: 0.4, 2: -0.3}, {(0, 1): 0.6, (1, 2): 0.2},
                                     0.0, "BINARY")
    out = simulate.paper_protocol(bqm, seed=3)
    assert out.shots == 9 and out.tau == 50.0 and out.dt == 0.01
    assert out.is_ground
    assert out.energy == pytest.approx(dimod.ExactSolver().sample(bqm).first.energy)
    fixed = simulate.anneal(bqm, 50.0, method="split", dt=0.01).p_success
    assert out.fidelity == pytest.approx(fixed)
    assert out.fidelity == pytest.approx(simulate.success_probability(bqm, 50.0), abs=1e-5)
