"""Basis indices to samples (private): bit i of the index is variable i (docs/design.md)."""

from __future__ import annotations

import dimod
import numpy as np


def index_to_samples(indices, n: int, vartype) -> np.ndarray:
    """``(len(indices), n)`` int8 samples: binary bits, or spins ``2 x - 1`` for SPIN."""
    bits = ((np.asarray(indices, dtype=np.int64)[:, None] >> np.arange(n)) & 1).astype(np.int8)
    return bits if vartype is dimod.BINARY else (2 * bits - 1).astype(np.int8)
