"""Errors of the studies package."""

from __future__ import annotations

__all__ = ["StoreError"]


class StoreError(Exception):
    """A study file that cannot be used: not HDF5, corrupted, foreign, or another config's."""
