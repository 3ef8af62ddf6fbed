"""Slow, obvious references for the fast code (STYLE.md: a naive reference beside every kernel).

Nothing here imports the code under test's kernels: Hamiltonians are built from Kronecker
products of Pauli matrices, energies by dimod, spectra by numpy/scipy dense diagonalisation.
"""

from __future__ import annotations

import itertools

import dimod
import numpy as np
import scipy.linalg as sla
from scipy.optimize import minimize_scalar

X = np.array([[0.0, 1.0], [1.0, 0.0]])
I2 = np.eye(2)


def basis_samples(n: int) -> np.ndarray:
    """Row b = the binary bits of b, least significant first (docs/design.md bit order)."""
    b = np.arange(2**n)
    return ((b[:, None] >> np.arange(n)) & 1).astype(np.int8)


def problem_energies(bqm: dimod.BinaryQuadraticModel) -> np.ndarray:
    """bqm.energy(x(b)) for every basis index b, through dimod, in the BQM's own vartype."""
    variables = list(bqm.variables)
    bits = basis_samples(len(variables))
    values = bits if bqm.vartype is dimod.BINARY else 2 * bits - 1
    return bqm.energies((values, variables))


def ising_scale(bqm: dimod.BinaryQuadraticModel) -> float:
    h, J, _ = bqm.to_ising()
    m = max([abs(v) for v in h.values()] + [abs(v) for v in J.values()] + [0.0])
    return m if m > 0 else 1.0


def single_site(op: np.ndarray, i: int, n: int) -> np.ndarray:
    """op on qubit i = bit i of the index (least significant): kron(..., op_i, ..., I_0)."""
    mats = [op if q == i else I2 for q in reversed(range(n))]
    out = mats[0]
    for m in mats[1:]:
        out = np.kron(out, m)
    return out


