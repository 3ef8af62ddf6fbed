"""spectral — the annealing Hamiltonian H(s) = A(s) H_D + B(s) H_P, its lowest levels and gaps.

Any ``dimod.BinaryQuadraticModel`` works: variable ``i`` of ``list(bqm.variables)`` is bit ``i``
(least significant first) of the basis index, binary 1 <-> spin +1, ``H_D = -sum_i X_i``,
``H_P[b, b] = bqm.energy(x(b)) / scale`` (see docs/design.md).

>>> import dimod, spectral
>>> bqm = dimod.BinaryQuadraticModel({0: -1.0, 1: 0.5}, {(0, 1): 0.8}, 0.0, "BINARY")
>>> result = spectral.min_gap(bqm)
>>> print(f"{result.delta_min:.6f} at s* = {result.s_star:.6f}, certified: {result.certified}")
1.317514 at s* = 0.434471, certified: True
"""

from ._gap import GapSweep, MinGap, gap_sweep, min_gap
from ._hamiltonian import AnnealingHamiltonian
from ._levels import BACKENDS, Levels, lowest_levels, register_backend
from ._memory import available_memory
from ._schedule import Schedule
from .exceptions import ConvergenceError, MemoryGuardError, ScheduleError, SpectralError

__all__ = [
    "AnnealingHamiltonian",
    "Schedule",
    "Levels",
    "lowest_levels",
    "BACKENDS",
    "register_backend",
    "GapSweep",
    "gap_sweep",
    "MinGap",
    "min_gap",
    "available_memory",
    "SpectralError",
    "ConvergenceError",
    "MemoryGuardError",
    "ScheduleError",
]
