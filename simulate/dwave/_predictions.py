"""What QPU output is compared with: three predictions of P(ground) for the same anneal
(private; public through ``simulate.dwave``).

1. Closed-system simulation of the logical problem (qaxai's ``anneal`` after
   :func:`to_dimensionless`): right for coherent anneals of nanoseconds; at microseconds it
   predicts P ~ 1 for small problems, which real QPUs do not show.
2. The freeze-out Boltzmann model: p(x) ~ exp(-beta E(x)) at a given effective beta, or the
   beta fitted to the reads.
3. The path-integral stand-in (:class:`PathIntegralQPU`): incoherent thermal annealing with
   the same schedule, time and auto-scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import dimod
import numpy as np

from .._anneal import anneal, as_hamiltonian
from ._adapter import DWaveAnnealer, HardwareResult
from ._standin import PathIntegralQPU
from ._statistics import boltzmann_ground_probability, enumerate_energies, fit_beta
from ._units import DWaveSchedule, approximate_schedule, to_dimensionless

__all__ = ["closed_system_probability", "Comparison", "compare", "HardwareSweep",
           "hardware_sweep"]

#: closed-system simulations longer than this (µs) are replaced by this time: the anneal is
#: adiabatic long before (P has saturated), and the cost grows with T (DOP853 steps ~ T A n)
CLOSED_SYSTEM_MAX_US = 0.1


def closed_system_probability(bqm: dimod.BinaryQuadraticModel, schedule: DWaveSchedule, *,
                              annealing_time_us: float | None = None, anneal_schedule=None,
                              divisor: float = 1.0, tol: float = 1e-7) -> float:
    """P(ground) of the closed-system anneal of the logical problem, in D-Wave's units
    (schedule in GHz, time in µs; ``divisor`` the QPU's auto-scale divisor)."""
    H = as_hamiltonian(bqm, None, "auto", "full", None)
    sched, T = to_dimensionless(schedule, annealing_time_us=annealing_time_us,
                                anneal_schedule=anneal_schedule, scale=H.scale,
                                divisor=divisor)
    return anneal(bqm, T, schedule=sched, scale=H.scale, tol=tol).p_success


@dataclass
class Comparison:
    """P(ground) measured and predicted for one problem and anneal (all in [0, 1]).

    Attributes
    ----------
    measured, measured_interval : float, (float, float)
        From the sampler under test (Wilson 95 %), NaN if none was run.
    closed_system : float
        Prediction 1, at ``closed_system_time_us``.
    closed_system_time_us : float
        The anneal time simulated (the requested one, capped at ``CLOSED_SYSTEM_MAX_US``).
    boltzmann : float
        Prediction 2 at ``beta``.
    beta, beta_fitted : float, bool
        The effective inverse temperature (units of the logical energy), and whether it was
        fitted to the reads.
    standin, standin_interval : float, (float, float)
        Prediction 3.
    """

    measured: float
    measured_interval: tuple
    closed_system: float
    closed_system_time_us: float
    boltzmann: float
    beta: float
    beta_fitted: bool
    standin: float
    standin_interval: tuple

    def to_record(self) -> tuple[dict, dict]:
        """``(datasets, attrs)``: no arrays; every probability, interval end and beta as an
        attribute."""
        return {}, {"measured": float(self.measured),
                    "measured_low": float(self.measured_interval[0]),
                    "measured_high": float(self.measured_interval[1]),
                    "closed_system": float(self.closed_system),
                    "closed_system_time_us": float(self.closed_system_time_us),
                    "boltzmann": float(self.boltzmann), "beta": float(self.beta),
                    "beta_fitted": bool(self.beta_fitted), "standin": float(self.standin),
                    "standin_low": float(self.standin_interval[0]),
                    "standin_high": float(self.standin_interval[1])}


def compare(bqm: dimod.BinaryQuadraticModel, *, annealing_time_us: float = 20.0,
            schedule: DWaveSchedule | None = None, measured: HardwareResult | None = None,
            beta: float | None = None, standin: PathIntegralQPU | None = None,
            standin_run: HardwareResult | None = None, num_reads: int = 1000,
            seed: int | None = None) -> Comparison:
    """The three predictions beside a measurement (a linear anneal of ``annealing_time_us``).

    Without ``beta`` the Boltzmann model's beta is fitted to the measured reads (or to the
    stand-in's when nothing was measured). The closed-system prediction uses the measured
    run's auto-scale divisor (or the stand-in's). ``standin_run``: an existing stand-in run of
    this anneal (e.g. when the measurement *is* the stand-in), instead of sampling again.
    """
    schedule = schedule if schedule is not None else approximate_schedule()
    if standin_run is None:
        standin = standin if standin is not None else PathIntegralQPU(schedule=schedule,
                                                                      seed=seed)
        standin_run = DWaveAnnealer(standin, seed=seed).run(
            bqm, annealing_time=annealing_time_us, num_reads=num_reads)
    reference = measured if measured is not None else standin_run
    t_closed = min(annealing_time_us, CLOSED_SYSTEM_MAX_US)
    closed = closed_system_probability(bqm, schedule, annealing_time_us=t_closed,
                                       divisor=reference.auto_scale_divisor)
    energies, _ = enumerate_energies(bqm)
    fitted = beta is None
    if fitted:
        rec = reference.sampleset.record
        beta = fit_beta(energies, np.repeat(rec.energy, rec.num_occurrences))
    return Comparison(
        measured=measured.p_ground if measured is not None else float("nan"),
        measured_interval=measured.p_ground_interval if measured is not None
        else (float("nan"), float("nan")),
        closed_system=closed, closed_system_time_us=t_closed,
        boltzmann=boltzmann_ground_probability(energies, beta), beta=float(beta),
        beta_fitted=fitted, standin=standin_run.p_ground,
        standin_interval=standin_run.p_ground_interval)


@dataclass
class HardwareSweep:
    """Runs of one problem at several anneal times, each beside its predictions.

    Attributes
    ----------
    runs : list of HardwareResult
    comparisons : list of Comparison
        One per run (the same order).
    schedule : DWaveSchedule
    solver : str
        What ran (e.g. the offline stand-in).
    num_reads : int
        Reads per run.
    seed : int or None
    """

    runs: list
    comparisons: list
    schedule: DWaveSchedule
    solver: str
    num_reads: int
    seed: int | None = None

    #: the per-run columns of :meth:`to_record`, in order
    COLUMNS = ("annealing_time_us", "p_ground", "p_ground_low", "p_ground_high",
               "closed_system", "boltzmann", "beta", "chain_break_fraction")

    def to_record(self) -> tuple[dict, dict]:
        """``(datasets, attrs)``: one array per column of :attr:`COLUMNS` (one entry per
        anneal time), the solver, reads, schedule and seed as attributes (what a study
        stores in its ``hardware`` group)."""
        rows = [(np.nan if run.annealing_time_us is None else run.annealing_time_us,
                 run.p_ground, *run.p_ground_interval, cmp_.closed_system, cmp_.boltzmann,
                 cmp_.beta, run.chain_break_fraction)
                for run, cmp_ in zip(self.runs, self.comparisons)]
        cols = np.array(rows, float).reshape(-1, len(self.COLUMNS)).T
        return ({k: v for k, v in zip(self.COLUMNS, cols)},
                {"solver": self.solver, "reads": int(self.num_reads), "schedule": self.schedule.name,
                 "schedule_sha256": self.schedule.sha256,
                 "seed": -1 if self.seed is None else int(self.seed)})


def hardware_sweep(bqm: dimod.BinaryQuadraticModel, annealing_times_us, *,
                   schedule: DWaveSchedule | None = None, num_reads: int = 1000,
                   seed: int | None = None, cardinality: int | None = None) -> HardwareSweep:
    """The offline stand-in (:class:`PathIntegralQPU`) at each anneal time, each run beside
    the three predictions of :func:`compare` (the stand-in's own run is the measurement)."""
    schedule = schedule if schedule is not None else approximate_schedule()
    runs, comparisons = [], []
    for t_us in annealing_times_us:
        annealer = DWaveAnnealer(PathIntegralQPU(schedule=schedule, seed=seed), seed=seed)
        run = annealer.run(bqm, annealing_time=float(t_us), num_reads=num_reads,
                           schedule=schedule, cardinality=cardinality)
        runs.append(run)
        comparisons.append(compare(bqm, annealing_time_us=float(t_us), schedule=schedule,
                                   measured=run, standin_run=run, num_reads=num_reads,
                                   seed=seed))
    return HardwareSweep(runs, comparisons, schedule, "PathIntegralQPU (offline stand-in)",
                         num_reads, seed)
