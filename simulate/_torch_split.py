"""The split-operator propagator on a torch device (private): the same splittings, stage
angles and error control as :mod:`simulate._split`, the state a complex128 tensor.

A stage is ``psi <- exp(-i theta H_D) exp(-i beta H_P) psi``. The problem factor is one
elementwise product with ``exp(-i beta E)``; the driver factor ``prod_i (cos theta + i sin
theta X_i)`` acts on ``DRIVER_CHUNK_BITS`` qubits at a time as one ``2**c x 2**c`` complex
matrix (the Kronecker power of the one-qubit rotation) multiplying the state viewed as
``(..., 2**c, 2**lo)``, so that a stage is ``ceil(n / c)`` passes over the state besides the
phase. Matrix multiplication runs on every torch device, in complex128 on every GPU that
torch supports, so the code that runs on a GPU is the code the tests run on the CPU.
"""

from __future__ import annotations

import math

import numpy as np

import spectral

from ._split import SplitPropagator, Splitting
from .exceptions import SimulationError

#: qubits of one driver pass: a (2**c x 2**c) complex matrix per pass
DRIVER_CHUNK_BITS = 6


def _torch():
    import torch

    return torch


def _rotation_block(theta: float, c: int, torch, device):
    """``prod_{i < c} (cos theta + i sin theta X_i)`` on ``c`` qubits, a dense
    ``(2**c, 2**c)`` complex128 matrix (symmetric)."""
    r = np.array([[math.cos(theta), 1j * math.sin(theta)],
                  [1j * math.sin(theta), math.cos(theta)]])
    block = np.ones((1, 1), dtype=complex)
    for _ in range(c):
        block = np.kron(block, r)
    return torch.as_tensor(block, dtype=torch.complex128, device=device)


class TorchSplitPropagator:
    """Propagates a complex128 state tensor under H(t/T) on ``device``; the interface of
    :class:`simulate._split.SplitPropagator` (``to_state``, ``from_state``, ``evolve``).

    Parameters
    ----------
    energies : (2^n,) ndarray
        H_P's diagonal (scaled); shifted to a minimum of 0 as on the CPU (a global phase).
    schedule : spectral.Schedule
    T : float
    splitting : Splitting
    device : str or torch.device
    """

    # the stage angles depend only on the schedule, T and the splitting: the CPU code's
    stage_angles = SplitPropagator.stage_angles
    _coefficients = SplitPropagator._coefficients

    def __init__(self, energies: np.ndarray, schedule, T: float, splitting: Splitting,
                 device) -> None:
        torch = _torch()
        energies = np.asarray(energies, dtype=np.float64)
        self.n = int(round(math.log2(max(energies.size, 1))))
        if self.n < 1 or energies.size != 1 << self.n:
            raise SimulationError("the state must have 2^n amplitudes, n >= 1.")
        self.device = spectral.resolve_device(device)
        self.energies = torch.as_tensor(energies - energies.min(), device=self.device)
        self._ones = torch.ones_like(self.energies)  # the moduli of the phase factors
        self.schedule, self.T, self.splitting = schedule, float(T), splitting
        self.chunks = []  # (lowest qubit, qubits)
        lo = 0
        while lo < self.n:
            c = min(DRIVER_CHUNK_BITS, self.n - lo)
            self.chunks.append((lo, c))
            lo += c

    def to_state(self, psi: np.ndarray):
        """``psi`` as a complex128 tensor on the device."""
        return _torch().as_tensor(np.asarray(psi, dtype=complex), device=self.device).clone()

    def from_state(self, state) -> np.ndarray:
        """The state's amplitudes as a complex numpy vector on the host."""
        return state.cpu().numpy().copy()

    def _phase(self, state, beta: float, work) -> None:
        """``state *= exp(-i beta E)`` (``work``: a free complex buffer of the state's size)."""
        torch = _torch()
        torch.polar(self._ones, self.energies * (-beta), out=work)
        state.mul_(work)

    def _drive(self, state, theta: float, work):
        """``exp(-i theta H_D) state``, ping-ponging between ``state`` and ``work``; returns
        the one that holds the result (the other is then free)."""
        torch = _torch()
        dim = state.shape[0]
        blocks = {c: _rotation_block(theta, c, torch, self.device)
                  for c in {c for _, c in self.chunks}}
        src, dst = state, work
        for lo, c in self.chunks:
            high = dim >> (lo + c)
            if lo == 0:
                torch.matmul(src.view(high, 2**c), blocks[c], out=dst.view(high, 2**c))
            else:
                torch.matmul(blocks[c], src.view(high, 2**c, 2**lo),
                             out=dst.view(high, 2**c, 2**lo))
            src, dst = dst, src
        return src

    def evolve(self, state, t0: float, t1: float, steps: int) -> None:
        """Advance ``state`` in place from t0 to t1 in ``steps`` equal steps."""
        if steps < 1 or t1 <= t0:
            return
        theta, beta, last = self.stage_angles(t0, t1, steps)
        bufs = (state, _torch().empty_like(state))
        cur = 0
        for th, be in zip(theta, beta):
            self._phase(bufs[cur], float(be), bufs[1 - cur])
            cur = 0 if self._drive(bufs[cur], float(th), bufs[1 - cur]) is bufs[0] else 1
        self._phase(bufs[cur], float(last), bufs[1 - cur])
        if cur:
            state.copy_(bufs[1])
