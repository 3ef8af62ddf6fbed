"""An offline stand-in for a QPU: ``MockDWaveSampler`` with a schedule-driven path-integral
Monte Carlo substitute (private; public as ``simulate.dwave.PathIntegralQPU``).

D-Wave's plain ``MockDWaveSampler`` answers by steepest descent and ignores annealing_time,
anneal_schedule and auto_scale. This subclass keeps its structure and properties (an
Advantage-like Pegasus graph, h_range +-4, j_range +-1, annealing_time_range 0.5-2000 µs) and
samples with dwave-samplers' ``PathIntegralAnnealingSampler`` driven by the physical schedule:
at temperature theta = k_B T / h (GHz) the path integral of

    H / h = -A(s)/2 sum_i sigma^x_i + B(s)/2 (sum_i h_i sigma^z_i + sum_ij J_ij sigma^z_i sigma^z_j)

needs ``Hd_field = A(s) / (2 theta)`` and ``Hp_field = B(s) / (2 theta)`` (the sampler's
fields are scaled by the inverse temperature), with h, J after the QPU's auto-scale. One
Monte Carlo sweep stands for a fixed slice of anneal time (``sweeps_per_us``), so longer
anneals and pauses equilibrate more, as on hardware; this is a model of incoherent, thermal
annealing, not of the closed-system dynamics.
"""

from __future__ import annotations

import dimod
import numpy as np
from dwave.samplers import PathIntegralAnnealingSampler
from dwave.system import DWaveSampler
from dwave.system.testing import MockDWaveSampler

from ..exceptions import SimulationError
from ._statistics import K_B_OVER_H_GHZ_PER_K
from ._units import DWaveSchedule, _s_of_t, approximate_schedule

__all__ = ["PathIntegralQPU", "auto_scale_divisor"]


def auto_scale_divisor(h, J, h_range, j_range) -> float:
    """The QPU's auto-scale divisor: the largest ratio of a bias to its range bound in the
    same direction (>= 0; 1 for an empty problem). h and J are divided by it on the chip."""
    ratios = [1e-300]
    for values, (lo, hi) in ((h, h_range), (J, j_range)):
        v = np.fromiter(values, dtype=float)
        if v.size:
            ratios.append(float(np.max(np.where(v > 0, v / hi, v / lo))))
    d = max(ratios)
    return d if d > 1e-300 else 1.0


