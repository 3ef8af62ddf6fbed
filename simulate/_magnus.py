"""Fourth-order commutator-free Magnus steps with Chebyshev exponentials (private).

One step of length h from t (Blanes & Moan, Appl. Numer. Math. 56 (2006) 1519, eq. (43)):
with the Gauss points t_{1,2} = t + (1/2 -+ sqrt(3)/6) h and
alpha_{1,2} = (3 -+ 2 sqrt(3)) / 12,

    U = exp(-i h (alpha_1 H(t_1) + alpha_2 H(t_2))) exp(-i h (alpha_2 H(t_1) + alpha_1 H(t_2))).

Each factor is exp(-i h (a H_D + b H_P)) for combined coefficients a, b, applied to the state
by its Chebyshev expansion (Tal-Ezer & Kosloff, J. Chem. Phys. 81 (1984) 3967):
exp(-i h H) = e^{-i h c} sum_k (2 - delta_k0) (-i)^k J_k(r h) T_k((H - c)/r) on the spectral
interval [c - r, c + r], which is bounded rigorously by |a| n and b [min H_P, max H_P]. Terms
are kept until |J_k(r h)| falls below 1e-3 of the tolerance per exponential (beyond k > r h
the Bessel functions decay super-exponentially). Cost: about r h + 10 (r h)^(1/3) matvecs
per factor, so about r T in total whatever the step, which is therefore chosen by the Magnus
error alone, by the global refinement of ``_control.refine``.
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.special import jv

from ._chebyshev_kernels import chebyshev_apply
from ._control import refine
from .exceptions import PropagationError

_SQ3 = math.sqrt(3.0)
_C1, _C2 = 0.5 - _SQ3 / 6.0, 0.5 + _SQ3 / 6.0
_A1, _A2 = (3.0 - 2.0 * _SQ3) / 12.0, (3.0 + 2.0 * _SQ3) / 12.0


class MagnusChebyshev:
    """Applies CF4 steps of H(t/T) to a complex state, using ``H.apply`` (Numba matvec)."""

    def __init__(self, H, T: float, tol: float):
        self.H, self.T, self.tol = H, float(T), float(tol)
        diag = np.asarray(H.diagonal())
        self.p_lo, self.p_hi = float(diag.min()), float(diag.max())
        self.n = H.n
        dim = H.dim
        self._hphi = np.empty(dim, complex)
        self._phi = np.empty(dim, complex)
        self._prev = np.empty(dim, complex)
        self._acc = np.empty(dim, complex)
        self.matvecs = 0

    def _expm(self, psi: np.ndarray, a: float, b: float, h: float, eps: float) -> None:
        """``psi <- exp(-i h (a H_D + b H_P)) psi`` in place."""
        lo = -abs(a) * self.n + min(b * self.p_lo, b * self.p_hi)
        hi = abs(a) * self.n + max(b * self.p_lo, b * self.p_hi)
        center, half = 0.5 * (lo + hi), 0.5 * (hi - lo) + 1e-12
        x = half * h
        kmax = int(x + 10.0 * x ** (1.0 / 3.0) + 40)
        J = jv(np.arange(kmax), x)
        small = np.flatnonzero((np.arange(kmax) > x) & (np.abs(J) < eps))
        if small.size == 0:  # pragma: no cover - kmax is generous
            raise PropagationError("Chebyshev series did not converge; lower the step.")
        K = int(small[0])
        phase = complex(math.cos(h * center), -math.sin(h * center))
        k = np.arange(K)
        coefs = (phase * np.where(k > 0, 2.0, 1.0) * (-1j) ** k * J[:K]).astype(complex)
        diag, nbits, flip_sign = self.H.kernel_arguments()
        chebyshev_apply(psi, diag, float(a), float(b), nbits, flip_sign, center,
                        1.0 / half, coefs, self._hphi, self._phi, self._prev, self._acc)
        self.matvecs += K - 1

    def evolve(self, psi: np.ndarray, t0: float, t1: float, steps: int) -> None:
        if steps < 1 or t1 <= t0:
            return
        h = (t1 - t0) / steps
        sched = self.H.schedule
        eps = 0.1 * self.tol / (2 * max(1, steps))  # truncation, summed over the factors
        for j in range(steps):
            t = t0 + j * h
            s = np.clip(np.array([t + _C1 * h, t + _C2 * h]) / self.T, 0.0, 1.0)
            (a1, a2), (b1, b2) = sched(s)
            self._expm(psi, _A2 * a1 + _A1 * a2, _A2 * b1 + _A1 * b2, h, eps)
            self._expm(psi, _A1 * a1 + _A2 * a2, _A1 * b1 + _A2 * b2, h, eps)


def propagate(H, T: float, psi0: np.ndarray, s_points, *, tol: float = 1e-7, steps0=None):
    """Evolve ``psi0``; states at ``s_points`` (the last = 1), to a final-state error
    ``tol`` (2-norm) estimated by ``_control.refine``."""
    t_start = time.perf_counter()
    prop = MagnusChebyshev(H, T, tol)
    s_points = np.asarray(s_points, dtype=float)
    seg = np.diff(np.concatenate([[0.0], s_points]))

    def run(total):
        psi = np.array(psi0, dtype=complex)
        out, t = [], 0.0
        for s_end, length in zip(s_points, seg):
            n_seg = max(1, int(math.ceil(total * length - 1e-9))) if length > 0 else 0
            prop.evolve(psi, t, s_end * T, n_seg)
            t = s_end * T
            out.append(psi.copy())
        return out

    # first try: steps of 4 time units (cheap: the Chebyshev cost hardly depends on the step)
    steps0 = steps0 or max(4, int(math.ceil(T / 4.0)))
    states, steps, err, runs = refine(run, steps0, 4, tol, "Magnus-Chebyshev")
    return states, {"steps": steps, "error_estimate": err, "runs": runs,
                    "matvecs": prop.matvecs, "seconds": time.perf_counter() - t_start}
