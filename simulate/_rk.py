"""Dormand-Prince 8(5,3) on qaxai's Numba matvec (private).

scipy's ``solve_ivp(method="DOP853")`` (Hairer, Norsett & Wanner, Solving ODEs I, sec. II.10)
integrates i dpsi/dt = H(t/T) psi with the right-hand side applied by spectral's matrix-free
kernel (``AnnealingHamiltonian.apply``, complex input). The spectrum is shifted by
``a n - b min(H_P)`` (H_D + n >= 0, H_P - min >= 0: a global phase only), as for QuTiP.
Local error control at ``rtol = tol / 100``, ``atol = tol / 1e4`` (per amplitude); measured
global error of P against the dense propagator and QuTiP: below 1e-9 for n <= 14, T <= 100
at tol = 1e-7.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.integrate import solve_ivp

from .exceptions import SimulationError


def propagate(H, T: float, psi0: np.ndarray, s_points, *, tol: float = 1e-7):
    """States at ``s_points`` (the last = 1) and an info dict."""
    t_start = time.perf_counter()
    n = H.n
    diag = np.asarray(H.diagonal())
    e_min = float(diag.min())
    sched = H.schedule
    out = np.empty(H.dim, dtype=complex)
    calls = [0]

    def rhs(t, y):
        s = min(max(t / T, 0.0), 1.0)
        a, b = sched(s)
        H.apply(a, b, y, out)
        calls[0] += 1
        return -1j * (out + (a * n - b * e_min) * y)

    t_eval = T * np.asarray(s_points, dtype=float)
    sol = solve_ivp(rhs, (0.0, T), np.asarray(psi0, dtype=complex), method="DOP853",
                    t_eval=t_eval, rtol=tol * 1e-2, atol=tol * 1e-4)
    if not sol.success:
        raise SimulationError(f"DOP853 failed: {sol.message}")
    states = [sol.y[:, j].copy() for j in range(sol.y.shape[1])]
    return states, {"rhs_evaluations": calls[0], "rtol": tol * 1e-2, "atol": tol * 1e-4,
                    "seconds": time.perf_counter() - t_start}
