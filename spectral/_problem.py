"""From a dimod BQM to the arrays of the problem Hamiltonian H_P (private).

Conventions (docs/design.md): variable ``i`` is ``list(bqm.variables)[i]`` and bit ``i`` (least
significant first) of the basis index; binary 1 <-> spin +1. ``H_P[b, b] = bqm.energy(x(b))``,
offset included, then divided by the scale factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import dimod
import numpy as np

from ._kernels import ising_block_energies
from .exceptions import SpectralError

#: largest number of bits enumerated directly by one block of the diagonal computation
_BLOCK = 12


@dataclass(frozen=True)
class IsingProblem:
    """The Ising form of a BQM, in variable order.

    Attributes
    ----------
    variables : tuple
        Variable labels; label ``variables[i]`` is bit ``i``.
    h : (n,) ndarray
        Linear Ising biases.
    J : (n, n) ndarray
        Strictly upper-triangular Ising couplings.
    offset : float
        Constant energy.
    """

    variables: tuple
    h: np.ndarray
    J: np.ndarray
    offset: float

    @property
    def n(self) -> int:
        return len(self.variables)

    @property
    def max_abs_bias(self) -> float:
        """``max(max|h_i|, max|J_ij|)``, the D-Wave auto-scale divisor of the Ising form."""
        return float(max(np.max(np.abs(self.h), initial=0.0), np.max(np.abs(self.J), initial=0.0)))

    @property
    def has_spin_flip_symmetry(self) -> bool:
        """True when the energy is invariant under flipping every spin (all h_i are zero)."""
        return self.n >= 2 and bool(np.all(self.h == 0.0))


def ising_from_bqm(bqm: dimod.BinaryQuadraticModel) -> IsingProblem:
    """Convert any BQM (SPIN or BINARY, any hashable labels) to its Ising arrays.

    Does not mutate ``bqm``.
    """
    if not isinstance(bqm, dimod.BinaryQuadraticModel):
        raise TypeError(
            f"bqm must be a dimod.BinaryQuadraticModel, got {type(bqm).__name__}; build one with "
            "dimod.BinaryQuadraticModel(linear, quadratic, offset, vartype)."
        )
    if bqm.num_variables == 0:
        raise SpectralError("bqm is empty (0 variables): there is nothing to anneal; add variables.")
    variables = tuple(bqm.variables)
    spin = bqm.change_vartype(dimod.SPIN, inplace=False)
    ldata, (irow, icol, qdata), offset = spin.to_numpy_vectors(variable_order=list(variables))
    n = len(variables)
    h = np.asarray(ldata, dtype=np.float64).copy()
    J = np.zeros((n, n), dtype=np.float64)
    lo = np.minimum(irow, icol)
    hi = np.maximum(irow, icol)
    np.add.at(J, (lo, hi), np.asarray(qdata, dtype=np.float64))
    offset = float(offset)
    if not (np.all(np.isfinite(h)) and np.all(np.isfinite(J)) and math.isfinite(offset)):
        bad = [v for v, b in zip(variables, h) if not np.isfinite(b)]
        raise SpectralError(
            "bqm has non-finite biases or offset"
            + (f" (linear biases of {bad[:5]})" if bad else "")
            + "; every bias must be a finite number."
        )
    return IsingProblem(variables=variables, h=h, J=J, offset=offset)


def ising_energies(problem: IsingProblem) -> np.ndarray:
    """Energies of all ``2**n`` basis states, index ``b`` <-> bits of ``b`` (float64, unscaled).

    The state space is split into low and high bit blocks; each block's energies are
    enumerated by a small kernel and the cross couplings added by one matrix product, so the
    cost is O(2**n) memory passes instead of O(2**n * n**2) operations.
    """
    n = problem.n
    n_lo = min(n, _BLOCK)
    n_hi = n - n_lo
    e_lo = np.empty(1 << n_lo)
    ising_block_energies(problem.h[:n_lo].copy(), np.ascontiguousarray(problem.J[:n_lo, :n_lo]), e_lo)
    if n_hi == 0:
        return e_lo + problem.offset
    # high part, recursively (n_hi may itself exceed the block)
    hi_problem = IsingProblem(
        variables=problem.variables[n_lo:], h=problem.h[n_lo:], J=problem.J[n_lo:, n_lo:], offset=0.0
    )
    e_hi = ising_energies(hi_problem)
    spins_lo = 2.0 * ((np.arange(1 << n_lo)[:, None] >> np.arange(n_lo)) & 1) - 1.0
    out = np.empty((1 << n_hi, 1 << n_lo))
    cross = problem.J[:n_lo, n_lo:]
    if np.any(cross):
        # field on the low spins from each high state: (2**n_hi, n_lo), built block-wise
        hi_bits = np.arange(n_hi)
        chunk = 1 << 12
        for start in range(0, 1 << n_hi, chunk):
            idx = np.arange(start, min(start + chunk, 1 << n_hi))
            spins_hi = 2.0 * ((idx[:, None] >> hi_bits) & 1) - 1.0
            field = spins_hi @ cross.T  # (chunk, n_lo)
            np.matmul(field, spins_lo.T, out=out[idx[0] : idx[-1] + 1])
    else:
        out[:] = 0.0
    out += e_hi[:, None]
    out += e_lo[None, :]
    out += problem.offset
    return out.reshape(-1)
