"""Exceptions raised by :mod:`spectral`.

Every error names the offending parameter, the rule it broke, the value it had, and what to do.
"""

from __future__ import annotations

__all__ = ["SpectralError", "ConvergenceError", "MemoryGuardError", "ScheduleError"]


class SpectralError(ValueError):
    """Base class for value errors raised by :mod:`spectral`."""


class ScheduleError(SpectralError):
    """An annealing schedule is invalid (non-finite, outside s in [0, 1], or H(0) degenerate)."""


class MemoryGuardError(SpectralError, MemoryError):
    """A computation would need more memory than the guard allows.

    Attributes
    ----------
    n : int
        Number of qubits of the problem.
    required_bytes : int
        Estimated bytes the computation needs.
    available_bytes : int
        Bytes the guard allows (available memory unless overridden).
    """

    def __init__(self, n: int, required_bytes: int, available_bytes: int, what: str):
        self.n = n
        self.required_bytes = required_bytes
        self.available_bytes = available_bytes
        super().__init__(
            f"{what} for n = {n} qubits needs about {required_bytes / 2**30:.2f} GiB, "
            f"but only {available_bytes / 2**30:.2f} GiB are available. Use fewer qubits, the "
            f"even symmetry sector, a matrix-free backend, or pass memory_limit=<bytes> "
            f"(memory_limit=float('inf') disables the guard) if you know it fits."
        )


class ConvergenceError(SpectralError, ArithmeticError):
    """An eigensolver did not reach the requested residual.

    Attributes
    ----------
    s : float
        The schedule point.
    residuals : numpy.ndarray
        Residual norms ||H v - E v|| of the returned pairs.
    tol : float
        The residual tolerance that was asked for.
    """

    def __init__(self, message: str, *, s: float, residuals, tol: float):
        self.s = s
        self.residuals = residuals
        self.tol = tol
        super().__init__(message)