def dense_parts(bqm, scale: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(H_D, H_P)``: -sum_i X_i and diag(energies / scale), dense, from first principles."""
    n = bqm.num_variables
    scale = ising_scale(bqm) if scale is None else scale
    HD = -sum(single_site(X, i, n) for i in range(n))
    HP = np.diag(problem_energies(bqm) / scale)
    return HD, HP


def dense_hamiltonian(bqm, s: float, *, scale: float | None = None, A=lambda s: 1 - s,
                      B=lambda s: s) -> np.ndarray:
    """H(s) = A(s) * (-sum_i X_i) + B(s) * diag(energies / scale), dense, from first principles."""
    HD, HP = dense_parts(bqm, scale)
    return A(s) * HD + B(s) * HP


def ground_degeneracy(energies: np.ndarray) -> int:
    e_min = energies.min()
    return int(np.sum(energies <= e_min + 1e-9 * max(abs(e_min), 1.0)))


def dense_gap_function(bqm, *, d: int | None = None, sector_projector: np.ndarray | None = None,
                       **kw):
    """s -> E_d(s) - E_0(s) by dense diagonalisation (optionally projected on a sector)."""
    energies = problem_energies(bqm)
    if d is None:
        d = ground_degeneracy(energies)

    A, B = kw.pop("A", lambda s: 1 - s), kw.pop("B", lambda s: s)
    HD, HP = dense_parts(bqm, **kw)  # built once: a Kronecker product per call is slow

    def gap(s):
        H = A(s) * HD + B(s) * HP
        if sector_projector is not None:
            H = sector_projector.T @ H @ sector_projector
        ev = sla.eigh(H, eigvals_only=True, subset_by_index=[0, d])
        return float(ev[d] - ev[0])

    return gap, d


def dense_min_gap(gap, points: int = 401):
    """Global minimum of gap(s) on [0, 1]: a fine grid, then bounded Brent around every local
    minimum of the grid (end points included), each polished by :func:`polish_minimum`,
    keeping the lowest."""
    grid = np.linspace(0.0, 1.0, points)
    values = np.array([gap(s) for s in grid])
    best = (float(values.min()), float(grid[np.argmin(values)]))
    for j in range(points):
        left = values[j - 1] if j > 0 else np.inf
        right = values[j + 1] if j < points - 1 else np.inf
        if values[j] <= left and values[j] <= right:
            lo, hi = grid[max(j - 1, 0)], grid[min(j + 1, points - 1)]
            res = minimize_scalar(gap, bounds=(lo, hi), method="bounded",
                                  options={"xatol": 1e-11})
            candidate = polish_minimum(gap, float(res.x), float(res.fun))
            if candidate[0] < best[0]:
                best = candidate
    return best


def polish_minimum(gap, s0: float, value: float) -> tuple[float, float]:
    """Polish a minimum of gap(s) near s0 by parabolas through gap**2 at s0 and s0 +- w for
    w = 1e-5 ... 1e-10 (an avoided crossing's gap**2 is a parabola in s; Brent alone stops
    about 1e-8 in s from it, far from a gap of 1e-8). Returns ``(gap, s)``, never higher than
    ``(value, s0)``."""
    for w in (1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10):
        xs = np.clip(np.array([s0 - w, s0, s0 + w]), 0.0, 1.0)
        if xs[0] == xs[1] or xs[1] == xs[2]:
            continue
        c = np.polyfit(xs - s0, [gap(x) ** 2 for x in xs], 2)
        if c[0] > 0:
            step = -c[1] / (2 * c[0])
            if abs(step) < 3 * w and 0.0 <= s0 + step <= 1.0:
                at = gap(s0 + step)
                if at < value:
                    s0, value = float(s0 + step), float(at)
    return value, s0


def even_sector_projector(n: int) -> np.ndarray:
    """Columns (|b> + |~b>)/sqrt(2) for b < 2**(n-1): the spin-flip-even subspace."""
    dim = 2**n
    P = np.zeros((dim, dim // 2))
    for b in range(dim // 2):
        P[b, b] = P[(dim - 1) ^ b, b] = 1 / np.sqrt(2)
    return P


def tfim_even_gap(n: int, g: float, J: float) -> float:
    """Open transverse-field Ising chain H = -g sum X_i - J sum Z_i Z_{i+1}: the gap in the
    spin-flip-even sector, from the free-fermion (Jordan-Wigner) solution.

    Single-particle energies are 2*sigma_k, sigma the singular values of the bidiagonal
    matrix M (M_ii = g, M_{i,i+1} = J); the ground state is the fermion vacuum, which is even,
    and the lowest even excitation holds two fermions: Delta = 2 (sigma_1 + sigma_2).
    """
    M = np.diag(np.full(n, float(g))) + np.diag(np.full(n - 1, float(J)), 1)
    sigma = np.sort(np.linalg.svd(M, compute_uv=False))
    return float(2 * (sigma[0] + sigma[1]))


def random_bqm(rng: np.random.Generator, n: int, vartype, *, linear: bool = True,
               density: float = 0.7, labels=None) -> dimod.BinaryQuadraticModel:
    labels = list(range(n)) if labels is None else labels
    lin = {v: (float(rng.normal()) if linear else 0.0) for v in labels}
    quad = {(labels[i], labels[j]): float(rng.normal())
            for i, j in itertools.combinations(range(n), 2) if rng.random() < density}
    return dimod.BinaryQuadraticModel(lin, quad, float(rng.normal()), vartype)


def dense_evolution(bqm, T: float, *, scale: float | None = None, A=lambda s: 1 - s,
                    B=lambda s: s, psi0=None) -> np.ndarray:
    """psi(T) of i dpsi/dt = H(t/T) psi by scipy's DOP853 at rtol = atol = 1e-12 on the dense
    H of :func:`dense_hamiltonian` (from |+>^n unless ``psi0`` is given)."""
    from scipy.integrate import solve_ivp

    n = bqm.num_variables
    scale = ising_scale(bqm) if scale is None else scale
    HD = -sum(single_site(X, i, n) for i in range(n))
    HP = np.diag(problem_energies(bqm) / scale)
    psi0 = np.full(2**n, 2 ** (-n / 2), dtype=complex) if psi0 is None else psi0

    def rhs(t, y):
        s = t / T
        return -1j * ((A(s) * HD + B(s) * HP) @ y)

    sol = solve_ivp(rhs, (0.0, T), psi0.astype(complex), method="DOP853", rtol=1e-12,
                    atol=1e-12)
    return sol.y[:, -1]
