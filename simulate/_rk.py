"""Dormand-Prince 8(5,3) on qaxai's Numba matvec, its stages fused in Numba (private).

The explicit Runge-Kutta pair of Hairer, Norsett & Wanner (Solving ODEs I, sec. II.10; the
tableau is scipy's ``DOP853``) integrates i dpsi/dt = (H(t/T) - E) psi, where the shift E is
the state's mean energy <H> at the start of each step (held fixed within the step). A
constant shift only changes the global phase, and E = <H> minimises ||(H - E) psi||, the
rate at which the amplitudes turn, so the steps are longer than with a shift by the
spectrum's lower bound or its centre. Each step runs its 12 stages in one
compiled call (``_rk_kernels.dop853_step``); Python only evaluates the schedule and chooses
the step. A state of at most ``2**BLOCK_BITS`` amplitudes (one cache block of the matvec) is
kept as its real and imaginary parts instead (``planar_dop853_step``): two threads, one per
part, instead of one thread in complex arithmetic.

Error control: the embedded estimate ``err = h |e5|^2 / sqrt(|e5|^2 + 0.01 |e3|^2)`` (2-norm
of the state, as in Hairer's DOP853) is held below ``tol * h / T`` per step, with Gustafsson's
PI controller. The evolution is unitary, so local errors are not amplified and the
final-state error is about their sum, ``<= tol``. The estimate is asymptotic, so this is a
tested statement, not a proof: against the dense propagator on random problems (n = 1-7,
T = 0.05-100, tol = 1e-9-1e-2) the error stays below tol once the controller works at
``min(tol, 1e-5)`` and with at least 16 steps (without these two limits, few large steps at
loose tolerances under-estimate it).
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.integrate._ivp import dop853_coefficients as _tableau

from spectral.kernels import BLOCK_BITS, hamiltonian_matvec

from ._control import MAX_STEPS
from ._rk_kernels import (dop853_step, planar_dop853_step, planar_first_row,
                          subtract_mean_energy)
from .exceptions import PropagationError

_STAGES = 12
_A = np.ascontiguousarray(_tableau.A[:_STAGES, :_STAGES], dtype=float)
_C = np.ascontiguousarray(_tableau.C[:_STAGES], dtype=float)
_B = np.ascontiguousarray(_tableau.B, dtype=float)
_E5 = np.ascontiguousarray(_tableau.E5[:_STAGES], dtype=float)
_E3 = np.ascontiguousarray(_tableau.E3[:_STAGES], dtype=float)
assert _tableau.E5[_STAGES] == 0.0 and _tableau.E3[_STAGES] == 0.0  # no FSAL stage in errors
assert _C[-1] == 1.0  # the FSAL evaluation reuses the last stage's A and B
_STAGE_COUNTS = np.count_nonzero(_A, axis=1).astype(np.int64)
_STAGE_ROWS = np.zeros((_STAGES, _STAGES), dtype=np.int64)
for _i in range(_STAGES):
    _nz = np.flatnonzero(_A[_i])
    _STAGE_ROWS[_i, :_nz.size] = _nz
_FINAL_ROWS = np.flatnonzero((_B != 0) | (_E5 != 0) | (_E3 != 0)).astype(np.int64)

#: the order of the error estimate in h (err ~ h^8), and the controller's safety and limits
_ERROR_ORDER = 8
_EXPONENT = 1.0 / (_ERROR_ORDER - 1)  # err / allowed ~ h^7 (allowed grows with h)
_SAFETY, _MIN_FACTOR, _MAX_FACTOR = 0.95, 0.2, 5.0
#: Gustafsson's PI step control (h_new = h S q^-(1/7 - 0.75 beta) q_prev^beta, q = err /
#: allowed): the steps sit at DOP853's stability limit on the imaginary axis (|h lambda| ~ 6),
#: where a plain controller oscillates and rejects steps; with beta = 0.04 (Hairer's choice
#: for DOPRI5) almost none are rejected and fewer are taken.
_BETA = 0.04
#: at least this many steps: the embedded estimate is asymptotic (h -> 0), and with one or two
#: steps over a whole anneal (short T) it under-estimated the error (found by the hypothesis
#: test; see _LOOSEST_TOL)
_MIN_STEPS = 16
#: the controller works at min(tol, this): at looser tolerances the steps are large enough
#: for the (asymptotic) estimate to under-estimate the error, by up to 9x at tol = 1e-3 on
#: one- and two-qubit problems (random search against the dense propagator); at tol <= 1e-5
#: the final-state error stayed below 0.5 tol in 700 random cases
_LOOSEST_TOL = 1e-5


def propagate(H, T: float, psi0: np.ndarray, s_points, *, tol: float = 1e-7):
    """States at ``s_points`` (increasing, the last = 1) and an info dict."""
    t_start = time.perf_counter()
    n = H.n
    diag, nbits, flip = H.kernel_arguments()
    flip = float(flip)
    e_min, e_max = float(diag.min()), float(diag.max())
    sched = H.schedule
    T = float(T)

    def coefficients(t_points):
        # without the per-call checks of Schedule.__call__: s is ours and in [0, 1]
        return sched.evaluate(np.clip(np.asarray(t_points, dtype=float) / T, 0.0, 1.0))

    planar = H.dim <= 1 << BLOCK_BITS  # a single cache block: see _rk_kernels
    psi0 = np.asarray(psi0, dtype=complex)
    y = np.stack([psi0.real, psi0.imag]) if planar else psi0.copy()
    y_new = np.empty_like(y)
    if planar:
        G = np.empty((_STAGES, 2, H.dim))
    else:
        z = np.empty_like(y)
        G = np.empty((_STAGES, H.dim), dtype=complex)
        z_f, G_f = z.view(np.float64), G.view(np.float64)

    def first_row(a_t: float, b_t: float) -> float:
        """``G[0] = (H(t) - <H>) y``; returns the shift ``-<H>``."""
        if planar:
            return -planar_first_row(y, diag, a_t, b_t, nbits, flip, G[0])
        hamiltonian_matvec(y, diag, a_t, b_t, nbits, flip, 0.0, G[0])
        return -subtract_mean_energy(y, G[0])

    def step(h_try, a, b, shift):
        if planar:
            return planar_dop853_step(y, h_try, a, b, shift, diag, nbits, flip, _A, _STAGE_ROWS,
                                      _STAGE_COUNTS, _FINAL_ROWS, _B, _E5, _E3, G, y_new)
        return dop853_step(z, z_f, h_try, a, b, shift, diag, nbits, flip, _A, _STAGE_ROWS,
                           _STAGE_COUNTS, _FINAL_ROWS, _B, _E5, _E3, G, G_f, y.view(np.float64),
                           y_new.view(np.float64))

    t = 0.0
    (a0,), (b0,) = coefficients([0.0])
    shift = first_row(float(a0), float(b0))
    h_max = T / _MIN_STEPS
    h = min(h_max, 1.0 / (abs(a0) * n + abs(b0) * (e_max - e_min) + 1e-12))
    rate = min(tol, _LOOSEST_TOL) / T
    steps = rejected = 0
    error_sum = 0.0
    q_prev = 1.0
    states = []
    for target in T * np.asarray(s_points, dtype=float):
        while target - t > 1e-13 * T:
            h_try = min(h, target - t)
            truncated = h_try < h
            a, b = coefficients(t + _C * h_try)
            e5sq, e3sq = step(h_try, a, b, shift)
            denom = e5sq + 0.01 * e3sq
            err = h_try * e5sq / math.sqrt(denom) if denom > 0.0 else 0.0
            allowed = rate * h_try
            q = max(err / allowed, 1e-10)
            if err <= allowed:
                factor = _SAFETY * q ** -(_EXPONENT - 0.75 * _BETA) * q_prev ** _BETA
                q_prev = max(q, 1e-4)
                t = target if h_try >= target - t else t + h_try
                y, y_new = y_new, y
                shift = first_row(a[-1], b[-1])  # the last stage is at t + h
                steps += 1
                error_sum += err
                if not truncated:
                    h = min(h_max, h_try * min(_MAX_FACTOR, factor))
            else:
                rejected += 1
                h = h_try * max(_MIN_FACTOR, _SAFETY * q ** -_EXPONENT)
            if steps + rejected > MAX_STEPS or h < 1e-14 * T:
                raise PropagationError(
                    f"DOP853 could not reach tol = {tol:g} (step {h:.3g} at t = {t:.6g} after "
                    f"{steps} steps); raise tol or use method='split'.")
        states.append(y[0] + 1j * y[1] if planar else y.copy())
    return states, {"steps": steps, "rejected": rejected,
                    "matvecs": 1 + 11 * (steps + rejected) + steps,
                    "error_bound": error_sum, "seconds": time.perf_counter() - t_start}
