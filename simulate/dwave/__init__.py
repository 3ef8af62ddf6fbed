"""simulate.dwave -- the same problems in D-Wave's units, and the statistics to compare QPU
samples with: schedules in GHz (published files or an approximate built-in one), the exact
conversion to qaxai's dimensionless anneal, Wilson intervals, and the freeze-out Boltzmann
model. (The hardware adapter and the path-integral stand-in follow, issue 6.)"""

from ._statistics import (boltzmann_distribution, boltzmann_ground_probability,
                          enumerate_energies, fit_beta, physical_beta, wilson_interval)
from ._units import DWaveSchedule, approximate_schedule, load_schedule, to_dimensionless

__all__ = ["DWaveSchedule", "approximate_schedule", "load_schedule", "to_dimensionless",
           "wilson_interval", "boltzmann_distribution", "boltzmann_ground_probability",
           "enumerate_energies", "fit_beta", "physical_beta"]
