"""Numba compilation flags of :mod:`simulate`, kept in one place. No ``fastmath``: the
propagator's error control works at 1e-7 and below."""

NJIT_FLAGS = {"cache": True, "nogil": True}
NJIT_PARALLEL_FLAGS = {**NJIT_FLAGS, "parallel": True}