class PathIntegralQPU(MockDWaveSampler):
    """A structured, offline QPU stand-in whose samples depend on the anneal.

    Parameters
    ----------
    schedule : DWaveSchedule, optional
        A(s), B(s) in GHz (default: :func:`approximate_schedule`).
    temperature_mK : float
        Physical temperature (default 12 mK: theta = k_B T / h = 0.25 GHz).
    sweeps_per_us : float
        Monte Carlo sweeps per µs of anneal (default 10: 200 sweeps at the default 20 µs; a
        model parameter, like the temperature).
    seed : int, optional
        Seed of the Monte Carlo (each call draws a fresh seed from it).
    topology_type, topology_shape
        As for ``MockDWaveSampler`` (default Pegasus P6, 680 qubits).

    Notes
    -----
    Honours ``num_reads``, ``annealing_time``, ``anneal_schedule`` (forward anneals, checked
    by ``DWaveSampler.validate_anneal_schedule``), ``auto_scale``, ``answer_mode`` and
    ``label``; other QPU parameters raise a warning as in ``MockDWaveSampler``. Unlike the
    parent, it never replaces a sample by the exact ground state.
    """

    mocked = {"num_reads", "annealing_time", "anneal_schedule", "auto_scale", "answer_mode",
              "label"}

    def __init__(self, *, schedule: DWaveSchedule | None = None, temperature_mK: float = 12.0,
                 sweeps_per_us: float = 10.0, seed: int | None = None,
                 topology_type: str = "pegasus", topology_shape=(6,), **kwargs):
        if not temperature_mK > 0 or not sweeps_per_us > 0:
            raise SimulationError("temperature_mK and sweeps_per_us must be > 0.")
        super().__init__(topology_type=topology_type, topology_shape=list(topology_shape),
                         exact_solver_cutoff=0, **kwargs)
        self.mocked_parameters = set(self.mocked_parameters) | self.mocked
        self.schedule = schedule if schedule is not None else approximate_schedule()
        self.temperature_mK = float(temperature_mK)
        self.sweeps_per_us = float(sweeps_per_us)
        self._rng = np.random.default_rng(seed)
        self.properties["chip_id"] = "qaxai-path-integral-standin"
        self.properties["category"] = "qpu-standin"

    def _fields(self, annealing_time, anneal_schedule):
        if anneal_schedule is not None:
            DWaveSampler.validate_anneal_schedule(self, [list(p) for p in anneal_schedule])
        elif annealing_time is not None:
            lo, hi = self.properties["annealing_time_range"]
            if not lo <= annealing_time <= hi:
                raise ValueError(f"annealing_time {annealing_time} µs is outside the solver's "
                                 f"range [{lo}, {hi}].")
        else:
            annealing_time = float(self.properties["default_annealing_time"])
        t_knots, s_knots = _s_of_t(anneal_schedule, annealing_time)
        sweeps = max(10, int(round(self.sweeps_per_us * t_knots[-1])))
        t = (np.arange(sweeps) + 0.5) / sweeps * t_knots[-1]
        A, B = self.schedule(np.interp(t, t_knots, s_knots))
        theta = K_B_OVER_H_GHZ_PER_K * self.temperature_mK * 1e-3
        return A / (2 * theta), B / (2 * theta), float(t_knots[-1])

    def sample(self, bqm: dimod.BinaryQuadraticModel, **kwargs) -> dimod.SampleSet:
        for kw in kwargs:
            if kw not in self.parameters:
                raise ValueError(f"kwarg {kw!r} invalid for a D-Wave solver")
        bad = [v for v in bqm.variables if v not in self.adjacency]
        bad += [(u, v) for u, v in bqm.quadratic if v not in self.adjacency.get(u, ())]
        if bad:
            raise dimod.exceptions.BinaryQuadraticModelStructureError(
                f"the problem does not fit the solver's graph ({bad[:3]} ...); embed it first "
                "(DWaveAnnealer does).")
        if "anneal_schedule" in kwargs and "annealing_time" in kwargs:
            raise ValueError("annealing_time and anneal_schedule are mutually exclusive.")
        hd, hp, duration = self._fields(kwargs.get("annealing_time"),
                                        kwargs.get("anneal_schedule"))
        h, J, _ = bqm.to_ising()
        if kwargs.get("auto_scale", True):
            d = auto_scale_divisor(h.values(), J.values(), self.properties["h_range"],
                                   self.properties["j_range"])
        else:
            d = 1.0
            if auto_scale_divisor(h.values(), J.values(), self.properties["h_range"],
                                  self.properties["extended_j_range"]) > 1.0 + 1e-12:
                raise ValueError("with auto_scale=False, h and J must lie within h_range and "
                                 "extended_j_range.")
        chip = dimod.BinaryQuadraticModel.from_ising({v: x / d for v, x in h.items()},
                                                     {e: x / d for e, x in J.items()})
        num_reads = int(kwargs.get("num_reads", 1))
        ss = PathIntegralAnnealingSampler().sample(
            chip, num_reads=num_reads, beta_schedule_type="custom", Hp_field=hp, Hd_field=hd,
            num_sweeps_per_beta=1, seed=int(self._rng.integers(2**31 - 1)))
        samples = dimod.as_samples(ss)
        if bqm.vartype is dimod.BINARY:
            samples = ((samples[0] + 1) // 2, samples[1])
        out = dimod.SampleSet.from_samples_bqm(samples, bqm, info={
            "problem_id": f"standin-{self._rng.integers(2**63 - 1):x}",
            "timing": {"qpu_anneal_time_per_sample": duration},
            "auto_scale_divisor": d, "temperature_mK": self.temperature_mK,
            "sweeps": int(hp.size), "schedule_sha256": self.schedule.sha256})
        if kwargs.get("label") is not None:
            out.info["problem_label"] = kwargs["label"]
        if kwargs.get("answer_mode", "histogram") == "histogram":
            out = out.aggregate()
        return out
