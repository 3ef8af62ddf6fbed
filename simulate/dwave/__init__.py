"""simulate.dwave -- the same problems on D-Wave annealers, an offline stand-in, and what to
compare them with.

- :class:`DWaveAnnealer` runs a logical BQM on a structured sampler (a QPU, ``MockDWaveSampler``
  or :class:`PathIntegralQPU`) with a seeded, stored embedding, and returns P(ground) with its
  Wilson interval, the energy levels reached, chain statistics and the auto-scale divisor.
- :class:`PathIntegralQPU` is an offline QPU stand-in whose samples depend on the anneal
  (path-integral Monte Carlo driven by the schedule at a temperature).
- :func:`compare` puts a measurement beside three predictions: closed-system simulation, the
  freeze-out Boltzmann model and the stand-in.
- Schedules in GHz (:func:`load_schedule`, :func:`approximate_schedule`) and their exact
  conversion to qaxai's dimensionless anneal (:func:`to_dimensionless`).

>>> from simulate.dwave import wilson_interval
>>> print("P(ground) = 0.30, Wilson 95 %% interval [%.3f, %.3f]" % wilson_interval(30, 100))
P(ground) = 0.30, Wilson 95 % interval [0.219, 0.396]
"""

from ._adapter import DWaveAnnealer, HardwareResult, has_credentials
from ._predictions import (Comparison, HardwareSweep, closed_system_probability, compare,
                           hardware_sweep)
from ._standin import PathIntegralQPU, auto_scale_divisor
from ._statistics import (boltzmann_distribution, boltzmann_ground_probability,
                          enumerate_energies, fit_beta, physical_beta, wilson_interval)
from ._units import DWaveSchedule, approximate_schedule, load_schedule, to_dimensionless

__all__ = ["DWaveAnnealer", "HardwareResult", "has_credentials", "PathIntegralQPU",
           "auto_scale_divisor", "compare", "Comparison", "HardwareSweep", "hardware_sweep", "closed_system_probability",
           "DWaveSchedule", "approximate_schedule", "load_schedule", "to_dimensionless",
           "wilson_interval", "boltzmann_distribution", "boltzmann_ground_probability",
           "enumerate_energies", "fit_beta", "physical_beta"]
