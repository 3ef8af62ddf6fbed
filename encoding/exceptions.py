"""Errors raised by :mod:`encoding`.

Every message names the offending input, the rule it broke and what to do instead.
"""

from __future__ import annotations

__all__ = ["EncodingError", "DataError"]


class EncodingError(ValueError):
    """A value that the CNN side cannot use: bad activations, a missing layer, a bad QUBO
    parameter."""


class DataError(EncodingError):
    """A dataset that cannot be read: a missing file, a wrong format, a wrong shape."""
