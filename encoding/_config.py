"""Numba compilation flags of :mod:`encoding`, kept in one place. No ``fastmath``: ground
states are decided by energy comparisons at a relative 1e-9."""

NJIT_FLAGS = {"cache": True, "nogil": True}
NJIT_PARALLEL_FLAGS = {**NJIT_FLAGS, "parallel": True}
