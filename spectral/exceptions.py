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

    #: what to pass to lift the guard, in the API (the CLI names its --memory-limit flag)
    API_ADVICE = ("pass memory_limit=<bytes> (memory_limit=float('inf') disables the guard) if "
                  "you know it fits")

    def __init__(self, n: int, required_bytes: int, available_bytes: int, what: str):
        self.n = n
        self.required_bytes = required_bytes
        self.available_bytes = available_bytes
        self.what = what
        super().__init__(self.message(self.API_ADVICE))

    def message(self, advice: str) -> str:
        """The error's text with ``advice`` on lifting the guard (the API's by default)."""
        return (f"{self.what} for n = {self.n} qubits needs about "
                f"{format_bytes(self.required_bytes)}, but only "
                f"{format_bytes(self.available_bytes)} are available. Use fewer qubits, the even "
                f"symmetry sector, a matrix-free backend, or {advice}.")


def format_bytes(count: float) -> str:
    """A byte count as people read it: bytes below 1 KiB, then KiB, MiB or GiB (2 decimals)."""
    if count < 1024:
        return f"{count:.0f} bytes"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.2f} {unit}"
    return f"{count:.0f} bytes"  # pragma: no cover - unreachable


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
