"""Numba compilation flags, kept in one place.

No ``fastmath``: the kernels feed eigenvalue computations whose tolerances are 1e-9 and below.
"""

NJIT_FLAGS = {"cache": True, "nogil": True}
NJIT_PARALLEL_FLAGS = {**NJIT_FLAGS, "parallel": True}

