"""Errors raised by :mod:`simulate`.

One base, :class:`SimulationError`, a ``ValueError`` (most are bad input: T <= 0, a
degenerate initial state, a negative rate, num_reads < 1, a method that cannot run the
request); a propagation that did not reach its tolerance is also an ``ArithmeticError``, and
a D-Wave solver that cannot be reached also a ``ConnectionError``.
"""

from __future__ import annotations

__all__ = ["SimulationError", "PropagationError", "SolverUnavailableError"]


class SimulationError(ValueError):
    """Base class of :mod:`simulate`'s errors: a value the dynamics cannot use."""


class PropagationError(SimulationError, ArithmeticError):
    """A propagator did not reach its error tolerance (raise ``tol`` or use another method)."""


class SolverUnavailableError(SimulationError, ConnectionError):
    """A D-Wave solver could not be opened (no credentials, no network); the message never
    holds the token."""
