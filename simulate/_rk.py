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


class _Stepper:
    """The state and the stage buffers of DOP853 steps on one Hamiltonian: complex, or as
    (real, imaginary) parts for a state of one cache block (see ``_rk_kernels``)."""

    def __init__(self, H, psi0: np.ndarray):
        self.diag, self.nbits, flip = H.kernel_arguments()
        self.flip = float(flip)
        self.planar = H.dim <= 1 << BLOCK_BITS
        psi0 = np.asarray(psi0, dtype=complex)
        self.y = np.stack([psi0.real, psi0.imag]) if self.planar else psi0.copy()
        self.y_new = np.empty_like(self.y)
        if self.planar:
            self.G = np.empty((_STAGES, 2, H.dim))
        else:
            self.z = np.empty_like(self.y)
            self.G = np.empty((_STAGES, H.dim), dtype=complex)
            self.z_f, self.G_f = self.z.view(np.float64), self.G.view(np.float64)

    def first_row(self, a_t: float, b_t: float) -> float:
        """``G[0] = (H(t) - <H>) y``; returns the shift ``-<H>``."""
        if self.planar:
            return -planar_first_row(self.y, self.diag, a_t, b_t, self.nbits, self.flip,
                                     self.G[0])
        hamiltonian_matvec(self.y, self.diag, a_t, b_t, self.nbits, self.flip, 0.0, self.G[0])
        return -subtract_mean_energy(self.y, self.G[0])

    def step(self, h: float, a: np.ndarray, b: np.ndarray, shift: float) -> tuple[float, float]:
        """One trial step into ``y_new``; returns the squared norms of the 5th- and 3rd-order
        error estimates."""
        consts = (_A, _STAGE_ROWS, _STAGE_COUNTS, _FINAL_ROWS, _B, _E5, _E3)
        if self.planar:
            return planar_dop853_step(self.y, h, a, b, shift, self.diag, self.nbits, self.flip,
                                      *consts, self.G, self.y_new)
        return dop853_step(self.z, self.z_f, h, a, b, shift, self.diag, self.nbits, self.flip,
                           *consts, self.G, self.G_f, self.y.view(np.float64),
                           self.y_new.view(np.float64))

    def accept(self) -> None:
        self.y, self.y_new = self.y_new, self.y

    def state(self) -> np.ndarray:
        return self.y[0] + 1j * self.y[1] if self.planar else self.y.copy()


class _Controller:
    """Gustafsson's PI control of the step: the error estimate held to ``rate * h``."""

    def __init__(self, h0: float, h_max: float, rate: float):
        self.h, self.h_max, self.rate, self.q_prev = h0, h_max, rate, 1.0

    @staticmethod
    def error(h: float, e5sq: float, e3sq: float) -> float:
        """Hairer's DOP853 estimate ``h |e5|^2 / sqrt(|e5|^2 + 0.01 |e3|^2)``."""
        denom = e5sq + 0.01 * e3sq
        return h * e5sq / math.sqrt(denom) if denom > 0.0 else 0.0

    def judge(self, h_try: float, err: float, truncated: bool) -> bool:
        """Whether the step of ``h_try`` is accepted; sets the next step either way (a step
        truncated to reach a checkpoint does not grow it)."""
        q = max(err / (self.rate * h_try), 1e-10)
        if err > self.rate * h_try:
            self.h = h_try * max(_MIN_FACTOR, _SAFETY * q ** -_EXPONENT)
            return False
        factor = _SAFETY * q ** -(_EXPONENT - 0.75 * _BETA) * self.q_prev ** _BETA
        self.q_prev = max(q, 1e-4)
        if not truncated:
            self.h = min(self.h_max, h_try * min(_MAX_FACTOR, factor))
        return True


def propagate(H, T: float, psi0: np.ndarray, s_points, *, tol: float = 1e-7):
    """Evolve ``psi0`` under H(t/T) by DOP853 with error control.

    Parameters
    ----------
    H : spectral.AnnealingHamiltonian
        The full-space operator.
    T : float
        Total anneal time.
    psi0 : (dim,) complex ndarray
        Initial state.
    s_points : array_like
        Increasing checkpoints, the last = 1.
    tol : float
        Target 2-norm error of the final state (the controller works at ``min(tol, 1e-5)``).

    Returns
    -------
    states : list of complex ndarray
        The state at each checkpoint.
    info : dict
        ``steps``, ``rejected``, ``matvecs``, ``error_bound`` (the sum of accepted local error
        estimates), ``seconds``.
    """
    t_start = time.perf_counter()
    T, sched = float(T), H.schedule

    def coefficients(t_points):
        # without the per-call checks of Schedule.__call__: s is ours and in [0, 1]
        return sched.evaluate(np.clip(np.asarray(t_points, dtype=float) / T, 0.0, 1.0))

    run = _Stepper(H, psi0)
    (a0,), (b0,) = coefficients([0.0])
    shift = run.first_row(float(a0), float(b0))
    spread = float(run.diag.max()) - float(run.diag.min())
    control = _Controller(min(T / _MIN_STEPS, 1.0 / (abs(a0) * H.n + abs(b0) * spread + 1e-12)),
                          T / _MIN_STEPS, min(tol, _LOOSEST_TOL) / T)
    t, steps, rejected, error_sum, states = 0.0, 0, 0, 0.0, []
    for target in T * np.asarray(s_points, dtype=float):
        while target - t > 1e-13 * T:
            h_try = min(control.h, target - t)
            a, b = coefficients(t + _C * h_try)
            err = control.error(h_try, *run.step(h_try, a, b, shift))
            if control.judge(h_try, err, truncated=h_try < control.h):
                t = target if h_try >= target - t else t + h_try
                run.accept()
                shift = run.first_row(a[-1], b[-1])  # the last stage is at t + h
                steps += 1
                error_sum += err
            else:
                rejected += 1
            if steps + rejected > MAX_STEPS or control.h < 1e-14 * T:
                raise PropagationError(
                    f"DOP853 could not reach tol = {tol:g} (step {control.h:.3g} at t = "
                    f"{t:.6g} after {steps} steps); raise tol or use method='split'.")
        states.append(run.state())
    return states, {"steps": steps, "rejected": rejected,
                    "matvecs": 1 + 11 * (steps + rejected) + steps,
                    "error_bound": error_sum, "seconds": time.perf_counter() - t_start}
