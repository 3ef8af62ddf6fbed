"""Errors of the studies package.

One base, :class:`StudyError`, a ``ValueError``: every one of them is input the package
cannot use, and each message names the file, key or argument and what to do.
"""

from __future__ import annotations

__all__ = ["StudyError", "ConfigError", "StoreError", "ProblemFileError", "UsageError"]


class StudyError(ValueError):
    """Base class of the studies package's errors."""


class ConfigError(StudyError):
    """A study config that cannot be used; the message names the key and the rule."""


class StoreError(StudyError):
    """A study file that cannot be used: not HDF5, corrupted, foreign, or another config's."""


class ProblemFileError(StudyError):
    """A problem that cannot be read or built: a file that is neither a dimod BQM nor JSON or
    COO text, a malformed entry, or a bad generator parameter."""


class UsageError(StudyError):
    """Command-line arguments that do not fit together or are out of range."""
