"""The compiled kernels of the annealing operator, for packages that build their own
integrators on it (``simulate``'s propagators).

These are Numba functions without input checks: every array must be C-contiguous and of
the dtype in the signature, ``v`` and ``out`` must not overlap, and ``out`` is overwritten.
Take their arguments from :meth:`spectral.AnnealingHamiltonian.kernel_arguments`, which
returns the diagonal, the number of bits of the basis index and the sector's flip sign of
one Hamiltonian; never write into that diagonal.

``hamiltonian_matvec(v, diag, a, b, nbits, flip_sign, shift, out)``
    ``out = (a H_D + b diag + shift) v`` for one float64 or complex128 vector, in threads
    (``H_D = -sum_i X_i``, plus ``-flip_sign`` times the flip of all ``nbits`` bits in a
    sector; docs/design.md).
``hamiltonian_matvec_serial(...)``
    The same on one thread, for callers that run it inside their own parallel loops.
``BLOCK_BITS``
    log2 of the cache block of the matvec (states of at most ``2**BLOCK_BITS`` amplitudes
    fit one block).
"""

from ._kernels import BLOCK_BITS, hamiltonian_matvec, hamiltonian_matvec_serial

__all__ = ["BLOCK_BITS", "hamiltonian_matvec", "hamiltonian_matvec_serial"]
