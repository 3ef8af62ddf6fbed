"""Numba compilation flags, kept in one place.

No ``fastmath``: the kernels feed eigenvalue computations whose tolerances are 1e-9 and below.
"""

NJIT_FLAGS = {"cache": True, "nogil": True}
NJIT_PARALLEL_FLAGS = {**NJIT_FLAGS, "parallel": True}

#: log2 of the number of basis states handled as one cache block by the matvec kernel
#: (2**11 float64 = 16 KiB, a comfortable fraction of L1/L2).
BLOCK_BITS = 11
