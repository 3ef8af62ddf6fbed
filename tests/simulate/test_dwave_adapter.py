"""The D-Wave adapter offline: MockDWaveSampler and the path-integral stand-in; embeddings,
chains, auto-scale, the three predictions, credentials, and the CLI."""

import json
import logging

import dimod
import numpy as np
import pytest
from dwave.embedding.chain_strength import uniform_torque_compensation
from dwave.system.testing import MockDWaveSampler

import simulate
from simulate import SimulationError
from simulate.dwave import (DWaveAnnealer, PathIntegralQPU, approximate_schedule,
                            auto_scale_divisor, boltzmann_ground_probability,
                            closed_system_probability, compare, enumerate_energies,
                            has_credentials, to_dimensionless)
from simulate.dwave import _adapter
from tests import naive

FAKE_TOKEN = "DEV-0123456789abcdef-fake-token"


@pytest.fixture(scope="module")
def problem():
    return naive.random_bqm(np.random.default_rng(4), 6, "BINARY")


@pytest.fixture
def mock():
    return MockDWaveSampler(topology_type="pegasus", topology_shape=[6])


def test_embedding_is_found_once_per_graph_and_is_reproducible(problem, mock, monkeypatch):
    calls = []
    real = _adapter.minorminer.find_embedding
    monkeypatch.setattr(_adapter.minorminer, "find_embedding",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    annealer = DWaveAnnealer(mock, seed=3)
    first = annealer.run(problem, num_reads=20)
    again = annealer.run(problem, num_reads=20)
    assert len(calls) == 1 and first.embedding == again.embedding
    other = DWaveAnnealer(mock, seed=3).run(problem, num_reads=20)
    assert other.embedding == first.embedding
    # every chain is connected on the target graph and chains are disjoint
    used = [q for chain in first.embedding.values() for q in chain]
    assert len(used) == len(set(used))
    for u, v in problem.quadratic:
        assert any(b in mock.adjacency[a] for a in first.embedding[u]
                   for b in first.embedding[v])


def test_chain_strength_defaults_to_torque_compensation_on_the_spin_form(problem, mock):
    res = DWaveAnnealer(mock, seed=1).run(problem, num_reads=10)
    spin = problem.change_vartype("SPIN", inplace=False)
    assert res.chain_strength == pytest.approx(uniform_torque_compensation(spin, res.embedding))
    assert res.chain_strength < uniform_torque_compensation(problem, res.embedding)
    fixed = DWaveAnnealer(mock, seed=1).run(problem, num_reads=10, chain_strength=2.5)
    assert fixed.chain_strength == 2.5


def test_summary_counts_against_exact_solver(problem, mock):
    res = DWaveAnnealer(PathIntegralQPU(seed=0), seed=0).run(problem, num_reads=200,
                                                             annealing_time=2.0)
    exact = dimod.ExactSolver().sample(problem)
    assert res.ground_energy == pytest.approx(exact.first.energy)
    rec = res.sampleset.record
    np.testing.assert_allclose(rec.energy, problem.energies(res.sampleset))
    hits = rec.num_occurrences[rec.energy <= exact.first.energy + 1e-9].sum()
    assert res.p_ground == pytest.approx(hits / 200)
    assert res.p_ground_interval[0] <= res.p_ground <= res.p_ground_interval[1]
    assert res.level_counts.sum() == 200 and np.all(np.diff(res.levels) > 0)
    k = 3
    res_k = DWaveAnnealer(mock, seed=0).run(problem, num_reads=50, cardinality=k)
    ones = np.asarray(res_k.sampleset.record.sample).sum(axis=1)
    expected = res_k.sampleset.record.num_occurrences[ones == k].sum() / 50
    assert res_k.feasible_fraction == pytest.approx(expected)


def test_auto_scale_divisor_matches_the_stand_in_and_a_hand_computation(problem):
    assert auto_scale_divisor([2.0, -8.0], [0.5, -3.0], (-4, 4), (-1, 1)) == pytest.approx(3.0)
    assert auto_scale_divisor([1.0], [-0.25], (-4, 4), (-2, 1)) == pytest.approx(0.25)
    res = DWaveAnnealer(PathIntegralQPU(seed=1), seed=1).run(problem, num_reads=20)
    assert res.auto_scale_divisor == pytest.approx(res.sampleset.info["auto_scale_divisor"])
    off = DWaveAnnealer(PathIntegralQPU(seed=1), seed=1).run(problem, num_reads=20,
                                                            auto_scale=False,
                                                            chain_strength=0.5)
    assert off.auto_scale_divisor == 1.0 == off.sampleset.info["auto_scale_divisor"]


def test_stand_in_depends_on_the_anneal(problem):
    standin = PathIntegralQPU(seed=7, temperature_mK=12.0)
    annealer = DWaveAnnealer(standin, seed=7)
    short = annealer.run(problem, annealing_time=0.5, num_reads=400)
    long = annealer.run(problem, annealing_time=100.0, num_reads=400)
    assert short.p_ground_interval[1] < long.p_ground_interval[0]
    assert long.sampleset.info["sweeps"] == 1000 and short.sampleset.info["sweeps"] == 10
    paused = annealer.run(problem, anneal_schedule=[(0, 0), (1, 0.4), (50, 0.4), (51, 1)],
                          num_reads=50)
    assert paused.sampleset.info["sweeps"] == 510
    with pytest.raises(SimulationError, match="invalid anneal_schedule"):
        annealer.run(problem, anneal_schedule=[(0, 0), (0.1, 1.0)], num_reads=5)  # too steep
    with pytest.raises(SimulationError, match="outside the solver's range"):
        annealer.run(problem, annealing_time=5000.0, num_reads=5)
    with pytest.raises(dimod.exceptions.BinaryQuadraticModelStructureError):
        standin.sample(dimod.BinaryQuadraticModel({"x": 1.0}, {}, 0, "SPIN"))
    assert standin.properties["annealing_time_range"] == [0.5, 2000.0]


def test_closed_system_prediction_and_comparison(problem):
    sched = approximate_schedule()
    p = closed_system_probability(problem, sched, annealing_time_us=0.002, divisor=2.0)
    H = simulate._anneal.as_hamiltonian(problem, None, "auto", "full", None)
    s, T = to_dimensionless(sched, annealing_time_us=0.002, scale=H.scale, divisor=2.0)
    assert p == pytest.approx(simulate.anneal(problem, T, schedule=s, scale=H.scale).p_success)
    c = compare(problem, annealing_time_us=1.0, num_reads=200, seed=3, beta=2.0)
    E, _ = enumerate_energies(problem)
    assert c.boltzmann == pytest.approx(boltzmann_ground_probability(E, 2.0))
    assert not c.beta_fitted and np.isnan(c.measured)
    assert c.closed_system_time_us == pytest.approx(0.1)
    assert c.closed_system > 0.9  # coherent and adiabatic at 100 ns for 6 variables
    assert 0.0 <= c.standin_interval[0] <= c.standin <= c.standin_interval[1] <= 1.0


def test_credentials_and_the_token_never_leaks(problem, monkeypatch, caplog, tmp_path):
    monkeypatch.delenv("DWAVE_API_TOKEN", raising=False)
    monkeypatch.setenv("DWAVE_CONFIG_FILE", str(tmp_path / "none.conf"))
    if not has_credentials():
        with pytest.raises(SimulationError, match="DWAVE_API_TOKEN"):
            DWaveAnnealer()
    monkeypatch.setenv("DWAVE_API_TOKEN", FAKE_TOKEN)
    assert has_credentials()

    class Unreachable:
        def __init__(self):
            raise ConnectionError(f"could not reach the SAPI with token {FAKE_TOKEN}")

    monkeypatch.setattr(_adapter, "DWaveSampler", Unreachable)
    with pytest.raises(SimulationError) as info:
        DWaveAnnealer()
    assert FAKE_TOKEN not in str(info.value) and "<token>" in str(info.value)
    caplog.set_level(logging.DEBUG)
    res = DWaveAnnealer(PathIntegralQPU(seed=0), seed=0).run(problem, num_reads=10)
    datasets, attrs = res.to_record()
    blob = json.dumps({k: v if isinstance(v, (str, float, int)) else str(v)
                       for k, v in {**datasets, **attrs}.items()})
    assert FAKE_TOKEN not in blob and FAKE_TOKEN not in caplog.text


@pytest.mark.qpu
@pytest.mark.skipif(not has_credentials(), reason="no D-Wave credentials")
def test_real_qpu_end_to_end(problem):  # pragma: no cover - needs hardware
    res = DWaveAnnealer(seed=0).run(problem, num_reads=100)
    assert 0.0 <= res.p_ground <= 1.0 and res.solver


def test_cli_hardware(capsys):
    from studies.cli import main

    assert main(["hardware", "builtin:selection12", "--solver", "mock", "--reads", "50",
                 "--annealing-time", "0.5", "--seed", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["variables"] == 12 and out["solver"] == "mock"
    assert 0 <= out["measured"] <= 1 and 0 <= out["standin"] <= 1
    assert out["closed_system"] > 0.5
    with pytest.raises(SystemExit) as exit_:  # argparse: usage and the rule, exit 2
        main(["hardware", "builtin:selection12", "--reads", "0"])
    assert exit_.value.code == 2 and "--reads: must be >= 1, got 0" in capsys.readouterr().err
    if not has_credentials():
        assert main(["hardware", "builtin:selection12", "--solver", "qpu"]) == 2
        assert "--solver standin" in capsys.readouterr().err


class _RecordingQPU(PathIntegralQPU):
    """The stand-in, keeping the raw (embedded) sample set it returned."""

    def sample(self, bqm, **kwargs):
        self.raw = super().sample(bqm, **kwargs)
        return self.raw


def test_chain_break_fraction_against_the_raw_samples():
    # a dense problem needs chains; a weak chain strength breaks some of them
    bqm = naive.random_bqm(np.random.default_rng(2), 9, "SPIN")
    qpu = _RecordingQPU(seed=4)
    res = DWaveAnnealer(qpu, seed=2).run(bqm, num_reads=300, chain_strength=0.05,
                                         annealing_time=1.0)
    chains = [c for c in res.embedding.values() if len(c) > 1]
    assert chains, "the test needs an embedding with chains"
    raw = qpu.raw
    col = {q: i for i, q in enumerate(raw.variables)}
    samples = np.asarray(raw.record.sample)
    broken = np.array([[len(set(row[[col[q] for q in c]])) > 1 for c in res.embedding.values()]
                       for row in samples])
    per_read = broken.mean(axis=1)
    expected = np.sum(per_read * raw.record.num_occurrences) / raw.record.num_occurrences.sum()
    assert expected > 0
    assert res.chain_break_fraction == pytest.approx(expected)
    assert max(res.chain_lengths.values()) == max(len(c) for c in res.embedding.values())
