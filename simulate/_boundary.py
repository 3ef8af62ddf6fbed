"""The boundary terms of the adiabatic theorem: the leading diabatic loss 1 - P(T) ~ B / T^2
of a smooth, gapped anneal, from the two ends of the schedule alone (closed forms).

For H(s) = A(s) H_D + B(s) H_P and s = t / T, the amplitude left outside the ground state at
the end is, to first order in 1 / T, ``(i / T) [c_m(1) e^{i phi_m} - c_m(0)]`` per excited
level m, with ``c_m(s) = <m|dH/ds|0> / (E_m - E_0)^2`` (Messiah; Jansen, Ruskai & Seiler
2007). Over a range of T the phases phi_m = T * int (E_m - E_0) ds turn and the cross terms
average out, leaving ``1 - P(T) ~ (b0 + b1) / T^2`` with ``b0 = sum_m |c_m(0)|^2`` and
``b1 = sum_m |c_m(1)|^2``, m over the levels outside the ground manifold.

- s = 0 (B(0) = 0, ground state |+>^n): ``<m|H_D|0> = 0`` for m != 0, so only ``B'(0) H_P``
  couples, and H_P's Ising form reaches the one-spin (h_i, gap 2 A(0)) and two-spin
  (J_ij, gap 4 A(0)) excitations of H_D: ``b0 = B'(0)^2 [sum_i h_i^2 / (2 A(0))^4 +
  sum_{i<j} J_ij^2 / (4 A(0))^4]`` (h, J of the scaled H_P).
- s = 1 (A(1) = 0, H(1) = B(1) H_P): ``<m|H_P|0> = 0`` outside the ground manifold, so only
  ``A'(1) H_D`` couples, to the single flips of the ground bitstrings: ``b1 = A'(1)^2
  sum_m |sum_g psi_g <m|H_D|g>|^2 / (B(1) (E_m - E_0))^4``. The state psi in a d-fold ground
  manifold is the limit s -> 1 of the ground state, found by degenerate perturbation theory in
  A: the lowest eigenspace of -P H_D P, then within it of the second-order operator
  -P H_D Q (H_P - E_0)^-1 Q H_D P. Where a degeneracy survives both orders, b1 is the mean
  over that space (the trace, which does not depend on a basis).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spectral import as_hamiltonian

from .exceptions import SimulationError

__all__ = ["BoundaryTerms", "boundary_terms"]

#: relative tolerance that decides which eigenvalues of the effective operators are degenerate
_DEGENERATE_RTOL = 1e-9


@dataclass(frozen=True)
class BoundaryTerms:
    """The boundary terms of an anneal (dimensionless; times in inverse scaled energy).

    Attributes
    ----------
    b0, b1 : float
        ``sum_m |<m|dH/ds|0>|^2 / (E_m - E_0)^4`` at s = 0 and at s = 1.
    degeneracy : int
        d of H_P's ground manifold (full space).
    limit_dimension : int
        Dimension of the limit ground space at s = 1 that perturbation theory to second
        order leaves degenerate (1: a unique limit state; b1 is the mean over it otherwise).
    n : int
    scale : float
        The divisor of the BQM's energies.
    """

    b0: float
    b1: float
    degeneracy: int
    limit_dimension: int
    n: int
    scale: float

    @property
    def total(self) -> float:
        """``b0 + b1``: 1 - P(T) ~ total / T^2 at large T (averaged over the oscillation)."""
        return self.b0 + self.b1

    def t_boundary(self, p: float = 0.99) -> float:
        """``sqrt((b0 + b1) / (1 - p))``: the T at which the boundary terms alone leave
        ``1 - p`` outside the ground manifold."""
        if not 0.0 < p < 1.0:
            raise SimulationError(f"p must be in (0, 1), got {p!r}.")
        return math.sqrt(self.total / (1.0 - p))

    def to_record(self) -> tuple[dict, dict]:
        """``(datasets, attrs)``: no arrays; ``b0``, ``b1``, ``t_boundary`` (p = 0.99) and
        ``limit_dimension`` as attributes."""
        return {}, {"b0": float(self.b0), "b1": float(self.b1),
                    "t_boundary": float(self.t_boundary(0.99)),
                    "limit_dimension": int(self.limit_dimension)}


def boundary_terms(bqm_or_H, schedule=None, *, scale="auto",
                   memory_limit: float | None = None) -> BoundaryTerms:
    """The boundary terms b0 (s = 0) and b1 (s = 1) of the anneal of a BQM.

    Parameters
    ----------
    bqm_or_H : dimod.BinaryQuadraticModel or spectral.AnnealingHamiltonian
        The problem (conventions of docs/design.md; a sector Hamiltonian is taken in the full
        space, where the sums are the same).
    schedule, scale
        As in :func:`simulate.anneal`. The closed forms need B(0) = 0 and A(1) = 0.
    memory_limit : float, optional
        Bytes allowed for H_P's diagonal.

    Returns
    -------
    BoundaryTerms

    Raises
    ------
    SimulationError
        If B(0) != 0 or A(1) != 0, or the ends are not gapped (A(0) = 0).
    """
    H = as_hamiltonian(bqm_or_H, schedule, scale, "full", memory_limit)
    a_start, b_start = H.coefficients(0.0)
    a_end, b_end = H.coefficients(1.0)
    # zero to rounding (cos(pi / 2) is 6e-17)
    if abs(b_start) > 1e-12 * max(abs(a_start), 1.0) or abs(a_end) > 1e-12 * max(abs(b_end), 1.0):
        raise SimulationError(
            f"boundary_terms uses the closed forms for B(0) = 0 and A(1) = 0; this schedule has "
            f"B(0) = {b_start:g}, A(1) = {a_end:g}. Use a schedule that starts in the driver "
            "and ends in the problem.")
    if not (a_start > 0.0 and b_end > 0.0):
        raise SimulationError(f"the ends must be gapped: A(0) = {a_start:g} and B(1) = "
                              f"{b_end:g} must be > 0.")
    _, db_start = H.schedule.derivative(0.0)
    da_end, _ = H.schedule.derivative(1.0)
    h, J = H.problem.h / H.scale, H.problem.J / H.scale
    b0 = db_start**2 * (float(np.sum(h**2)) / (2.0 * a_start) ** 4
                        + float(np.sum(J**2)) / (4.0 * a_start) ** 4)
    energies = H.diagonal()
    ground = H.ground_states()
    inside, outside = _single_flips(ground, H.n)
    limit = _limit_space(energies, ground, inside, outside)
    b1 = da_end**2 * _end_sum(energies, ground, limit, outside) / b_end**4
    return BoundaryTerms(b0=float(b0), b1=float(b1), degeneracy=int(ground.size),
                         limit_dimension=int(limit.shape[1]), n=H.n, scale=H.scale)


def _single_flips(ground: np.ndarray, n: int) -> tuple[list, dict]:
    """The single flips of the ground bitstrings: pairs (k, j) of ground indices joined by one
    flip, and for each bitstring m outside the manifold the ground indices k it neighbours."""
    position = {int(g): k for k, g in enumerate(ground)}
    inside, outside = [], {}
    for k, g in enumerate(ground):
        for m in (int(g) ^ (1 << np.arange(n))):
            m = int(m)
            if m in position:
                inside.append((k, position[m]))
            else:
                outside.setdefault(m, []).append(k)
    return inside, outside


def _lowest_space(M: np.ndarray) -> np.ndarray:
    """Orthonormal columns spanning the lowest eigenspace of a symmetric matrix."""
    vals, vecs = np.linalg.eigh(M)
    tol = _DEGENERATE_RTOL * max(1.0, float(np.max(np.abs(vals))))
    return vecs[:, vals <= vals[0] + tol]


def _limit_space(energies: np.ndarray, ground: np.ndarray, inside: list,
                 outside: dict) -> np.ndarray:
    """Columns (d, r) over the ground bitstrings: the limit s -> 1 of the ground state by
    degenerate perturbation theory in A, to second order."""
    d = ground.size
    if d == 1:
        return np.ones((1, 1))
    first = np.zeros((d, d))  # -P H_D P: single flips inside the manifold
    for k, j in inside:
        first[k, j] -= 1.0
    second = np.zeros((d, d))  # -P H_D Q (E - E_0)^-1 Q H_D P
    e0 = float(energies[ground[0]])
    for m, ks in outside.items():
        w = 1.0 / (float(energies[m]) - e0)
        for k in ks:
            for j in ks:
                second[k, j] -= w
    V = _lowest_space(first)
    if V.shape[1] > 1:
        V = V @ _lowest_space(V.T @ second @ V)
    return V


def _end_sum(energies: np.ndarray, ground: np.ndarray, limit: np.ndarray,
             outside: dict) -> float:
    """Mean over the limit space's columns psi of sum_{m outside} |<m|H_D|psi>|^2 /
    (E_m - E_0)^4, in units of H_P (B(1) and A'(1) applied by the caller)."""
    e0 = float(energies[ground[0]])
    # <m|H_D|g> = -1 for a single flip: the amplitude of m is minus the sum over its partners
    total = sum(float(np.sum(limit[ks].sum(axis=0) ** 2)) / (float(energies[m]) - e0) ** 4
                for m, ks in outside.items())
    return total / limit.shape[1]
