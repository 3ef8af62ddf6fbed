"""The split-operator propagator of i d psi/dt = H(t/T) psi (private).

H(t) = a(t) H_D + b(t) H_P with a = A(t/T), b = B(t/T). A step of length h from t is a
splitting of the driver flow D and the problem flow P,

    P(b_r h) D(a_(r-1) h) P(b_(r-1) h) ... D(a_0 h) P(b_0 h)    (the rightmost acts first),

with sum(a) = sum(b) = 1. Time is carried by the driver flow (t as one more coordinate, the
standard autonomisation): D(a_i h) advances t by a_i h and rotates by the integral of a(t)
over that interval (H_D commutes with itself at all times; 3-point Gauss-Legendre, exact for a
schedule polynomial of degree <= 5, of local order 7 for a smooth one), while P(b_i h) holds t
at its value between the driver flows. So a splitting keeps its classical order for any
smooth schedule (tested on a curved one).

With error control the default is Blanes & Moan's sixth-order ten-stage splitting S10 (J.
Comput. Appl. Math. 142 (2002) 313), whose error coefficients are optimised: it is orders of
magnitude more accurate than Kahan & Li's sixth-order composition of Strang steps at the same
number of steps (10 against 9 stages), so it meets a final-state error with fewer stages. A
fixed step
``dt`` (the paper protocol) uses Suzuki's fourth-order composition of the symmetric
second-order splitting, the cheaper step. Adjacent problem flows are merged (the last of a
step with the first of the next): a stage costs one fused phase-and-rotation pass over the
state plus one pass per group of high qubits.

The anneal with its error control is :func:`simulate._split_run.propagate`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._split_kernels import evolve_stages, evolve_stages_serial
from .exceptions import SimulationError


class Splitting(NamedTuple):
    """The coefficients of one step, ``P(b_r h) D(a_(r-1) h) ... D(a_0 h) P(b_0 h)``, its
    order, and the first try of the error control: ``T (c_0 + c_1 (n + 1))`` steps for
    ``first_steps = (c_0, c_1)``."""

    name: str
    a: tuple
    b: tuple
    order: int
    first_steps: tuple = (0.0, 0.25)


def composition(name: str, weights, order: int, first_steps=(0.0, 0.25)) -> Splitting:
    """A symmetric composition of the second-order splitting ``P(w h/2) D(w h) P(w h/2)``
    with stage weights ``weights``, as a splitting (adjacent problem flows merged)."""
    w = tuple(float(x) for x in weights)
    b = (w[0] / 2,) + tuple((x + y) / 2 for x, y in zip(w[:-1], w[1:])) + (w[-1] / 2,)
    return Splitting(name, w, b, order, first_steps)


def _symmetric(name: str, a_head, b_head, order: int, first_steps) -> Splitting:
    """A symmetric splitting from its first coefficients (``a`` of even length, ``b`` of odd
    length); the middle ones follow from sum(a) = sum(b) = 1."""
    a = tuple(a_head) + (0.5 - math.fsum(a_head),)
    a = a + a[::-1]
    b = tuple(b_head) + (1.0 - 2.0 * math.fsum(b_head),)
    b = b + tuple(b_head)[::-1]
    return Splitting(name, a, b, order, first_steps)


#: Suzuki's fourth-order composition weights (Phys. Lett. A 146 (1990) 319)
_P = 1.0 / (4.0 - 4.0 ** (1.0 / 3.0))
SUZUKI4 = composition("suzuki4", (_P, _P, 1.0 - 4.0 * _P, _P, _P), 4)
#: Kahan & Li's sixth-order nine-stage composition (s9odr6a; Kahan & Li, Math. Comp. 66
#: (1997) 1089; Hairer, Lubich & Wanner, Geometric Numerical Integration, 2nd ed., V.3.2)
_KL = (0.39216144400731413928, 0.33259913678935943860, -0.70624617255763935981,
       0.082213596293550800230, 0.79854399093482996340)
KAHAN_LI6 = composition("kahan-li6", _KL + _KL[-2::-1], 6, (0.0, 0.125))
#: Blanes & Moan's sixth-order ten-stage splitting S10 (J. Comput. Appl. Math. 142 (2002)
#: 313), the problem flow taking the b coefficients (the middle ones from the sums)
BLANES_MOAN6 = _symmetric(
    "blanes-moan6",
    (0.14881644790104200, -0.13238586576778400, 0.067307604692185000, 0.43266640257817500),
    (0.050262764400392200, 0.41351430042834400, 0.045079889794397700, -0.18805485381956900,
     0.54196067845078000), 6, (2.0, 0.0))
#: qubits rotated inside one cache block (2^14 amplitudes = 256 KiB of real and imaginary parts)
LOW_BITS = 14
#: fewest qubits of the kernels' state (smaller states are padded with qubits that stay |0>)
MIN_BITS = 4
#: 3-point Gauss-Legendre nodes on [0, 1] and weights (the driver's integral over a flow)
_GL_NODES = 0.5 + 0.5 * np.array([-math.sqrt(0.6), 0.0, math.sqrt(0.6)])
_GL_WEIGHTS = np.array([5.0, 8.0, 5.0]) / 18.0


class SplitPropagator:
    """Propagates a state under H(t/T), held in the kernels' chunked layout
    (:meth:`to_state`, :meth:`from_state`).

    Parameters
    ----------
    energies : (2^n,) ndarray
        H_P's diagonal (scaled; any constant shift only changes the global phase).
    schedule : spectral.Schedule
    T : float
        Total anneal time.
    splitting : Splitting
        The step (:data:`BLANES_MOAN6`, :data:`KAHAN_LI6`, :data:`SUZUKI4`).
    """

    def __init__(self, energies: np.ndarray, schedule, T: float,
                 splitting: Splitting = SUZUKI4):
        energies = np.asarray(energies, dtype=np.float64)
        self.n = int(round(math.log2(max(energies.size, 1))))
        if self.n < 1 or energies.size != 1 << self.n:
            raise SimulationError("the state must have 2^n amplitudes, n >= 1.")
        self.nbits = max(self.n, MIN_BITS)
        self.energies = np.zeros(1 << self.nbits)
        self.energies[:energies.size] = energies - energies.min()
        self.schedule = schedule
        self.T = float(T)
        self.splitting = splitting
        self.low = min(self.nbits, LOW_BITS)

    def to_state(self, psi: np.ndarray) -> np.ndarray:
        """The chunked float64 layout of the complex vector ``psi`` (padded)."""
        full = np.zeros(self.energies.size, dtype=complex)
        full[:psi.size] = psi
        chunks = full.reshape(-1, 4)
        return np.ascontiguousarray(np.stack([chunks.real, chunks.imag], axis=1).ravel())

    def from_state(self, state: np.ndarray) -> np.ndarray:
        """The complex vector of 2^n amplitudes held in ``state``."""
        chunks = state.reshape(-1, 2, 4)
        return (chunks[:, 0] + 1j * chunks[:, 1]).ravel()[:1 << self.n]

    def _coefficients(self, t: np.ndarray):
        s = np.clip(t / self.T, 0.0, 1.0)
        a, b = self.schedule(s.ravel())
        return np.reshape(a, t.shape), np.reshape(b, t.shape)

    def stage_angles(self, t0: float, t1: float, steps: int):
        """The driver angle ``theta_k`` and the merged problem phase ``beta_k`` before it of
        every stage k, and the last phase: ``psi <- exp(-i beta_last H_P) prod_k [exp(-i
        theta_k H_D) exp(-i beta_k H_P)] psi``."""
        h = (t1 - t0) / steps
        a, b = np.asarray(self.splitting.a), np.asarray(self.splitting.b)
        # t after the first i driver flows of step j: t0 + j h + h (a_0 + .. + a_(i-1))
        offsets = np.concatenate([[0.0], np.cumsum(a)])
        held = t0 + h * (np.arange(steps)[:, None] + offsets[None, :])
        lengths = h * a
        nodes = held[:, :-1, None] + lengths[None, :, None] * _GL_NODES
        drive, _ = self._coefficients(nodes)
        theta = (drive @ _GL_WEIGHTS) * lengths
        _, problem = self._coefficients(held)
        phase = problem * (h * b)
        beta = phase[:, :-1].copy()
        beta[1:, 0] += phase[:-1, -1]
        return np.ascontiguousarray(theta.ravel()), beta.ravel(), float(phase[-1, -1])

    def evolve(self, state: np.ndarray, t0: float, t1: float, steps: int) -> None:
        """Advance the chunked ``state`` in place from t0 to t1 in ``steps`` equal steps."""
        if steps < 1 or t1 <= t0:
            return
        theta, beta, last = self.stage_angles(t0, t1, steps)
        # a state of one block: the serial build (the parallel region's start cost more)
        kernel = evolve_stages_serial if self.low == self.nbits else evolve_stages
        kernel(state, self.energies, theta, beta, last, self.n, self.low)
