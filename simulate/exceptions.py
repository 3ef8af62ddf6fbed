"""Errors raised by :mod:`simulate`."""

from __future__ import annotations

from spectral.exceptions import SpectralError

__all__ = ["SimulationError"]


class SimulationError(SpectralError):
    """A value the dynamics cannot use (T <= 0, a degenerate initial state, a negative rate,
    num_reads < 1) or a propagation that did not reach its tolerance."""
