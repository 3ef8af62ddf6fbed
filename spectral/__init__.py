"""spectral — the annealing Hamiltonian H(s) = A(s) H_D + B(s) H_P, its lowest levels and gaps.

Any ``dimod.BinaryQuadraticModel`` works: variable ``i`` of ``list(bqm.variables)`` is bit ``i``
(least significant first) of the basis index, binary 1 <-> spin +1, ``H_D = -sum_i X_i``,
``H_P[b, b] = bqm.energy(x(b)) / scale`` (see docs/design.md).

>>> import dimod, spectral
>>> bqm = dimod.BinaryQuadraticModel({0: -1.0, 1: 0.5}, {(0, 1): 0.8}, 0.0, "BINARY")
>>> result = spectral.min_gap(bqm)
>>> print(f"{result.delta_min:.6f} at s* = {result.s_star:.6f}, certified: {result.certified}")
1.317514 at s* = 0.434471, certified: True

The low-level surface for packages that integrate the dynamics on the same operator:
:mod:`spectral.kernels` (the compiled matvec), :meth:`AnnealingHamiltonian.kernel_arguments`,
:func:`as_hamiltonian`, :func:`check_memory`, :func:`check_s`, :meth:`Schedule.evaluate`, the
Ising form of a BQM (:func:`ising_from_bqm`, :func:`ising_energies`), and for torch devices
:func:`resolve_device` and :func:`check_device_memory`.
"""

from . import kernels
from ._gap import GapSweep, MinGap, as_hamiltonian, gap_sweep, min_gap
from ._hamiltonian import AnnealingHamiltonian, KernelArguments
from ._levels import BACKENDS, Handover, Levels, lowest_levels, register_backend
from ._memory import available_memory, check_memory
from ._problem import IsingProblem, ising_energies, ising_from_bqm
from ._schedule import Schedule, check_s
from ._torch import check_device_memory, resolve_device
from .exceptions import ConvergenceError, MemoryGuardError, ScheduleError, SpectralError

__all__ = [
    "AnnealingHamiltonian",
    "Schedule",
    "Levels",
    "lowest_levels",
    "BACKENDS",
    "register_backend",
    "Handover",
    "GapSweep",
    "gap_sweep",
    "MinGap",
    "min_gap",
    "available_memory",
    "as_hamiltonian",
    "check_memory",
    "check_s",
    "check_device_memory",
    "resolve_device",
    "KernelArguments",
    "kernels",
    "IsingProblem",
    "ising_from_bqm",
    "ising_energies",
    "SpectralError",
    "ConvergenceError",
    "MemoryGuardError",
    "ScheduleError",
]
